//! The whole HiFive system on this machine, supervised: what `hifive-stack` runs (and so
//! `script/server`). Starts the broker, the development issuer and the services (each
//! instance on its port, the gateway in front), waits until every one is ready, serves the
//! [`control`] API for `script/service`, and stops everything within a bound on Ctrl-C or
//! SIGTERM.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context;
use hifive_common::{
    CancellationToken,
    config::{env_or, env_parse},
};

use crate::{
    issuer,
    supervisor::{Check, Checks, Output, Spec, Supervisor},
};

pub mod control;

/// The services in start order, with their default ports.
const SERVICES: [(&str, u16); 4] = [
    ("pay", 8082),
    ("conference", 8081),
    ("room", 8083),
    ("customer-center", 8084),
];

/// Every service's base URLs (its instances), by service.
type Upstreams = BTreeMap<&'static str, Vec<String>>;

/// The stack's own messages.
pub fn say(message: &str) {
    println!("[stack] {message}");
}

/// Runs the whole system until Ctrl-C or SIGTERM; returns the process's exit code (0 after
/// a stop, 130 when stopped while starting, 1 when a process did not start).
pub async fn up() -> anyhow::Result<i32> {
    // Ctrl-C and SIGTERM are heard from the start, also while the system is starting.
    let stop = stop_requested()?;
    let data_dir = PathBuf::from(env_or("DATA_DIR", "data"));
    std::fs::create_dir_all(&data_dir)?;
    let data_dir = data_dir.canonicalize()?;
    let kafka_port: u16 = env_parse("KAFKA_PORT", 9092)?;
    let brokers = format!("127.0.0.1:{kafka_port}");
    let bin_dir = std::env::current_exe()?
        .parent()
        .context("the stack binary's folder")?
        .to_path_buf();
    let supervisor = Supervisor::new(Checks::default(), say);

    supervisor.add(broker_spec(&data_dir, kafka_port, &brokers)?);
    supervisor.start("broker")?;
    tokio::select! {
        r = wait_for_port(kafka_port, Duration::from_secs(60)) => {
            r.context("the broker did not open its port; see its log above")?
        }
        _ = stop.cancelled() => {
            supervisor.shutdown(&["broker"]).await;
            return Ok(130);
        }
    }

    let started = Instant::now();
    let issuer_port: u16 = env_parse("ISSUER_PORT", 8089)?;
    supervisor.add(issuer_spec(&data_dir, issuer_port)?);
    supervisor.start("issuer")?;
    let common_env = common_env(&brokers, &data_dir, issuer_port)?;
    let (upstreams, mut instances) = start_services(&supervisor, &bin_dir, &common_env)?;
    let gateway_port: u16 = env_parse("GATEWAY_PORT", 8088)?;
    let management_port: u16 = env_parse("MANAGEMENT_PORT", 9088)?;
    let ports = (gateway_port, management_port);
    let mut gateway_env = common_env.clone();
    if std::env::var_os("WEB_OIDC_ISSUER").is_none() {
        // The web page signs in with the local issuer (its discovery document is under it).
        let issuer = format!("http://127.0.0.1:{issuer_port}");
        gateway_env.push(("WEB_OIDC_ISSUER".into(), issuer));
    }
    start_gateway(&supervisor, &bin_dir, &gateway_env, &upstreams, ports)?;
    instances.push(("gateway".into(), gateway_port));

    if let Some(code) = until_ready(&supervisor, &instances, started, &stop).await? {
        supervisor.shutdown(&["broker"]).await;
        return Ok(code);
    }
    let addr_file = control::serve(&supervisor, &data_dir).await?;
    print_ready(ports, started, &data_dir);

    stop.cancelled().await;
    say("stopping (services first, then the broker)...");
    let stopping = Instant::now();
    supervisor.shutdown(&["broker"]).await;
    let _ = std::fs::remove_file(&addr_file);
    say(&format!(
        "stopped in {:.1} s",
        stopping.elapsed().as_secs_f64()
    ));
    Ok(0)
}

