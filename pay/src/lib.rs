//! The pay service: charges bookings (synchronously, for conference) and refunds them when
//! they are cancelled or rejected.

pub mod app;
pub mod config;
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
use hifive_common::Server;

pub use crate::config::Config;
use crate::{app::Payments, http::AppState, overload::Overload, policy::RefundPolicy};

/// The schema, for SQLite and for Postgres (chosen by `DATABASE_URL`).
pub static MIGRATIONS: hifive_common::db::Migrations = hifive_common::migrations!();

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
            .route("/pays/{id}", get(http::read))
            .merge(hifive_openapi::route(http::openapi::document()).with_state(()));
        if config.admin {
            routes = routes.route(
                "/admin/overload",
                get(http::overload).put(http::set_overload),
            );
        }
        Ok(wiring.serve(routes.with_state(state)))
    }
}
