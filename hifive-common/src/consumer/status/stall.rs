//! Stall detection and healing: the state machine that re-creates a stalled consumer and,
//! when that does not help, fails liveness.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use super::{ConsumerStatus, Inner};
use crate::consumer::progress::Evaluation;

/// Where a consumer stands with respect to stalls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stall {
    /// Not stalled.
    Healthy,
    /// `partitions` stalled; the consumer was re-created at `since` and is given
    /// `stall_after` to move them.
    Recovering {
        since: Instant,
        partitions: Vec<i32>,
    },
    /// Still stalled after being re-created: liveness fails.
    Failed {
        since: Instant,
        partitions: Vec<i32>,
    },
}

/// What the monitor should do after an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    None,
    /// Re-create the consumer (leave and rejoin the group).
    Recreate,
}

/// Timings of stall detection.
#[derive(Debug, Clone, Copy)]
pub struct StallSettings {
    /// Lag that has not moved for this long is a stall (`CONSUMER_STALL_AFTER_MS`).
    pub stall_after: Duration,
    /// How often watermarks and committed offsets are sampled (`CONSUMER_LAG_INTERVAL_MS`).
    pub sample_every: Duration,
}

impl StallSettings {
    /// A sample older than this is not trusted (the broker could not be asked since).
    pub(crate) fn fresh_for(&self) -> Duration {
        self.sample_every * 3 + Duration::from_secs(5)
    }
}

impl Default for StallSettings {
    fn default() -> Self {
        Self {
            stall_after: Duration::from_secs(30),
            sample_every: Duration::from_secs(5),
        }
    }
}

impl Stall {
    /// The partitions of the current stall (none when healthy).
    pub(super) fn partitions(&self) -> &[i32] {
        match self {
            Stall::Healthy => &[],
            Stall::Recovering { partitions, .. } | Stall::Failed { partitions, .. } => partitions,
        }
    }
}

impl ConsumerStatus {
    /// Liveness: false once a stall survived re-creating the consumer.
    pub fn live(&self) -> bool {
        !matches!(self.inner().stall, Stall::Failed { .. })
    }

    /// Stalled now (recovering or failed).
    pub fn stalled(&self) -> bool {
        !matches!(self.inner().stall, Stall::Healthy)
    }

    pub fn recoveries(&self) -> u64 {
        self.recoveries.load(Ordering::Relaxed)
    }

    /// One step of the stall state machine, after a sample: logs what changed and says
    /// whether the consumer must be re-created.
    pub fn tick(&self) -> Action {
        let e = self.evaluation();
        let now = Instant::now();
        let waiting = self.waiting_for_database.load(Ordering::Relaxed);
        let mut inner = self.inner();
        inner.max_lag = inner.max_lag.max(e.lag);
        let stalled = e.stalled && !waiting;
        // Only real progress on the partitions that stalled ends a stall: they moved, caught
        // up, or are no longer this member's (not the fresh clock a re-created consumer gets).
        let stall = inner.stall.clone();
        match stall {
            Stall::Healthy if !stalled => Action::None,
            Stall::Healthy => {
                self.stall_began(&mut inner, &e, now);
                Action::Recreate
            }
            Stall::Recovering { since, partitions } | Stall::Failed { since, partitions }
                if waiting || inner.tracker.progressed_since(&partitions, since) =>
            {
                stall_ended(&mut inner, &e, now);
                Action::None
            }
            Stall::Recovering { since, partitions } => {
                self.still_stalled(&mut inner, &e, now, since, partitions);
                Action::None
            }
            Stall::Failed { .. } => Action::None,
        }
    }

    /// A stall begins: the consumer is to be re-created, and is given `stall_after` to move
    /// the partitions that stalled.
    fn stall_began(&self, inner: &mut Inner, e: &Evaluation, now: Instant) {
        tracing::warn!(
            lag = e.lag,
            lag_seconds = e.lag_age.as_secs_f64(),
            stalled_seconds = e.idle_with_lag.as_secs(),
            partitions = ?e.stalled_partitions,
            "consumer stalled: it has lag and made no progress; re-creating it (leave and rejoin the group)"
        );
        inner.stall = Stall::Recovering {
            since: now,
            partitions: e.stalled_partitions.clone(),
        };
        inner.stalled_since = Some(now - e.idle_with_lag);
        self.recoveries.fetch_add(1, Ordering::Relaxed);
        crate::consumer::metrics::recovered();
    }

    /// Recovering, and still no progress: once `stall_after` has passed since the consumer
    /// was re-created, liveness fails.
    fn still_stalled(
        &self,
        inner: &mut Inner,
        e: &Evaluation,
        now: Instant,
        since: Instant,
        partitions: Vec<i32>,
    ) {
        // Only on fresh numbers: a broker that cannot be asked is not this consumer's
        // failure (the broker is supervised on its own).
        if e.lag_known && now.saturating_duration_since(since) >= self.settings.stall_after {
            let stalled_for = stalled_secs(inner.stalled_since, now);
            tracing::error!(
                lag = e.lag,
                stalled_seconds = stalled_for,
                partitions = ?partitions,
                "consumer still stalled after it was re-created: failing liveness so that it is restarted"
            );
            inner.stall = Stall::Failed {
                since: now,
                partitions,
            };
        }
    }
}

/// The partitions that stalled moved again (or the consumer is only waiting for the
/// database): healthy.
fn stall_ended(inner: &mut Inner, e: &Evaluation, now: Instant) {
    let stalled_for = stalled_secs(inner.stalled_since, now);
    tracing::info!(
        lag = e.lag,
        stalled_seconds = stalled_for,
        "consumer moving again: no longer stalled"
    );
    inner.stall = Stall::Healthy;
    inner.stalled_since = None;
}

/// Whole seconds since a stall began (0 when none).
fn stalled_secs(since: Option<Instant>, now: Instant) -> u64 {
    since
        .map(|s| now.saturating_duration_since(s).as_secs())
        .unwrap_or_default()
}
