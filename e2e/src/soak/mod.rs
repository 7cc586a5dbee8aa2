//! Sustained load with faults: clients book and cancel through the gateway as fast as the
//! system lets them (honouring `Retry-After`), while processes are killed with SIGKILL;
//! afterwards the operator's checker must find every invariant holding and every `201`
//! accounted for. Used by `script/soak` (`hifive-soak`) and by the end-to-end tests (the two
//! reproductions of the "Nothing stalls" issue and a short soak).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hifive_common::CancellationToken;
use hifive_stack::supervisor::Happening;
use serde_json::{Value, json};

use crate::System;

/// Which faults to inject.
#[derive(Debug, Clone)]
pub enum Faults {
    None,
    /// Every `every` (random within the range), SIGKILL a process of `targets` (in rounds of a
    /// random order, so that each is hit once a round); it stays down for a random time within
    /// `down`, then is started again.
    Random {
        every: (Duration, Duration),
        down: (Duration, Duration),
        targets: Vec<&'static str>,
    },
    /// Each of `targets` in turn: wait until the load has made progress, SIGKILL it, keep it
    /// down for `down`, start it again.
    InTurn {
        targets: Vec<&'static str>,
        down: Duration,
    },
}

/// Every process of the system: what random faults pick from.
pub const EVERY_PROCESS: [&str; 6] = [
    "conference",
    "pay",
    "room",
    "customer-center",
    "gateway",
    "broker",
];

/// What to run.
#[derive(Debug, Clone)]
pub struct Soak {
    pub duration: Duration,
    /// Concurrent clients, each sending its next request when the last one is answered.
    pub clients: usize,
    pub rooms: i64,
    /// Rooms are picked at random (false: rotating over all rooms, as wrk's script did).
    pub random_rooms: bool,
    /// Share of requests that cancel one of the client's bookings (when it has one).
    pub cancel_share: f64,
    pub faults: Faults,
    /// One booking in this many is followed until its final status (saga latency).
    pub follow_every: usize,
    /// How long the checker may wait for the system to go quiet afterwards.
    pub settle: Duration,
    pub seed: u64,
}

impl Default for Soak {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(120),
            clients: 16,
            rooms: 50,
            random_rooms: true,
            cancel_share: 0.3,
            faults: Faults::None,
            follow_every: 10,
            settle: Duration::from_secs(180),
            seed: 1,
        }
    }
}

/// The SPEC's final booking statuses.
const FINAL: [&str; 4] = ["ASSIGNED", "REJECTED", "CANCELED", "FAILED"];

#[derive(Debug, Default)]
struct Tally {
    accepted: Vec<i64>,
    cancelled: Vec<i64>,
    /// Answers by request kind and outcome, e.g. "book 503 saga_busy".
    answers: BTreeMap<String, usize>,
    /// Saga latency of followed bookings: `201` → final status seen.
    saga: Vec<Duration>,
    /// Followed bookings that had not finished when the run ended.
    unfinished: Vec<i64>,
    faults: Vec<String>,
    max_lag: i64,
    max_lag_age: f64,
    /// The largest lag (events, seconds) seen per service.
    lag_by_service: BTreeMap<String, (i64, f64)>,
    /// Consumer self-recoveries (re-created consumers), summed over process lifetimes.
    consumer_recoveries: u64,
    stalled_seen: BTreeMap<String, usize>,
}

/// What a soak measured; `Display` prints the report.
#[derive(Debug)]
pub struct Report {
    pub elapsed: Duration,
    pub accepted: usize,
    pub cancelled: usize,
    pub answers: BTreeMap<String, usize>,
    pub saga: Vec<Duration>,
    pub unfinished: Vec<i64>,
    pub faults: Vec<String>,
    pub happenings: Vec<Happening>,
    pub max_lag: i64,
    pub max_lag_age: f64,
    pub lag_by_service: BTreeMap<String, (i64, f64)>,
    pub consumer_recoveries: u64,
    pub stalled_seen: BTreeMap<String, usize>,
    /// The checker's exit status and output.
    pub check_ok: bool,
    pub check_output: String,
    /// Acknowledged cancellations that did not end CANCELED.
    pub lost_cancellations: Vec<i64>,
}

