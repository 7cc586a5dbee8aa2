//! Sustained load end to end (the "Nothing stalls" issue): its two reproductions and a short
//! soak with random faults. Each must end with every invariant of docs/contract.md holding, every `201`
//! a booking with a final status and every acknowledged cancellation done. They run one at a
//! time (each loads both cores). `script/soak --minutes 10` is the long version.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::time::Duration;

use e2e::{
    System,
    soak::{self, Faults, Soak},
};
use tokio::sync::Mutex;

/// One heavy test at a time.
static HEAVY: Mutex<()> = Mutex::const_new(());

/// Runs `soak`; asserts the system healed and at least `faults` faults were injected, the
/// broker among them when there were any.
async fn soak_and_check(env: &[(&str, &str)], soak: Soak, faults: usize) {
    let _one_at_a_time = HEAVY.lock().await;
    let mut sys = System::start_with(env).await;
    let report = soak::run(&mut sys, &soak).await;
    println!("{report}");
    assert!(report.healthy(), "{report}");
    assert!(report.accepted > 0, "the load made no progress:\n{report}");
    assert!(
        report.unfinished.is_empty(),
        "followed bookings never finished: {:?}",
        report.unfinished
    );
    assert!(report.faults.len() >= faults, "{report}");
    if faults > 0 {
        assert!(
            report.faults.iter().any(|f| f.starts_with("broker@")),
            "the broker was among the faults: {report}"
        );
    }
}

/// Reproduction 1: 400 rooms, 32 clients booking back to back (room numbers rotating over
/// the 400 rooms, as the wrk script did) for 20 s; afterwards every booking must be
/// final (before: 1,856 stayed PAID behind a stalled consumer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reproduction_1_a_burst_over_400_rooms_ends_with_every_booking_final() {
    soak_and_check(
        &[("RUST_LOG", "warn,hifive_common=info")],
        Soak {
            duration: Duration::from_secs(20),
            clients: 32,
            rooms: 400,
            random_rooms: false,
            cancel_share: 0.0,
            faults: Faults::None,
            follow_every: 25,
            settle: Duration::from_secs(240),
            seed: 1,
        },
        0,
    )
    .await;
}

/// Reproduction 2: six clients booking and cancelling while each service and the broker is
/// killed with SIGKILL and started again in turn (before: the broker's group storage
/// panicked when pay restarted, and 25,000 bookings stayed stuck).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reproduction_2_killing_each_process_in_turn_under_load_ends_healed() {
    soak_and_check(
        &[
            ("RUST_LOG", "warn,hifive_common=info"),
            ("STUCK_BOOKING_AFTER_MS", "4000"),
        ],
        Soak {
            duration: Duration::from_secs(50),
            clients: 6,
            rooms: 20,
            random_rooms: true,
            cancel_share: 0.33,
            faults: Faults::InTurn {
                targets: vec![
                    "room",
                    "customer-center",
                    "pay",
                    "conference",
                    "gateway",
                    "broker",
                ],
                down: Duration::from_secs(2),
            },
            follow_every: 10,
            settle: Duration::from_secs(240),
            seed: 2,
        },
        6,
    )
    .await;
}

/// A short `script/soak`: two minutes of load with random SIGKILLs of any process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_minute_soak_with_random_faults_ends_healed() {
    soak_and_check(
        &[
            ("RUST_LOG", "warn,hifive_common=info"),
            ("STUCK_BOOKING_AFTER_MS", "4000"),
        ],
        Soak {
            duration: Duration::from_secs(120),
            clients: 12,
            rooms: 50,
            random_rooms: true,
            cancel_share: 0.3,
            faults: Faults::Random {
                every: (Duration::from_secs(6), Duration::from_secs(14)),
                down: (Duration::from_millis(500), Duration::from_secs(5)),
                targets: soak::EVERY_PROCESS.to_vec(),
            },
            follow_every: 10,
            settle: Duration::from_secs(240),
            seed: 3,
        },
        6,
    )
    .await;
}
