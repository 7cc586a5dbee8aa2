//! `hifive-soak [--minutes N] [--clients N] [--rooms N] [--faults-every SECONDS] [--seed N]`
//!
//! Starts a throwaway HiFive (the broker and the five services built next to this program,
//! in a temp dir on free ports, supervised), loads it through the gateway with bookings and
//! cancellations for N minutes while killing random services and the broker with SIGKILL,
//! then runs `hifive-check` and prints what was measured. Exit status 0 when every invariant
//! holds and every `201` is accounted for, 1 otherwise (the data dir is then kept).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed step fails the test"
)]

use std::{process::ExitCode, time::Duration};

use e2e::{
    System,
    soak::{self, Faults, Soak},
};

const USAGE: &str = "usage: hifive-soak [--minutes N] [--clients N] [--rooms N] [--faults-every SECONDS] [--no-faults] [--seed N]";

fn parse() -> Result<Soak, String> {
    let mut soak = Soak {
        duration: Duration::from_secs(600),
        ..Soak::default()
    };
    let mut every = 20.0f64;
    let mut faults = true;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        let number = |v: String| {
            v.parse::<f64>()
                .map_err(|_| format!("{arg}: {v:?} is not a number"))
        };
        match arg.as_str() {
            "--minutes" => soak.duration = Duration::from_secs_f64(number(value()?)? * 60.0),
            "--clients" => soak.clients = number(value()?)? as usize,
            "--rooms" => soak.rooms = number(value()?)? as i64,
            "--faults-every" => every = number(value()?)?,
            "--no-faults" => faults = false,
            "--seed" => soak.seed = number(value()?)? as u64,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if faults {
        soak.faults = Faults::Random {
            every: (
                Duration::from_secs_f64(every * 0.5),
                Duration::from_secs_f64(every * 1.5),
            ),
            down: (Duration::from_millis(500), Duration::from_secs(8)),
            targets: soak::EVERY_PROCESS.to_vec(),
        };
    }
    Ok(soak)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let soak = match parse() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let quiet = [("RUST_LOG", "warn,hifive_common=info")];
    let mut sys = System::start_with(&quiet).await;
    println!(
        "soak: {:.0} min, {} clients, {} rooms, faults {}; system in {}",
        soak.duration.as_secs_f64() / 60.0,
        soak.clients,
        soak.rooms,
        if matches!(soak.faults, Faults::None) {
            "off"
        } else {
            "on"
        },
        sys.dir().display()
    );
    let report = soak::run(&mut sys, &soak).await;
    println!("{report}");
    if report.healthy() {
        ExitCode::SUCCESS
    } else {
        sys.keep_data();
        println!("logs and data kept in {}", sys.dir().display());
        ExitCode::from(1)
    }
}
