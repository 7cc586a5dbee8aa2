//! Overload end to end: pay made slow at run time → the breaker opens and bookings get fast
//! 503s with Retry-After (nothing stored); the view keeps answering; pay back to normal →
//! bookings succeed again, with no restart. Payments that pay made after conference had
//! given up, or for a booking cancelled while pay was answering, are refunded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::time::{Duration, Instant};

use e2e::System;
use serde_json::{Value, json};

/// The id of the system's one booking, once it exists.
async fn the_booking(sys: &System) -> i64 {
    let page = sys
        .until("there is a booking", "/conferences", |v| {
            v["page"]["totalElements"] == 1
        })
        .await;
    e2e::conference_id(&page["_embedded"]["conferences"][0])
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
    sys.set_pay_latency(json!(1500)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let busy = loop {
        let r = sys.post("/conferences", json!({ "roomNumber": 2 })).await;
        if r.json["error"] == "payment_busy" {
            break r;
        }
        // Pay charges, then answers too late: the booking fails (and is refunded), unless its
        // saga overtook the answer (201 with the booking's status: ASSIGNED or REJECTED).
        if r.status == 201 {
            accepted.push(e2e::conference_id(&r.json));
        } else {
            assert_eq!(r.json["error"], "payment_unavailable", "{}", r.text);
        }
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
    let (_, ready) = sys.health("conference", "/health/ready").await;
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
    sys.set_pay_latency(Value::Null).await;
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
    sys.assert_consistent(&accepted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_made_after_conference_gave_up_is_refunded() {
    let mut sys =
        System::start_with(&[("PAY_ADMIN_ENABLED", "true"), ("PAY_TIMEOUT_MS", "300")]).await;
    sys.register_room(1).await;
    // Room is down, so no Assigned can overtake pay's late answer.
    sys.kill("room").await;
    sys.set_pay_latency(json!(1500)).await;
    let r = sys.post("/conferences", json!({ "roomNumber": 1 })).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json["error"], "payment_unavailable", "{}", r.text);
    let id = the_booking(&sys).await;
    sys.until_status(&format!("/conferences/{id}"), "FAILED")
        .await;
    // Pay did charge: conference's ApplyCanceled makes it refund.
    sys.until("the late payment is refunded", "/pays?size=1000", |v| {
        v["_embedded"]["pays"][0]["status"] == "CANCELED"
    })
    .await;
    // Room catches up (Paid, then PayCanceled): it takes the room and gives it back.
    sys.restart("room").await;
    sys.read_topic("hifive", |records| {
        ["Assigned", "CancelAssigned"].iter().all(|kind| {
            records.iter().any(|r| {
                let v = r.json();
                v["eventType"] == *kind && v["conferenceId"] == id
            })
        })
    })
    .await;
    let quiet = sys.assert_consistent(&[]).await;
    assert_eq!(quiet.rooms[0].room_status, "EMPTY");
    assert_eq!(quiet.bookings[0].status, "FAILED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_cancelled_while_pay_answers_gets_409_and_its_payment_is_refunded() {
    let sys =
        System::start_with(&[("PAY_ADMIN_ENABLED", "true"), ("PAY_TIMEOUT_MS", "10000")]).await;
    sys.register_room(1).await;
    // Pay records the payment, then takes 2 s to answer.
    sys.set_pay_latency(json!(2000)).await;
    let booking = sys.post("/conferences", json!({ "roomNumber": 1 }));
    let cancel = async {
        // Cancel it mid pay call (the system is fresh: it is the only booking).
        let id = the_booking(&sys).await;
        sys.until_status(&format!("/conferences/{id}"), "CREATED")
            .await;
        (id, sys.delete(&format!("/conferences/{id}")).await)
    };
    let (booked, (id, cancelled)) = tokio::join!(booking, cancel);
    assert_eq!(cancelled.status, 204, "{}", cancelled.text);
    assert_eq!(booked.status, 409, "{}", booked.text);
    assert_eq!(booked.json["error"], "booking_ended", "{}", booked.text);

    sys.until_status(&format!("/conferences/{id}"), "CANCELED")
        .await;
    let paid = sys.payments_for(id).await;
    assert_eq!(paid.len(), 1, "pay made the payment: {paid:?}");
    sys.until("the payment is refunded", "/pays?size=1000", |v| {
        v["_embedded"]["pays"][0]["status"] == "CANCELED"
    })
    .await;
    sys.assert_consistent(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overload_controls_refuse_bad_input_and_are_off_unless_enabled() {
    let sys = System::start_with(&[("PAY_ADMIN_ENABLED", "true")]).await;
    let http = reqwest::Client::new();
    let url = format!("{}/admin/overload", sys.service("pay"));
    for bad in [
        json!({"latencyMs": "fast"}),
        json!({"latencyMs": "620..400"}),
        json!({"latencyMs": true}),
        json!({"capacity": "many"}),
    ] {
        let r = http.put(&url).json(&bad).send().await.unwrap();
        assert_eq!(r.status(), 422, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_field", "{bad}: {body}");
    }
    let now: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        now,
        json!({"latencyMs": null, "capacity": null}),
        "bad input changed nothing"
    );
    let set: Value = http
        .put(&url)
        .json(&json!({"latencyMs": "400..620", "capacity": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set, json!({"latencyMs": "400..620", "capacity": 10}));
    // Not routed by the gateway.
    assert_eq!(sys.get("/admin/overload").await.status, 404);
}
