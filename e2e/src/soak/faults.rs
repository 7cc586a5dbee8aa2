//! The faults a soak injects while the load runs: SIGKILL a process, keep it down for a
//! while, start it again ([`Faults`] says which, when and for how long).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::{Faults, Soak, random::Random, report::Tally};
use crate::System;

/// Injects the faults until the run's time is up.
pub(super) async fn inject(
    sys: &mut System,
    soak: &Soak,
    tally: &Arc<Mutex<Tally>>,
    started: Instant,
) {
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
