//! What the saga records for `/metrics`, through the real use cases on SQLite and the real
//! pay guard around a fake pay: each status a booking reaches is counted once (a repeated
//! verdict or cancellation counts nothing), the steps are timed, refusals are counted by
//! reason, pay calls by outcome, and the breaker's state follows its transitions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::{collections::HashMap, sync::Arc, time::Duration};

use conference::{
    app::{self, Booked, Booker, BookingRequest, Bookings},
    domain::Verdict,
    error::Error,
    pay_client::PayError,
    pay_guard::{GuardConfig, GuardedPay, PayCallError, PayRequest},
    saga_guard::{SagaGuard, SagaLimits},
};
use hifive_common::metrics::testing::{DebugValue, DebuggingRecorder, count, readings as take};
use hifive_common::{ConsumerStatus, Db, Outbox, db};
use shared_events::{ConferenceId, PayId, RoomNumber};

mod common;
use common::{answer, attempt};

/// How the fake pay answers.
#[derive(Debug, Clone, Copy)]
enum FakePay {
    Pays,
    Unreachable,
    Silent,
}

fn guard(pay: FakePay, config: GuardConfig) -> GuardedPay {
    let service = tower::service_fn(move |_: PayRequest| async move {
        match pay {
            FakePay::Pays => Ok(PayId::new(7).unwrap()),
            FakePay::Unreachable => Err(PayError::Unreachable("connection refused".into())),
            FakePay::Silent => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(PayId::new(7).unwrap())
            }
        }
    });
    GuardedPay::around(service, config).unwrap()
}

/// A breaker that opens on the first failed call.
fn touchy() -> GuardConfig {
    GuardConfig {
        timeout: Duration::from_millis(100),
        window: 1,
        min_calls: 1,
        open_wait: Duration::from_secs(60),
        ..GuardConfig::default()
    }
}

async fn setup() -> (Db, Bookings) {
    let db = db::connect("sqlite::memory:", &conference::MIGRATIONS)
        .await
        .unwrap();
    let bookings = Bookings::new(db.clone(), Outbox::default());
    (db, bookings)
}

fn new_booker(db: &Db, bookings: &Bookings, pay: GuardedPay, limits: SagaLimits) -> Booker {
    let consumer = Arc::new(ConsumerStatus::default());
    let saga = SagaGuard::new(limits, db.clone(), Outbox::default(), consumer);
    Booker::new(bookings.clone(), pay, saga, 5, Duration::from_secs(30))
}

fn request() -> BookingRequest {
    BookingRequest {
        room_number: RoomNumber::new(1).unwrap(),
        customer: "alice".into(),
        request_id: "req".into(),
        attempt: None,
    }
}

/// How many observations a histogram got.
fn observed(got: &HashMap<String, DebugValue>, key: &str) -> usize {
    match got.get(key) {
        Some(DebugValue::Histogram(values)) => values.len(),
        None => 0,
        other => panic!("{key} is not a histogram: {other:?}"),
    }
}

/// The bookings' own series that moved (the plumbing may record others meanwhile; a series
/// once seen stays in the readings, at zero).
fn of_bookings(got: &HashMap<String, DebugValue>) -> Vec<&str> {
    let mut keys: Vec<&str> = got
        .iter()
        .filter(|(_, value)| match value {
            DebugValue::Counter(n) => *n > 0,
            DebugValue::Histogram(values) => !values.is_empty(),
            DebugValue::Gauge(_) => false,
        })
        .map(|(key, _)| key.as_str())
        .filter(|k| {
            [
                "hifive_bookings_total",
                "hifive_saga_step_seconds",
                "hifive_refusals_total",
            ]
            .iter()
            .any(|name| k.starts_with(name))
        })
        .collect();
    keys.sort();
    keys
}

fn gauge(got: &HashMap<String, DebugValue>, key: &str) -> Option<f64> {
    match got.get(key) {
        Some(DebugValue::Gauge(v)) => Some(v.into_inner()),
        None => None,
        other => panic!("{key} is not a gauge: {other:?}"),
    }
}

#[tokio::test]
async fn each_status_a_booking_reaches_is_counted_once() {
    let recorder = DebuggingRecorder::new();
    let readings = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (db, bookings) = setup().await;
    let pay = guard(FakePay::Pays, GuardConfig::default());
    let started = take(&readings);
    assert_eq!(
        gauge(&started, "hifive_pay_breaker_state{state=closed}"),
        Some(1.0)
    );
    assert_eq!(gauge(&started, "hifive_pay_bulkhead_in_use{}"), Some(0.0));

    let booker = new_booker(&db, &bookings, pay, SagaLimits::default());
    let keyed = BookingRequest {
        attempt: Some(attempt("k")),
        ..request()
    };
    let Booked::Now(booking) = booker.book(keyed, answer).await.unwrap() else {
        panic!("booked now")
    };
    let got = take(&readings);
    assert_eq!(count(&got, "hifive_bookings_total{status=PAID}"), 1);
    assert_eq!(observed(&got, "hifive_saga_step_seconds{step=paid}"), 1);
    assert_eq!(
        observed(&got, "hifive_pay_call_duration_seconds{outcome=paid}"),
        1
    );
    assert_eq!(
        gauge(&got, "hifive_pay_bulkhead_in_use{}"),
        Some(0.0),
        "the slot is back"
    );

    let id = booking.conference_id;
    let pay_id = PayId::new(7).unwrap();
    let mut conn = db.acquire().await.unwrap();
    for _ in 0..2 {
        app::follow_verdict(&mut conn, id, pay_id, Verdict::Assigned)
            .await
            .unwrap();
    }
    drop(conn);
    let got = take(&readings);
    assert_eq!(count(&got, "hifive_bookings_total{status=ASSIGNED}"), 1);
    assert_eq!(observed(&got, "hifive_saga_step_seconds{step=assigned}"), 1);

    bookings.cancel(id, "alice", "req").await.unwrap();
    bookings.cancel(id, "alice", "req").await.unwrap();
    let got = take(&readings);
    assert_eq!(
        of_bookings(&got),
        ["hifive_bookings_total{status=CANCELED}"]
    );
    assert_eq!(count(&got, "hifive_bookings_total{status=CANCELED}"), 1);
}

