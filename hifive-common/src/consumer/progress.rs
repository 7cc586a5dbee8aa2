//! How far behind a consumer is, and whether it is stuck (pure: no Kafka, no clock of its own).
//!
//! Modelled on Burrow's lag evaluation: being *behind* (lag > 0) is normal under load; being
//! *stalled* is having lag that does not move. For each partition the tracker knows the
//! broker's high watermark (sampled), the consumer's position (the next offset it will handle,
//! from the events it handled, or the group's committed offset before it handled any) and when
//! it last made progress: handled an event, saw its committed offset move, or was caught up.
//! A partition with lag and no progress for `stall_after` is stalled.
//!
//! Which partitions count: those assigned to this member; with none assigned (not joined, or
//! an idle member), every partition of the topic, so that a member that sits idle while the
//! group's work is stuck is stalled too (a rejoin may give it that work).
//!
//! Time in which nothing could be known is not stalled time: the clocks start again when the
//! broker can be asked again after an outage, and when this member's partitions are revoked
//! (a rebalance is under way).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

/// Events handled this recently tell how late the consumer is.
const RECENT: Duration = Duration::from_secs(2);

/// One partition as the tracker sees it.
#[derive(Debug, Clone)]
pub struct PartitionProgress {
    pub assigned: bool,
    /// Next offset this member will handle (the last handled offset + 1).
    pub handled: Option<i64>,
    /// The group's committed offset, as last sampled.
    pub committed: Option<i64>,
    /// Log start and high watermark, as last sampled.
    pub low: Option<i64>,
    pub high: Option<i64>,
    /// When the position last moved forward, or the partition was last seen caught up, or
    /// the clock was started again (assignment, revocation, the end of an outage).
    pub last_progress: Instant,
    /// When the position last moved forward (real progress, unlike a clock started again).
    pub advanced_at: Option<Instant>,
    /// When this partition was last seen caught up (no lag).
    pub caught_up_at: Option<Instant>,
    /// Produce time (ms since the epoch) of the last event handled.
    pub last_event_ms: Option<i64>,
    /// When the last event was handled, and how old it was then (its delivery delay).
    pub last_handled: Option<(Instant, Duration)>,
}

impl PartitionProgress {
    fn new(now: Instant) -> Self {
        Self {
            assigned: false,
            handled: None,
            committed: None,
            low: None,
            high: None,
            last_progress: now,
            advanced_at: None,
            caught_up_at: None,
            last_event_ms: None,
            last_handled: None,
        }
    }

    /// Where the group stands on this partition: what this member handled, or what the group
    /// committed, whichever is further; the log start when neither is known.
    pub fn position(&self) -> Option<i64> {
        match (self.handled, self.committed) {
            (Some(h), Some(c)) => Some(h.max(c)),
            (Some(p), None) | (None, Some(p)) => Some(p),
            (None, None) => self.low,
        }
    }

    /// Events on the broker not handled yet (None until a high watermark was sampled).
    pub fn lag(&self) -> Option<i64> {
        let high = self.high?;
        Some((high - self.position().unwrap_or(0)).max(0))
    }

    /// How old the events waiting here are: zero without lag, else how late this member is
    /// here (see `behind_for`).
    pub fn lag_age(&self, now: Instant, now_ms: i64) -> Duration {
        match self.lag() {
            Some(lag) if lag > 0 => self.behind_for(now, now_ms),
            _ => Duration::ZERO,
        }
    }

    fn advanced(&mut self, now: Instant) {
        self.last_progress = now;
        self.advanced_at = Some(now);
    }

    fn caught_up(&mut self, now: Instant) {
        self.last_progress = now;
        self.caught_up_at = Some(now);
    }

