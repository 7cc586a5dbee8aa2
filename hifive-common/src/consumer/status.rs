//! What the rest of the service knows about its consumer: whether it is in its group and
//! connected, how far behind it is, and whether it is stalled — and what to do about a stall.
//!
//! A stall is healed in two steps: first the consumer is re-created (it leaves and rejoins its
//! group); if it is still stalled `stall_after` later, liveness fails so that an orchestrator
//! (Kubernetes, `script/server`, the test harness) restarts the process. Any progress ends the
//! stall.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::progress::{Evaluation, Sample, Tracker};

/// Where a consumer stands with respect to stalls.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stall {
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

#[derive(Debug)]
struct Inner {
    tracker: Tracker,
    stall: Stall,
    /// When the current stall began (for logs and health).
    stalled_since: Option<Instant>,
    /// The largest lag seen so far (events), for reports.
    max_lag: i64,
}

/// A simulated wedge, for fault-injection tests (`PUT /admin/consumer`, only with
/// `CONSUMER_ADMIN_ENABLED=true`): the consumer stops reading while it stays in its group, as
/// a consumer whose broker stopped serving it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wedge {
    No = 0,
    /// Until the consumer is re-created (the first healing step fixes it).
    UntilRejoin = 1,
    /// For the life of the process (only a restart fixes it).
    Always = 2,
}

impl Wedge {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "no" => Some(Wedge::No),
            "until_rejoin" => Some(Wedge::UntilRejoin),
            "always" => Some(Wedge::Always),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Wedge::No => "no",
            Wedge::UntilRejoin => "until_rejoin",
            Wedge::Always => "always",
        }
    }
}

/// Shared status of one consumer.
#[derive(Debug)]
pub struct ConsumerStatus {
    wedge: std::sync::atomic::AtomicU8,
    joined: AtomicBool,
    broker_up: AtomicBool,
    waiting_for_database: AtomicBool,
    recoveries: AtomicU64,
    /// Events whose effect this instance applied, and deliveries it found done already.
    applied: AtomicU64,
    duplicates: AtomicU64,
    settings: StallSettings,
    inner: Mutex<Inner>,
}

impl Default for ConsumerStatus {
    fn default() -> Self {
        Self::new(StallSettings::default())
    }
}

