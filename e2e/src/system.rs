//! One running HiFive ([`System`]): how it is laid out (ports, data dir, issuer, supervisor),
//! how it is started, and where its parts are (URLs, logs, binaries).

use std::{
    collections::HashMap,
    fs,
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use hifive_stack::{
    issuer::DevIssuer,
    supervisor::{Checks, Supervisor},
};

use crate::{
    SERVICES,
    machine::{TempDir, free_port, service_bin},
    postgres::Postgres,
};

/// One running HiFive: broker + five services, under a supervisor as an orchestrator would
/// run them: the broker is probed and restarted when it wedges or exits, a service whose
/// liveness fails is restarted. Killed processes stay down until the test starts them again
/// (unless [`Options::restart_on_exit`]).
pub struct System {
    pub(crate) supervisor: Supervisor,
    pub(crate) options: Options,
    pub(crate) env: Vec<(String, String)>,
    /// Services whose database is in `postgres` (the rest use SQLite in the temp dir).
    pub(crate) on_postgres: Vec<&'static str>,
    /// Extra instances of a service: (service, instance key, port), instance 2 and up.
    pub(crate) replicas: Vec<(&'static str, &'static str, u16)>,
    pub(crate) postgres: Option<Postgres>,
    pub(crate) ports: HashMap<&'static str, u16>,
    pub(crate) kafka_port: u16,
    pub(crate) http: reqwest::Client,
    /// The development issuer the services check tokens against (its key is in `dir`).
    pub(crate) issuer: DevIssuer,
    pub(crate) dir: TempDir,
}

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
        let supervisor = logged_supervisor(&dir, options.checks);
        let postgres = (!on_postgres.is_empty()).then(|| {
            let pg = Postgres::start(&dir.0);
            for service in on_postgres {
                pg.create_database(&service.replace('-', "_"));
            }
            pg
        });
        let ports = free_ports();
        let issuer = DevIssuer::load_or_create(&dir.0).expect("the development issuer's key");
        let mut system = System {
            supervisor,
            options,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            on_postgres: on_postgres.to_vec(),
            replicas: replica_ports(replicas),
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
        system.start_all().await;
        system
    }

    /// A bearer token of the system's issuer for `user` with `role`, valid for 2 hours.
    pub fn token(&self, role: &str, user: &str) -> String {
        self.issuer.token(role, user, Duration::from_secs(2 * 3600))
    }

    /// The system's token issuer (to sign tokens of any shape).
    pub fn issuer(&self) -> &DevIssuer {
        &self.issuer
    }

    /// The base URL of a process: a service, `broker`, `issuer` or a replica's key.
    pub(crate) fn url_of(&self, name: &str) -> String {
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

    /// The supervisor (what it restarted, process states).
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
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

    /// The gateway's base URL.
    pub fn gateway(&self) -> String {
        self.url_of("gateway")
    }

    /// The base URL of the gateway's management listener (`GET /metrics`; never on the
    /// public port).
    pub fn gateway_management(&self) -> String {
        self.url_of(GATEWAY_MANAGEMENT)
    }

    /// The gateway's `GET /metrics` (from its management port): the text.
    pub async fn gateway_metrics(&self) -> String {
        let url = format!("{}/metrics", self.gateway_management());
        let r = self
            .http
            .get(&url)
            .send()
            .await
            .expect("the gateway's management port answers");
        assert!(r.status().is_success(), "{url}: {}", r.status());
        r.text().await.expect("a text body")
    }

    /// A service's own base URL (bypassing the gateway).
    pub fn service(&self, name: &str) -> String {
        self.url_of(name)
    }

    /// The service's log so far.
    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.0.join(format!("{name}.log"))).unwrap_or_default()
    }
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

/// A supervisor whose messages go to stderr and to `supervisor.log` in the system's dir.
fn logged_supervisor(dir: &TempDir, checks: Checks) -> Supervisor {
    let log = dir.0.join("supervisor.log");
    Supervisor::new(checks, move |message| {
        eprintln!("[supervisor] {message}");
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(&log) {
            let _ = writeln!(f, "{message}");
        }
    })
}

/// A free port for each service, the broker, the issuer and the gateway's management
/// listener.
fn free_ports() -> HashMap<&'static str, u16> {
    let mut ports: HashMap<&'static str, u16> =
        SERVICES.iter().map(|s| (*s, free_port())).collect();
    ports.insert("broker", free_port());
    ports.insert("issuer", free_port());
    ports.insert(GATEWAY_MANAGEMENT, free_port());
    ports
}

/// The key of the gateway's management port (`MANAGEMENT_PORT`, `GET /metrics`).
pub(crate) const GATEWAY_MANAGEMENT: &str = "gateway-management";

/// (service, instance key, port) of instance 2 and up of each replicated service.
fn replica_ports(replicas: &[(&'static str, usize)]) -> Vec<(&'static str, &'static str, u16)> {
    replicas
        .iter()
        .flat_map(|(name, n)| {
            (2..=*n).map(move |i| {
                let key: &'static str = Box::leak(format!("{name}-{i}").into_boxed_str());
                (*name, key, free_port())
            })
        })
        .collect()
}