#[tokio::test]
async fn a_rejection_is_counted_and_timed_once() {
    let recorder = DebuggingRecorder::new();
    let readings = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (db, bookings) = setup().await;
    let booker = new_booker(
        &db,
        &bookings,
        guard(FakePay::Pays, GuardConfig::default()),
        SagaLimits::default(),
    );
    let Booked::Now(booking) = booker.book(request(), answer).await.unwrap() else {
        panic!("booked now")
    };
    take(&readings);
    let mut conn = db.acquire().await.unwrap();
    for verdict in [Verdict::Rejected, Verdict::Rejected, Verdict::Assigned] {
        app::follow_verdict(
            &mut conn,
            booking.conference_id,
            PayId::new(7).unwrap(),
            verdict,
        )
        .await
        .unwrap();
    }
    let got = take(&readings);
    assert_eq!(
        of_bookings(&got),
        [
            "hifive_bookings_total{status=REJECTED}",
            "hifive_saga_step_seconds{step=rejected}"
        ]
    );
    assert_eq!(count(&got, "hifive_bookings_total{status=REJECTED}"), 1);
    assert_eq!(observed(&got, "hifive_saga_step_seconds{step=rejected}"), 1);
}

#[tokio::test]
async fn refusals_are_counted_by_reason_and_the_breaker_shows_its_state() {
    let recorder = DebuggingRecorder::new();
    let readings = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (db, bookings) = setup().await;
    let booker = new_booker(
        &db,
        &bookings,
        guard(FakePay::Unreachable, touchy()),
        SagaLimits::default(),
    );
    take(&readings);

    let failed = booker.book(request(), answer).await;
    assert!(
        matches!(failed, Err(Error::PaymentUnavailable { .. })),
        "{failed:?}"
    );
    let got = take(&readings);
    assert_eq!(count(&got, "hifive_bookings_total{status=FAILED}"), 1);
    assert_eq!(
        count(&got, "hifive_refusals_total{reason=payment_unavailable}"),
        1
    );
    assert_eq!(
        observed(&got, "hifive_pay_call_duration_seconds{outcome=error}"),
        1
    );
    assert_eq!(
        count(&got, "hifive_pay_breaker_transitions_total{to=open}"),
        1
    );
    assert_eq!(
        gauge(&got, "hifive_pay_breaker_state{state=open}"),
        Some(1.0)
    );
    assert_eq!(
        gauge(&got, "hifive_pay_breaker_state{state=closed}"),
        Some(0.0)
    );

    let busy = booker.book(request(), answer).await;
    assert!(matches!(busy, Err(Error::PaymentBusy { .. })), "{busy:?}");
    let got = take(&readings);
    assert_eq!(count(&got, "hifive_refusals_total{reason=payment_busy}"), 1);
    assert_eq!(
        observed(&got, "hifive_pay_call_duration_seconds{outcome=error}"),
        0,
        "pay was not called"
    );

    // Limits that refuse even an empty outbox: the saga is "behind".
    let behind = SagaLimits {
        max_outbox: -1,
        ..SagaLimits::default()
    };
    let saga_busy = new_booker(
        &db,
        &bookings,
        guard(FakePay::Pays, GuardConfig::default()),
        behind,
    );
    take(&readings);
    let refused = saga_busy.book(request(), answer).await;
    assert!(
        matches!(refused, Err(Error::SagaBusy { .. })),
        "{refused:?}"
    );
    let got = take(&readings);
    assert_eq!(
        of_bookings(&got),
        ["hifive_refusals_total{reason=saga_busy}"]
    );
    assert_eq!(count(&got, "hifive_refusals_total{reason=saga_busy}"), 1);
}

#[tokio::test]
async fn a_pay_call_without_an_answer_is_timed_as_a_timeout() {
    let recorder = DebuggingRecorder::new();
    let readings = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let pay = guard(FakePay::Silent, touchy());
    let request = PayRequest {
        conference_id: ConferenceId::new(1).unwrap(),
        room_number: RoomNumber::new(1).unwrap(),
        customer: "alice".into(),
        request_id: "req".into(),
    };
    let timed_out = pay.pay(request).await;
    assert!(
        matches!(timed_out, Err(PayCallError::Pay(PayError::Unconfirmed(_)))),
        "{timed_out:?}"
    );
    let got = take(&readings);
    let Some(DebugValue::Histogram(took)) =
        got.get("hifive_pay_call_duration_seconds{outcome=timeout}")
    else {
        panic!("no timeout timed: {got:?}")
    };
    assert_eq!(took.len(), 1);
    assert!(took[0].into_inner() >= 0.1, "{took:?}");
}
