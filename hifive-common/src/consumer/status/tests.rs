//! Tests of stall healing: re-created first, then liveness fails; only the stalled
//! partitions' progress ends a stall; waiting for the database is not one.

use super::*;

/// The stall time of these tests, and a sleep that certainly passes it (time passing is
/// what they test). A sleep lasts at least its time, so any margin does for "stalled"; the
/// stall time itself is the margin for "not stalled yet" (a few steps must fit in it on a
/// busy machine that may pause a thread for hundreds of milliseconds).
const STALL: Duration = Duration::from_secs(1);
const PAST_STALL: Duration = Duration::from_millis(1_050);

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

#[test]
fn the_metrics_show_each_partition_lag_and_stall() {
    let status = stalled_status(STALL);
    assert!(status.partition_gauges().is_empty(), "nothing sampled yet");
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
            high: 5,
            committed: Some(5),
        },
    ]);
    status.handled(0, 9, Some(now_ms() - 3_000));
    let gauges = status.partition_gauges();
    assert_eq!(gauges.len(), 2, "{gauges:?}");
    assert_eq!((gauges[0].partition, gauges[0].lag), (0, 90));
    assert!(gauges[0].lag_age >= Duration::from_secs(3), "{gauges:?}");
    assert!(!gauges[0].stalled);
    assert_eq!((gauges[1].partition, gauges[1].lag), (1, 0));
    assert_eq!(gauges[1].lag_age, Duration::ZERO, "caught up");
    std::thread::sleep(PAST_STALL);
    behind(&status);
    assert_eq!(status.tick(), Action::Recreate);
    let gauges = status.partition_gauges();
    assert!(gauges[0].stalled && !gauges[1].stalled, "{gauges:?}");
}
