//! Running a service: bind, serve until SIGTERM/Ctrl-C, then stop background tasks (outbox
//! relay flush, consumer leaves its group) before exiting — all within a bounded time
//! (`SHUTDOWN_GRACE_MS`), whatever clients or the broker do.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use axum::Router;
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;

pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tasks: JoinSet<()>,
    grace: Duration,
    max_body_bytes: usize,
}

impl Server {
    /// Binds the listener (port 0 picks a free port) and installs the process's metrics
    /// recorder for `config.service` (the first one of the process stays).
    pub async fn bind(config: &ServerConfig) -> anyhow::Result<Self> {
        crate::metrics::install(config.service);
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

    /// Sets the routes (the request-id, tracing, metrics, JSON-404 and body-size layers are
    /// added here).
    pub fn routes(&mut self, router: Router) {
        let router = router.layer(axum::extract::DefaultBodyLimit::max(self.max_body_bytes));
        self.router = crate::http::layers(router);
    }

    /// The routes of the public edge (the gateway): like [`Server::routes`], keeping the
    /// router's own fallback (with the layers it was given: a fallback set afterwards would go
    /// without them), and ignoring a client's trace context: `traceparent` and `tracestate`
    /// are dropped before the request's span is made, so every request from outside starts a
    /// trace of its own — a client neither picks its trace id nor turns sampling off — and
    /// nothing of a client's reaches the services.
    pub fn edge_routes(&mut self, router: Router) {
        let router = router.layer(axum::extract::DefaultBodyLimit::max(self.max_body_bytes));
        self.router = crate::http::layers_keeping_fallback(router).layer(
            axum::middleware::map_request(crate::telemetry::forget_trace),
        );
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

/// A service's `main`: logging and traces (as `service`), a runtime, `build` and run until
/// stopped. The runtime is then shut down without waiting for anything stuck in a blocking
/// call (a Kafka client that cannot reach its broker), so the process always exits; the last
/// spans are exported after that.
pub fn main<F, Fut>(service: &'static str, build: F) -> anyhow::Result<()>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Server>>,
{
    let telemetry = crate::telemetry::init(service)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async { build().await?.run().await });
    runtime.shutdown_timeout(Duration::from_millis(500));
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "service failed");
    }
    telemetry.shutdown();
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
