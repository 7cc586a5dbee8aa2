//! Running a service: bind, serve until SIGTERM/Ctrl-C, then stop background tasks (outbox
//! relay flush, consumer leaves its group) before exiting — all within a bounded time
//! (`SHUTDOWN_GRACE_MS`), whatever clients or the broker do.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::Router;
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    auth::Auth,
    config::{CommonConfig, KafkaConfig},
    consumer::{self, ConsumerStatus, Policy},
    db::Db,
    http::{Readiness, health_routes},
    kafka,
    outbox::Outbox,
};

/// A service whose database, outbox relay and consumer are running, waiting for its routes.
pub struct Wiring {
    server: Server,
    pub db: Db,
    pub outbox: Outbox,
    consumer: Arc<ConsumerStatus>,
    consumer_admin: bool,
    auth: Auth,
    details: Vec<(&'static str, crate::http::Detail)>,
}

impl Wiring {
    /// The consumer's status: lag and stalls (e.g. for admission control).
    pub fn consumer(&self) -> Arc<ConsumerStatus> {
        self.consumer.clone()
    }

    /// Cancelled when the service stops (e.g. to end streaming answers).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.server.shutdown_token()
    }

    /// Who may call: checks bearer tokens (also given to every request, for [`crate::Caller`]).
    pub fn auth(&self) -> Auth {
        self.auth.clone()
    }

    /// Runs a background task of the service until it stops (see [`Server::spawn`]).
    pub fn spawn<F>(&mut self, task: impl FnOnce(CancellationToken) -> F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.server.spawn(task);
    }

    /// Purges expired `Idempotency-Key`s (for services that take them).
    pub fn keep_idempotency_keys(&mut self, ttl: std::time::Duration) {
        let db = self.db.clone();
        self.server
            .spawn(move |shutdown| crate::idempotency::purge_expired(db, ttl, shutdown));
    }

    /// Adds a component to `/health/ready`'s details (it does not decide readiness).
    pub fn report(&mut self, name: &'static str, detail: crate::http::Detail) {
        self.details.push((name, detail));
    }

    /// Adds the service's routes and the health routes; returns the server to run.
    pub fn serve(mut self, routes: Router) -> Server {
        let mut routes = routes;
        if self.consumer_admin {
            tracing::warn!(
                "CONSUMER_ADMIN_ENABLED: /admin/consumer can wedge the consumer (fault injection)"
            );
            routes = routes.merge(crate::http::consumer_admin_routes(self.consumer.clone()));
        }
        let auth = self.auth.clone();
        self.details
            .push(("auth", std::sync::Arc::new(move || auth.report())));
        let routes = routes.layer(axum::Extension(self.auth));
        let readiness = Readiness {
            db: Some(self.db),
            consumer: Some(self.consumer),
            outbox: Some(self.outbox),
            details: self.details,
        };
        self.server.routes(routes.merge(health_routes(readiness)));
        self.server
    }
}

pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
    grace: Duration,
    max_body_bytes: usize,
}

impl Server {
    /// The common start of every event-driven service: opens the database and applies its
    /// migrations, binds the listener, starts the outbox relay and the consumer running
    /// `policy` (which gets the outbox, to announce what it does).
    pub async fn wire<P: Policy>(
        config: &CommonConfig,
        migrations: &crate::db::Migrations,
        policy: impl FnOnce(Outbox) -> P,
    ) -> anyhow::Result<Wiring> {
        let db = crate::db::connect(&config.database_url, migrations).await?;
        let mut server = Server::bind(config).await?;
        let auth = Auth::new(config.auth.clone());
        server.spawn({
            let auth = auth.clone();
            move |shutdown| auth.refresh_keys(shutdown)
        });
        let outbox = server.start_relay(&config.kafka, db.clone());
        let consumer = server.start_consumer(
            &config.kafka,
            db.clone(),
            outbox.clone(),
            policy(outbox.clone()),
        );
        Ok(Wiring {
            server,
            db,
            outbox,
            consumer,
            consumer_admin: config.consumer_admin,
            auth,
            details: Vec::new(),
        })
    }

