//! The soak's load: clients that book and cancel through the gateway back to back, the
//! bookings followed to their final status (saga latency), and a watcher of every
//! service's consumer health.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use hifive_common::CancellationToken;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::{Soak, random::Random, report::Tally};
use crate::System;

/// The SPEC's final booking statuses.
const FINAL: [&str; 4] = ["ASSIGNED", "REJECTED", "CANCELED", "FAILED"];

/// Starts `soak.clients` clients, each a customer of its own, until `stop`.
pub(super) fn start_clients(
    sys: &System,
    soak: &Soak,
    tally: &Arc<Mutex<Tally>>,
    stop: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    let next_room = Arc::new(AtomicI64::new(0));
    (0..soak.clients)
        .map(|n| {
            let client = Client {
                // Each client is a customer of its own, for hours.
                http: client_http(&sys.token("customer", &format!("soak-{n}"))),
                gateway: sys.gateway(),
                soak: soak.clone(),
                next_room: next_room.clone(),
                tally: tally.clone(),
                random: Random::new(n as u64 + soak.seed * 1000),
                mine: Vec::new(),
                followed: Vec::new(),
            };
            tokio::spawn(client.run(stop.clone()))
        })
        .collect()
}

/// An HTTP client that sends `token` as its bearer token.
fn client_http(token: &str) -> reqwest::Client {
    let mut auth = reqwest::header::HeaderMap::new();
    auth.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("a header value"),
    );
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .default_headers(auth)
        .build()
        .expect("http client")
}

/// One client: books rooms and now and then cancels one of its bookings, back to back,
/// waiting `Retry-After` (at most 2 s) when told to.
struct Client {
    http: reqwest::Client,
    gateway: String,
    soak: Soak,
    /// The next room of the rotation shared by all clients (when rooms are not random).
    next_room: Arc<AtomicI64>,
    tally: Arc<Mutex<Tally>>,
    random: Random,
    /// Its bookings it may cancel.
    mine: Vec<i64>,
    /// Its followed bookings' pollers.
    followed: Vec<JoinHandle<()>>,
}

/// What one request got: its kind, the outcome's label and how long to wait before the next.
type Answered = (&'static str, String, Option<Duration>);

impl Client {
    async fn run(mut self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            let cancel = !self.mine.is_empty() && self.random.chance(self.soak.cancel_share);
            let (kind, outcome, retry_after) = if cancel {
                self.cancel().await
            } else {
                self.book().await
            };
            *self
                .tally
                .lock()
                .unwrap()
                .answers
                .entry(format!("{kind} {outcome}"))
                .or_default() += 1;
            if let Some(wait) = retry_after {
                tokio::select! {
                    _ = tokio::time::sleep(wait.min(Duration::from_secs(2))) => {}
                    _ = stop.cancelled() => {}
                }
            }
        }
        for f in self.followed {
            let _ = f.await;
        }
    }

    /// Cancels one of its bookings, picked at random.
    async fn cancel(&mut self) -> Answered {
        let id = self
            .mine
            .swap_remove(self.random.below(self.mine.len() as u64) as usize);
        let r = self
            .http
            .delete(format!("{}/conferences/{id}", self.gateway))
            .send()
            .await;
        let (outcome, retry_after) = answer(r).await;
        if outcome == "204" {
            self.tally.lock().unwrap().cancelled.push(id);
        }
        ("cancel", outcome, retry_after)
    }

    /// Books a room (at random or the rotation's next); follows one booking in
    /// `follow_every` until it is final.
    async fn book(&mut self) -> Answered {
        let room = if self.soak.random_rooms {
            1 + self.random.below(self.soak.rooms as u64) as i64
        } else {
            1 + self.next_room.fetch_add(1, Ordering::Relaxed) % self.soak.rooms
        };
        let r = self
            .http
            .post(format!("{}/conferences", self.gateway))
            .json(&json!({ "roomNumber": room }))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 201 => {
                let at = Instant::now();
                let body: Value = r.json().await.unwrap_or_default();
                let id = body["conferenceId"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("a 201 without a conferenceId: {body}"));
                self.booked(id, at);
                ("book", "201".to_owned(), None)
            }
            r => {
                let (outcome, retry_after) = answer(r).await;
                ("book", outcome, retry_after)
            }
        }
    }

    /// Counts booking `id` (accepted `at`) and either follows it or keeps it to cancel.
    fn booked(&mut self, id: i64, at: Instant) {
        let follow = {
            let mut t = self.tally.lock().unwrap();
            t.accepted.push(id);
            t.accepted
                .len()
                .is_multiple_of(self.soak.follow_every.max(1))
        };
        if follow {
            // Followed bookings are not cancelled: their latency is the saga's.
            self.followed.push(tokio::spawn(follow_booking(
                self.http.clone(),
                self.gateway.clone(),
                id,
                at,
                self.tally.clone(),
            )));
        } else {
            self.mine.push(id);
        }
    }
}

