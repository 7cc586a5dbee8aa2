//! `Idempotency-Key` replays, end to end through the gateway: per user, for bookings and
//! rooms.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::time::Duration;

use e2e::{Body, System, Who, conference_id};
use serde_json::{Value, json};

/// `Idempotency-Key` (Stripe's semantics): a retry replays the first answer and creates
/// nothing; another body is 422; a key still in flight 409; a refusal leaves the key free so
/// the retry `Retry-After` invites succeeds; keys are per user; rooms too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_with_an_idempotency_key_create_nothing_twice() {
    // Pay is made slow at times below (up to 5 s): conference waits for it up to 10 s.
    let mut sys =
        System::start_with(&[("PAY_ADMIN_ENABLED", "true"), ("PAY_TIMEOUT_MS", "10000")]).await;
    for room in 1..=5 {
        sys.register_room(room).await;
    }
    let alice = Who::Customer("alice");
    let first = post(&sys, alice, "key-1", 1).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = post(&sys, alice, "key-1", 1).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json, first.json, "the same answer");
    assert_eq!(again.header("location"), first.header("location"));
    let other_body = post(&sys, alice, "key-1", 2).await;
    assert_eq!(other_body.status, 422, "{}", other_body.text);
    assert_eq!(other_body.json["error"], "idempotency_key_reused");
    // Keys are per user: Bob's key-1 is his own.
    let bob = post(&sys, Who::Customer("bob"), "key-1", 2).await;
    assert_eq!(bob.status, 201, "{}", bob.text);
    assert_ne!(conference_id(&bob.json), conference_id(&first.json));
    let bad_key = sys
        .call_as(
            alice,
            "POST",
            "/conferences",
            Some(Body::Json(json!({"roomNumber": 3}))),
            &[("idempotency-key", &"k".repeat(300))],
        )
        .await;
    assert_eq!(bad_key.status, 400, "{}", bad_key.text);
    assert_eq!(bad_key.json["error"], "invalid_idempotency_key");

    // Two at once with one key: one is carried out, the other is told it is in flight.
    sys.set_pay_latency(json!(1500)).await;
    let (x, y) = tokio::join!(post(&sys, alice, "key-2", 3), post(&sys, alice, "key-2", 3));
    let mut statuses = [x.status.as_u16(), y.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{} / {}", x.text, y.text);
    let conflict = if x.status == 409 { &x } else { &y };
    assert_eq!(conflict.json["error"], "idempotency_key_in_flight");
    let winner = if x.status == 201 { &x } else { &y };
    let replay = post(&sys, alice, "key-2", 3).await;
    assert_eq!(replay.json, winner.json, "{}", replay.text);
    // A client that gives up while pay answers: the booking is carried to its end all the
    // same, and the retry gets its answer (not a second booking, not a 409 for long). It
    // gives up once its booking exists (pay takes 5 s), not after a guess of how long the way
    // there takes.
    sys.set_pay_latency(json!(5000)).await;
    let impatient = tokio::spawn(
        reqwest::Client::new()
            .post(format!("{}/conferences", sys.gateway()))
            .bearer_auth(sys.token("customer", "alice"))
            .header("idempotency-key", "key-4")
            .json(&json!({"roomNumber": 5}))
            .send(),
    );
    sys.until(
        "the booking of room 5 exists",
        "/conferences?size=100",
        |v| {
            v["_embedded"]["conferences"]
                .as_array()
                .is_some_and(|all| all.iter().any(|b| b["roomNumber"] == 5))
        },
    )
    .await;
    if impatient.is_finished() {
        panic!(
            "the client should still be waiting for pay: {:?}",
            impatient.await
        );
    }
    impatient.abort();
    let answered = e2e::eventually(
        "the retry with key-4 is answered",
        Duration::from_secs(30),
        || async {
            let r = post(&sys, alice, "key-4", 5).await;
            (r.status == 201).then_some(r)
        },
    )
    .await;
    assert_eq!(answered.header("idempotent-replayed"), Some("true"));
    sys.set_pay_latency(Value::Null).await;

    // A refusal (pay down: 503 + Retry-After) leaves the key free: the retry books.
    sys.kill("pay").await;
    let refused = post(&sys, alice, "key-3", 4).await;
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert!(refused.header("retry-after").is_some());
    sys.restart("pay").await;
    let sys = sys;
    let retried = e2e::eventually(
        "the retry with key-3 is booked",
        Duration::from_secs(30),
        || async {
            let r = post(&sys, alice, "key-3", 4).await;
            (r.status == 201).then_some(r)
        },
    )
    .await;
    assert_eq!(
        retried.header("idempotent-replayed"),
        None,
        "carried out, not replayed"
    );

    // Alice holds exactly one active booking per key.
    let s = sys.snapshot().await;
    let active: Vec<_> = s
        .bookings
        .iter()
        .filter(|b| ["PAID", "ASSIGNED"].contains(&b.status.as_str()))
        .map(|b| b.room_number)
        .collect();
    let mut rooms = active.clone();
    rooms.sort();
    assert_eq!(
        rooms,
        vec![1, 2, 3, 4, 5],
        "one active booking per key and user: {active:?}"
    );

    // Rooms take a key too.
    let register = |key: &'static str, room: i64| {
        let sys = &sys;
        async move {
            sys.call_as(
                Who::Manager,
                "POST",
                "/rooms",
                Some(Body::Json(json!({ "roomNumber": room }))),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let r1 = register("room-key", 10).await;
    assert_eq!(r1.status, 201, "{}", r1.text);
    let r2 = register("room-key", 10).await;
    assert_eq!(
        (r2.status.as_u16(), r2.header("idempotent-replayed")),
        (201, Some("true"))
    );
    assert_eq!(r2.json, r1.json);
    let r3 = register("room-key", 11).await;
    assert_eq!(r3.status, 422, "{}", r3.text);
    let without_key = sys.post("/rooms", json!({"roomNumber": 10})).await;
    assert_eq!(
        without_key.status, 409,
        "the room exists: {}",
        without_key.text
    );
    sys.assert_consistent(&[]).await;
}

async fn post(sys: &System, who: Who<'_>, key: &str, room: i64) -> e2e::Reply {
    sys.call_as(
        who,
        "POST",
        "/conferences",
        Some(Body::Json(json!({ "roomNumber": room }))),
        &[("idempotency-key", key)],
    )
    .await
}