    /// Binds the listener (port 0 picks a free port).
    pub async fn bind(config: &CommonConfig) -> anyhow::Result<Self> {
        let addr = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        Ok(Self {
            addr: listener.local_addr()?,
            listener,
            router: Router::new(),
            shutdown: CancellationToken::new(),
            tasks: JoinSet::new(),
            grace: config.shutdown_grace,
            max_body_bytes: config.max_body_bytes,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Cancelled when the service stops.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs a background task of the service (e.g. a sweeper) until the service stops; it
    /// gets the shutdown token and is awaited (bounded) on shutdown like the consumer.
    pub fn spawn<F>(&mut self, task: impl FnOnce(CancellationToken) -> F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task(self.shutdown.clone()));
    }

    /// Sets the routes (the request-id, tracing, JSON-404 and body-size layers are added here).
    pub fn routes(&mut self, router: Router) {
        let router = router.layer(axum::extract::DefaultBodyLimit::max(self.max_body_bytes));
        self.router = crate::http::layers(router);
    }

    /// Starts the outbox relay; returns the handle to enqueue and wake it.
    fn start_relay(&mut self, kafka_config: &KafkaConfig, db: Db) -> Outbox {
        let outbox = Outbox::default();
        let relay = outbox.clone();
        let config = kafka_config.clone();
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            // The relay starts only once the topic exists; until then events wait in the outbox.
            if kafka::ensure_topic(&config, &shutdown).await {
                relay.relay(db, config, shutdown).await;
            }
        });
        outbox
    }

    /// Starts the consumer loop for `policy`.
    fn start_consumer<P: Policy>(
        &mut self,
        kafka_config: &KafkaConfig,
        db: Db,
        outbox: Outbox,
        policy: P,
    ) -> Arc<ConsumerStatus> {
        let status = Arc::new(ConsumerStatus::new(kafka_config.stall));
        let config = kafka_config.clone();
        let shutdown = self.shutdown.clone();
        let shared = status.clone();
        self.tasks.spawn(async move {
            if let Err(e) = consumer::run(config, db, outbox, policy, shared, shutdown).await {
                tracing::error!(error = %e, "consumer stopped");
            }
        });
        status
    }

    /// Serves until a signal or [`Server::shutdown_token`] is cancelled, then stops within
    /// the grace time: requests under way get most of it (streams end at once), background
    /// tasks (outbox flush, leaving the group) the rest; whatever is still running then is
    /// abandoned (unpublished events stay in the outbox, uncommitted events are delivered
    /// again and de-duplicated).
    pub async fn run(mut self) -> anyhow::Result<()> {
        let token = self.shutdown.clone();
        tokio::spawn({
            let token = token.clone();
            async move {
                tokio::select! {
                    _ = shutdown_signal() => token.cancel(),
                    _ = token.cancelled() => {}
                }
            }
        });
        tracing::info!(addr = %self.local_addr(), "listening");
        let grace = self.grace;
        let serve = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(token.clone().cancelled_owned())
        .into_future();
        let http_deadline = async {
            token.cancelled().await;
            tokio::time::sleep(grace.mul_f64(0.6)).await;
        };
        tokio::select! {
            r = serve => r?,
            _ = http_deadline => {
                tracing::warn!(grace_ms = grace.as_millis() as u64, "requests still open at the shutdown deadline; closing them");
            }
        }
        token.cancel();
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace.mul_f64(0.4), drain)
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not stop in time; leaving them");
            self.tasks.abort_all();
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// A service's `main`: logging, a runtime, `build` and run until stopped. The runtime is
/// then shut down without waiting for anything stuck in a blocking call (a Kafka client that
/// cannot reach its broker), so the process always exits.
pub fn main<F, Fut>(build: F) -> anyhow::Result<()>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Server>>,
{
    crate::telemetry::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async { build().await?.run().await });
    runtime.shutdown_timeout(Duration::from_millis(500));
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "service failed");
    }
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