/// The broker: this program's `broker` command, which prepares the broker's storage and
/// then becomes Tansu.
fn broker_spec(data_dir: &Path, kafka_port: u16, brokers: &str) -> anyhow::Result<Spec> {
    Ok(Spec {
        name: "broker".into(),
        // Prepares the broker's storage, then becomes Tansu.
        program: std::env::current_exe()?,
        args: vec!["broker".into(), "--port".into(), kafka_port.to_string()],
        env: vec![
            ("RUST_LOG".into(), env_or("BROKER_LOG", "warn")),
            ("DATA_DIR".into(), data_dir.display().to_string()),
        ],
        cwd: Some(data_dir.to_path_buf()),
        output: Output::Prefixed,
        check: Check::Broker {
            brokers: brokers.to_owned(),
        },
        restart_on_exit: true,
        stop_grace: Duration::from_secs(2),
        escalate_to: None,
    })
}

/// The development issuer: this program's `issuer` command on `issuer_port`.
fn issuer_spec(data_dir: &Path, issuer_port: u16) -> anyhow::Result<Spec> {
    Ok(Spec {
        name: "issuer".into(),
        program: std::env::current_exe()?,
        args: vec!["issuer".into(), "--port".into(), issuer_port.to_string()],
        env: vec![
            ("DATA_DIR".into(), data_dir.display().to_string()),
            ("ISSUER_SIGN_IN".into(), issuer_sign_in()?),
        ],
        cwd: None,
        output: Output::Prefixed,
        check: Check::Live {
            url: format!("http://127.0.0.1:{issuer_port}/health/live"),
        },
        restart_on_exit: true,
        stop_grace: Duration::from_secs(2),
        escalate_to: None,
    })
}

/// `ISSUER_SIGN_IN` for the local issuer: the web page signs in there, so `on` while it
/// listens on a loopback `HOST` (127.0.0.1, the default: only this machine reaches its
/// password-less form); on any other `HOST` `off` unless the environment says `on`.
fn issuer_sign_in() -> anyhow::Result<String> {
    let host = env_parse("HOST", std::net::IpAddr::from([127, 0, 0, 1]))?;
    let default = if host.is_loopback() { "on" } else { "off" };
    Ok(env_or("ISSUER_SIGN_IN", default))
}

/// The environment every service gets: the broker, the data dir, the host, and the local
/// issuer and secret (unless the environment names others).
fn common_env(
    brokers: &str,
    data_dir: &Path,
    issuer_port: u16,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut common_env = vec![
        ("KAFKA_BROKERS".to_owned(), brokers.to_owned()),
        ("DATA_DIR".to_owned(), data_dir.display().to_string()),
        ("HOST".to_owned(), env_or("HOST", "127.0.0.1")),
    ];
    // The local issuer and secret, unless the environment names others.
    let secret = issuer::service_secret(data_dir)?;
    common_env.extend(
        issuer::service_env(issuer_port, &secret)
            .into_iter()
            .filter(|(name, _)| std::env::var_os(name).is_none()),
    );
    Ok(common_env)
}

/// Starts every instance of every service but the gateway (`<SERVICE>_PORT`,
/// `<SERVICE>_REPLICAS`, `<SERVICE>_DATABASE_URL`): their URLs by service, and each
/// instance's key and port.
fn start_services(
    supervisor: &Supervisor,
    bin_dir: &Path,
    common_env: &[(String, String)],
) -> anyhow::Result<(Upstreams, Vec<(String, u16)>)> {
    let mut upstreams: Upstreams = BTreeMap::new();
    let mut instances: Vec<(String, u16)> = Vec::new();
    for (service, default_port) in SERVICES {
        let var = service.replace('-', "_").to_uppercase();
        let base: u16 = env_parse(&format!("{var}_PORT"), default_port)?;
        let replicas: u16 = env_parse(&format!("{var}_REPLICAS"), 1u16)?.max(1);
        let database = env_or(&format!("{var}_DATABASE_URL"), "");
        for i in 0..replicas {
            let port = base + 100 * i;
            let key = if i == 0 {
                service.to_owned()
            } else {
                format!("{service}-{}", i + 1)
            };
            let mut env = common_env.to_vec();
            env.push(("PORT".into(), port.to_string()));
            // A stable id in its group (static membership): a restarted instance takes its
            // old place at once.
            env.push(("KAFKA_GROUP_INSTANCE_ID".into(), key.clone()));
            if !database.is_empty() {
                env.push(("DATABASE_URL".into(), database.clone()));
            }
            if service == "conference" {
                // With several pay instances conference uses the first (the gateway balances
                // clients over all of them).
                let pay = upstreams["pay"][0].clone();
                env.push(("PAY_URL".into(), pay));
            }
            supervisor.add(service_spec(bin_dir, service, &key, port, env));
            supervisor.start(&key)?;
            upstreams
                .entry(service)
                .or_default()
                .push(format!("http://127.0.0.1:{port}"));
            instances.push((key, port));
        }
    }
    Ok((upstreams, instances))
}

