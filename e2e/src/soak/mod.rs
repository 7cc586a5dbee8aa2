//! Sustained load with faults: clients book and cancel through the gateway as fast as the
//! system lets them (honouring `Retry-After`), while processes are killed with SIGKILL;
//! afterwards the operator's checker must find every invariant holding and every `201`
//! accounted for. Used by `script/soak` (`hifive-soak`) and by the end-to-end tests (the two
//! reproductions of the "Nothing stalls" issue and a short soak).

//!
//! [`faults`] injects the faults, [`load`] is the clients and the watcher, [`report`] what
//! was measured.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hifive_common::CancellationToken;

use crate::System;

pub mod faults;
pub mod load;
mod random;
pub mod report;

pub use report::Report;
use report::{Tally, Verdict};

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

/// Runs `soak` against `sys` (rooms are registered first) and checks the result.
pub async fn run(sys: &mut System, soak: &Soak) -> Report {
    prepare(sys, soak).await;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = CancellationToken::new();
    let started = Instant::now();
    let tasks = load::start_clients(sys, soak, &tally, &stop);
    let watcher = tokio::spawn(load::watch(
        ["conference", "pay", "room", "customer-center"]
            .map(|s| (s, sys.service(s)))
            .to_vec(),
        tally.clone(),
        stop.clone(),
    ));

    faults::inject(sys, soak, &tally, started).await;

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
    let verdict = check(sys, soak, &accepted, &cancelled).await;
    let t = tally.lock().unwrap();
    t.report(elapsed, sys.supervisor().happenings(), verdict)
}

/// Registers the rooms and waits until the system runs: every consumer in its group and the
/// rooms registered everywhere.
async fn prepare(sys: &System, soak: &Soak) {
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
}

/// Runs `hifive-check` with the accepted bookings (waiting up to `soak.settle`), then looks
/// for acknowledged cancellations that did not end CANCELED.
async fn check(sys: &System, soak: &Soak, accepted: &[i64], cancelled: &[i64]) -> Verdict {
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
    Verdict {
        check_ok,
        check_output,
        lost_cancellations,
    }
}
