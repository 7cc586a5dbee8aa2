//! The supervisor's watchdog: runs each running process's check on a timer and restarts
//! the ones that fail too many in a row (restarting the process they escalate to first
//! when a restart did not help).

use std::{sync::Arc, time::Instant};

use super::{Check, Supervisor};

impl Supervisor {
    /// The watchdog: runs each process's check and restarts the dead.
    pub(super) async fn watch(self) {
        loop {
            tokio::time::sleep(self.checks.every).await;
            if std::sync::Arc::strong_count(&self.state) == 1 {
                return; // every other handle is gone
            }
            let due: Vec<(String, Check)> = {
                let state = self.state();
                if state.stopping {
                    return;
                }
                state
                    .slots
                    .values()
                    .filter(|s| {
                        s.pid.is_some()
                            && s.wanted
                            && s.started_at.elapsed() >= self.checks.startup
                            && !matches!(s.spec.check, Check::None)
                    })
                    .map(|s| (s.spec.name.clone(), s.spec.check.clone()))
                    .collect()
            };
            let checks = due.into_iter().map(|(name, check)| {
                let this = self.clone();
                async move {
                    let verdict = this.check(&check).await;
                    this.checked(&name, verdict).await;
                }
            });
            futures::future::join_all(checks).await;
        }
    }

    async fn check(&self, check: &Check) -> Result<(), String> {
        match check {
            Check::None => Ok(()),
            Check::Live { url } => {
                let client = reqwest::Client::builder()
                    .timeout(self.checks.timeout)
                    .build()
                    .map_err(|e| e.to_string())?;
                match client.get(url).send().await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        Err(format!("liveness answered {status}: {body}"))
                    }
                    Err(e) => Err(format!("liveness did not answer: {e}")),
                }
            }
            Check::Broker { brokers } => {
                let probe = self
                    .probes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(brokers.clone())
                    .or_insert_with(|| Arc::new(crate::probe::BrokerProbe::new(brokers)))
                    .clone();
                probe
                    .probe(self.checks.timeout * 2)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }

    async fn checked(&self, name: &str, verdict: Result<(), String>) {
        let (failures, escalate) = {
            let mut state = self.state();
            let Some(slot) = state.slots.get_mut(name) else {
                return;
            };
            match &verdict {
                Ok(()) => {
                    slot.failures = 0;
                    return;
                }
                Err(_) => slot.failures += 1,
            }
            let again = slot
                .check_restart
                .is_some_and(|at| at.elapsed() < self.checks.escalate_within);
            let escalate = slot.spec.escalate_to.clone().filter(|_| again);
            (slot.failures, escalate)
        };
        let reason = verdict.err().unwrap_or_default();
        if !self.wanted(name) {
            return; // stopped meanwhile
        }
        if failures < self.checks.failures {
            self.say(&format!(
                "{name}: check failed ({failures}/{}): {reason}",
                self.checks.failures
            ));
            return;
        }
        if let Some(target) = escalate {
            self.say(&format!(
                "{name} failed its checks again after a restart ({reason}); restarting {target} first"
            ));
            if let Err(e) = self
                .restart(&target, &format!("{name} stayed stuck after its restart"))
                .await
            {
                self.say(&format!("cannot restart {target}: {e}"));
            }
        }
        self.say(&format!(
            "{name} failed {failures} checks in a row ({reason}); restarting it"
        ));
        if let Some(slot) = self.state().slots.get_mut(name) {
            slot.check_restart = Some(Instant::now());
        }
        if let Err(e) = self.restart(name, &reason).await {
            self.say(&format!("cannot restart {name}: {e}"));
        }
    }
}
