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
    /// it was assigned.
    pub last_progress: Instant,
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
    /// How late this member is: the age of the last event it handled on a partition that still
    /// has lag (it grows while nothing is handled), and the delay of the events it handled in
    /// the last moments (how old they were when it got to them). Zero when caught up and idle.
    pub lag_age: Duration,
    /// The longest a partition that counts has had lag without progress.
    pub idle_with_lag: Duration,
    /// `idle_with_lag` reached `stall_after`.
    pub stalled: bool,
    /// The lag is known and zero.
    pub caught_up: bool,
}

/// Per-partition progress of one consumer.
#[derive(Debug, Clone)]
pub struct Tracker {
    partitions: BTreeMap<i32, PartitionProgress>,
    sampled_at: Option<Instant>,
    /// When a position last moved forward (real progress, unlike a clock reset on assignment).
    advanced_at: Option<Instant>,
}

impl Tracker {
    pub fn new() -> Self {
        Self {
            partitions: BTreeMap::new(),
            sampled_at: None,
            advanced_at: None,
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

    /// This member lost its partitions (revoked, or the consumer is being re-created).
    pub fn revoked(&mut self, now: Instant) {
        for p in self.partitions.values_mut() {
            if p.assigned {
                p.assigned = false;
                p.last_progress = now;
            }
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
        }
        let advanced = p.handled.is_none_or(|h| offset + 1 > h);
        if advanced {
            p.handled = Some(offset + 1);
            p.last_progress = now;
        }
        if timestamp_ms.is_some() {
            p.last_event_ms = timestamp_ms;
        }
        if advanced {
            self.advanced_at = Some(now);
        }
    }

    /// The consumer reached the end of `partition`: whatever it handled there, it is not late
    /// on it now, and the high watermark is at least its position.
    pub fn reached_end(&mut self, partition: i32, now: Instant) {
        let p = self.entry(partition, now);
        p.last_handled = None;
        p.last_progress = now;
        if let Some(handled) = p.handled
            && p.high.is_none_or(|h| h < handled)
        {
            p.high = Some(handled);
        }
    }

    /// A sample of watermarks and committed offsets from the broker.
    pub fn sampled(&mut self, samples: &[Sample], now: Instant) {
        let mut advanced = false;
        for s in samples {
            let p = self.entry(s.partition, now);
            let before = p.position();
            p.low = Some(s.low);
            p.high = Some(s.high);
            if s.committed.is_some() {
                p.committed = s.committed;
            }
            let moved = match (before, p.position()) {
                (Some(b), Some(a)) => a > b,
                _ => false,
            };
            if moved || p.lag() == Some(0) {
                p.last_progress = now;
            }
            advanced |= moved;
        }
        if advanced {
            self.advanced_at = Some(now);
        }
        self.sampled_at = Some(now);
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

    /// Whether a position moved forward after `since`.
    pub fn advanced_since(&self, since: Instant) -> bool {
        self.advanced_at.is_some_and(|at| at > since)
    }

    /// The partitions that count (see the module docs).
    fn counted(&self) -> impl Iterator<Item = &PartitionProgress> {
        let any_assigned = self.partitions.values().any(|p| p.assigned);
        self.partitions
            .values()
            .filter(move |p| p.assigned || !any_assigned)
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
        for p in self.counted() {
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
            let age = match p.last_event_ms {
                Some(ms) => Duration::from_millis((now_ms - ms).max(0) as u64),
                None => idle,
            };
            lag_age = lag_age.max(age);
        }
        if !lag_known {
            return Evaluation {
                lag_known,
                lag,
                lag_age,
                idle_with_lag: Duration::ZERO,
                stalled: false,
                caught_up: false,
            };
        }
        Evaluation {
            lag_known,
            lag,
            lag_age,
            idle_with_lag,
            stalled: idle_with_lag >= stall_after,
            caught_up: lag == 0,
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
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_secs(30);
    const FRESH: Duration = Duration::from_secs(10);

    fn sample(partition: i32, high: i64, committed: Option<i64>) -> Sample {
        Sample {
            partition,
            low: 0,
            high,
            committed,
        }
    }

    fn at(t0: Instant, secs: u64) -> Instant {
        t0 + Duration::from_secs(secs)
    }

    fn eval(t: &Tracker, now: Instant) -> Evaluation {
        t.evaluate(now, 1_000_000, STALL, FRESH)
    }

    #[test]
    fn behind_but_moving_is_not_stalled() {
        let t0 = Instant::now();
        let mut t = Tracker::new();
        t.assigned(&[0], t0);
        for s in 1..=60 {
            // 100 events arrive per second; the member handles 90: lag grows, but it moves.
            t.handled(
                0,
                s * 90,
                Some(1_000_000 - 2_000),
                at(t0, s as u64),
                1_000_000,
            );
            if s % 5 == 0 {
                t.sampled(&[sample(0, s * 100, Some(s * 90))], at(t0, s as u64));
            }
        }
        let e = eval(&t, at(t0, 60));
        assert!(e.lag_known);
        assert_eq!(e.lag, 6000 - 5401);
        assert!(!e.stalled, "{e:?}");
        assert_eq!(e.lag_age, Duration::from_secs(2));
    }

    #[test]
    fn lag_that_does_not_move_for_the_stall_time_is_stalled() {
        let t0 = Instant::now();
        let mut t = Tracker::new();
        t.assigned(&[0, 1], t0);
        t.handled(0, 9, None, at(t0, 1), 0);
        for s in (2..=40).step_by(2) {
            t.sampled(&[sample(0, 500, Some(10)), sample(1, 0, None)], at(t0, s));
            let e = eval(&t, at(t0, s));
            assert_eq!(e.lag, 490);
            assert_eq!(e.stalled, s >= 31, "at {s}s: {e:?}");
        }
    }

    #[test]
    fn caught_up_resets_the_clock_so_a_new_backlog_starts_fresh() {
        let t0 = Instant::now();
        let mut t = Tracker::new();
        t.assigned(&[0], t0);
        // Quiet for a long time, caught up at every sample.
        for s in (0..=100).step_by(5) {
            t.sampled(&[sample(0, 10, Some(10))], at(t0, s));
        }
        // Then events arrive and are not handled yet.
        t.sampled(&[sample(0, 20, Some(10))], at(t0, 105));
        let e = eval(&t, at(t0, 105));
        assert_eq!(e.lag, 10);
        assert!(!e.stalled, "{e:?}");
        assert!(e.idle_with_lag <= Duration::from_secs(5));
    }

    #[test]
    fn an_idle_member_counts_every_partition_so_a_stuck_group_is_seen() {
        let t0 = Instant::now();
        let mut t = Tracker::new();
        // Never assigned anything; the group's committed offsets do not move.
        for s in (0..=40).step_by(2) {
            t.sampled(
                &[sample(0, 100, Some(40)), sample(1, 7, Some(7))],
                at(t0, s),
            );
        }
        let e = eval(&t, at(t0, 40));
        assert_eq!(e.lag, 60);
        assert!(e.stalled);
        // Another member commits: progress.
        t.sampled(&[sample(0, 100, Some(41))], at(t0, 42));
        assert!(!eval(&t, at(t0, 42)).stalled);
    }

    #[test]
    fn an_assigned_member_ignores_partitions_of_other_members() {
        let t0 = Instant::now();
        let mut t = Tracker::new();
        t.assigned(&[1], t0);
        for s in (0..=40).step_by(2) {
            t.sampled(
                &[sample(0, 100, Some(40)), sample(1, 5, Some(5))],
                at(t0, s),
            );
        }
        let e = eval(&t, at(t0, 40));
        assert_eq!(e.lag, 0);
        assert!(!e.stalled);
    }

    #[test]
    fn stale_samples_make_the_lag_unknown_and_nothing_stalled() {
        let t0 = Instant::now();
        let mut t = Tracker::new();
        t.assigned(&[0], t0);
        t.sampled(&[sample(0, 100, Some(0))], t0);
        // The broker cannot be asked any more (down): no verdict on old numbers.
        let e = eval(&t, at(t0, 60));
        assert!(!e.lag_known);
        assert!(!e.stalled);
    }

    #[test]
    fn position_is_what_was_handled_or_committed_whichever_is_further() {
        let t0 = Instant::now();
        let mut t = Tracker::new();
        t.assigned(&[0], t0);
        t.sampled(&[sample(0, 50, Some(20))], t0);
        assert_eq!(t.partitions()[&0].position(), Some(20));
        t.handled(0, 29, None, t0, 0);
        assert_eq!(t.partitions()[&0].position(), Some(30));
        assert_eq!(t.partitions()[&0].lag(), Some(20));
        // An older duplicate does not move it back.
        t.handled(0, 3, None, t0, 0);
        assert_eq!(t.partitions()[&0].position(), Some(30));
    }

    #[test]
    fn events_handled_late_make_the_lag_age_even_without_a_fresh_watermark() {
        let t0 = Instant::now();
        let mut t = Tracker::new();
        t.assigned(&[0], t0);
        // The watermark is old (the position already passed it), but the events being handled
        // now were produced 4 s ago: the consumer is 4 s late.
        t.sampled(&[sample(0, 10, Some(0))], t0);
        t.handled(0, 50, Some(96_000), at(t0, 1), 100_000);
        let e = t.evaluate(at(t0, 1), 100_000, STALL, FRESH);
        assert_eq!(e.lag, 0);
        assert_eq!(e.lag_age, Duration::from_secs(4));
        // Nothing handled for a while and no lag: not late any more.
        let e = t.evaluate(at(t0, 5), 104_000, STALL, FRESH);
        assert_eq!(e.lag_age, Duration::ZERO);
        // Handled late, then read to the end of the partition: caught up at once.
        t.handled(0, 60, Some(100_000), at(t0, 6), 106_000);
        assert_eq!(
            t.evaluate(at(t0, 6), 106_000, STALL, FRESH).lag_age,
            Duration::from_secs(6)
        );
        t.reached_end(0, at(t0, 6));
        let e = t.evaluate(at(t0, 6), 106_000, STALL, FRESH);
        assert_eq!((e.lag, e.lag_age), (0, Duration::ZERO));
    }

    #[test]
    fn a_new_assignment_gets_a_fresh_clock() {
        let t0 = Instant::now();
        let mut t = Tracker::new();
        t.assigned(&[0], t0);
        t.sampled(&[sample(0, 100, Some(0))], at(t0, 29));
        t.assigned(&[0], at(t0, 29));
        t.sampled(&[sample(0, 100, Some(0))], at(t0, 31));
        assert!(!eval(&t, at(t0, 31)).stalled);
    }
}
