//! Fault injection end to end: under a steady stream of bookings and cancellations, every
//! service in turn is killed with SIGKILL and restarted, and the broker once. Then the load
//! stops and the operator's checker (`hifive-check`) must find every SPEC.md invariant
//! holding and every accepted booking accounted for.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use e2e::{System, eventually};
use hifive_common::CancellationToken;
use serde_json::json;

/// What the clients saw.
#[derive(Debug, Default)]
struct Load {
    /// Conference ids that got a 201.
    accepted: Vec<i64>,
    /// Conference ids whose cancellation got a 204.
    cancelled: Vec<i64>,
    /// Answers by kind ("201", "503", "error", ...), bookings and cancellations together.
    outcomes: BTreeMap<String, usize>,
}

impl Load {
    fn failures(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "201" | "204" | "409"))
            .map(|(_, n)| n)
            .sum()
    }
}

const ROOMS: u64 = 20;
const CLIENTS: u64 = 4;

/// One customer: books a random room, and every third request or so cancels one of its
/// bookings (at whatever point of the saga it is).
async fn customer(n: u64, gateway: String, load: Arc<Mutex<Load>>, stop: CancellationToken) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    let mut seed = n
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut mine: Vec<i64> = Vec::new();
    while !stop.is_cancelled() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let pick = seed >> 33;
        let (kind, outcome) = if pick.is_multiple_of(3) && !mine.is_empty() {
            let id = mine.swap_remove(pick as usize % mine.len());
            let r = http
                .delete(format!("{gateway}/conferences/{id}"))
                .send()
                .await;
            let status = r.as_ref().map(|r| r.status().as_u16()).ok();
            if status == Some(204) {
                load.lock().unwrap().cancelled.push(id);
            }
            ("cancel", status)
        } else {
            let room = 1 + pick % ROOMS;
            let r = http
                .post(format!("{gateway}/conferences"))
                .json(&json!({ "roomNumber": room }))
                .send()
                .await;
            let status = match r {
                Ok(r) if r.status() == 201 => {
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    match body["conferenceId"].as_i64() {
                        Some(id) => {
                            mine.push(id);
                            load.lock().unwrap().accepted.push(id);
                            Some(201)
                        }
                        None => panic!("a 201 without a conferenceId: {body}"),
                    }
                }
                Ok(r) => Some(r.status().as_u16()),
                Err(_) => None,
            };
            ("book", status)
        };
        let key = outcome.map_or("error".to_string(), |s| s.to_string());
        *load
            .lock()
            .unwrap()
            .outcomes
            .entry(format!("{kind} {key}"))
            .or_default() += 1;
        // Pacing, not synchronisation: a steady stream rather than a flood.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_for(load: &Arc<Mutex<Load>>, what: &str, check: impl Fn(&Load) -> bool) {
    eventually(what, Duration::from_secs(90), || async {
        check(&load.lock().unwrap()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_each_service_and_the_broker_under_load_breaks_no_invariant() {
    let mut sys = System::start_with(&[("STUCK_BOOKING_AFTER_MS", "4000")]).await;
    for room in 1..=ROOMS {
        sys.register_room(room as i64).await;
    }
    let load = Arc::new(Mutex::new(Load::default()));
    let stop = CancellationToken::new();
    let customers: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(customer(n, sys.gateway(), load.clone(), stop.clone())))
        .collect();

    let mut kills = 0;
    for target in [
        "conference",
        "pay",
        "room",
        "customer-center",
        "gateway",
        "broker",
    ] {
        let (accepted, failures) = {
            let l = load.lock().unwrap();
            (l.accepted.len(), l.failures())
        };
        wait_for(&load, "the load makes progress", |l| {
            l.accepted.len() >= accepted + 10
        })
        .await;
        let (accepted, failures) = {
            let l = load.lock().unwrap();
            (l.accepted.len(), l.failures().max(failures))
        };
        sys.kill(target).await;
        kills += 1;
        // Stay down until the clients feel it: bookings fail while conference, pay or the
        // gateway is down; they are still accepted while room, customer-center or the broker is.
        match target {
            "conference" | "pay" | "gateway" => {
                wait_for(
                    &load,
                    &format!("bookings fail while {target} is down"),
                    |l| l.failures() >= failures + 3,
                )
                .await
            }
            _ => {
                wait_for(
                    &load,
                    &format!("bookings go on while {target} is down"),
                    |l| l.accepted.len() >= accepted + 5,
                )
                .await
            }
        }
        if target == "broker" {
            sys.start_broker().await;
        } else {
            sys.restart(target).await;
        }
    }
    let accepted = load.lock().unwrap().accepted.len();
    wait_for(&load, "bookings are accepted after the last restart", |l| {
        l.accepted.len() >= accepted + 10
    })
    .await;
    stop.cancel();
    for c in customers {
        c.await.expect("customer task");
    }

    // The operator's checker, as the README runs it, waiting for the system to go quiet.
    let (accepted, cancelled, outcomes) = {
        let l = load.lock().unwrap();
        (l.accepted.clone(), l.cancelled.clone(), l.outcomes.clone())
    };
    let ids_file = sys.dir().join("accepted.txt");
    let ids: Vec<String> = accepted.iter().map(i64::to_string).collect();
    std::fs::write(&ids_file, ids.join("\n")).expect("write accepted ids");
    let check = tokio::process::Command::new(sys.binary("hifive-check"))
        .args(["--gateway", &sys.gateway(), "--wait", "120", "--accepted"])
        .arg(&ids_file)
        .output()
        .await
        .expect("run hifive-check");
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    println!(
        "fault injection: {} bookings accepted, {} cancelled, {kills} kills (5 services + broker); answers {outcomes:?}\n{report}",
        accepted.len(),
        cancelled.len(),
    );
    assert!(
        check.status.success(),
        "hifive-check found violations ({}):\n{report}{}",
        check.status,
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(report.contains("OK: every invariant holds"), "{report}");

    // Every cancellation that was acknowledged took effect.
    let bookings = sys.snapshot().await.bookings;
    for id in &cancelled {
        let b = bookings
            .iter()
            .find(|b| b.conference_id == *id)
            .unwrap_or_else(|| panic!("cancelled conference {id} is missing"));
        assert_eq!(b.status, "CANCELED", "{b:?}");
    }
}

/// `/health/ready` of every event-driven service, as (status code, body).
async fn readiness(sys: &System) -> Vec<(u16, serde_json::Value)> {
    let mut all = Vec::new();
    for name in ["conference", "pay", "room", "customer-center"] {
        let r = reqwest::get(format!("{}/health/ready", sys.service(name)))
            .await
            .expect("the service answers");
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        all.push((status, body));
    }
    all
}

/// SPEC.md liveness 9: readiness means "can serve this instance's HTTP API". With the broker
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
