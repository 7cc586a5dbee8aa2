//! docs/contract.md, "Liveness": a consumer that stops moving is noticed, re-created, and restarted by
//! the orchestrator when that does not help (7); conference refuses bookings with
//! `saga_busy` while the saga is behind instead of piling them up (8); every process stops
//! by itself within its bound, with stream clients connected and with the broker down (9);
//! a broker that wedges is restarted by the supervisor.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::time::Duration;

use e2e::{Options, System, eventually};
use hifive_stack::supervisor::{Checks, Happening};
use serde_json::json;

/// Checks quick enough for a test (an orchestrator's are slower).
fn quick_checks() -> Options {
    Options {
        checks: Checks {
            every: Duration::from_millis(500),
            timeout: Duration::from_secs(3),
            failures: 2,
            startup: Duration::from_secs(3),
            ..Checks::default()
        },
        ..Options::default()
    }
}

async fn wedge(sys: &System, service: &str, how: &str) {
    let r = reqwest::Client::new()
        .put(format!("{}/admin/consumer", sys.service(service)))
        .json(&json!({ "wedge": how }))
        .send()
        .await
        .expect("the service answers");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

fn restarts_of(sys: &System, name: &str) -> Vec<String> {
    sys.supervisor()
        .happenings()
        .into_iter()
        .filter_map(|h| match h {
            Happening::Restarted { name: n, reason } if n == name => Some(reason),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consumer_is_recreated_then_restarted_and_the_saga_completes() {
    let sys = System::start_with_options(
        &[
            ("CONSUMER_ADMIN_ENABLED", "true"),
            ("CONSUMER_STALL_AFTER_MS", "15000"),
            ("CONSUMER_LAG_INTERVAL_MS", "300"),
        ],
        &[],
        &[],
        quick_checks(),
    )
    .await;
    sys.register_room(1).await;
    sys.register_room(2).await;

    // 1. Room's consumer stops reading (until it is re-created): the booking waits, room
    //    reports the stall, re-creates its consumer, and the booking completes.
    wedge(&sys, "room", "until_rejoin").await;
    let first = sys.book_id(1).await;
    let stalled = eventually(
        "room reports its consumer stalled",
        Duration::from_secs(30),
        || async {
            let (status, body) = sys.health("room", "/health/ready").await;
            let kafka = body["components"]["kafka"].clone();
            (status == 200 && kafka["stalled"] == true).then_some(kafka)
        },
    )
    .await;
    assert!(stalled["lag"].as_i64().is_some_and(|n| n > 0), "{stalled}");
    assert!(stalled["stalledSeconds"].as_f64().is_some(), "{stalled}");
    sys.until_status(&format!("/conferences/{first}"), "ASSIGNED")
        .await;
    let (_, body) = sys.health("room", "/health/ready").await;
    assert_eq!(body["components"]["kafka"]["recoveries"], 1, "{body}");
    assert!(sys.log("room").contains("consumer stalled"));
    assert!(
        restarts_of(&sys, "room").is_empty(),
        "re-creating the consumer was enough"
    );

    // 2. A wedge that survives re-creation: liveness fails, the supervisor restarts room,
    //    the new process catches up.
    wedge(&sys, "room", "always").await;
    let second = sys.book_id(2).await;
    eventually(
        "the supervisor restarts room",
        Duration::from_secs(60),
        || async { (!restarts_of(&sys, "room").is_empty()).then_some(()) },
    )
    .await;
    let reasons = restarts_of(&sys, "room");
    assert!(
        reasons[0].contains("503"),
        "restarted for its liveness: {reasons:?}"
    );
    assert!(sys.log("room").contains("failing liveness"));
    sys.until_status(&format!("/conferences/{second}"), "ASSIGNED")
        .await;
    sys.assert_consistent(&[first, second]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conference_refuses_bookings_while_the_saga_is_behind_and_admits_again_after() {
    let sys = System::start_with(&[
        ("CONSUMER_ADMIN_ENABLED", "true"),
        ("CONSUMER_STALL_AFTER_MS", "600000"),
        ("CONSUMER_LAG_INTERVAL_MS", "300"),
        ("SAGA_MAX_LAG_MS", "1500"),
    ])
    .await;
    sys.register_room(1).await;
    sys.register_room(2).await;
    // Conference, in its group, stops reading its events (it is not re-created: the stall
    // time is long).
    sys.until_joined().await;
    wedge(&sys, "conference", "always").await;
    let (mut accepted, refused) = book_until_refused(&sys, 2).await;
    assert_eq!(refused.json["error"], "saga_busy", "{}", refused.text);
    assert_eq!(refused.header("retry-after"), Some("2"));
    assert!(
        refused.text.contains("the saga is behind"),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("nothing was booked"),
        "{}",
        refused.text
    );
    let (_, body) = sys.health("conference", "/health/ready").await;
    assert_eq!(
        body["status"], "UP",
        "refusing bookings is not being unready"
    );
    assert_eq!(
        body["components"]["sagaAdmission"]["status"], "REFUSING",
        "{body}"
    );
    assert_stored_exactly(&sys, &accepted).await;

    // Conference reads again: it catches up and admits bookings again.
    wedge(&sys, "conference", "no").await;
    accepted.push(book_when_admitted(&sys, 2).await);
    for id in &accepted {
        sys.until(
            &format!("conference {id} is final"),
            &format!("/conferences/{id}"),
            |b| ["ASSIGNED", "REJECTED"].contains(&e2e::status_of(b)),
        )
        .await;
    }
    sys.assert_consistent(&accepted).await;
}

/// Books `room` until a booking is refused; returns the ids accepted before and the refusal.
async fn book_until_refused(sys: &System, room: i64) -> (Vec<i64>, e2e::Reply) {
    let mut accepted = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = sys
            .post("/conferences", json!({ "roomNumber": room }))
            .await;
        match r.status.as_u16() {
            201 => accepted.push(e2e::conference_id(&r.json)),
            503 => return (accepted, r),
            other => panic!("unexpected {other}: {}", r.text),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no booking refused in 30 s; {} accepted",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Books `room` until a booking is admitted; returns its id.
async fn book_when_admitted(sys: &System, room: i64) -> i64 {
    eventually(
        "bookings are admitted again",
        Duration::from_secs(60),
        || async {
            let r = sys
                .post("/conferences", json!({ "roomNumber": room }))
                .await;
            (r.status == 201).then(|| e2e::conference_id(&r.json))
        },
    )
    .await
}

/// The bookings stored are exactly the accepted ones: a refusal stored nothing.
async fn assert_stored_exactly(sys: &System, accepted: &[i64]) {
    let mut stored: Vec<i64> = sys
        .items("/conferences", "conferences")
        .await
        .iter()
        .map(e2e::conference_id)
        .collect();
    stored.sort();
    let mut expected = accepted.to_vec();
    expected.sort();
    assert_eq!(
        stored, expected,
        "refused bookings must leave nothing behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_wait_in_the_outbox_while_the_broker_is_away_up_to_a_bound() {
    let mut sys = System::start_with(&[("SAGA_MAX_OUTBOX_AGE_MS", "1500")]).await;
    sys.register_room(1).await;
    sys.kill("broker").await;
    // Accepted at first (into the outbox), until the oldest unpublished event is older than
    // the bound.
    let (mut accepted, refused) = book_until_refused(&sys, 1).await;
    assert!(!accepted.is_empty(), "accepted while the broker was away");
    assert_eq!(refused.json["error"], "saga_busy", "{}", refused.text);
    assert!(refused.text.contains("waited"), "{}", refused.text);
    assert_stored_exactly(&sys, &accepted).await;
    sys.start_broker().await;
    accepted.push(book_when_admitted(&sys, 1).await);
    sys.until_status(&format!("/conferences/{}", accepted[0]), "ASSIGNED")
        .await;
    sys.assert_consistent(&accepted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_stops_by_itself_with_a_stream_open_and_the_broker_down() {
    let mut sys = System::start().await;
    sys.register_room(1).await;
    let id = sys.book_id(1).await;
    sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
        .await;
    sys.kill("broker").await;
    // A client holds the live notification stream open through the gateway, another one
    // directly on customer-center.
    let through_gateway = reader(sys.open_stream("/notifications/stream").await);
    let direct = reqwest::Client::new()
        .get(format!(
            "{}/notifications/stream",
            sys.service("customer-center")
        ))
        .send()
        .await
        .expect("customer-center answers");
    assert_eq!(direct.status(), 200);
    let direct = reader(direct);
    for name in ["gateway", "customer-center", "conference", "pay", "room"] {
        sys.stop(name).await;
        let status = sys
            .supervisor()
            .status()
            .into_iter()
            .find(|p| p.name == name)
            .expect("known process");
        // The harness sends SIGTERM and would SIGKILL after 7 s: an exit code means the
        // process ended by itself within the bound.
        assert_eq!(
            status.last_event.as_deref(),
            Some("stopped (exit code 0)"),
            "{name} did not stop by itself: {status:?}\n{}",
            sys.log(name)
        );
    }
    for stream in [through_gateway, direct] {
        tokio::time::timeout(Duration::from_secs(5), stream)
            .await
            .expect("the stream ended when the services stopped")
            .expect("reader");
    }
}

/// Reads a streaming answer to its end.
fn reader(mut response: reqwest::Response) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { while let Ok(Some(_)) = response.chunk().await {} })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wedged_broker_is_restarted_by_the_supervisor_and_nothing_is_lost() {
    let sys = System::start_with_options(&[], &[], &[], quick_checks()).await;
    sys.register_room(1).await;
    // SIGSTOP: the broker keeps its port open but answers nothing (as a wedged one).
    let pid = sys.supervisor().pid("broker").expect("broker runs");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .expect("stop the broker");
    let id = sys.book_id(1).await;
    eventually(
        "the supervisor restarts the broker",
        Duration::from_secs(60),
        || async { (!restarts_of(&sys, "broker").is_empty()).then_some(()) },
    )
    .await;
    let reasons = restarts_of(&sys, "broker");
    assert!(reasons[0].contains("broker probe"), "{reasons:?}");
    sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
        .await;
    sys.assert_consistent(&[id]).await;
}