impl Report {
    /// Zero violations, zero stuck bookings, every acknowledged cancellation done.
    pub fn healthy(&self) -> bool {
        self.check_ok && self.lost_cancellations.is_empty()
    }

    /// Refusals by their reason (answers that are not 201/204).
    pub fn refusals(&self) -> BTreeMap<String, usize> {
        let mut by = BTreeMap::new();
        for (k, n) in &self.answers {
            let outcome = k.split_once(' ').map_or(k.as_str(), |(_, o)| o);
            if !matches!(outcome, "201" | "204") {
                *by.entry(outcome.to_owned()).or_default() += n;
            }
        }
        by
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(f64::EPSILON);
        let requests: usize = self.answers.values().sum();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "load          {:.0} s, {requests} requests ({:.1}/s); {} bookings accepted ({:.1}/s), {} cancelled",
            secs,
            requests as f64 / secs,
            self.accepted,
            self.accepted as f64 / secs,
            self.cancelled
        );
        let mut saga = self.saga.clone();
        saga.sort();
        let q = |p: f64| {
            load::quantile(&saga, p)
                .map_or("-".into(), |d| format!("{:.0}", d.as_secs_f64() * 1000.0))
        };
        let _ = writeln!(
            out,
            "saga latency  201 → final status, {} followed: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms{}",
            saga.len(),
            q(0.5),
            q(0.9),
            q(0.99),
            saga.last()
                .map_or("-".into(), |d| format!("{:.0}", d.as_secs_f64() * 1000.0)),
            if self.unfinished.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} not final when the load stopped",
                    self.unfinished.len()
                )
            }
        );
        let by: Vec<String> = self
            .lag_by_service
            .iter()
            .map(|(s, (n, age))| format!("{s} {n} / {age:.1} s"))
            .collect();
        let _ = writeln!(
            out,
            "largest lag   {} events; events {:.1} s old ({})",
            self.max_lag,
            self.max_lag_age,
            by.join(", ")
        );
        let refusals: Vec<String> = self
            .refusals()
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect();
        let _ = writeln!(
            out,
            "not 201/204   {}",
            if refusals.is_empty() {
                "none".into()
            } else {
                refusals.join(", ")
            }
        );
        let _ = writeln!(
            out,
            "faults        {} injected: {}",
            self.faults.len(),
            self.faults.join(", ")
        );
        let restarts: Vec<String> = self
            .happenings
            .iter()
            .filter_map(|h| match h {
                Happening::Restarted { name, reason } => Some(format!("{name} ({reason})")),
                Happening::Exited { .. } => None,
            })
            .collect();
        let stalled: Vec<String> = self
            .stalled_seen
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect();
        let _ = writeln!(
            out,
            "recoveries    {} restarts by the supervisor{}{}; {} consumers re-created after a stall; stalls seen: {}",
            restarts.len(),
            if restarts.is_empty() { "" } else { ": " },
            restarts.join(", "),
            self.consumer_recoveries,
            if stalled.is_empty() {
                "none".into()
            } else {
                stalled.join(", ")
            }
        );
        let _ = write!(out, "check         {}", self.check_output.trim_end());
        if !self.lost_cancellations.is_empty() {
            let _ = write!(
                out,
                "\nLOST CANCELLATIONS (204 but not CANCELED): {:?}",
                self.lost_cancellations
            );
        }
        f.write_str(&out)
    }
}

/// A small deterministic random source (xorshift), one per task.
struct Random(u64);

impl Random {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 10_000) as f64 / 10_000.0 < p
    }

    fn within(&mut self, (lo, hi): (Duration, Duration)) -> Duration {
        let span = hi.saturating_sub(lo).as_millis() as u64;
        lo + Duration::from_millis(self.below(span + 1))
    }
}

