//! End-to-end harness: starts a real Tansu broker and the five real service binaries as
//! separate processes, each system in its own temp dir on free ports, and talks to them
//! over HTTP. Nothing is mocked.
//!
//! The binaries must be built first (`cargo build --workspace --bins`, as `script/test` does).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test harness: a failed step fails the test, with its message"
)]

use std::{
    collections::HashMap,
    fs,
    future::Future,
    io::Write,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use hifive_stack::{
    issuer::{self, DevIssuer},
    supervisor::{Check, Checks, Output, Spec, Supervisor},
};
use reqwest::{StatusCode, header::HeaderMap};
use serde_json::Value;

pub const SERVICES: [&str; 5] = ["conference", "pay", "room", "customer-center", "gateway"];

/// How long to wait for the system to settle before a check fails.
pub const SETTLE: Duration = Duration::from_secs(30);

/// A port nothing listens on, below the kernel's ephemeral range (32768 and up on Linux), so
/// that no outgoing connection of a client can take it between now and the moment the
/// process that is given it binds it. Each test process walks its own stretch of the range.
pub fn free_port() -> u16 {
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id() * 397) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {LOW} and {}", LOW + SPAN)
}

/// Folder of the workspace's built binaries: next to this test's `deps/`, or this
/// program's own folder (a binary such as `hifive-soak`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    let dir = exe.parent().expect("executable folder");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("target/<profile>").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

fn service_bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (script/test does)",
        path.display()
    );
    path
}

pub mod soak;