    /// How late this member is on a partition with lag: the age of the last event it handled
    /// there (or how long it has been idle with lag), but no more than the time since it was
    /// last caught up there (nothing waiting can be older than that).
    fn behind_for(&self, now: Instant, now_ms: i64) -> Duration {
        let idle = now.saturating_duration_since(self.last_progress);
        let age = match self.last_event_ms {
            Some(ms) => Duration::from_millis((now_ms - ms).max(0) as u64),
            None => idle,
        };
        match self.caught_up_at {
            Some(at) => age.min(now.saturating_duration_since(at)),
            None => age,
        }
    }
}

/// A watermark and commit sample from the broker for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub partition: i32,
    pub low: i64,
    pub high: i64,
    /// The group's committed offset (None: nothing committed yet, or it could not be read).
    pub committed: Option<i64>,
}

/// The verdict at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Whether the lag is known (a recent watermark sample exists).
    pub lag_known: bool,
    /// Events behind, summed over the partitions that count.
    pub lag: i64,
    /// How late this member is: how old the events are that wait on a partition it reads and
    /// that has lag (see [`PartitionProgress`]), and the delay of the events it handled in the
    /// last moments (how old they were when it got to them). Zero when caught up and idle, and
    /// while it reads no partition (joining its group).
    pub lag_age: Duration,
    /// The longest a partition that counts has had lag without progress.
    pub idle_with_lag: Duration,
    /// The partitions whose lag has not moved for `stall_after` (empty when the lag is not
    /// known).
    pub stalled_partitions: Vec<i32>,
    /// Some partition is stalled.
    pub stalled: bool,
    /// The lag is known and zero.
    pub caught_up: bool,
}

/// Per-partition progress of one consumer.
#[derive(Debug, Clone)]
pub struct Tracker {
    partitions: BTreeMap<i32, PartitionProgress>,
    sampled_at: Option<Instant>,
}

impl Tracker {
    pub fn new() -> Self {
        Self {
            partitions: BTreeMap::new(),
            sampled_at: None,
        }
    }

    fn entry(&mut self, partition: i32, now: Instant) -> &mut PartitionProgress {
        self.partitions
            .entry(partition)
            .or_insert_with(|| PartitionProgress::new(now))
    }

    /// The group gave this member `partitions` (replacing what it had).
    pub fn assigned(&mut self, partitions: &[i32], now: Instant) {
        for p in self.partitions.values_mut() {
            p.assigned = false;
        }
        for &partition in partitions {
            let p = self.entry(partition, now);
            p.assigned = true;
            // A fresh owner gets a fresh clock: it cannot have stalled on it yet.
            p.last_progress = now;
        }
    }

    /// This member lost its partitions (a rebalance, or the consumer is being re-created).
    /// Until it is assigned again every partition counts, and every clock starts again: a
    /// partition of a member that died has had no progress since it died, which is the
    /// rebalance's to fix, not a stall of this member.
    pub fn revoked(&mut self, now: Instant) {
        for p in self.partitions.values_mut() {
            p.assigned = false;
            p.last_progress = now;
        }
    }

    /// This member handled the event at `offset` of `partition`, produced at `timestamp_ms`
    /// (`now_ms` is the wall clock now).
    pub fn handled(
        &mut self,
        partition: i32,
        offset: i64,
        timestamp_ms: Option<i64>,
        now: Instant,
        now_ms: i64,
    ) {
        let p = self.entry(partition, now);
        if let Some(ts) = timestamp_ms {
            p.last_handled = Some((now, Duration::from_millis((now_ms - ts).max(0) as u64)));
            p.last_event_ms = Some(ts);
        }
        if p.handled.is_none_or(|h| offset + 1 > h) {
            p.handled = Some(offset + 1);
            p.advanced(now);
        }
    }

    /// The consumer's own fetcher saw `high` as the high watermark of `partition` (librdkafka
    /// statistics, every second): fresher than the monitor's samples for the partitions this
    /// member fetches, so that the lag age follows the load closely. Only ever raises it.
    pub fn hinted(&mut self, partition: i32, high: i64, now: Instant) {
        let p = self.entry(partition, now);
        if p.high.is_none_or(|h| high > h) {
            p.high = Some(high);
        }
    }

