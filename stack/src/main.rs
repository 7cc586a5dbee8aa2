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
//! Settings (environment): `DATA_DIR`, `KAFKA_PORT`, `ISSUER_PORT`, `HOST`, `GATEWAY_PORT`,
//! `CONFERENCE_PORT`, `PAY_PORT`, `ROOM_PORT`, `CUSTOMER_CENTER_PORT`, `<SERVICE>_REPLICAS`,
//! `<SERVICE>_DATABASE_URL`, `BROKER_LOG`, `TANSU_BIN`; everything else is passed to the
//! services as it is.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context;
use axum::{
    Json, Router,
    extract::{Path as UrlPath, State},
    http::StatusCode,
    routing::{get, post},
};
use hifive_common::{
    CancellationToken,
    config::{env_or, env_parse},
};
use hifive_stack::{
    issuer,
    supervisor::{Check, Checks, Output, Spec, Supervisor},
};

/// The services in start order, with their default ports.
const SERVICES: [(&str, u16); 4] = [
    ("pay", 8082),
    ("conference", 8081),
    ("room", 8083),
    ("customer-center", 8084),
];

const USAGE: &str = "usage: hifive-stack            run the whole system (what script/server does)
       hifive-stack token ROLE [USER] [--ttl SECONDS]
                           print a bearer token of the running stack's issuer (ROLE: customer
                           or manager; USER: the `sub`, default ROLE's name; ttl 3600)
       hifive-stack issuer --port PORT
                           serve the development issuer's keys (the stack starts it)
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

fn say(message: &str) {
    println!("[stack] {message}");
}

async fn up() -> anyhow::Result<i32> {
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

    supervisor.add(Spec {
        name: "broker".into(),
        // Prepares the broker's storage, then becomes Tansu.
        program: std::env::current_exe()?,
        args: vec!["broker".into(), "--port".into(), kafka_port.to_string()],
        env: vec![
            ("RUST_LOG".into(), env_or("BROKER_LOG", "warn")),
            ("DATA_DIR".into(), data_dir.display().to_string()),
        ],
        cwd: Some(data_dir.clone()),
        output: Output::Prefixed,
        check: Check::Broker {
            brokers: brokers.clone(),
        },
        restart_on_exit: true,
        stop_grace: Duration::from_secs(2),
        escalate_to: None,
    });
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
    supervisor.add(Spec {
        name: "issuer".into(),
        program: std::env::current_exe()?,
        args: vec!["issuer".into(), "--port".into(), issuer_port.to_string()],
        env: vec![("DATA_DIR".into(), data_dir.display().to_string())],
        cwd: None,
        output: Output::Prefixed,
        check: Check::Live {
            url: format!("http://127.0.0.1:{issuer_port}/health/live"),
        },
        restart_on_exit: true,
        stop_grace: Duration::from_secs(2),
        escalate_to: None,
    });
    supervisor.start("issuer")?;
    let mut common_env = vec![
        ("KAFKA_BROKERS".to_owned(), brokers.clone()),
        ("DATA_DIR".to_owned(), data_dir.display().to_string()),
        ("HOST".to_owned(), env_or("HOST", "127.0.0.1")),
    ];
    // The local issuer and secret, unless the environment names others.
    let secret = issuer::service_secret(&data_dir)?;
    common_env.extend(
        issuer::service_env(issuer_port, &secret)
            .into_iter()
            .filter(|(name, _)| std::env::var_os(name).is_none()),
    );
    let mut upstreams: BTreeMap<&str, Vec<String>> = BTreeMap::new();
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
            let mut env = common_env.clone();
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
            supervisor.add(service_spec(&bin_dir, service, &key, port, env));
            supervisor.start(&key)?;
            upstreams
                .entry(service)
                .or_default()
                .push(format!("http://127.0.0.1:{port}"));
            instances.push((key, port));
        }
    }
    let gateway_port: u16 = env_parse("GATEWAY_PORT", 8088)?;
    let mut env = common_env.clone();
    env.push(("PORT".into(), gateway_port.to_string()));
    for (service, urls) in &upstreams {
        let var = format!("{}_URL", service.replace('-', "_").to_uppercase());
        env.push((var, urls.join(",")));
    }
    supervisor.add(service_spec(
        &bin_dir,
        "gateway",
        "gateway",
        gateway_port,
        env,
    ));
    supervisor.start("gateway")?;
    instances.push(("gateway".into(), gateway_port));

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    for (name, port) in &instances {
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
                supervisor.shutdown(&["broker"]).await;
                return Ok(1);
            }
            if started.elapsed() > Duration::from_secs(120) {
                say(&format!("{name} is not ready after 120 s"));
                supervisor.shutdown(&["broker"]).await;
                return Ok(1);
            }
            if stop.is_cancelled() {
                say("stopping while starting...");
                supervisor.shutdown(&["broker"]).await;
                return Ok(130);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let control = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let control_addr = control.local_addr()?;
    let addr_file = data_dir.join("stack.addr");
    std::fs::write(&addr_file, format!("http://{control_addr}\n"))?;
    tokio::spawn({
        let supervisor = supervisor.clone();
        async move {
            let app = Router::new()
                .route("/processes", get(list))
                .route("/processes/{name}/{action}", post(act))
                .with_state(supervisor);
            if let Err(e) = axum::serve(control, app).await {
                say(&format!("control API stopped: {e}"));
            }
        }
    });

    let gw = format!("http://127.0.0.1:{gateway_port}");
    println!(
        "\nHiFive is ready in {}s: {gw}   (data in {}; Ctrl-C stops everything)\n\
         As a room manager, register room 1; as customer alice, book it:\n  \
         curl -s -XPOST {gw}/rooms -H \"Authorization: Bearer $(script/token manager)\" -H 'Content-Type: application/json' -d '{{\"roomNumber\":1}}'\n  \
         curl -s -XPOST {gw}/conferences -H \"Authorization: Bearer $(script/token customer alice)\" -H 'Content-Type: application/json' -d '{{\"roomNumber\":1}}'\n\
         Stop and start one service: script/service room stop | start | restart; script/service shows them all.\n",
        started.elapsed().as_secs(),
        data_dir.display()
    );

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

async fn list(State(supervisor): State<Supervisor>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "processes": supervisor.status() }))
}

async fn act(
    State(supervisor): State<Supervisor>,
    UrlPath((name, action)): UrlPath<(String, String)>,
) -> (StatusCode, Json<serde_json::Value>) {
    if !supervisor.names().contains(&name) {
        return (
            StatusCode::NOT_FOUND,
            Json(
                serde_json::json!({ "error": "unknown_process", "detail": format!("no process {name}; known: {}", supervisor.names().join(", ")) }),
            ),
        );
    }
    let done = match action.as_str() {
        "stop" => {
            say(&format!("stopping {name} (asked by script/service)"));
            supervisor.stop(&name).await
        }
        "start" => {
            say(&format!("starting {name} (asked by script/service)"));
            supervisor.start(&name)
        }
        "restart" => {
            say(&format!("restarting {name} (asked by script/service)"));
            supervisor.restart(&name, "asked by script/service").await
        }
        other => {
            return (
                StatusCode::BAD_REQUEST,
                Json(
                    serde_json::json!({ "error": "unknown_action", "detail": format!("{other}: use stop, start or restart") }),
                ),
            );
        }
    };
    match done {
        Ok(()) => (
            StatusCode::OK,
            Json(serde_json::json!({ "processes": supervisor.status() })),
        ),
        Err(e) => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": "failed", "detail": e.to_string() })),
        ),
    }
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
