//! The sweeper for bookings a stopped service left `CREATED` mid pay call, on a real SQLite
//! database with conference's migrations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::time::Duration;

use conference::{
    app::Bookings,
    store::{self, NewBooking},
};
use hifive_common::{
    Outbox, db,
    idempotency::{self, Attempt, Prior},
};
use shared_events::{ConferenceId, ConferenceStatus as Status, PayId, RoomNumber};
use sqlx::Row;

mod common;
use common::{answer, attempt};

fn new(room: i64, request_id: &str) -> NewBooking<'_> {
    NewBooking {
        room_number: RoomNumber::new(room).unwrap(),
        customer: "alice",
        request_id,
    }
}

async fn status(db: &db::Db, id: ConferenceId) -> Status {
    let mut conn = db.acquire().await.unwrap();
    store::find(&mut conn, id).await.unwrap().unwrap().status
}

#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one story, step by step")]
async fn only_bookings_stuck_in_created_are_failed_and_refunded() {
    let db = db::connect("sqlite::memory:", &conference::MIGRATIONS)
        .await
        .unwrap();
    let bookings = Bookings::new(db.clone(), Outbox::default());
    let stuck = bookings
        .create(&new(1, "req-stuck"), Some(&attempt("k-stuck")))
        .await
        .unwrap()
        .unwrap();
    let paid = bookings
        .create(&new(2, "req-paid"), Some(&attempt("k-paid")))
        .await
        .unwrap()
        .unwrap();
    bookings
        .record_payment(paid, PayId::new(70).unwrap(), "req-paid", &answer)
        .await
        .unwrap();
    sqlx::query("UPDATE conference SET created_at = '2000-01-01T00:00:00.000Z'")
        .execute(&db)
        .await
        .unwrap();
    let fresh = bookings
        .create(&new(3, "req-fresh"), None)
        .await
        .unwrap()
        .unwrap();

    let cutoff = db::ago(Duration::from_secs(30));
    assert_eq!(bookings.fail_stuck(&cutoff).await.unwrap(), vec![stuck]);
    assert_eq!(status(&db, stuck).await, Status::Failed);
    assert_eq!(
        status(&db, paid).await,
        Status::Paid,
        "old but already paid"
    );
    assert_eq!(
        status(&db, fresh).await,
        Status::Created,
        "its pay call may be in flight"
    );

    // Pay is asked to refund whatever it may have charged, with the booking's request id.
    let rows = sqlx::query("SELECT event_type, payload, request_id FROM outbox ORDER BY id")
        .fetch_all(&db)
        .await
        .unwrap();
    let refund = rows
        .iter()
        .find(|r| r.get::<String, _>("event_type") == "ApplyCanceled")
        .expect("an ApplyCanceled for the stuck booking");
    let payload: serde_json::Value =
        serde_json::from_str(&refund.get::<String, _>("payload")).unwrap();
    assert_eq!(payload["conferenceId"], stuck.get());
    assert_eq!(payload["payId"], serde_json::Value::Null);
    assert_eq!(
        refund.get::<Option<String>, _>("request_id").as_deref(),
        Some("req-stuck")
    );

    // The stuck booking's Idempotency-Key is free again (a retry books anew); the paid one's
    // replays its answer; a second request with a key in use creates nothing.
    assert_eq!(
        idempotency::lookup(&db, &attempt("k-stuck")).await.unwrap(),
        None
    );
    match idempotency::lookup(&db, &attempt("k-paid")).await.unwrap() {
        Some(Prior::Done(stored)) => assert_eq!(stored.status, 201),
        other => panic!("the paid booking's answer is not kept: {other:?}"),
    }
    let again = bookings
        .create(&new(2, "req-again"), Some(&attempt("k-paid")))
        .await
        .unwrap();
    assert!(matches!(again, Err(Prior::Done(_))), "{again:?}");
    let mismatch = Attempt {
        fingerprint: "other".into(),
        ..attempt("k-paid")
    };
    assert_eq!(
        bookings
            .create(&new(2, "req-other"), Some(&mismatch))
            .await
            .unwrap(),
        Err(Prior::Mismatch)
    );
    let rows: i64 = sqlx::query("SELECT COUNT(*) AS n FROM conference")
        .fetch_one(&db)
        .await
        .unwrap()
        .get("n");
    assert_eq!(rows, 3, "a refused key creates no booking");

    // A second sweep finds nothing more.
    assert!(bookings.fail_stuck(&cutoff).await.unwrap().is_empty());
}
