//! Polyglot persistence end to end: conference and pay on PostgreSQL (a throwaway local
//! cluster), room and customer-center on SQLite; the whole saga and its invariants hold.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use e2e::{System, conference_id};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_runs_with_conference_and_pay_on_postgres() {
    let sys = System::start_on(&[], &["conference", "pay"]).await;
    assert!(
        !sys.dir().join("conference.db").exists(),
        "conference must not use SQLite"
    );
    assert!(
        !sys.dir().join("pay.db").exists(),
        "pay must not use SQLite"
    );
    assert!(sys.dir().join("room.db").exists(), "room stays on SQLite");

    for room in [1, 2] {
        sys.register_room(room).await;
    }
    // Assigned, then cancelled and refunded.
    let first = sys.book_id(1).await;
    sys.until_status(&format!("/conferences/{first}"), "ASSIGNED")
        .await;
    assert_eq!(
        sys.delete(&format!("/conferences/{first}")).await.status,
        204
    );
    sys.until_status(&format!("/conferences/{first}"), "CANCELED")
        .await;
    // Unknown room: rejected and refunded.
    let unknown = sys.book_id(99).await;
    sys.until_status(&format!("/conferences/{unknown}"), "REJECTED")
        .await;
    // Concurrent bookings of one room on Postgres's connection pool: one winner.
    let racing = futures::future::join_all((0..8).map(|_| sys.book(2))).await;
    let mut accepted: Vec<i64> = racing.iter().map(conference_id).collect();
    accepted.extend([first, unknown]);

    let quiet = sys.assert_consistent(&accepted).await;
    let winners = quiet
        .bookings
        .iter()
        .filter(|b| b.room_number == 2 && b.status == "ASSIGNED")
        .count();
    assert_eq!(winners, 1, "{:?}", quiet.bookings);
    let refunded = quiet
        .payments
        .iter()
        .filter(|p| p.status == "CANCELED")
        .count();
    assert_eq!(
        refunded,
        1 + 1 + 7,
        "cancelled, unknown room and 7 losers: {:?}",
        quiet.payments
    );
}
