//! `hifive-stack`: the whole HiFive system on this machine, supervised (what `script/server`
//! runs). Starts the broker and the services, prefixes their logs, restarts the broker when
//! it fails its probe and a service when its liveness fails, keeps the others running when one
//! exits, lets a user stop and start one service (`script/service`), and stops everything
//! within a bound on Ctrl-C or SIGTERM.
//!
//! A development token issuer runs beside them (`hifive-stack issuer`, port `ISSUER_PORT`,
//! 8089): the services check bearer tokens against its keys, and `hifive-stack token ROLE
//! [USER]` (`script/token`) prints one.
//!
//! Settings (environment): `DATA_DIR`, `KAFKA_PORT`, `ISSUER_PORT`, `ISSUER_REDIRECT_ORIGINS`,
//! `ISSUER_SIGN_IN` (default here: `on` when `HOST` is loopback),
//! `HOST`, `GATEWAY_PORT`,
//! `CONFERENCE_PORT`, `PAY_PORT`, `ROOM_PORT`, `CUSTOMER_CENTER_PORT`, `<SERVICE>_REPLICAS`,
//! `<SERVICE>_DATABASE_URL`, `BROKER_LOG`, `TANSU_BIN`; everything else is passed to the
//! services as it is.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use hifive_common::config::{env_or, env_parse};
use hifive_stack::{issuer, local::up};

const USAGE: &str = "usage: hifive-stack            run the whole system (what script/server does)
       hifive-stack token ROLE [USER] [--ttl SECONDS]
                           print a bearer token of the running stack's issuer (ROLE: customer
                           or manager; USER: the `sub`, default ROLE's name; ttl 3600)
       hifive-stack issuer --port PORT
                           serve the development issuer's keys, and its sign-in page with
                           ISSUER_SIGN_IN=on (the stack starts it so; browsers are sent back
                           only to ISSUER_REDIRECT_ORIGINS, default the gateway's origins on
                           GATEWAY_PORT)
       hifive-stack broker --port PORT [--data DIR]
                           prepare the broker's storage in DIR (default $DATA_DIR or .), then run Tansu";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("up") => {}
        Some("broker") => {
            let mut port = None;
            let mut dir = PathBuf::from(env_or("DATA_DIR", "."));
            let mut it = args[1..].iter();
            while let Some(arg) = it.next() {
                match (arg.as_str(), it.next()) {
                    ("--port", Some(p)) => port = Some(p.parse().context("--port")?),
                    ("--data", Some(d)) => dir = d.into(),
                    _ => anyhow::bail!("{USAGE}"),
                }
            }
            let port = port.context(USAGE)?;
            return hifive_stack::broker::exec(port, &dir);
        }
        Some("issuer") => {
            let port: u16 = match &args[1..] {
                [flag, p] if flag == "--port" => p.parse().context("--port")?,
                _ => anyhow::bail!("{USAGE}"),
            };
            let dir = PathBuf::from(env_or("DATA_DIR", "data"));
            let host = env_parse("HOST", std::net::IpAddr::from([127, 0, 0, 1]))?;
            return tokio::runtime::Runtime::new()?.block_on(issuer::serve(dir, host, port));
        }
        Some("token") => return print_token(&args[1..]),
        Some(_) => anyhow::bail!("{USAGE}"),
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let code = runtime.block_on(up())?;
    runtime.shutdown_timeout(Duration::from_millis(200));
    std::process::exit(code);
}

/// `hifive-stack token ROLE [USER] [--ttl SECONDS]`: a token signed with the key in
/// `$DATA_DIR` (the running stack's issuer).
fn print_token(args: &[String]) -> anyhow::Result<()> {
    let mut positional = Vec::new();
    let mut ttl = Duration::from_secs(3600);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--ttl" => {
                let secs: u64 = it.next().context(USAGE)?.parse().context("--ttl")?;
                ttl = Duration::from_secs(secs);
            }
            _ => positional.push(arg.as_str()),
        }
    }
    let (role, user) = match positional[..] {
        [role] => (role, role),
        [role, user] => (role, user),
        _ => anyhow::bail!("{USAGE}"),
    };
    anyhow::ensure!(
        hifive_common::Role::parse(role).is_some(),
        "ROLE must be `customer` or `manager`, not {role:?}"
    );
    let data_dir = PathBuf::from(env_or("DATA_DIR", "data"));
    anyhow::ensure!(
        issuer::DevIssuer::exists(&data_dir),
        "no development issuer in {}: start the stack with script/server",
        data_dir.display()
    );
    let issuer = issuer::DevIssuer::load_or_create(&data_dir)?;
    println!("{}", issuer.token(role, user, ttl));
    Ok(())
}