/// The outcome label of an answer ("204", "503 saga_busy", "no answer") and its Retry-After.
async fn answer(r: reqwest::Result<reqwest::Response>) -> (String, Option<Duration>) {
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs);
            let body: Value = r.json().await.unwrap_or_default();
            let label = match body["error"].as_str() {
                Some(e) => format!("{status} {e}"),
                None => status.to_string(),
            };
            (
                label,
                retry_after.or((status >= 500).then_some(Duration::from_millis(200))),
            )
        }
        // Connection refused (a process is down): a moment before the next try.
        Err(_) => ("no answer".into(), Some(Duration::from_millis(200))),
    }
}

/// Polls one booking until it is final; records the saga latency.
async fn follow_booking(
    http: reqwest::Client,
    gateway: String,
    id: i64,
    accepted_at: Instant,
    tally: Arc<Mutex<Tally>>,
) {
    let mut wait = Duration::from_millis(50);
    let give_up = accepted_at + Duration::from_secs(600);
    while Instant::now() < give_up {
        tokio::time::sleep(wait).await;
        wait = (wait * 3 / 2).min(Duration::from_secs(1));
        let Ok(r) = http.get(format!("{gateway}/conferences/{id}")).send().await else {
            continue;
        };
        let body: Value = r.json().await.unwrap_or_default();
        if FINAL.contains(&body["status"].as_str().unwrap_or_default()) {
            tally.lock().unwrap().saga.push(accepted_at.elapsed());
            return;
        }
    }
    tally.lock().unwrap().unfinished.push(id);
}

/// Samples every service's consumer health each second: the largest lag, stalls and
/// consumer re-creations (summed over restarts of a process).
pub(super) async fn watch(
    services: Vec<(&'static str, String)>,
    tally: Arc<Mutex<Tally>>,
    stop: CancellationToken,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("http client");
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.cancelled() => return,
        }
        for (name, url) in &services {
            let Ok(r) = http.get(format!("{url}/health/ready")).send().await else {
                continue;
            };
            let body: Value = r.json().await.unwrap_or_default();
            let kafka = &body["components"]["kafka"];
            let recoveries = kafka["recoveries"].as_u64().unwrap_or(0);
            let mut t = tally.lock().unwrap();
            let (lag, age) = (
                kafka["lag"].as_i64().unwrap_or(0),
                kafka["lagSeconds"].as_f64().unwrap_or(0.0),
            );
            t.max_lag = t.max_lag.max(lag);
            t.max_lag_age = t.max_lag_age.max(age);
            let seen = t.lag_by_service.entry((*name).to_owned()).or_default();
            *seen = (seen.0.max(lag), seen.1.max(age));
            if kafka["stalled"] == true {
                *t.stalled_seen.entry((*name).to_owned()).or_default() += 1;
            }
            let before = last.insert(name, recoveries).unwrap_or(0);
            // A restarted process counts from zero again.
            t.consumer_recoveries += if recoveries >= before {
                recoveries - before
            } else {
                recoveries
            };
        }
    }
}
