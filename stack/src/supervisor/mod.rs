//! A small process supervisor, as an orchestrator would be: it starts processes, tells when
//! one exits, restarts the ones that say they are dead (a failing liveness URL, or a broker
//! that fails its probe), and stops everything within a bound.
//!
//! Each process is started in its own process group (Ctrl-C in a terminal reaches only the
//! supervisor, which then stops the others in order). A process the user stopped stays
//! stopped; one that exits by itself is restarted only if its spec says so.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use nix::sys::signal::Signal;
use tokio::{process::Child, sync::Notify};

mod process;
mod spec;
mod watch;

pub use process::die_with_parent;
use process::{describe, signal};
pub use spec::{Check, Checks, Happening, Output, ProcessStatus, Spec};

struct Slot {
    spec: Spec,
    pid: Option<u32>,
    /// Whether it should be running (false once the user stopped it).
    wanted: bool,
    /// Bumped at each start: a waiter of an older run does not act on a newer one.
    generation: u64,
    started_at: Instant,
    failures: u32,
    restarts: u32,
    /// When the supervisor last restarted it for a failed check.
    check_restart: Option<Instant>,
    last_event: Option<String>,
    exited: Arc<Notify>,
}

#[derive(Default)]
struct State {
    slots: BTreeMap<String, Slot>,
    happenings: Vec<Happening>,
    stopping: bool,
}

/// The supervisor; cheap to clone (clones share everything).
#[derive(Clone)]
pub struct Supervisor {
    state: Arc<Mutex<State>>,
    /// One probe per broker address, kept between checks.
    probes: Arc<Mutex<BTreeMap<String, Arc<crate::probe::BrokerProbe>>>>,
    checks: Checks,
    say: Arc<dyn Fn(&str) + Send + Sync>,
}

