//! The booking use cases on a real SQLite database with conference's migrations: a payment
//! that arrives after the booking ended, cancelling, and following the room's verdicts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use conference::{
    app::{self, Bookings},
    domain::Verdict,
    error::Error,
    store::{self, Booking, NewBooking},
};
use hifive_common::{Outbox, Scope, db, idempotency};
use shared_events::{ConferenceId, ConferenceStatus, PayId, RoomNumber};
use sqlx::Row;

mod common;
use common::{answer, attempt};

async fn setup() -> (db::Db, Bookings) {
    let db = db::connect("sqlite::memory:", &conference::MIGRATIONS)
        .await
        .unwrap();
    let bookings = Bookings::new(db.clone(), Outbox::default());
    (db, bookings)
}

async fn book(bookings: &Bookings, room: i64, key: Option<&str>) -> ConferenceId {
    let new = NewBooking {
        room_number: RoomNumber::new(room).unwrap(),
        customer: "alice",
        request_id: "req",
    };
    let key = key.map(attempt);
    bookings.create(&new, key.as_ref()).await.unwrap().unwrap()
}

async fn events(db: &db::Db) -> Vec<String> {
    sqlx::query("SELECT event_type FROM outbox ORDER BY id")
        .fetch_all(db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("event_type"))
        .collect()
}

#[tokio::test]
async fn a_payment_after_a_cancellation_is_refused_once_and_frees_the_key() {
    let (db, bookings) = setup().await;
    let id = book(&bookings, 1, Some("k")).await;
    bookings.cancel(id, "alice", "req-cancel").await.unwrap();
    let pay_id = PayId::new(9).unwrap();
    let late = bookings.record_payment(id, pay_id, "req", &answer).await;
    assert!(
        matches!(
            late,
            Err(Error::EndedWhilePaying {
                status: ConferenceStatus::Canceled,
                ..
            })
        ),
        "{late:?}"
    );
    let booking = bookings.read(id, Scope::All).await.unwrap();
    assert_eq!(booking.status, ConferenceStatus::Canceled);
    assert_eq!(booking.pay_id, Some(pay_id), "the payment is on record");
    assert_eq!(events(&db).await, ["ApplyCanceled"], "no Applied");
    assert_eq!(idempotency::lookup(&db, &attempt("k")).await.unwrap(), None);
}

#[tokio::test]
async fn a_paid_booking_is_announced_and_its_answer_kept() {
    let (db, bookings) = setup().await;
    let id = book(&bookings, 1, Some("k")).await;
    let pay_id = PayId::new(4).unwrap();
    let paid = bookings
        .record_payment(id, pay_id, "req", &answer)
        .await
        .unwrap();
    assert_eq!(
        (paid.status, paid.pay_id),
        (ConferenceStatus::Paid, Some(pay_id))
    );
    assert_eq!(events(&db).await, ["Applied"]);
    assert!(matches!(
        idempotency::lookup(&db, &attempt("k")).await.unwrap(),
        Some(idempotency::Prior::Done(_))
    ));
}

#[tokio::test]
async fn cancelling_is_for_the_owner_twice_harmless_and_refused_for_ended_bookings() {
    let (_db, bookings) = setup().await;
    let id = book(&bookings, 1, None).await;
    assert!(matches!(
        bookings.cancel(id, "bob", "r").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        bookings.read(id, Scope::Own("bob")).await,
        Err(Error::NotFound(_))
    ));
    bookings.cancel(id, "alice", "r").await.unwrap();
    bookings.cancel(id, "alice", "r").await.unwrap();

    let failed = book(&bookings, 2, None).await;
    bookings
        .record_pay_failure(failed, false, "r", None)
        .await
        .unwrap();
    let refused = bookings.cancel(failed, "alice", "r").await;
    assert!(
        matches!(
            refused,
            Err(Error::NotCancelable {
                status: ConferenceStatus::Failed,
                ..
            })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn verdicts_move_open_bookings_only() {
    let (db, bookings) = setup().await;
    let pay_id = PayId::new(3).unwrap();
    let assigned = book(&bookings, 1, None).await;
    let canceled = book(&bookings, 2, None).await;
    bookings.cancel(canceled, "alice", "r").await.unwrap();
    let mut conn = db.acquire().await.unwrap();
    app::follow_verdict(&mut conn, assigned, pay_id, Verdict::Assigned)
        .await
        .unwrap();
    app::follow_verdict(&mut conn, canceled, pay_id, Verdict::Rejected)
        .await
        .unwrap();
    let unknown = ConferenceId::new(999).unwrap();
    app::follow_verdict(&mut conn, unknown, pay_id, Verdict::Assigned)
        .await
        .unwrap();
    let status = |b: Option<Booking>| b.map(|b| (b.status, b.pay_id));
    assert_eq!(
        status(store::find(&mut conn, assigned).await.unwrap()),
        Some((ConferenceStatus::Assigned, Some(pay_id)))
    );
    assert_eq!(
        status(store::find(&mut conn, canceled).await.unwrap()),
        Some((ConferenceStatus::Canceled, None))
    );
    drop(conn);
    let (page, total) = bookings.list(Scope::Own("alice"), 10, 0).await.unwrap();
    assert_eq!((page.len(), total), (2, 2));
    assert_eq!(bookings.list(Scope::Own("bob"), 10, 0).await.unwrap().1, 0);
}
