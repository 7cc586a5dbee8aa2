//! What the supervisor is told and what it tells: a process's [`Spec`] (program, output,
//! check, restart policy), the timings of the [`Checks`], and the states and
//! [`Happening`]s it reports.

use std::{path::PathBuf, time::Duration};

use serde::Serialize;

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
