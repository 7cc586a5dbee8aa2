//! Several instances of a service behind the gateway: 3 conference and 2 room instances
//! (sharing their Postgres databases) in their consumer groups; the saga still completes and
//! every invariant holds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use e2e::System;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_completes_with_three_conference_and_two_room_instances() {
    let sys = System::start_replicated(
        &[],
        &["conference", "room"],
        &[("conference", 3), ("room", 2)],
    )
    .await;
    for room in 1..=6 {
        sys.register_room(room).await;
    }
    // Bookings of every room (spread over the partitions, so over both room instances),
    // through the gateway's round robin over the three conference instances.
    let mut accepted = Vec::new();
    for room in 1..=6 {
        accepted.push(sys.book_id(room).await);
    }
    for id in &accepted {
        sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
            .await;
    }
    let cancelled = accepted[0];
    assert_eq!(
        sys.delete(&format!("/conferences/{cancelled}"))
            .await
            .status,
        204
    );
    accepted.push(sys.book_id(7).await);
    let quiet = sys.assert_consistent(&accepted).await;
    assert_eq!(
        quiet
            .bookings
            .iter()
            .filter(|b| b.status == "ASSIGNED")
            .count(),
        5,
        "{:?}",
        quiet.bookings
    );
    // Every conference instance started some of the bookings (the gateway balances): each
    // one's saga admission counts what it admitted.
    for key in ["conference", "conference-2", "conference-3"] {
        let (_, health) = sys.health(key, "/health/ready").await;
        let admitted = health["components"]["sagaAdmission"]["admitted"].as_u64();
        assert!(
            admitted.is_some_and(|n| n > 0),
            "{key} took no booking: the gateway does not balance ({health})"
        );
    }
    // The consumer groups spread the 3 partitions over the instances: each holds some (as
    // its health says), and both room instances assigned rooms.
    for key in [
        "conference",
        "conference-2",
        "conference-3",
        "room",
        "room-2",
    ] {
        sys.until_ready_report(key, "holds a partition of its group", |body| {
            body["components"]["kafka"]["partitions"]
                .as_array()
                .is_some_and(|all| all.iter().any(|p| p["assigned"] == true))
        })
        .await;
    }
    // Both room instances applied payments or refunds (assigned or released rooms).
    for key in ["room", "room-2"] {
        sys.until_ready_report(key, "assigned or released a room", |body| {
            body["components"]["kafka"]["applied"]
                .as_u64()
                .is_some_and(|n| n > 0)
        })
        .await;
    }
}
