//! Pay's use cases on a real (SQLite) database: a booking is charged once, a refund is final
//! and announced, a booking cancelled before it was paid is never charged, and customers
//! read only their own payments.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use hifive_common::{
    Db, Outbox, PageParams, Scope, db,
    metrics::testing::{DebuggingRecorder, Snapshotter, counted_by},
};
use pay::{
    app::{self, Charged, Payments},
    domain::{Booking, Refusal},
    error::Error,
    overload::Overload,
};
use shared_events::{ConferenceId, Envelope, Event, PayId, PayStatus, RoomNumber};
use sqlx::Row;

fn booking(conference_id: i64, room_number: i64, customer: &str) -> Booking {
    Booking {
        conference_id: ConferenceId::new(conference_id).unwrap(),
        room_number: RoomNumber::new(room_number).unwrap(),
        customer: customer.into(),
    }
}

/// The events in the outbox, oldest first.
async fn announced(db: &Db) -> Vec<Event> {
    sqlx::query("SELECT payload FROM outbox ORDER BY rowid")
        .fetch_all(db)
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let payload: String = row.get("payload");
            match Envelope::decode(payload.as_bytes()).unwrap() {
                shared_events::Decoded::Known(envelope) => envelope.event,
                unknown => panic!("{unknown:?}"),
            }
        })
        .collect()
}

/// A fresh database and pay's use cases on it (no overload simulation).
async fn start() -> (Db, Payments) {
    let db = db::connect("sqlite::memory:", &pay::MIGRATIONS)
        .await
        .unwrap();
    let payments = Payments::new(db.clone(), Outbox::default(), Overload::default());
    (db, payments)
}

async fn refund(db: &Db, conference_id: i64, reason: &str) {
    let mut tx = db.begin().await.unwrap();
    let conference_id = ConferenceId::new(conference_id).unwrap();
    app::refund(&mut tx, &Outbox::default(), conference_id, reason, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_booking_is_charged_once_and_refunded_once() {
    let (db, payments) = start().await;
    let alice = booking(7, 5, "alice");

    let Charged::New(pay_id) = payments.charge(&alice, "req-1").await.unwrap() else {
        panic!("a new booking is charged")
    };
    assert_eq!(
        payments.charge(&alice, "req-2").await.unwrap(),
        Charged::Again(pay_id)
    );
    let paid = payments.payment(Scope::All, pay_id).await.unwrap();
    assert_eq!(
        (paid.status, paid.conference_id, paid.room_number),
        (PayStatus::Paid, alice.conference_id, alice.room_number)
    );
    assert_eq!(paid.customer.as_deref(), Some("alice"));

    refund(&db, 7, "booking cancelled").await;
    refund(&db, 7, "room 5 is occupied").await;
    let refunded = payments.payment(Scope::All, pay_id).await.unwrap();
    assert_eq!(refunded.status, PayStatus::Canceled);
    let events = announced(&db).await;
    assert_eq!(events.len(), 2, "one Paid, one PayCanceled: {events:?}");
    assert!(
        matches!(&events[0], Event::Paid(e) if e.pay_id == pay_id && e.pay_status == PayStatus::Paid)
    );
    assert!(
        matches!(&events[1], Event::PayCanceled(e) if e.pay_id == pay_id && e.room_number == alice.room_number)
    );

    let again = payments.charge(&alice, "req-3").await.unwrap_err();
    assert!(matches!(
        again,
        Error::Refused {
            refusal: Refusal::Refunded,
            ..
        }
    ));
}

#[tokio::test]
async fn a_booking_cancelled_before_it_was_paid_is_never_charged() {
    let (db, payments) = start().await;
    refund(&db, 9, "booking cancelled").await;
    refund(&db, 9, "booking cancelled").await;
    let late = payments
        .charge(&booking(9, 1, "bob"), "req-late")
        .await
        .unwrap_err();
    assert!(matches!(
        late,
        Error::Refused {
            refusal: Refusal::CancelledUnpaid,
            ..
        }
    ));
    assert!(announced(&db).await.is_empty());
    let page = PageParams { page: 0, size: 20 };
    assert_eq!(payments.payments(Scope::All, page).await.unwrap().1, 0);
}

#[tokio::test]
async fn customers_read_their_own_payments_only() {
    let (_, payments) = start().await;
    let mut ids = Vec::new();
    for (conference_id, customer) in [(1, "alice"), (2, "bob"), (3, "alice")] {
        match payments
            .charge(&booking(conference_id, 1, customer), "req")
            .await
            .unwrap()
        {
            Charged::New(id) => ids.push(id),
            again => panic!("{again:?}"),
        }
    }
    let page = PageParams { page: 0, size: 1 };
    let (first, total) = payments.payments(Scope::Own("alice"), page).await.unwrap();
    assert_eq!((first.len(), total), (1, 2));
    assert_eq!(first[0].pay_id, ids[0]);
    let (all, total) = payments
        .payments(Scope::All, PageParams { page: 1, size: 2 })
        .await
        .unwrap();
    assert_eq!((all.len(), total), (1, 3));
    assert_eq!(all[0].pay_id, ids[2]);

    let bobs = ids[1];
    assert!(matches!(
        payments.payment(Scope::Own("alice"), bobs).await,
        Err(Error::NotFound(id)) if id == bobs
    ));
    assert_eq!(
        payments
            .payment(Scope::Own("bob"), bobs)
            .await
            .unwrap()
            .pay_id,
        bobs
    );
    let unknown = PayId::new(99).unwrap();
    assert!(matches!(
        payments.payment(Scope::All, unknown).await,
        Err(Error::NotFound(_))
    ));
}

/// `hifive_payments_total` by status, as recorded since the last reading.
fn payments_counted(readings: &Snapshotter) -> Vec<(String, u64)> {
    counted_by(readings, "hifive_payments_total", "status")
}

#[tokio::test]
async fn a_payment_is_counted_once_when_made_and_once_when_refunded() {
    let recorder = DebuggingRecorder::new();
    let readings = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (db, payments) = start().await;
    let alice = booking(7, 5, "alice");
    payments.charge(&alice, "req-1").await.unwrap();
    payments.charge(&alice, "req-2").await.unwrap();
    assert_eq!(payments_counted(&readings), [("PAID".to_owned(), 1)]);
    refund(&db, 7, "booking cancelled").await;
    refund(&db, 7, "booking cancelled").await;
    refund(&db, 8, "nothing was charged").await;
    assert_eq!(payments_counted(&readings), [("CANCELED".to_owned(), 1)]);
}