impl Supervisor {
    /// A supervisor whose own messages go to `say` (a log file, or the terminal).
    pub fn new(checks: Checks, say: impl Fn(&str) + Send + Sync + 'static) -> Self {
        let supervisor = Self {
            state: Arc::default(),
            probes: Arc::default(),
            checks,
            say: Arc::new(say),
        };
        tokio::spawn(supervisor.clone().watch());
        supervisor
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn say(&self, message: &str) {
        (self.say)(message);
    }

    /// Registers a process (not started).
    pub fn add(&self, spec: Spec) {
        let name = spec.name.clone();
        self.state().slots.insert(
            name,
            Slot {
                spec,
                pid: None,
                wanted: false,
                generation: 0,
                started_at: Instant::now(),
                failures: 0,
                restarts: 0,
                check_restart: None,
                last_event: None,
                exited: Arc::new(Notify::new()),
            },
        );
    }

    pub fn names(&self) -> Vec<String> {
        self.state().slots.keys().cloned().collect()
    }

    /// Starts `name` (no-op when it runs already).
    pub fn start(&self, name: &str) -> anyhow::Result<()> {
        let mut state = self.state();
        anyhow::ensure!(!state.stopping, "stopping");
        let slot = state
            .slots
            .get_mut(name)
            .ok_or_else(|| anyhow::anyhow!("no process {name}"))?;
        if slot.pid.is_some() {
            slot.wanted = true;
            return Ok(());
        }
        let spec = slot.spec.clone();
        let child = process::spawn(name, &spec)?;
        slot.pid = child.id();
        slot.wanted = true;
        if slot
            .last_event
            .as_deref()
            .is_some_and(|e| e.starts_with("stopped"))
        {
            slot.last_event = Some("started again".into());
        }
        slot.generation += 1;
        slot.started_at = Instant::now();
        slot.failures = 0;
        let generation = slot.generation;
        let exited = slot.exited.clone();
        drop(state);
        self.wait_for_exit(name, generation, child, exited);
        Ok(())
    }

    /// Waits in the background until run `generation` of `name` ends, then records it and
    /// wakes whoever waits for that.
    fn wait_for_exit(&self, name: &str, generation: u64, mut child: Child, exited: Arc<Notify>) {
        let this = self.clone();
        let name = name.to_owned();
        tokio::spawn(async move {
            let status = child.wait().await;
            let status = match status {
                Ok(s) => describe(s),
                Err(e) => e.to_string(),
            };
            this.exited(&name, generation, status);
            exited.notify_waiters();
        });
    }

    /// A process ended: restart it or say so.
    fn exited(&self, name: &str, generation: u64, status: String) {
        let mut state = self.state();
        let stopping = state.stopping;
        let Some(slot) = state.slots.get_mut(name) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        slot.pid = None;
        if !slot.wanted || stopping {
            slot.last_event = Some(format!("stopped ({status})"));
            return;
        }
        let restart = slot.spec.restart_on_exit;
        slot.last_event = Some(format!("exited by itself ({status})"));
        if !restart {
            slot.wanted = false;
        }
        state.happenings.push(Happening::Exited {
            name: name.to_owned(),
            status: status.clone(),
        });
        drop(state);
        if restart {
            self.say(&format!("{name} exited ({status}); starting it again"));
            self.restart_later(name, format!("exited ({status})"));
        } else {
            self.say(&format!(
                "{name} exited ({status}); the others keep running. Start it again with: script/service {name} start"
            ));
        }
    }

    fn restart_later(&self, name: &str, reason: String) {
        let this = self.clone();
        let name = name.to_owned();
        tokio::spawn(async move {
            // A moment, so that a process that cannot start does not spin.
            tokio::time::sleep(Duration::from_millis(500)).await;
            if !this.wanted(&name) {
                return; // the user stopped it meanwhile
            }
            this.note_restart(&name, reason);
            if let Err(e) = this.start(&name) {
                this.say(&format!("cannot start {name} again: {e}"));
            }
        });
    }

    fn note_restart(&self, name: &str, reason: String) {
        let mut state = self.state();
        if let Some(slot) = state.slots.get_mut(name) {
            slot.restarts += 1;
            slot.last_event = Some(format!("restarted: {reason}"));
        }
        state.happenings.push(Happening::Restarted {
            name: name.to_owned(),
            reason,
        });
    }

    /// Stops `name`: SIGTERM, then SIGKILL after its grace. It stays stopped.
    pub async fn stop(&self, name: &str) -> anyhow::Result<()> {
        let exited = {
            let state = self.state();
            state
                .slots
                .get(name)
                .map(|slot| slot.exited.clone())
                .ok_or_else(|| anyhow::anyhow!("no process {name}"))?
        };
        // Listen for the exit before looking at the pid, under the lock the exit is recorded
        // with: an exit cannot slip in between.
        let ended = exited.notified();
        tokio::pin!(ended);
        let (pid, grace) = {
            let mut state = self.state();
            ended.as_mut().enable();
            let slot = state
                .slots
                .get_mut(name)
                .ok_or_else(|| anyhow::anyhow!("no process {name}"))?;
            slot.wanted = false;
            (slot.pid, slot.spec.stop_grace)
        };
        let Some(pid) = pid else {
            return Ok(());
        };
        signal(pid, Signal::SIGTERM);
        if tokio::time::timeout(grace, &mut ended).await.is_err() && self.pid(name).is_some() {
            self.say(&format!(
                "{name} did not stop within {} ms; killing it",
                grace.as_millis()
            ));
            signal(pid, Signal::SIGKILL);
            let _ = tokio::time::timeout(Duration::from_secs(2), ended).await;
        }
        Ok(())
    }

    /// Kills `name` with SIGKILL (a crash). `stay_down`: it stays down (as a user's stop);
    /// otherwise the supervisor treats it like any exit (restarts it if its spec says so).
    pub fn kill(&self, name: &str, stay_down: bool) {
        let pid = {
            let mut state = self.state();
            let Some(slot) = state.slots.get_mut(name) else {
                return;
            };
            if stay_down {
                slot.wanted = false;
            }
            slot.pid
        };
        if let Some(pid) = pid {
            signal(pid, Signal::SIGKILL);
        }
    }

    /// Stops and starts `name` again.
    pub async fn restart(&self, name: &str, reason: &str) -> anyhow::Result<()> {
        self.stop(name).await?;
        self.note_restart(name, reason.to_owned());
        self.start(name)
    }

    fn wanted(&self, name: &str) -> bool {
        self.state().slots.get(name).is_some_and(|s| s.wanted)
    }

    pub fn pid(&self, name: &str) -> Option<u32> {
        self.state().slots.get(name).and_then(|s| s.pid)
    }

    pub fn status(&self) -> Vec<ProcessStatus> {
        self.state()
            .slots
            .values()
            .map(|s| ProcessStatus {
                name: s.spec.name.clone(),
                state: match (s.pid, s.wanted) {
                    (Some(_), _) => "running",
                    (None, false)
                        if s.last_event
                            .as_deref()
                            .is_some_and(|e| e.starts_with("exited")) =>
                    {
                        "exited"
                    }
                    (None, _) => "stopped",
                },
                pid: s.pid,
                restarts: s.restarts,
                last_event: s.last_event.clone(),
            })
            .collect()
    }

    /// Everything the supervisor did on its own so far.
    pub fn happenings(&self) -> Vec<Happening> {
        self.state().happenings.clone()
    }

    /// Stops every process: `first` (the services) together, then the rest (the broker).
    pub async fn shutdown(&self, last: &[&str]) {
        let names = {
            let mut state = self.state();
            state.stopping = true;
            state.slots.keys().cloned().collect::<Vec<_>>()
        };
        let (later, first): (Vec<_>, Vec<_>) =
            names.into_iter().partition(|n| last.contains(&n.as_str()));
        for group in [first, later] {
            let stops = group.iter().map(|n| self.stop(n));
            futures::future::join_all(stops).await;
        }
    }

    /// SIGKILLs every process at once (a test that ends or panics).
    pub fn kill_all(&self) {
        let mut state = self.state();
        state.stopping = true;
        for slot in state.slots.values_mut() {
            slot.wanted = false;
            if let Some(pid) = slot.pid {
                signal(pid, Signal::SIGKILL);
            }
        }
    }
}
