//! The processes of a [`System`]: starting the issuer, the broker and each service instance
//! under the supervisor, killing, crashing and stopping them, and waiting until they are up.

use std::time::{Duration, Instant};

use hifive_stack::{
    issuer,
    supervisor::{Check, Output, Spec},
};

use crate::{SERVICES, SETTLE, System, eventually, machine::service_bin};

impl System {
    /// Starts everything (issuer, broker, every service instance) and waits until the system
    /// runs: every instance ready, every consumer in its group.
    pub(crate) async fn start_all(&mut self) {
        self.start_issuer().await;
        self.start_broker().await;
        for name in SERVICES {
            self.start_service(name);
        }
        for (name, key, port) in self.replicas.clone() {
            self.spawn(name, key, port);
        }
        for name in SERVICES {
            self.wait_ready(name).await;
        }
        for (_, key, _) in self.replicas.clone() {
            self.wait_ready(key).await;
        }
        // A running system: every consumer in its group (Tansu takes ~6 s to let a static
        // member in) and caught up.
        self.until_joined().await;
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
        until_accepting("the issuer", port).await;
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
        until_accepting("the broker", port).await;
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
            let env = self.service_env(name, key, port);
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

    /// The environment of instance `key` of service `name` on `port`: where everything is,
    /// the issuer, its database, then the test's own settings.
    fn service_env(
        &self,
        name: &'static str,
        key: &'static str,
        port: u16,
    ) -> Vec<(String, String)> {
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
        if name == "gateway" {
            // A replica of the gateway (none so far) would take a free port of its own.
            let management = if key == name {
                self.ports[crate::system::GATEWAY_MANAGEMENT]
            } else {
                0
            };
            env.push(("MANAGEMENT_PORT".into(), management.to_string()));
        }
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
        env
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
    /// Every instance counts, replicas too: one that joins late takes partitions over from
    /// the others, after they handled what was published meanwhile.
    pub async fn until_joined(&self) {
        const EVENT_DRIVEN: [&str; 4] = ["conference", "pay", "room", "customer-center"];
        let replicas = self
            .replicas
            .iter()
            .filter(|(service, _, _)| EVENT_DRIVEN.contains(service))
            .map(|(_, key, _)| *key);
        for name in EVENT_DRIVEN.into_iter().chain(replicas) {
            self.until_ready_report(name, "joined its group", |body| {
                let kafka = &body["components"]["kafka"];
                kafka["joined"] == true && kafka["status"] == "UP"
            })
            .await;
        }
    }
}

/// Waits until something listens on `port` (`what` names it in the panic).
async fn until_accepting(what: &str, port: u16) {
    eventually(
        &format!("{what} accepts connections"),
        SETTLE,
        || async move {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| ())
        },
    )
    .await;
}