/// Runs `soak` against `sys` (rooms are registered first) and checks the result.
pub async fn run(sys: &mut System, soak: &Soak) -> Report {
    for room in 1..=soak.rooms {
        sys.register_room(room).await;
    }
    // Load a running system: every consumer in its group and the rooms registered everywhere.
    sys.until_joined().await;
    let rooms = soak.rooms as usize;
    crate::eventually(
        "every room is in the view",
        Duration::from_secs(60),
        || async {
            let reply = sys.get("/roomStates?size=1").await;
            (reply.json["page"]["totalElements"].as_u64() == Some(rooms as u64)).then_some(())
        },
    )
    .await;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = CancellationToken::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    let next_room = Arc::new(std::sync::atomic::AtomicI64::new(0));
    for n in 0..soak.clients {
        tasks.push(tokio::spawn(client(
            n as u64 + soak.seed * 1000,
            // Each client is a customer of its own, for hours.
            sys.token("customer", &format!("soak-{n}")),
            sys.gateway(),
            soak.clone(),
            next_room.clone(),
            tally.clone(),
            stop.clone(),
        )));
    }
    let watcher = tokio::spawn(watch(
        ["conference", "pay", "room", "customer-center"]
            .map(|s| (s, sys.service(s)))
            .to_vec(),
        tally.clone(),
        stop.clone(),
    ));

    inject(sys, soak, &tally, started).await;

    stop.cancel();
    for t in tasks {
        let _ = t.await;
    }
    let _ = watcher.await;
    let elapsed = started.elapsed();

    let (accepted, cancelled) = {
        let t = tally.lock().unwrap();
        (t.accepted.clone(), t.cancelled.clone())
    };
    let ids_file = sys.dir().join("accepted.txt");
    let ids: Vec<String> = accepted.iter().map(i64::to_string).collect();
    std::fs::write(&ids_file, ids.join("\n")).expect("write accepted ids");
    let check = tokio::process::Command::new(sys.binary("hifive-check"))
        .args(["--gateway", &sys.gateway(), "--wait"])
        .env("HIFIVE_TOKEN", sys.token("manager", "soak-check"))
        .arg(soak.settle.as_secs().to_string())
        .arg("--accepted")
        .arg(&ids_file)
        .output()
        .await
        .expect("run hifive-check");
    let check_output = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let check_ok = check.status.success() && check_output.contains("OK: every invariant holds");

    let lost_cancellations = if check_ok {
        let bookings = sys.snapshot().await.bookings;
        cancelled
            .iter()
            .copied()
            .filter(|id| {
                !bookings
                    .iter()
                    .any(|b| b.conference_id == *id && b.status == "CANCELED")
            })
            .collect()
    } else {
        Vec::new()
    };
    let t = tally.lock().unwrap();
    Report {
        elapsed,
        accepted: accepted.len(),
        cancelled: cancelled.len(),
        answers: t.answers.clone(),
        saga: t.saga.clone(),
        unfinished: t.unfinished.clone(),
        faults: t.faults.clone(),
        happenings: sys.supervisor().happenings(),
        max_lag: t.max_lag,
        max_lag_age: t.max_lag_age,
        lag_by_service: t.lag_by_service.clone(),
        consumer_recoveries: t.consumer_recoveries,
        stalled_seen: t.stalled_seen.clone(),
        check_ok,
        check_output,
        lost_cancellations,
    }
}

