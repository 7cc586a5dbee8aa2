//! One booking through the gateway shows up in the saga's metrics of every service it
//! touched (docs/observability.md): conference counts it PAID and ASSIGNED and times both
//! steps, pay counts the payment, room counts the assignment, customer-center times the
//! view's step.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed step fails the test"
)]

use e2e::{SETTLE, System, eventually, prometheus::sample};
use serde_json::json;

/// Waits until `service`'s `/metrics` has the series `name` with `labels` (and its own
/// `service` label) at 1 or more; returns its value.
async fn at_least_one(sys: &System, service: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut labels = labels.to_vec();
    labels.push(("service", service));
    let what = format!("{service} shows {name}{labels:?} >= 1");
    eventually(&what, SETTLE, || async {
        let text = sys.metrics(service).await;
        sample(&text, name, &labels).filter(|v| *v >= 1.0)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_is_counted_and_timed_by_the_services_it_touched() {
    let sys = System::start().await;
    let r = sys
        .post(
            "/rooms",
            json!({"roomStatus": "EMPTY", "usedCount": 0, "roomNumber": 1}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let r = sys.post("/conferences", json!({"roomNumber": 1})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["conferenceId"].as_i64().expect("conferenceId");
    sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
        .await;

    let conference = |name, labels| at_least_one(&sys, "conference", name, labels);
    conference("hifive_bookings_total", &[("status", "PAID")]).await;
    conference("hifive_bookings_total", &[("status", "ASSIGNED")]).await;
    conference("hifive_saga_step_seconds_count", &[("step", "paid")]).await;
    conference("hifive_saga_step_seconds_count", &[("step", "assigned")]).await;
    conference(
        "hifive_pay_call_duration_seconds_count",
        &[("outcome", "paid")],
    )
    .await;
    let closed = sample(
        &sys.metrics("conference").await,
        "hifive_pay_breaker_state",
        &[("state", "closed")],
    );
    assert_eq!(closed, Some(1.0), "the breaker is closed");

    at_least_one(&sys, "pay", "hifive_payments_total", &[("status", "PAID")]).await;
    at_least_one(
        &sys,
        "room",
        "hifive_room_assignments_total",
        &[("outcome", "assigned")],
    )
    .await;
    at_least_one(
        &sys,
        "customer-center",
        "hifive_saga_step_seconds_count",
        &[("step", "view")],
    )
    .await;
}
