//! The pay guard (bulkhead → circuit breaker → timeout) against a real HTTP pay whose
//! behaviour the test controls. Deterministic: states are observed, never timed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use conference::{
    pay_client::{PayClient, PayError},
    pay_guard::{GuardConfig, GuardedPay, PayCallError, PayRequest},
};
use serde_json::json;
use tokio::sync::Notify;

const OK: u8 = 0;
const FAIL: u8 = 1;
const HOLD: u8 = 2;

#[derive(Default)]
struct FakePay {
    mode: AtomicU8,
    hits: AtomicU64,
    release: Notify,
}

impl FakePay {
    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        if mode != HOLD {
            self.release.notify_waiters();
        }
    }

    fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn room_applied(State(pay): State<Arc<FakePay>>) -> (StatusCode, Json<serde_json::Value>) {
    pay.hits.fetch_add(1, Ordering::SeqCst);
    // Listen before looking at the mode: a release between the look and the wait is not lost.
    let released = pay.release.notified();
    tokio::pin!(released);
    released.as_mut().enable();
    if pay.mode.load(Ordering::SeqCst) == HOLD {
        released.await;
    }
    match pay.mode.load(Ordering::SeqCst) {
        FAIL => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "boom"})),
        ),
        _ => (
            StatusCode::CREATED,
            Json(json!({"status": "Req_complete", "payid": "7"})),
        ),
    }
}

/// Starts the fake pay on a free port; returns it and the guard around a real client.
async fn guarded(config: GuardConfig) -> (Arc<FakePay>, GuardedPay) {
    let pay = Arc::new(FakePay::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/pays/room_applied", post(room_applied))
        .with_state(pay.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = PayClient::new(&url, Duration::from_secs(30), None).unwrap();
    (pay, GuardedPay::new(client, config).unwrap())
}

fn small() -> GuardConfig {
    GuardConfig {
        timeout: Duration::from_millis(300),
        max_concurrent: 8,
        failure_rate: 50.0,
        slow_call: Duration::from_secs(10),
        slow_call_rate: 100.0,
        window: 4,
        min_calls: 4,
        open_wait: Duration::from_millis(200),
        half_open_calls: 2,
    }
}

fn request() -> PayRequest {
    PayRequest {
        customer: "alice".into(),
        conference_id: shared_events::ConferenceId::new(1).unwrap(),
        room_number: shared_events::RoomNumber::new(1).unwrap(),
        request_id: "breaker-test".into(),
    }
}

/// Calls until the breaker lets a call through (it half-opens after its wait); returns that
/// call's result. Polls with a deadline; asserts nothing about time.
async fn first_permitted(guard: &GuardedPay) -> Result<shared_events::PayId, PayCallError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match guard.pay(request()).await {
            Err(PayCallError::Open) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            other => return other,
        }
    }
}

/// Makes pay fail until the breaker opens; returns how many calls failed at pay.
async fn open_it(pay: &FakePay, guard: &GuardedPay) -> usize {
    pay.set(FAIL);
    let mut failed = 0;
    while guard.breaker().name() != "OPEN" {
        let r = guard.pay(request()).await;
        assert!(
            matches!(r, Err(PayCallError::Pay(PayError::Unconfirmed(_)))),
            "{r:?}"
        );
        failed += 1;
        assert!(
            failed <= 4,
            "still {} after {failed} failures",
            guard.breaker().name()
        );
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_refuses_half_opens_closes_and_reopens() {
    // Open long enough that the five refusals below cannot outlast it on a busy machine.
    let (pay, guard) = guarded(GuardConfig {
        open_wait: Duration::from_secs(2),
        ..small()
    })
    .await;
    assert_eq!(guard.pay(request()).await.unwrap().get(), 7);
    assert_eq!(guard.breaker().name(), "CLOSED");

    // At least 50% of a 4-call window failing opens it: one success and three failures.
    assert_eq!(open_it(&pay, &guard).await, 3);

    // Open: refused without calling pay.
    let hits = pay.hits();
    for _ in 0..5 {
        assert!(matches!(
            guard.pay(request()).await,
            Err(PayCallError::Open)
        ));
    }
    assert_eq!(pay.hits(), hits, "an open breaker does not call pay");

    // After the wait, trial calls go through (half-open); two successes close it.
    pay.set(OK);
    assert_eq!(first_permitted(&guard).await.unwrap().get(), 7);
    assert_eq!(guard.breaker().name(), "HALF_OPEN");
    assert_eq!(guard.pay(request()).await.unwrap().get(), 7);
    assert_eq!(guard.breaker().name(), "CLOSED");

    // Failing again opens it again; a failed trial call re-opens it from half-open.
    assert!(open_it(&pay, &guard).await >= 2);
    let trial = first_permitted(&guard).await;
    assert!(matches!(trial, Err(PayCallError::Pay(_))), "{trial:?}");
    assert_eq!(guard.breaker().name(), "OPEN");
    // closed→open, open→half-open, half-open→closed, closed→open, open→half-open, half-open→open
    assert_eq!(guard.breaker().transitions(), 6);
    let report = serde_json::to_value(guard.report()).unwrap();
    assert_eq!(report["status"], "OPEN");
    assert_eq!(report["transitions"], 6);
    assert!(
        report["maxConcurrent"].is_u64() && report["timeoutMs"].is_u64(),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_past_the_timeout_fail_as_unconfirmed_and_open_the_breaker() {
    let (pay, guard) = guarded(small()).await;
    pay.set(HOLD);
    for _ in 0..4 {
        match guard.pay(request()).await {
            Err(PayCallError::Pay(e @ PayError::Unconfirmed(_))) => {
                assert!(e.may_have_charged(), "a timed-out payment must be refunded");
                assert!(e.to_string().contains("300 ms"), "{e}");
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
    assert_eq!(guard.breaker().name(), "OPEN");
    pay.set(OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_bulkhead_refuses_at_once_without_calling_pay() {
    let (pay, guard) = guarded(GuardConfig {
        timeout: Duration::from_secs(30),
        max_concurrent: 2,
        ..small()
    })
    .await;
    pay.set(HOLD);
    let in_flight: Vec<_> = (0..2)
        .map(|_| {
            let guard = guard.clone();
            tokio::spawn(async move { guard.pay(request()).await })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pay.hits() < 2 {
        assert!(Instant::now() < deadline, "the two calls never reached pay");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let refused = guard.pay(request()).await;
    assert!(matches!(refused, Err(PayCallError::Busy(2))), "{refused:?}");
    assert_eq!(pay.hits(), 2, "a full bulkhead does not call pay");
    pay.set(OK);
    for call in in_flight {
        assert_eq!(call.await.unwrap().unwrap().get(), 7);
    }
    assert_eq!(
        guard.breaker().name(),
        "CLOSED",
        "refusals are not pay failures"
    );
}
