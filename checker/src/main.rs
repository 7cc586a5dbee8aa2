//! `hifive-check [--gateway URL] [--token TOKEN] [--accepted FILE] [--wait SECONDS]`
//!
//! Exit status: 0 when every invariant holds, 1 when any is broken, 2 when the system could
//! not be read or the arguments are wrong.

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use checker::{Snapshot, check, summary};

const USAGE: &str =
    "usage: hifive-check [--gateway URL] [--token TOKEN] [--accepted FILE] [--wait SECONDS]

Checks the contract's invariants against a running HiFive, through its gateway.
  --gateway URL     the gateway (default $HIFIVE_GATEWAY or http://127.0.0.1:8088)
  --token TOKEN     a manager's bearer token (default $HIFIVE_TOKEN; locally: script/token manager)
  --accepted FILE   conference ids that got a 201, one per line: each must exist (invariant 6)
  --wait SECONDS    re-check until every invariant holds or SECONDS pass (let the system go quiet)
Exit status: 0 all hold, 1 violations (each printed with the ids involved), 2 cannot check.";

struct Args {
    gateway: String,
    token: String,
    accepted: Vec<i64>,
    wait: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        gateway: std::env::var("HIFIVE_GATEWAY").unwrap_or_else(|_| "http://127.0.0.1:8088".into()),
        token: std::env::var("HIFIVE_TOKEN").unwrap_or_default(),
        accepted: Vec::new(),
        wait: Duration::ZERO,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--gateway" => args.gateway = value()?,
            "--token" => args.token = value()?,
            "--accepted" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {path}: {e}"))?;
                args.accepted = text
                    .split_whitespace()
                    .map(|id| {
                        id.parse()
                            .map_err(|_| format!("{path}: {id:?} is not an id"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--wait" => {
                let secs: f64 = value()?
                    .parse()
                    .map_err(|_| "--wait takes a number of seconds".to_string())?;
                args.wait = Duration::from_secs_f64(secs.max(0.0));
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("hifive-check: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("hifive-check: {e}");
            return ExitCode::from(2);
        }
    };
    let deadline = Instant::now() + args.wait;
    loop {
        let snapshot = Snapshot::fetch(&http, &args.gateway, &args.token).await;
        let outcome = snapshot.map(|s| {
            let violations = check(&s, &args.accepted);
            (s, violations)
        });
        let done = Instant::now() >= deadline;
        match outcome {
            Ok((s, violations)) if violations.is_empty() || done => {
                println!("{}", summary(&s));
                if !args.accepted.is_empty() {
                    println!("{} accepted bookings looked up", args.accepted.len());
                }
                for v in &violations {
                    println!("VIOLATION {v}");
                }
                if violations.is_empty() {
                    println!("OK: every invariant holds");
                    return ExitCode::SUCCESS;
                }
                println!("{} violations", violations.len());
                return ExitCode::from(1);
            }
            Err(e) if done => {
                eprintln!(
                    "hifive-check: cannot read the system at {}: {e:#}",
                    args.gateway
                );
                return ExitCode::from(2);
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