/// Wall-clock milliseconds since the epoch (Kafka timestamps are in these).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl ConsumerStatus {
    pub fn new(settings: StallSettings) -> Self {
        Self {
            wedge: std::sync::atomic::AtomicU8::new(Wedge::No as u8),
            joined: AtomicBool::new(false),
            broker_up: AtomicBool::new(false),
            waiting_for_database: AtomicBool::new(false),
            recoveries: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            settings,
            inner: Mutex::new(Inner {
                tracker: Tracker::new(),
                stall: Stall::Healthy,
                stalled_since: None,
                max_lag: 0,
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An event's effect was applied (`fresh`) or found applied already (a duplicate).
    pub fn applied(&self, fresh: bool) {
        let counter = if fresh {
            &self.applied
        } else {
            &self.duplicates
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The simulated wedge (see [`Wedge`]).
    pub fn wedge(&self) -> Wedge {
        match self.wedge.load(Ordering::Relaxed) {
            1 => Wedge::UntilRejoin,
            2 => Wedge::Always,
            _ => Wedge::No,
        }
    }

    pub fn set_wedge(&self, wedge: Wedge) {
        tracing::warn!(
            wedge = wedge.as_str(),
            "consumer wedge set (fault injection)"
        );
        self.wedge.store(wedge as u8, Ordering::Relaxed);
    }

    pub fn settings(&self) -> StallSettings {
        self.settings
    }

    pub fn joined(&self) -> bool {
        self.joined.load(Ordering::Relaxed)
    }

    /// A broker connection was up at the last statistics report (every second).
    pub fn broker_up(&self) -> bool {
        self.broker_up.load(Ordering::Relaxed)
    }

    pub(crate) fn set_broker_up(&self, up: bool) -> bool {
        self.broker_up.swap(up, Ordering::Relaxed)
    }

    /// The group assigned `partitions` to this member.
    pub(crate) fn assigned(&self, partitions: &[i32]) {
        self.joined.store(true, Ordering::Relaxed);
        self.inner().tracker.assigned(partitions, Instant::now());
    }

    /// This member gave up its partitions (rebalance, or re-creation of the consumer).
    pub(crate) fn revoked(&self) {
        self.inner().tracker.revoked(Instant::now());
    }

    /// The consumer is being re-created or stopped: out of the group until it rejoins.
    pub(crate) fn left(&self) {
        self.joined.store(false, Ordering::Relaxed);
        let _ = self.wedge.compare_exchange(
            Wedge::UntilRejoin as u8,
            Wedge::No as u8,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        self.revoked();
    }

    /// The event at `offset` of `partition` is done with (applied, skipped or dead-lettered).
    pub(crate) fn handled(&self, partition: i32, offset: i64, timestamp_ms: Option<i64>) {
        self.inner()
            .tracker
            .handled(partition, offset, timestamp_ms, Instant::now(), now_ms());
    }

    /// The consumer read everything there is on `partition` (it is caught up there).
    pub(crate) fn reached_end(&self, partition: i32) {
        self.inner().tracker.reached_end(partition, Instant::now());
    }

    /// The consumer is retrying an event while the database is unavailable: it is waiting,
    /// not stalled (re-creating it would not help; readiness reports the database).
    pub(crate) fn waiting_for_database(&self, waiting: bool) {
        let was = self.waiting_for_database.swap(waiting, Ordering::Relaxed);
        if was && !waiting {
            // Waiting time is not stalled time.
            let mut inner = self.inner();
            let assigned: Vec<i32> = inner
                .tracker
                .partitions()
                .iter()
                .filter(|(_, p)| p.assigned)
                .map(|(n, _)| *n)
                .collect();
            inner.tracker.assigned(&assigned, Instant::now());
        }
    }

    /// A sample of the broker's watermarks and the group's committed offsets.
    pub(crate) fn sampled(&self, samples: &[Sample]) {
        let fresh_for = self.settings.fresh_for();
        self.inner()
            .tracker
            .sampled(samples, Instant::now(), fresh_for);
    }

    /// High watermarks the consumer's fetcher reported (see [`Tracker::hinted`]).
    pub(crate) fn hinted(&self, highs: &[(i32, i64)]) {
        let mut inner = self.inner();
        let now = Instant::now();
        for (partition, high) in highs {
            inner.tracker.hinted(*partition, *high, now);
        }
    }

    /// The lag and stall verdict now.
    pub fn evaluation(&self) -> Evaluation {
        self.inner().tracker.evaluate(
            Instant::now(),
            now_ms(),
            self.settings.stall_after,
            self.settings.fresh_for(),
        )
    }

    /// How old the events are that this consumer has not caught up on (zero when caught up
    /// or when the lag is unknown).
    pub fn lag_age(&self) -> Duration {
        self.evaluation().lag_age
    }

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
        let lag_secs = e.lag_age.as_secs_f64();
        let idle_secs = e.idle_with_lag.as_secs();
        // Only real progress on the partitions that stalled ends a stall: they moved, caught
        // up, or are no longer this member's (not the fresh clock a re-created consumer gets).
        let stall = inner.stall.clone();
        match stall {
            Stall::Healthy if !stalled => Action::None,
            Stall::Healthy => {
                tracing::warn!(
                    lag = e.lag,
                    lag_seconds = lag_secs,
                    stalled_seconds = idle_secs,
                    partitions = ?e.stalled_partitions,
                    "consumer stalled: it has lag and made no progress; re-creating it (leave and rejoin the group)"
                );
                inner.stall = Stall::Recovering {
                    since: now,
                    partitions: e.stalled_partitions.clone(),
                };
                inner.stalled_since = Some(now - e.idle_with_lag);
                self.recoveries.fetch_add(1, Ordering::Relaxed);
                Action::Recreate
            }
            Stall::Recovering { since, partitions } | Stall::Failed { since, partitions }
                if waiting || inner.tracker.progressed_since(&partitions, since) =>
            {
                let stalled_for = stalled_secs(inner.stalled_since, now);
                tracing::info!(
                    lag = e.lag,
                    stalled_seconds = stalled_for,
                    "consumer moving again: no longer stalled"
                );
                inner.stall = Stall::Healthy;
                inner.stalled_since = None;
                Action::None
            }
            Stall::Recovering { since, partitions } => {
                // Only on fresh numbers: a broker that cannot be asked is not this consumer's
                // failure (the broker is supervised on its own).
                if e.lag_known && now.saturating_duration_since(since) >= self.settings.stall_after
                {
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
                Action::None
            }
            Stall::Failed { .. } => Action::None,
        }
    }

    /// The `kafka` component of `/health` (and the reason of a failed liveness).
    pub fn report(&self) -> Value {
        let e = self.evaluation();
        let inner = self.inner();
        let now = Instant::now();
        let stalled_seconds = inner
            .stalled_since
            .map(|s| now.saturating_duration_since(s).as_secs_f64());
        let status = match inner.stall {
            Stall::Failed { .. } => "FAILED",
            Stall::Recovering { .. } => "STALLED",
            Stall::Healthy if !self.broker_up() => "DOWN",
            Stall::Healthy if self.waiting_for_database.load(Ordering::Relaxed) => {
                "WAITING_FOR_DATABASE"
            }
            Stall::Healthy if e.lag > 0 => "BEHIND",
            Stall::Healthy => "UP",
        };
        let partitions: Vec<Value> = inner
            .tracker
            .partitions()
            .iter()
            .map(|(n, p)| {
                json!({
                    "partition": n,
                    "assigned": p.assigned,
                    "position": p.position(),
                    "highWatermark": p.high,
                    "lag": p.lag(),
                    "idleSeconds": round(now.saturating_duration_since(p.last_progress).as_secs_f64()),
                })
            })
            .collect();
        json!({
            "status": status,
            "joined": self.joined(),
            "brokerUp": self.broker_up(),
            "lag": e.lag_known.then_some(e.lag),
            "lagSeconds": e.lag_known.then_some(round(e.lag_age.as_secs_f64())),
            "maxLag": inner.max_lag,
            "stalled": !matches!(inner.stall, Stall::Healthy),
            "stalledSeconds": stalled_seconds.map(round),
            "stallAfterSeconds": self.settings.stall_after.as_secs_f64(),
            "recoveries": self.recoveries(),
            "applied": self.applied.load(Ordering::Relaxed),
            "duplicatesSkipped": self.duplicates.load(Ordering::Relaxed),
            "waitingForDatabase": self.waiting_for_database.load(Ordering::Relaxed),
            "partitions": partitions,
        })
    }
}

/// Whole seconds since a stall began (0 when none).
fn stalled_secs(since: Option<Instant>, now: Instant) -> u64 {
    since
        .map(|s| now.saturating_duration_since(s).as_secs())
        .unwrap_or_default()
}

fn round(secs: f64) -> f64 {
    (secs * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stall time of these tests, and a sleep that certainly passes it (time passing is
    /// what they test; the margins keep a busy machine from mattering).
    const STALL: Duration = Duration::from_millis(300);
    const PAST_STALL: Duration = Duration::from_millis(350);

    fn stalled_status(stall_after: Duration) -> ConsumerStatus {
        let status = ConsumerStatus::new(StallSettings {
            stall_after,
            sample_every: Duration::from_millis(10),
        });
        status.set_broker_up(true);
        status.assigned(&[0]);
        status
    }

    fn behind(status: &ConsumerStatus) {
        status.sampled(&[Sample {
            partition: 0,
            low: 0,
            high: 100,
            committed: Some(10),
        }]);
    }

    #[test]
    fn a_stall_is_healed_first_by_recreating_then_by_failing_liveness() {
        let status = stalled_status(STALL);
        behind(&status);
        assert_eq!(status.tick(), Action::None, "not stalled yet");
        std::thread::sleep(PAST_STALL);
        behind(&status);
        assert_eq!(status.tick(), Action::Recreate);
        assert!(status.stalled() && status.live());
        assert_eq!(status.recoveries(), 1);
        // Re-created, and still nothing moves: liveness fails after another stall time.
        status.left();
        status.assigned(&[0]);
        behind(&status);
        assert_eq!(status.tick(), Action::None);
        assert!(
            status.live() && status.stalled(),
            "a re-created consumer's fresh clock is not progress"
        );
        std::thread::sleep(PAST_STALL);
        behind(&status);
        assert_eq!(status.tick(), Action::None);
        assert!(!status.live(), "{}", status.report());
        assert_eq!(status.report()["status"], "FAILED");
        // Progress heals everything.
        status.handled(0, 50, Some(now_ms()));
        assert_eq!(status.tick(), Action::None);
        assert!(status.live() && !status.stalled());
        assert_eq!(status.report()["lag"], 49);
    }

    #[test]
    fn a_partition_that_stays_stuck_fails_liveness_even_while_another_moves() {
        let status = stalled_status(STALL);
        status.assigned(&[0, 1]);
        let both = |moving: i64| {
            status.sampled(&[
                Sample {
                    partition: 0,
                    low: 0,
                    high: 100,
                    committed: Some(10),
                },
                Sample {
                    partition: 1,
                    low: 0,
                    high: 1000,
                    committed: Some(moving),
                },
            ]);
        };
        both(1);
        std::thread::sleep(PAST_STALL);
        both(2);
        assert_eq!(status.tick(), Action::Recreate);
        status.left();
        status.assigned(&[0, 1]);
        both(3);
        assert_eq!(status.tick(), Action::None);
        assert!(
            status.stalled(),
            "partition 1 moving does not end partition 0's stall"
        );
        std::thread::sleep(PAST_STALL);
        both(4);
        status.tick();
        assert!(!status.live());
    }

    #[test]
    fn waiting_for_the_database_is_not_a_stall() {
        let status = stalled_status(STALL);
        status.waiting_for_database(true);
        behind(&status);
        std::thread::sleep(PAST_STALL);
        behind(&status);
        assert_eq!(status.tick(), Action::None);
        assert_eq!(status.report()["status"], "WAITING_FOR_DATABASE");
        // The wait ends: the clock starts again from there.
        status.waiting_for_database(false);
        behind(&status);
        assert_eq!(status.tick(), Action::None);
    }
}