/// A temp dir removed on drop (kept when the test failed, for its logs).
struct TempDir(PathBuf, bool);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "hifive-e2e-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        fs::create_dir_all(&path).expect("temp dir");
        Self(path, false)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() || self.1 {
            eprintln!("test data and logs kept in {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// One running HiFive: broker + five services, under a supervisor as an orchestrator would
/// run them: the broker is probed and restarted when it wedges or exits, a service whose
/// liveness fails is restarted. Killed processes stay down until the test starts them again
/// (unless [`Options::restart_on_exit`]).
pub struct System {
    supervisor: Supervisor,
    options: Options,
    env: Vec<(String, String)>,
    /// Services whose database is in `postgres` (the rest use SQLite in the temp dir).
    on_postgres: Vec<&'static str>,
    /// Extra instances of a service: (service, instance key, port), instance 2 and up.
    replicas: Vec<(&'static str, &'static str, u16)>,
    postgres: Option<Postgres>,
    ports: HashMap<&'static str, u16>,
    kafka_port: u16,
    http: reqwest::Client,
    /// The development issuer the services check tokens against (its key is in `dir`).
    issuer: DevIssuer,
    dir: TempDir,
}

/// Who a request is sent as.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    /// No `Authorization` header.
    Anonymous,
    /// A customer (`sub` = the name).
    Customer(&'a str),
    /// A room manager.
    Manager,
    /// This bearer token, as it is.
    Token(&'a str),
}

/// The customer the plain request helpers book and cancel as.
pub const CUSTOMER: &str = "e2e";

impl System {
    /// Starts the broker and all five services and waits until every one is ready.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Like [`System::start`], with extra environment for every service.
    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        Self::start_on(env, &[]).await
    }

    /// Like [`System::start_with`], with the services in `on_postgres` on a throwaway local
    /// PostgreSQL (one database each) and the others on SQLite (polyglot persistence).
    pub async fn start_on(env: &[(&str, &str)], on_postgres: &[&'static str]) -> Self {
        Self::start_replicated(env, on_postgres, &[]).await
    }

    /// Like [`System::start_on`], with `n` instances of some services behind the gateway
    /// (which balances across them), each its own member of the service's consumer group.
    pub async fn start_replicated(
        env: &[(&str, &str)],
        on_postgres: &[&'static str],
        replicas: &[(&'static str, usize)],
    ) -> Self {
        Self::start_with_options(env, on_postgres, replicas, Options::default()).await
    }

    /// The most general start: see [`Options`].
    pub async fn start_with_options(
        env: &[(&str, &str)],
        on_postgres: &[&'static str],
        replicas: &[(&'static str, usize)],
        options: Options,
    ) -> Self {
        let dir = TempDir::new();
        let log = dir.0.join("supervisor.log");
        let supervisor = Supervisor::new(options.checks, move |message| {
            eprintln!("[supervisor] {message}");
            if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(&log) {
                let _ = writeln!(f, "{message}");
            }
        });
        let postgres = (!on_postgres.is_empty()).then(|| {
            let pg = Postgres::start(&dir.0);
            for service in on_postgres {
                pg.create_database(&service.replace('-', "_"));
            }
            pg
        });
        let mut ports: HashMap<&'static str, u16> =
            SERVICES.iter().map(|s| (*s, free_port())).collect();
        ports.insert("broker", free_port());
        ports.insert("issuer", free_port());
        let issuer = DevIssuer::load_or_create(&dir.0).expect("the development issuer's key");
        let mut system = System {
            supervisor,
            options,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            on_postgres: on_postgres.to_vec(),
            replicas: replicas
                .iter()
                .flat_map(|(name, n)| {
                    (2..=*n).map(move |i| {
                        let key: &'static str = Box::leak(format!("{name}-{i}").into_boxed_str());
                        (*name, key, free_port())
                    })
                })
                .collect(),
            postgres,
            kafka_port: ports["broker"],
            ports,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("http client"),
            issuer,
            dir,
        };
        system.start_issuer().await;
        system.start_broker().await;
        for name in SERVICES {
            system.start_service(name);
        }
        for (name, key, port) in system.replicas.clone() {
            system.spawn(name, key, port);
        }
        for name in SERVICES {
            system.wait_ready(name).await;
        }
        for (_, key, _) in system.replicas.clone() {
            system.wait_ready(key).await;
        }
        // A running system: every consumer in its group (Tansu takes ~6 s to let a static
        // member in) and caught up.
        system.until_joined().await;
        system
    }

    /// Every instance's base URL of a service, comma-separated (as the gateway takes them).
    fn upstreams(&self, name: &str) -> String {
        std::iter::once(self.url_of(name))
            .chain(
                self.replicas
                    .iter()
                    .filter(|(service, _, _)| *service == name)
                    .map(|(_, key, _)| self.url_of(key)),
            )
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts the development token issuer (its JWKS) on its port.
    async fn start_issuer(&mut self) {
        let port = self.ports["issuer"];
        self.supervisor.add(Spec {
            name: "issuer".into(),
            program: service_bin("hifive-stack"),
            args: vec!["issuer".into(), "--port".into(), port.to_string()],
            env: vec![("DATA_DIR".into(), self.dir.0.display().to_string())],
            cwd: None,
            output: Output::File(self.dir.0.join("issuer.log")),
            check: Check::Live {
                url: format!("http://127.0.0.1:{port}/health/live"),
            },
            restart_on_exit: true,
            stop_grace: Duration::from_secs(2),
            escalate_to: None,
        });
        self.supervisor.start("issuer").expect("start the issuer");
        eventually("the issuer accepts connections", SETTLE, || async move {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| ())
        })
        .await;
    }

    /// A bearer token of the system's issuer for `user` with `role`, valid for 2 hours.
    pub fn token(&self, role: &str, user: &str) -> String {
        self.issuer.token(role, user, Duration::from_secs(2 * 3600))
    }

    /// The system's token issuer (to sign tokens of any shape).
    pub fn issuer(&self) -> &DevIssuer {
        &self.issuer
    }

    /// Starts the broker (again, after [`System::kill`]) on its port and storage.
    pub async fn start_broker(&mut self) {
        if !self.supervisor.names().iter().any(|n| n == "broker") {
            self.supervisor.add(Spec {
                name: "broker".into(),
                // Prepares the broker's storage (an index Tansu lacks), then becomes Tansu.
                program: service_bin("hifive-stack"),
                args: vec![
                    "broker".into(),
                    "--port".into(),
                    self.kafka_port.to_string(),
                ],
                env: vec![
                    ("RUST_LOG".into(), "warn".into()),
                    ("DATA_DIR".into(), self.dir.0.display().to_string()),
                ],
                cwd: Some(self.dir.0.clone()),
                output: Output::File(self.dir.0.join("broker.log")),
                check: if self.options.supervise_broker {
                    Check::Broker {
                        brokers: format!("127.0.0.1:{}", self.kafka_port),
                    }
                } else {
                    Check::None
                },
                restart_on_exit: self.options.supervise_broker,
                stop_grace: Duration::from_secs(2),
                escalate_to: None,
            });
        }
        self.supervisor
            .start("broker")
            .expect("start tansu: run script/bootstrap to install it");
        let port = self.kafka_port;
        eventually("the broker accepts connections", SETTLE, || async move {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| ())
        })
        .await;
    }

    fn url_of(&self, name: &str) -> String {
        let port = self
            .ports
            .get(name)
            .copied()
            .or_else(|| {
                self.replicas
                    .iter()
                    .find(|(_, key, _)| *key == name)
                    .map(|(_, _, port)| *port)
            })
            .unwrap_or_else(|| panic!("no instance {name}"));
        format!("http://127.0.0.1:{port}")
    }

    /// Starts (or restarts) a service on its port with its data dir.
    pub fn start_service(&mut self, name: &'static str) {
        let port = self.ports[name];
        self.spawn(name, name, port);
    }

    /// Starts one instance `key` of service `name` on `port` (registered on first start,
    /// with the environment of that moment).
    fn spawn(&mut self, name: &'static str, key: &'static str, port: u16) {
        if !self.supervisor.names().iter().any(|n| n == key) {
            let mut env: Vec<(String, String)> = vec![
                ("PORT".into(), port.to_string()),
                ("HOST".into(), "127.0.0.1".into()),
                ("DATA_DIR".into(), self.dir.0.display().to_string()),
                (
                    "KAFKA_BROKERS".into(),
                    format!("127.0.0.1:{}", self.kafka_port),
                ),
                ("RUST_LOG".into(), "info".into()),
                // The tests are one client playing many: no rate limit unless a test sets one.
                ("GATEWAY_RATE_LIMIT".into(), "0".into()),
                // One instance per key: a restarted one takes its old place in the group.
                ("KAFKA_GROUP_INSTANCE_ID".into(), key.into()),
                ("PAY_URL".into(), self.upstreams("pay")),
                ("CONFERENCE_URL".into(), self.upstreams("conference")),
                ("ROOM_URL".into(), self.upstreams("room")),
                (
                    "CUSTOMER_CENTER_URL".into(),
                    self.upstreams("customer-center"),
                ),
            ];
            let secret = issuer::service_secret(&self.dir.0).expect("the service secret");
            env.extend(issuer::service_env(self.ports["issuer"], &secret));
            if let Some(pg) = self
                .postgres
                .as_ref()
                .filter(|_| self.on_postgres.contains(&name))
            {
                env.push(("DATABASE_URL".into(), pg.url(&name.replace('-', "_"))));
            }
            env.extend(self.env.iter().cloned());
            self.supervisor.add(Spec {
                name: key.into(),
                program: service_bin(name),
                args: Vec::new(),
                env,
                cwd: None,
                output: Output::File(self.dir.0.join(format!("{key}.log"))),
                check: Check::Live {
                    url: format!("http://127.0.0.1:{port}/health/live"),
                },
                restart_on_exit: self.options.restart_on_exit,
                // A service bounds its own stop (SHUTDOWN_GRACE_MS, 6 s): an exit code after a
                // stop means it ended by itself within 7 s.
                stop_grace: Duration::from_secs(7),
                escalate_to: (self.options.supervise_broker && name != "gateway")
                    .then(|| "broker".into()),
            });
        }
        self.supervisor
            .start(key)
            .unwrap_or_else(|e| panic!("start {key}: {e}"));
    }

    /// Kills a process with SIGKILL (no graceful shutdown); it stays down until started
    /// again ([`System::restart`], [`System::start_broker`]).
    pub async fn kill(&mut self, name: &str) {
        assert!(self.supervisor.pid(name).is_some(), "{name} is not running");
        self.supervisor.kill(name, true);
        self.until_exited(name).await;
    }

    /// Kills a process with SIGKILL behind the supervisor's back (a crash): with
    /// [`Options::restart_on_exit`] the supervisor starts it again, as an orchestrator would.
    pub async fn crash(&self, name: &str) {
        self.supervisor.kill(name, false);
    }

    /// Stops a process as an operator would (SIGTERM), and measures how long it took.
    pub async fn stop(&self, name: &str) -> Duration {
        let started = Instant::now();
        self.supervisor.stop(name).await.expect("stop");
        started.elapsed()
    }

    async fn until_exited(&self, name: &str) {
        let supervisor = self.supervisor.clone();
        eventually(&format!("{name} has exited"), SETTLE, || {
            let gone = supervisor.pid(name).is_none();
            async move { gone.then_some(()) }
        })
        .await;
    }

    /// The supervisor (what it restarted, process states).
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// Settings to reach this system's broker (for tests that publish or read raw events).
    pub fn kafka(&self) -> hifive_common::KafkaConfig {
        hifive_common::KafkaConfig::local(
            &format!("127.0.0.1:{}", self.kafka_port),
            &format!("e2e-{}", uuid::Uuid::new_v4()),
        )
    }

    /// The broker's address (`host:port`).
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.kafka_port)
    }

    /// Publishes `record` to `topic` as it is (no envelope, no outbox).
    pub async fn publish(&self, topic: &str, record: &Record) {
        use rdkafka::{
            message::{Header, OwnedHeaders},
            producer::FutureRecord,
        };
        let producer = hifive_common::kafka::producer(&self.kafka()).expect("producer");
        let mut headers = OwnedHeaders::new();
        for (k, v) in &record.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
        let mut r = FutureRecord::to(topic)
            .payload(&record.payload)
            .headers(headers);
        if let Some(key) = &record.key {
            r = r.key(key);
        }
        producer
            .send(r, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .expect("publish");
    }

    /// Reads `topic` from the start until `done` accepts what was read (or panics after
    /// [`SETTLE`]).
    pub async fn read_topic(&self, topic: &str, done: impl Fn(&[Record]) -> bool) -> Vec<Record> {
        use rdkafka::{
            Message,
            consumer::{Consumer, StreamConsumer},
            message::Headers,
        };
        let consumer: StreamConsumer = hifive_common::kafka::consumer_config(&self.kafka())
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let mut records = Vec::new();
        let deadline = Instant::now() + SETTLE;
        while !done(&records) {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match tokio::time::timeout(left, consumer.recv()).await {
                Ok(Ok(m)) => m,
                // The end of a partition for now; more may come.
                Ok(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => continue,
                Ok(Err(e)) => panic!("reading {topic}: {e}"),
                Err(_) => panic!(
                    "timed out reading {topic}; read {} records: {records:#?}",
                    records.len()
                ),
            };
            let headers = message
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| {
                            (
                                h.key.to_owned(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            records.push(Record {
                key: message
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned()),
                payload: message.payload().unwrap_or_default().to_vec(),
                headers,
            });
        }
        records
    }

    /// Everything the checker reads (all pages of bookings, payments, rooms, room states).
    pub async fn snapshot(&self) -> checker::Snapshot {
        checker::Snapshot::fetch(
            &self.http,
            &self.gateway(),
            &self.token("manager", "checker"),
        )
        .await
        .expect("the system can be read through the gateway")
    }

    /// Polls the consistency checker until every invariant of docs/contract.md holds (the system went
    /// quiet); panics with the violations otherwise. Returns the final snapshot.
    pub async fn assert_consistent(&self, accepted: &[i64]) -> checker::Snapshot {
        let deadline = Instant::now() + SETTLE * 2;
        loop {
            let snapshot = checker::Snapshot::fetch(
                &self.http,
                &self.gateway(),
                &self.token("manager", "checker"),
            )
            .await;
            if let Ok(s) = &snapshot
                && checker::check(s, accepted).is_empty()
            {
                return snapshot.expect("checked");
            }
            if Instant::now() > deadline {
                let s = snapshot.expect("the system can be read through the gateway");
                let violations: Vec<String> = checker::check(&s, accepted)
                    .iter()
                    .map(|v| v.to_string())
                    .collect();
                panic!(
                    "invariants still broken after {:?}:\n{}\n{}",
                    SETTLE * 2,
                    checker::summary(&s),
                    violations.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Keeps the data dir (databases, logs) when the system is dropped.
    pub fn keep_data(&mut self) {
        self.dir.1 = true;
    }

    /// The folder with this system's databases and logs.
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// Path of a built binary of the workspace (e.g. `hifive-check`).
    pub fn binary(&self, name: &str) -> PathBuf {
        service_bin(name)
    }

    /// Restarts a killed service and waits until it is ready.
    pub async fn restart(&mut self, name: &'static str) {
        self.start_service(name);
        self.wait_ready(name).await;
    }

    /// Waits until `/health/ready` answers 200.
    pub async fn wait_ready(&self, name: &str) {
        let url = format!("{}/health/ready", self.url_of(name));
        let http = self.http.clone();
        eventually(&format!("{name} is ready"), Duration::from_secs(60), || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let r = http.get(&url).send().await.ok()?;
                r.status().is_success().then_some(())
            }
        })
        .await;
    }

    /// Waits until the consumer of every event-driven service has joined its group and caught
    /// up (a consumer that just joined reads what was published meanwhile, and conference
    /// refuses bookings for the moment it is late).
    pub async fn until_joined(&self) {
        for name in ["conference", "pay", "room", "customer-center"] {
            let url = format!("{}/health/ready", self.url_of(name));
            let http = self.http.clone();
            eventually(
                &format!("{name} joined its group"),
                Duration::from_secs(60),
                || {
                    let (http, url) = (http.clone(), url.clone());
                    async move {
                        let body: Value = http.get(&url).send().await.ok()?.json().await.ok()?;
                        let kafka = &body["components"]["kafka"];
                        (kafka["joined"] == true && kafka["status"] == "UP").then_some(())
                    }
                },
            )
            .await;
        }
    }

    /// The gateway's base URL.
    pub fn gateway(&self) -> String {
        self.url_of("gateway")
    }

    /// A service's own base URL (bypassing the gateway).
    pub fn service(&self, name: &str) -> String {
        self.url_of(name)
    }

    /// `GET path` on a service's own port (health, operator endpoints): status and JSON body.
    pub async fn health(&self, service: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.url_of(service)))
            .send()
            .await
            .expect("the service answers");
        (r.status().as_u16(), r.json().await.unwrap_or_default())
    }

    /// Pay's simulated processing time (`PAY_ADMIN_ENABLED=true`): `500`, `"400..620"` or
    /// `null` (off).
    pub async fn set_pay_latency(&self, latency: Value) {
        let r = self
            .http
            .put(format!("{}/admin/overload", self.url_of("pay")))
            .json(&serde_json::json!({ "latencyMs": latency }))
            .send()
            .await
            .expect("pay answers");
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }

    /// The service's log so far.
    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.0.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// Sends a request through the gateway as the test's default users: customer
    /// [`CUSTOMER`] books and cancels (`POST`/`DELETE /conferences`), a manager does the rest.
    pub async fn call(&self, method: &str, path: &str, body: Option<Body<'_>>) -> Reply {
        self.call_with(method, path, body, &[]).await
    }

    /// [`System::call`] with extra headers.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Body<'_>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let books = path.starts_with("/conferences") && matches!(method, "POST" | "DELETE");
        let who = if books {
            Who::Customer(CUSTOMER)
        } else {
            Who::Manager
        };
        self.call_as(who, method, path, body, headers).await
    }

    /// Sends a request through the gateway as `who`.
    pub async fn call_as(
        &self,
        who: Who<'_>,
        method: &str,
        path: &str,
        body: Option<Body<'_>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.gateway()));
        let token = match who {
            Who::Anonymous => None,
            Who::Customer(name) => Some(self.token("customer", name)),
            Who::Manager => Some(self.token("manager", "boss")),
            Who::Token(token) => Some(token.to_owned()),
        };
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req = match body {
            Some(Body::Json(v)) => req.json(&v),
            Some(Body::Raw { content_type, text }) => req
                .header("content-type", content_type)
                .body(text.to_owned()),
            None => req,
        };
        let response = req.send().await.expect("the gateway answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            json,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call("POST", path, Some(Body::Json(body))).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, None).await
    }

    /// Polls `GET path` until `check` accepts the body; panics with the last body otherwise.
    pub async fn until(&self, what: &str, path: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SETTLE;
        loop {
            let reply = self.get(path).await;
            if reply.status.is_success() && check(&reply.json) {
                return reply.json;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting until {what}; last GET {path} → {} {}",
                    reply.status, reply.text
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens a streaming `GET` through the gateway (for Server-Sent Events).
    pub async fn open_stream(&self, path: &str) -> reqwest::Response {
        let response = self
            .http
            .get(format!("{}{path}", self.gateway()))
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status(), 200, "GET {path}");
        response
    }

    /// `POST /conferences {"roomNumber": n}`; asserts 201 and returns the booking.
    pub async fn book(&self, room_number: i64) -> Value {
        let r = self
            .post(
                "/conferences",
                serde_json::json!({ "roomNumber": room_number }),
            )
            .await;
        assert_eq!(r.status, 201, "booking room {room_number}: {}", r.text);
        r.json
    }

    /// `book`, returning only the new booking's id.
    pub async fn book_id(&self, room_number: i64) -> i64 {
        conference_id(&self.book(room_number).await)
    }

    /// `POST /rooms {"roomNumber": n}`; asserts 201.
    pub async fn register_room(&self, room_number: i64) {
        let r = self
            .post("/rooms", serde_json::json!({ "roomNumber": room_number }))
            .await;
        assert_eq!(r.status, 201, "registering room {room_number}: {}", r.text);
    }

    /// The notifications about one booking, newest first.
    pub async fn notifications_for(&self, conference_id: i64) -> Vec<Value> {
        self.items_about("/notifications", "notifications", conference_id)
            .await
    }

    /// The payments of one booking.
    pub async fn payments_for(&self, conference_id: i64) -> Vec<Value> {
        self.items_about("/pays", "pays", conference_id).await
    }

    async fn items_about(&self, path: &str, rel: &str, conference_id: i64) -> Vec<Value> {
        self.items(path, rel)
            .await
            .into_iter()
            .filter(|item| item["conferenceId"] == conference_id)
            .collect()
    }

    /// Polls a booking or payment (`path`) until its `status` is `status`.
    pub async fn until_status(&self, path: &str, status: &str) -> Value {
        self.until(&format!("{path} is {status}"), path, |v| {
            status_of(v) == status
        })
        .await
    }

    /// Items of a HAL collection (`_embedded.<rel>`), all pages up to 1000 items.
    pub async fn items(&self, path: &str, rel: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let reply = self.get(&format!("{path}{sep}size=1000")).await;
        assert!(
            reply.status.is_success(),
            "GET {path} → {} {}",
            reply.status,
            reply.text
        );
        reply.json["_embedded"][rel]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// The `conferenceId` of a booking.
pub fn conference_id(v: &Value) -> i64 {
    v["conferenceId"]
        .as_i64()
        .expect("conferenceId in the booking")
}

/// The `status` field of a booking or payment.
pub fn status_of(v: &Value) -> &str {
    v["status"].as_str().unwrap_or_default()
}

impl Drop for System {
    fn drop(&mut self) {
        self.supervisor.kill_all();
    }
}

/// How the harness supervises the system.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Probe the broker and restart it when it wedges or exits (default true).
    pub supervise_broker: bool,
    /// Start a service again when it exits by itself (default false: tests kill and restart
    /// services themselves; the soak lets the supervisor do it, as Kubernetes would).
    pub restart_on_exit: bool,
    /// Timings of the liveness checks and the broker probe.
    pub checks: Checks,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            supervise_broker: true,
            restart_on_exit: false,
            checks: Checks::default(),
        }
    }
}

/// A throwaway PostgreSQL cluster in a temp dir, on a free port; stopped on drop.
pub struct Postgres {
    data: PathBuf,
    port: u16,
    bin: PathBuf,
}

impl Postgres {
    /// `initdb` and `pg_ctl start` (as the `postgres` user when running as root, since
    /// PostgreSQL refuses to run as root).
    pub fn start(parent: &Path) -> Self {
        let bin = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into());
        let data = parent.join("postgres");
        fs::create_dir_all(&data).expect("postgres dir");
        let pg = Self {
            data,
            port: free_port(),
            bin,
        };
        if is_root() {
            let ids = |flag: &str| -> u32 {
                let out = Command::new("id")
                    .args([flag, "postgres"])
                    .output()
                    .expect("id");
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse()
                    .expect("a postgres user (apt install postgresql)")
            };
            std::os::unix::fs::chown(&pg.data, Some(ids("-u")), Some(ids("-g")))
                .expect("chown the postgres dir");
        }
        let data = pg.data.to_string_lossy().into_owned();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let options = format!(
            "-p {} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            pg.port
        );
        let log = format!("{data}/server.log");
        pg.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        );
        pg
    }

    /// A PostgreSQL tool, run as the `postgres` user when we are root.
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `postgres://` URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    pub fn create_database(&self, name: &str) {
        let port = self.port.to_string();
        self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-q",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ],
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data.to_string_lossy().into_owned();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A raw Kafka record.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub key: Option<String>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Record {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The payload as JSON (Null when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or(Value::Null)
    }
}

/// A request body.
pub enum Body<'a> {
    Json(Value),
    Raw {
        content_type: &'a str,
        text: &'a str,
    },
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Polls `probe` every 100 ms until it yields a value or `timeout` passes (then panics).
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