    /// The consumer reached the end of `partition`: whatever it handled there, it is not late
    /// on it now, and the high watermark is at least its position.
    pub fn reached_end(&mut self, partition: i32, now: Instant) {
        let p = self.entry(partition, now);
        p.last_handled = None;
        p.caught_up(now);
        if let Some(handled) = p.handled
            && p.high.is_none_or(|h| h < handled)
        {
            p.high = Some(handled);
        }
    }

    /// A sample of watermarks and committed offsets from the broker. When the previous one is
    /// older than `fresh_for` (the broker could not be asked), every clock starts again.
    pub fn sampled(&mut self, samples: &[Sample], now: Instant, fresh_for: Duration) {
        let after_outage = self
            .sampled_at
            .is_some_and(|at| now.saturating_duration_since(at) > fresh_for);
        if after_outage {
            for p in self.partitions.values_mut() {
                p.last_progress = now;
            }
        }
        for s in samples {
            let p = self.entry(s.partition, now);
            let before = p.position();
            p.low = Some(s.low);
            p.high = Some(p.high.unwrap_or(s.high).max(s.high));
            if s.committed.is_some() {
                p.committed = s.committed;
            }
            if let (Some(b), Some(a)) = (before, p.position())
                && a > b
            {
                p.advanced(now);
            }
            if p.lag() == Some(0) {
                p.caught_up(now);
            }
        }
        self.sampled_at = Some(now);
    }

    /// Whether a partition counts (see the module docs).
    fn counts(&self, p: &PartitionProgress) -> bool {
        p.assigned || !self.partitions.values().any(|p| p.assigned)
    }

    /// Whether every one of `partitions` moved on since `since`: advanced, caught up, or no
    /// longer this member's to read.
    pub fn progressed_since(&self, partitions: &[i32], since: Instant) -> bool {
        partitions.iter().all(|n| {
            self.partitions.get(n).is_none_or(|p| {
                !self.counts(p) || p.advanced_at.is_some_and(|at| at > since) || p.lag() == Some(0)
            })
        })
    }

    /// The verdict now. A sample older than `fresh_for` makes the lag unknown (the broker
    /// cannot be asked): nothing is called stalled on stale numbers.
    pub fn evaluate(
        &self,
        now: Instant,
        now_ms: i64,
        stall_after: Duration,
        fresh_for: Duration,
    ) -> Evaluation {
        let lag_known = self
            .sampled_at
            .is_some_and(|at| now.saturating_duration_since(at) <= fresh_for);
        let mut lag = 0;
        let mut lag_age = Duration::ZERO;
        let mut idle_with_lag = Duration::ZERO;
        let mut stalled_partitions = Vec::new();
        for (n, p) in &self.partitions {
            if !self.counts(p) {
                continue;
            }
            if let Some((at, delay)) = p.last_handled
                && now.saturating_duration_since(at) <= RECENT
            {
                lag_age = lag_age.max(delay);
            }
            let behind = p.lag().unwrap_or(0);
            if behind == 0 {
                continue;
            }
            lag += behind;
            let idle = now.saturating_duration_since(p.last_progress);
            idle_with_lag = idle_with_lag.max(idle);
            if idle >= stall_after {
                stalled_partitions.push(*n);
            }
            // Lateness counts the partitions this member reads: while it has none (joining its
            // group, a rebalance) it is not known, and a member that stays without any while
            // the group has lag is a stall instead.
            if lag_known && p.assigned {
                lag_age = lag_age.max(p.behind_for(now, now_ms));
            }
        }
        if !lag_known {
            stalled_partitions.clear();
            idle_with_lag = Duration::ZERO;
        }
        Evaluation {
            lag_known,
            lag,
            lag_age,
            idle_with_lag,
            stalled: !stalled_partitions.is_empty(),
            stalled_partitions,
            caught_up: lag_known && lag == 0,
        }
    }

    pub fn partitions(&self) -> &BTreeMap<i32, PartitionProgress> {
        &self.partitions
    }
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
