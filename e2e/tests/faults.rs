//! Faults around the broker: with the broker down every service stays ready and live, shows
//! the broker as down and keeps what it accepts in its outbox until the broker is back.
//! (Killing every process in turn under load is `soak.rs`'s reproduction 2.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::time::Duration;

use e2e::{System, eventually};

/// `/health/ready` of every event-driven service, as (status code, body).
async fn readiness(sys: &System) -> Vec<(u16, serde_json::Value)> {
    let mut all = Vec::new();
    for name in ["conference", "pay", "room", "customer-center"] {
        all.push(sys.health(name, "/health/ready").await);
    }
    all
}

/// docs/contract.md, liveness 9: readiness means "can serve this instance's HTTP API". With the broker
/// down every service stays ready and live, reports the broker as a component, and bookings
/// are accepted into the outbox; they complete when the broker is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_stay_ready_without_the_broker_and_show_it() {
    let mut sys = System::start().await;
    sys.register_room(1).await;
    sys.kill("broker").await;
    eventually(
        "every service reports the broker down",
        Duration::from_secs(60),
        || async {
            let all = readiness(&sys).await;
            all.iter()
                .all(|(status, body)| {
                    *status == 200
                        && body["status"] == "UP"
                        && body["components"]["db"]["status"] == "UP"
                        && body["components"]["kafka"]["brokerUp"] == false
                        && body["components"]["kafka"]["status"] == "DOWN"
                })
                .then_some(())
        },
    )
    .await;
    for name in ["conference", "pay", "room", "customer-center", "gateway"] {
        let live = reqwest::get(format!("{}/health/live", sys.service(name)))
            .await
            .expect("the service answers");
        assert_eq!(
            live.status(),
            200,
            "{name} is alive while the broker is down"
        );
    }
    // Bookings are still accepted meanwhile: their events wait in the outbox, which says so.
    let id = sys.book_id(1).await;
    let pending = |body: &serde_json::Value| body["components"]["outbox"]["pending"].as_i64();
    eventually(
        "the booking's Applied waits in conference's outbox",
        Duration::from_secs(10),
        || async {
            let conference = &readiness(&sys).await[0].1;
            pending(conference).is_some_and(|n| n >= 1).then_some(())
        },
    )
    .await;
    assert_eq!(sys.get("/roomStates").await.status, 200, "reads answer");

    sys.start_broker().await;
    sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
        .await;
    eventually(
        "every outbox is empty again",
        Duration::from_secs(60),
        || async {
            readiness(&sys)
                .await
                .iter()
                .all(|(status, body)| *status == 200 && pending(body) == Some(0))
                .then_some(())
        },
    )
    .await;
}
