//! What the rest of the service knows about its consumer: whether it is in its group and
//! connected, how far behind it is, and whether it is stalled — and what to do about a stall.
//!
//! A stall is healed in two steps: first the consumer is re-created (it leaves and rejoins its
//! group); if it is still stalled `stall_after` later, liveness fails so that an orchestrator
//! (Kubernetes, `script/server`, the test harness) restarts the process. Any progress ends the
//! stall.

//!
//! Here the counters and the events that feed the lag tracker; `stall` holds the state
//! machine that heals stalls, `report` the `/health` component, `wedge` the fault injection.

mod report;
mod stall;
#[cfg(test)]
mod tests;
mod wedge;

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use stall::Stall;
pub use stall::{Action, StallSettings};
pub use wedge::Wedge;

use super::progress::{Evaluation, Sample, Tracker};

#[derive(Debug)]
struct Inner {
    tracker: Tracker,
    stall: Stall,
    /// When the current stall began (for logs and health).
    stalled_since: Option<Instant>,
    /// The largest lag seen so far (events), for reports.
    max_lag: i64,
}

/// One partition as the metrics show it ([`ConsumerStatus::partition_gauges`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PartitionGauges {
    pub partition: i32,
    pub lag: i64,
    pub lag_age: Duration,
    pub stalled: bool,
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

    /// Each partition whose lag is known: its lag, how old the events waiting there are, and
    /// whether it is part of the current stall (for the metrics).
    pub(crate) fn partition_gauges(&self) -> Vec<PartitionGauges> {
        let inner = self.inner();
        let (now, now_ms) = (Instant::now(), now_ms());
        let stalled = inner.stall.partitions();
        inner
            .tracker
            .partitions()
            .iter()
            .filter_map(|(n, p)| {
                Some(PartitionGauges {
                    partition: *n,
                    lag: p.lag()?,
                    lag_age: p.lag_age(now, now_ms),
                    stalled: stalled.contains(n),
                })
            })
            .collect()
    }

    /// How old the events are that this consumer has not caught up on (zero when caught up
    /// or when the lag is unknown).
    pub fn lag_age(&self) -> Duration {
        self.evaluation().lag_age
    }
}
