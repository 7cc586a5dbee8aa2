//! The common start of every event-driven service: its database and migrations, the outbox
//! relay, the consumer, bearer-token checks, and the health and metrics routes that report on
//! them.

use std::sync::Arc;

use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::{
    auth::Auth,
    config::{CommonConfig, KafkaConfig},
    consumer::{self, ConsumerStatus, Policy},
    db::Db,
    http::{Readiness, health_routes},
    kafka,
    outbox::Outbox,
    server::Server,
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

    /// Adds the service's routes, the health routes and `GET /metrics`; returns the server to
    /// run.
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
        let metrics = metrics_routes(self.db.clone(), self.outbox.clone());
        let readiness = Readiness {
            db: Some(self.db),
            consumer: Some(self.consumer),
            outbox: Some(self.outbox),
            details: self.details,
        };
        self.server
            .routes(routes.merge(health_routes(readiness)).merge(metrics));
        self.server
    }
}

/// `GET /metrics`, with the database pool's and the outbox's gauges read at each scrape.
fn metrics_routes(db: Db, outbox: Outbox) -> Router {
    let pool = {
        let db = db.clone();
        crate::metrics::collector(move || {
            let db = db.clone();
            async move { pool_gauges(&db) }
        })
    };
    let backlog = crate::metrics::collector(move || {
        let (db, outbox) = (db.clone(), outbox.clone());
        async move {
            outbox.backlog(&db).await;
        }
    });
    crate::metrics::routes(vec![pool, backlog])
}

/// `hifive_db_pool_connections{state}` and `hifive_db_pool_max_connections`.
fn pool_gauges(db: &Db) {
    let idle = db.num_idle() as f64;
    let open = f64::from(db.size());
    ::metrics::gauge!("hifive_db_pool_connections", "state" => "idle").set(idle);
    ::metrics::gauge!("hifive_db_pool_connections", "state" => "used").set((open - idle).max(0.0));
    ::metrics::gauge!("hifive_db_pool_max_connections")
        .set(f64::from(db.options().get_max_connections()));
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
        let db = crate::db::connect_with(
            &config.database_url,
            config.database_max_connections,
            migrations,
        )
        .await?;
        let mut server = Server::bind(&config.server()).await?;
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
}
