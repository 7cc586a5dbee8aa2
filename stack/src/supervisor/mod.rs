//! A small process supervisor, as an orchestrator would be: it starts processes, tells when
//! one exits, restarts the ones that say they are dead (a failing liveness URL, or a broker
//! that fails its probe), and stops everything within a bound.
//!
//! Each process is started in its own process group (Ctrl-C in a terminal reaches only the
//! supervisor, which then stops the others in order). A process the user stopped stays
//! stopped; one that exits by itself is restarted only if its spec says so.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use serde::Serialize;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::Command,
    sync::Notify,
};

/// Where a process's output goes.
#[derive(Debug, Clone)]
pub enum Output {
    /// Appended to a file.
    File(PathBuf),
    /// Our own standard output, each line prefixed with `[name] `.
    Prefixed,
}

/// How the supervisor tells that a running process is dead and must be restarted.
#[derive(Debug, Clone)]
pub enum Check {
    None,
    /// `GET url` must answer 2xx (a service's `/health/live`).
    Live {
        url: String,
    },
    /// The broker must pass [`crate::probe::probe`].
    Broker {
        brokers: String,
    },
}

/// One process to supervise.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    pub output: Output,
    pub check: Check,
    /// Start it again when it exits by itself (the broker: yes; services: as configured).
    pub restart_on_exit: bool,
    /// How long a stop may take before SIGKILL.
    pub stop_grace: Duration,
    /// When restarting this process for a failed check did not help (it fails again within
    /// [`Checks::escalate_within`] of that restart), restart this one first: a service whose
    /// consumer stays stalled across its own restart is stuck in the broker (Tansu can keep
    /// a dead member as its group's leader until it restarts; docs/broker.md).
    pub escalate_to: Option<String>,
}

/// Timings of the checks.
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    /// A check runs this often per process.
    pub every: Duration,
    /// ... may take this long ...
    pub timeout: Duration,
    /// ... and this many failures in a row mean "dead".
    pub failures: u32,
    /// No check in the first moments of a process (it is starting).
    pub startup: Duration,
    /// See [`Spec::escalate_to`].
    pub escalate_within: Duration,
}

impl Default for Checks {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(3),
            timeout: Duration::from_secs(5),
            failures: 3,
            startup: Duration::from_secs(10),
            escalate_within: Duration::from_secs(300),
        }
    }
}

/// A process's state, as shown by `status`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessStatus {
    pub name: String,
    /// `running`, `stopped` (by the user), `exited` (by itself).
    pub state: &'static str,
    pub pid: Option<u32>,
    /// Restarts done by the supervisor (failed checks, exits).
    pub restarts: u32,
    /// Why it last stopped or was restarted.
    pub last_event: Option<String>,
}

/// What the supervisor did, for reports (the soak counts recoveries with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    Exited { name: String, status: String },
    Restarted { name: String, reason: String },
}

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
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(false);
        if let Some(dir) = &spec.cwd {
            command.current_dir(dir);
        }
        // If the supervisor itself is killed (SIGKILL, a crashed test), its children go with it
        // instead of running on unsupervised.
        die_with_parent(command.as_std_mut());
        match &spec.output {
            Output::File(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                command.stdout(file.try_clone()?).stderr(file);
            }
            Output::Prefixed => {
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
        }
        let mut child = command.spawn().map_err(|e| {
            anyhow::anyhow!("cannot start {name} ({}): {e}", spec.program.display())
        })?;
        if let Output::Prefixed = spec.output {
            if let Some(out) = child.stdout.take() {
                tokio::spawn(prefix(name.to_owned(), out));
            }
            if let Some(err) = child.stderr.take() {
                tokio::spawn(prefix(name.to_owned(), err));
            }
        }
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
        Ok(())
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

    /// The watchdog: runs each process's check and restarts the dead.
    async fn watch(self) {
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

fn signal(pid: u32, signal: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), signal);
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => Signal::try_from(sig)
            .map(|s| format!("killed by {s}"))
            .unwrap_or_else(|_| format!("killed by signal {sig}")),
        _ => status.to_string(),
    }
}

async fn prefix(name: String, stream: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        println!("[{name}] {line}");
    }
}

/// The child started by `command` is killed when the thread that spawned it ends (the
/// supervisor's process dies): `PR_SET_PDEATHSIG`.
#[expect(
    unsafe_code,
    reason = "pre_exec runs in the forked child before exec; it makes one async-signal-safe call (prctl)"
)]
pub fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only makes one
    // async-signal-safe system call (prctl).
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}