/// Starts the gateway on `gateway_port`, in front of every instance of every service, with
/// its metrics on `management_port`.
fn start_gateway(
    supervisor: &Supervisor,
    bin_dir: &Path,
    common_env: &[(String, String)],
    upstreams: &Upstreams,
    (gateway_port, management_port): (u16, u16),
) -> anyhow::Result<()> {
    let mut env = common_env.to_vec();
    env.push(("PORT".into(), gateway_port.to_string()));
    env.push(("MANAGEMENT_PORT".into(), management_port.to_string()));
    for (service, urls) in upstreams {
        let var = format!("{}_URL", service.replace('-', "_").to_uppercase());
        env.push((var, urls.join(",")));
    }
    supervisor.add(service_spec(
        bin_dir,
        "gateway",
        "gateway",
        gateway_port,
        env,
    ));
    supervisor.start("gateway")?;
    Ok(())
}

fn service_spec(
    bin_dir: &Path,
    service: &str,
    key: &str,
    port: u16,
    env: Vec<(String, String)>,
) -> Spec {
    Spec {
        name: key.to_owned(),
        program: bin_dir.join(service),
        args: Vec::new(),
        env,
        cwd: None,
        output: Output::Prefixed,
        check: Check::Live {
            url: format!("http://127.0.0.1:{port}/health/live"),
        },
        restart_on_exit: false,
        // Services bound their own stop (SHUTDOWN_GRACE_MS, 6 s by default).
        stop_grace: Duration::from_secs(7),
        // A service whose consumer stays stuck across its own restart is stuck in the broker;
        // the gateway has no consumer.
        escalate_to: (service != "gateway").then(|| "broker".into()),
    }
}

/// Waits until every instance answers `/health/ready`. `Some(exit code)` when the start
/// failed (an instance exited or is not ready after 120 s) or a stop was asked for.
async fn until_ready(
    supervisor: &Supervisor,
    instances: &[(String, u16)],
    started: Instant,
    stop: &CancellationToken,
) -> anyhow::Result<Option<i32>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    for (name, port) in instances {
        let url = format!("http://127.0.0.1:{port}/health/ready");
        loop {
            if http
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            if supervisor.pid(name).is_none() {
                say(&format!("{name} exited during start-up; see its log above"));
                return Ok(Some(1));
            }
            if started.elapsed() > Duration::from_secs(120) {
                say(&format!("{name} is not ready after 120 s"));
                return Ok(Some(1));
            }
            if stop.is_cancelled() {
                say("stopping while starting...");
                return Ok(Some(130));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(None)
}

/// What to do now the system is ready.
fn print_ready((gateway_port, management_port): (u16, u16), started: Instant, data_dir: &Path) {
    let gw = format!("http://127.0.0.1:{gateway_port}");
    println!(
        "\nHiFive is ready in {}s: {gw}   (data in {}; Ctrl-C stops everything)\n\
         As a room manager, register room 1; as customer alice, book it:\n  \
         curl -s -XPOST {gw}/rooms -H \"Authorization: Bearer $(script/token manager)\" -H 'Content-Type: application/json' -d '{{\"roomNumber\":1}}'\n  \
         curl -s -XPOST {gw}/conferences -H \"Authorization: Bearer $(script/token customer alice)\" -H 'Content-Type: application/json' -d '{{\"roomNumber\":1}}'\n\
         Stop and start one service: script/service room stop | start | restart; script/service shows them all.\n\
         Metrics: curl -s http://127.0.0.1:{management_port}/metrics (the gateway's); each service's on its own port.\n{}",
        started.elapsed().as_secs(),
        data_dir.display(),
        web_page(&gw),
    );
}

/// How to open the web page, if the gateway serves one (`WEB_DIR`).
fn web_page(gw: &str) -> String {
    if env_or("WEB_DIR", "").is_empty() {
        return String::new();
    }
    format!(
        "The web page: {gw}/  (Sign in opens the development issuer's form: any user \
         name, role Customer or Room manager, no password).\n"
    )
}

async fn wait_for_port(port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        anyhow::ensure!(Instant::now() < deadline, "port {port} not open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// A token cancelled at the first Ctrl-C or SIGTERM (the handlers are in place on return).
fn stop_requested() -> anyhow::Result<CancellationToken> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        cancel.cancel();
    });
    Ok(token)
}
