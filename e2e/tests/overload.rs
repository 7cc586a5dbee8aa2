//! Overload end to end: pay made slow at run time → the breaker opens and bookings get fast
//! 503s with Retry-After (nothing stored); the view keeps answering; pay back to normal →
//! bookings succeed again, with no restart. Payments that pay made after conference had
//! given up are refunded.

use std::time::{Duration, Instant};

use e2e::System;
use serde_json::{Value, json};

async fn set_pay_latency(sys: &System, latency: Value) {
    let r = reqwest::Client::new()
        .put(format!("{}/admin/overload", sys.service("pay")))
        .json(&json!({ "latencyMs": latency }))
        .send()
        .await
        .expect("pay answers");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

async fn count(sys: &System) -> usize {
    sys.snapshot().await.bookings.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_pay_opens_the_breaker_then_bookings_recover_without_restarts() {
    let sys = System::start_with(&[
        ("PAY_ADMIN_ENABLED", "true"),
        ("PAY_TIMEOUT_MS", "300"),
        ("BREAKER_WINDOW", "4"),
        ("BREAKER_MIN_CALLS", "4"),
        ("BREAKER_OPEN_MS", "1000"),
        ("BREAKER_HALF_OPEN_CALLS", "1"),
    ])
    .await;
    for room in 1..=3 {
        sys.register_room(room).await;
    }
    let mut accepted = vec![sys.book_id(1).await];

    // Pay becomes slower than conference's timeout: calls time out (503
    // payment_unavailable) until the breaker opens (503 payment_busy, pay not called).
    set_pay_latency(&sys, json!(1500)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let busy = loop {
        let r = sys.post("/conferences", json!({ "roomNumber": 2 })).await;
        assert_eq!(r.status, 503, "{}", r.text);
        if r.json["error"] == "payment_busy" {
            break r;
        }
        assert_eq!(r.json["error"], "payment_unavailable", "{}", r.text);
        assert!(Instant::now() < deadline, "the breaker never opened");
    };
    assert_eq!(busy.header("retry-after"), Some("1"), "{:?}", busy.headers);
    assert!(
        busy.json["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("nothing was booked or charged"),
        "{}",
        busy.text
    );
    let ready: Value = reqwest::get(format!("{}/health/ready", sys.service("conference")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready["components"]["payCircuitBreaker"]["status"], "OPEN",
        "{ready}"
    );
    assert_eq!(
        ready["status"], "UP",
        "an open breaker does not make conference unready"
    );

    // While open: refusals store nothing, and the view answers normally.
    let before = count(&sys).await;
    let mut refused = 0;
    for _ in 0..5 {
        let r = sys.post("/conferences", json!({ "roomNumber": 3 })).await;
        if r.json["error"] == "payment_busy" {
            refused += 1;
        }
        let view = sys.get("/roomStates").await;
        assert_eq!(view.status, 200, "{}", view.text);
    }
    assert!(refused > 0);
    assert!(
        count(&sys).await <= before + (5 - refused),
        "refused bookings are not stored"
    );

    // Pay is fast again: the breaker half-opens, a trial succeeds, bookings flow again.
    set_pay_latency(&sys, Value::Null).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let booked = loop {
        let r = sys.post("/conferences", json!({ "roomNumber": 3 })).await;
        if r.status == 201 {
            break r;
        }
        assert_eq!(r.status, 503, "{}", r.text);
        assert!(
            Instant::now() < deadline,
            "bookings never recovered: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    accepted.push(booked.json["conferenceId"].as_i64().unwrap());
    accepted.push(sys.book_id(3).await);

    // Payments pay made after conference timed out are refunded; every invariant holds.
    let quiet = sys.assert_consistent(&accepted).await;
    let failed = quiet
        .bookings
        .iter()
        .filter(|b| b.status == "FAILED")
        .count();
    assert!(failed >= 1, "the timed-out bookings are kept as FAILED");
}
