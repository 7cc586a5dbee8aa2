//! `hifive-load [--gateway URL] [--token TOKEN] [--conference URL] [--users N] [--seconds S] [--room N]`
//!
//! The original's load test (`siege -c100 -t60S` posting bookings) as a program: N users post
//! `{"roomNumber": N}` to `/conferences` through the gateway, back to back, for S seconds.
//! Prints availability, throughput, latency percentiles of successes and of refusals, and the
//! pay circuit breaker's transitions (read from conference's `/health/ready`).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use load::{Outcome, Run};
use shared_events::RoomNumber;

struct Args {
    gateway: String,
    token: String,
    conference: String,
    users: usize,
    seconds: f64,
    room: RoomNumber,
}

const USAGE: &str =
    "usage: hifive-load [--gateway URL] [--token TOKEN] [--conference URL] [--users N] [--seconds S] [--room N]
  --gateway URL     default http://127.0.0.1:8088
  --token TOKEN     a customer's bearer token (default $HIFIVE_TOKEN; locally: script/token customer load)
  --conference URL  conference's own address, to follow its breaker (default http://127.0.0.1:8081)
  --users N         concurrent users (default 100, as siege -c100)
  --seconds S       duration (default 60, as siege -t60S)
  --room N          the room every booking asks for (default 1)";

fn parse() -> Result<Args, String> {
    let mut a = Args {
        gateway: "http://127.0.0.1:8088".into(),
        token: std::env::var("HIFIVE_TOKEN").unwrap_or_default(),
        conference: "http://127.0.0.1:8081".into(),
        users: 100,
        seconds: 60.0,
        room: RoomNumber::new(1).ok_or("room 1 is a room number")?,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        let bad = |what: &str| format!("{arg}: {what}");
        match arg.as_str() {
            "--gateway" => a.gateway = value()?,
            "--token" => a.token = value()?,
            "--conference" => a.conference = value()?,
            "--users" => a.users = value()?.parse().map_err(|_| bad("a number"))?,
            "--seconds" => a.seconds = value()?.parse().map_err(|_| bad("a number"))?,
            "--room" => {
                a.room = value()?
                    .parse()
                    .map_err(|_| bad("a positive room number"))?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.users == 0 || a.seconds <= 0.0 {
        return Err("--users and --seconds must be positive".into());
    }
    Ok(a)
}

async fn breaker(http: &reqwest::Client, conference: &str) -> Option<(String, u64)> {
    let body: serde_json::Value = http
        .get(format!("{conference}/health/ready"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let b = &body["components"]["payCircuitBreaker"];
    Some((b["status"].as_str()?.to_owned(), b["transitions"].as_u64()?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_or_exit();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.users)
        .build()?;
    println!(
        "hifive-load: {} users, {} s, POST {}/conferences {{\"roomNumber\":{}}}",
        args.users, args.seconds, args.gateway, args.room
    );
    let run = Arc::new(Mutex::new(Run::default()));
    let before = breaker(&http, &args.conference).await;
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(args.seconds);

    let watcher = tokio::spawn(watch_breaker(
        http.clone(),
        run.clone(),
        args.conference.clone(),
        start,
        end,
    ));
    let users: Vec<_> = (0..args.users)
        .map(|_| {
            let url = format!("{}/conferences", args.gateway);
            let body = serde_json::json!({ "roomNumber": args.room });
            tokio::spawn(user(
                http.clone(),
                run.clone(),
                args.token.clone(),
                url,
                body,
                end,
            ))
        })
        .collect();
    for u in users {
        u.await?;
    }
    let _ = watcher.await;
    let after = breaker(&http, &args.conference).await;
    let mut run = Arc::try_unwrap(run)
        .map_err(|_| anyhow::anyhow!("run still shared"))?
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    run.elapsed = start.elapsed();
    run.transitions = before.zip(after).map(|((_, b), (_, a))| (b, a));
    print!("{}", run.report());
    Ok(())
}

/// The arguments, or the usage (and the error) on stderr and exit status 2.
fn parse_or_exit() -> Args {
    match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("hifive-load: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

/// Samples the breaker's state every 100 ms until `end`.
async fn watch_breaker(
    http: reqwest::Client,
    run: Arc<Mutex<Run>>,
    conference: String,
    start: Instant,
    end: Instant,
) {
    while Instant::now() < end {
        if let Some((state, _)) = breaker(&http, &conference).await {
            run.lock()
                .unwrap_or_else(|e| e.into_inner())
                .saw(start.elapsed(), &state);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One user: posts `body` to `url` back to back until `end`, then adds what it saw to `run`.
async fn user(
    http: reqwest::Client,
    run: Arc<Mutex<Run>>,
    token: String,
    url: String,
    body: serde_json::Value,
    end: Instant,
) {
    let mut mine = Vec::new();
    while Instant::now() < end {
        let t = Instant::now();
        let outcome = match http.post(&url).bearer_auth(&token).json(&body).send().await {
            Ok(r) if r.status() == 201 => Outcome::Booked,
            Ok(r) => {
                let status = r.status().as_u16();
                let json: serde_json::Value = r.json().await.unwrap_or_default();
                Outcome::Refused {
                    status,
                    error: json["error"].as_str().unwrap_or_default().to_owned(),
                }
            }
            Err(_) => Outcome::NoAnswer,
        };
        mine.push((outcome, t.elapsed()));
    }
    run.lock()
        .unwrap_or_else(|e| e.into_inner())
        .samples
        .extend(mine);
}