/// Injects the faults until the run's time is up.
async fn inject(sys: &mut System, soak: &Soak, tally: &Arc<Mutex<Tally>>, started: Instant) {
    let deadline = started + soak.duration;
    let left = || deadline.saturating_duration_since(Instant::now());
    match &soak.faults {
        Faults::None => tokio::time::sleep(left()).await,
        Faults::Random {
            every,
            down,
            targets,
        } => {
            let mut random = Random::new(soak.seed ^ 0xFA17);
            // Rounds in a random order: every target is hit once in each round.
            let mut round: Vec<&'static str> = Vec::new();
            loop {
                let wait = random.within(*every);
                if wait >= left() {
                    tokio::time::sleep(left()).await;
                    return;
                }
                tokio::time::sleep(wait).await;
                if round.is_empty() {
                    round = targets.clone();
                }
                let target = round.swap_remove(random.below(round.len() as u64) as usize);
                let down = random.within(*down).min(left());
                fault(sys, tally, target, down, started).await;
            }
        }
        Faults::InTurn { targets, down } => {
            for target in targets {
                let before = tally.lock().unwrap().accepted.len();
                crate::eventually("the load makes progress", Duration::from_secs(120), || {
                    let n = tally.lock().unwrap().accepted.len();
                    async move { (n >= before + 20).then_some(()) }
                })
                .await;
                fault(sys, tally, target, *down, started).await;
            }
            tokio::time::sleep(left()).await;
        }
    }
}

/// SIGKILL `target`, keep it down for `down`, start it again (not waiting for it to be ready).
async fn fault(
    sys: &mut System,
    tally: &Arc<Mutex<Tally>>,
    target: &'static str,
    down: Duration,
    started: Instant,
) {
    if sys.supervisor().pid(target).is_none() {
        return; // already down (restarting): not a new fault
    }
    tally.lock().unwrap().faults.push(format!(
        "{target}@{:.0}s/{:.1}s",
        started.elapsed().as_secs_f64(),
        down.as_secs_f64()
    ));
    sys.kill(target).await;
    tokio::time::sleep(down).await;
    if target == "broker" {
        sys.start_broker().await;
    } else {
        sys.start_service(target);
    }
}

/// One client: books rooms and now and then cancels one of its bookings, back to back,
/// waiting `Retry-After` (at most 2 s) when told to.
async fn client(
    seed: u64,
    token: String,
    gateway: String,
    soak: Soak,
    next_room: Arc<std::sync::atomic::AtomicI64>,
    tally: Arc<Mutex<Tally>>,
    stop: CancellationToken,
) {
    let mut auth = reqwest::header::HeaderMap::new();
    auth.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("a header value"),
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .default_headers(auth)
        .build()
        .expect("http client");
    let mut random = Random::new(seed);
    let mut mine: Vec<i64> = Vec::new();
    let mut followed = Vec::new();
    while !stop.is_cancelled() {
        let cancel = !mine.is_empty() && random.chance(soak.cancel_share);
        let (kind, outcome, retry_after) = if cancel {
            let id = mine.swap_remove(random.below(mine.len() as u64) as usize);
            let r = http
                .delete(format!("{gateway}/conferences/{id}"))
                .send()
                .await;
            let (outcome, retry_after) = answer(r).await;
            if outcome == "204" {
                tally.lock().unwrap().cancelled.push(id);
            }
            ("cancel", outcome, retry_after)
        } else {
            let room = if soak.random_rooms {
                1 + random.below(soak.rooms as u64) as i64
            } else {
                1 + next_room.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % soak.rooms
            };
            let sent = Instant::now();
            let r = http
                .post(format!("{gateway}/conferences"))
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
                    let follow = {
                        let mut t = tally.lock().unwrap();
                        t.accepted.push(id);
                        t.accepted.len().is_multiple_of(soak.follow_every.max(1))
                    };
                    if follow {
                        // Followed bookings are not cancelled: their latency is the saga's.
                        followed.push(tokio::spawn(follow_booking(
                            http.clone(),
                            gateway.clone(),
                            id,
                            at,
                            tally.clone(),
                        )));
                    } else {
                        mine.push(id);
                    }
                    let _ = sent;
                    ("book", "201".to_owned(), None)
                }
                r => {
                    let (outcome, retry_after) = answer(r).await;
                    ("book", outcome, retry_after)
                }
            }
        };
        *tally
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
    for f in followed {
        let _ = f.await;
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
async fn watch(
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
