//! The pay service: charges bookings (synchronously, for conference) and refunds them when
//! they are cancelled or rejected.

pub mod app;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod overload;
pub mod policy;
pub mod store;

use axum::{
    Router,
    routing::{get, post},
};
use hifive_common::{
    CommonConfig, Server,
    config::{env_or, env_parse},
};

use crate::{
    app::Payments,
    http::AppState,
    overload::{Latency, Overload},
    policy::RefundPolicy,
};

/// The schema, for SQLite and for Postgres (chosen by `DATABASE_URL`).
pub static MIGRATIONS: hifive_common::db::Migrations = hifive_common::migrations!();

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `PAY_LATENCY_MS`: simulated processing time per payment, `500` or `400..620` (off).
    pub latency: Option<Latency>,
    /// `PAY_CAPACITY`: payments processed at once; the rest queue (unlimited).
    pub capacity: Option<usize>,
    /// `PAY_ADMIN_ENABLED`: serve `GET/PUT /admin/overload` to change both at run time (false).
    pub admin: bool,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let latency = env_or("PAY_LATENCY_MS", "");
        let common = CommonConfig::from_env("pay", 8082)?;
        common.auth.ensure_users()?;
        common.auth.ensure_service_secret()?;
        Ok(Self {
            common,
            latency: (!latency.is_empty())
                .then(|| {
                    Latency::parse(&latency).map_err(|e| anyhow::anyhow!("PAY_LATENCY_MS: {e}"))
                })
                .transpose()?,
            capacity: Some(env_parse("PAY_CAPACITY", 0usize)?).filter(|n| *n > 0),
            admin: env_parse("PAY_ADMIN_ENABLED", false)?,
        })
    }
}

/// The pay service; `App::build(config)` gives a [`Server`] to `run` (port 0 works).
pub struct App;

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Server> {
        let wiring = Server::wire(&config.common, &MIGRATIONS, |outbox| RefundPolicy {
            outbox,
        })
        .await?;
        let overload = Overload::new(config.latency, config.capacity);
        let state = AppState {
            payments: Payments::new(wiring.db.clone(), wiring.outbox.clone(), overload.clone()),
            overload,
            auth: wiring.auth(),
        };
        let mut routes = Router::new()
            .route("/pays/room_applied", post(http::charge))
            .route("/pays", get(http::list))
            .route("/pays/{id}", get(http::read));
        if config.admin {
            routes = routes.route(
                "/admin/overload",
                get(http::overload).put(http::set_overload),
            );
        }
        Ok(wiring.serve(routes.with_state(state)))
    }
}
