//! Tests of the lag tracker: behind versus stalled, which partitions count, and the clocks
//! that start again (caught up, outage, revocation, assignment).

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

fn sampled(t: &mut Tracker, samples: &[Sample], now: Instant) {
    t.sampled(samples, now, FRESH);
}

fn eval(t: &Tracker, now: Instant) -> Evaluation {
    t.evaluate(now, 1_000_000, STALL, FRESH)
}

/// A tracker assigned `partitions` at `t0`, and `t0`.
fn assigned(partitions: &[i32]) -> (Instant, Tracker) {
    let t0 = Instant::now();
    let mut t = Tracker::new();
    t.assigned(partitions, t0);
    (t0, t)
}

/// The same samples at each of `secs` seconds after `t0`.
fn sampled_every(
    t: &mut Tracker,
    samples: &[Sample],
    t0: Instant,
    secs: impl Iterator<Item = u64>,
) {
    for s in secs {
        sampled(t, samples, at(t0, s));
    }
}

#[test]
fn behind_but_moving_is_not_stalled() {
    let (t0, mut t) = assigned(&[0]);
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
            sampled(
                &mut t,
                &[sample(0, s * 100, Some(s * 90))],
                at(t0, s as u64),
            );
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
    let (t0, mut t) = assigned(&[0, 1]);
    t.handled(0, 9, None, at(t0, 1), 0);
    for s in (2..=40).step_by(2) {
        sampled(
            &mut t,
            &[sample(0, 500, Some(10)), sample(1, 0, None)],
            at(t0, s),
        );
        let e = eval(&t, at(t0, s));
        assert_eq!(e.lag, 490);
        assert_eq!(e.stalled, s >= 31, "at {s}s: {e:?}");
    }
}

#[test]
fn caught_up_resets_the_clock_so_a_new_backlog_starts_fresh() {
    let (t0, mut t) = assigned(&[0]);
    // Quiet for a long time, caught up at every sample.
    sampled_every(&mut t, &[sample(0, 10, Some(10))], t0, (0..=100).step_by(5));
    // Then events arrive and are not handled yet.
    sampled(&mut t, &[sample(0, 20, Some(10))], at(t0, 105));
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
    sampled_every(
        &mut t,
        &[sample(0, 100, Some(40)), sample(1, 7, Some(7))],
        t0,
        (0..=40).step_by(2),
    );
    let e = eval(&t, at(t0, 40));
    assert_eq!(e.lag, 60);
    assert!(e.stalled);
    // Another member commits: progress.
    sampled(&mut t, &[sample(0, 100, Some(41))], at(t0, 42));
    assert!(!eval(&t, at(t0, 42)).stalled);
}

#[test]
fn an_assigned_member_ignores_partitions_of_other_members() {
    let (t0, mut t) = assigned(&[1]);
    sampled_every(
        &mut t,
        &[sample(0, 100, Some(40)), sample(1, 5, Some(5))],
        t0,
        (0..=40).step_by(2),
    );
    let e = eval(&t, at(t0, 40));
    assert_eq!(e.lag, 0);
    assert!(!e.stalled);
}

#[test]
fn stale_samples_make_the_lag_unknown_and_nothing_stalled() {
    let (t0, mut t) = assigned(&[0]);
    sampled(&mut t, &[sample(0, 100, Some(0))], t0);
    // The broker cannot be asked any more (down): no verdict on old numbers.
    let e = eval(&t, at(t0, 60));
    assert!(!e.lag_known);
    assert!(!e.stalled);
}

#[test]
fn position_is_what_was_handled_or_committed_whichever_is_further() {
    let (t0, mut t) = assigned(&[0]);
    sampled(&mut t, &[sample(0, 50, Some(20))], t0);
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
    let (t0, mut t) = assigned(&[0]);
    // The watermark is old (the position already passed it), but the events being handled
    // now were produced 4 s ago: the consumer is 4 s late.
    sampled(&mut t, &[sample(0, 10, Some(0))], t0);
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
fn an_idle_partition_that_gets_an_event_is_not_late_by_its_idle_time() {
    let (t0, mut t) = assigned(&[0]);
    // An event handled long ago, then caught up and quiet for ten minutes.
    t.handled(0, 9, Some(0), t0, 0);
    t.reached_end(0, at(t0, 1));
    sampled(&mut t, &[sample(0, 10, Some(10))], at(t0, 600));
    // A new event arrives: the consumer is a moment behind, not ten minutes.
    t.hinted(0, 11, at(t0, 601));
    let e = t.evaluate(at(t0, 601), 601_000, STALL, FRESH);
    assert_eq!(e.lag, 1);
    assert_eq!(e.lag_age, Duration::from_secs(1));
}

#[test]
fn a_stall_ends_only_when_the_stalled_partition_moves() {
    let (t0, mut t) = assigned(&[0, 1]);
    for s in (0..=40).step_by(5) {
        sampled(
            &mut t,
            &[
                sample(0, 100, Some(10)),
                sample(1, 100 + s as i64, Some(s as i64)),
            ],
            at(t0, s),
        );
        t.handled(1, s as i64, None, at(t0, s), 0);
    }
    let e = eval(&t, at(t0, 40));
    assert_eq!(e.stalled_partitions, vec![0], "{e:?}");
    let since = at(t0, 40);
    // Partition 1 keeps moving: that does not end partition 0's stall.
    t.handled(1, 41, None, at(t0, 41), 0);
    assert!(!t.progressed_since(&e.stalled_partitions, since));
    t.handled(0, 10, None, at(t0, 42), 0);
    assert!(t.progressed_since(&e.stalled_partitions, since));
}

#[test]
fn an_outage_is_not_stalled_time() {
    let (t0, mut t) = assigned(&[0]);
    sampled(&mut t, &[sample(0, 100, Some(10))], at(t0, 1));
    // The broker could not be asked for a minute; then it answers, the lag unchanged.
    sampled(&mut t, &[sample(0, 100, Some(10))], at(t0, 61));
    let e = eval(&t, at(t0, 61));
    assert!(!e.stalled, "{e:?}");
    sampled_every(
        &mut t,
        &[sample(0, 100, Some(10))],
        t0,
        (66..=91).step_by(5),
    );
    assert!(
        eval(&t, at(t0, 91)).stalled,
        "a stall after the outage still counts"
    );
}

#[test]
fn a_revocation_starts_every_clock_again() {
    let (t0, mut t) = assigned(&[1]);
    // Partition 0 belongs to a member that died: no progress on it for long.
    sampled_every(
        &mut t,
        &[sample(0, 100, Some(10)), sample(1, 5, Some(5))],
        t0,
        (0..=40).step_by(5),
    );
    // The group rebalances: between revocation and assignment every partition counts,
    // and none of them has stalled on this member.
    t.revoked(at(t0, 40));
    sampled(
        &mut t,
        &[sample(0, 100, Some(10)), sample(1, 5, Some(5))],
        at(t0, 45),
    );
    assert!(!eval(&t, at(t0, 45)).stalled);
}

#[test]
fn a_new_assignment_gets_a_fresh_clock() {
    let (t0, mut t) = assigned(&[0]);
    sampled(&mut t, &[sample(0, 100, Some(0))], at(t0, 29));
    t.assigned(&[0], at(t0, 29));
    sampled(&mut t, &[sample(0, 100, Some(0))], at(t0, 31));
    assert!(!eval(&t, at(t0, 31)).stalled);
}
