//! The customer-center service: the room-state view (CQRS) and notifications, both built
//! from events, readable whatever the other services are doing.
//!
//! `http` (the API) → `app` (use cases) → `domain` (rules) and `store` (SQL); `policy`
//! applies events; `error` is what can go wrong and its HTTP answer.

pub mod app;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod policy;
pub mod store;

use axum::{Router, routing::get};
use hifive_common::{CommonConfig, Server};

pub use crate::{error::Error, policy::ViewPolicy};

/// The schema, for SQLite and for Postgres (chosen by `DATABASE_URL`).
pub static MIGRATIONS: hifive_common::db::Migrations = hifive_common::migrations!();

/// customer-center has only the common settings; everyone may read the view.
pub fn config_from_env() -> anyhow::Result<CommonConfig> {
    CommonConfig::from_env("customer-center", 8084)
}

/// The customer-center service; `App::build(config)` gives a [`Server`] to `run` (port 0 works).
pub struct App;

impl App {
    pub async fn build(config: CommonConfig) -> anyhow::Result<Server> {
        let wiring = Server::wire(&config, &MIGRATIONS, |_| ViewPolicy).await?;
        let db = wiring.db.clone();
        let stream = Router::new()
            .route("/notifications/stream", get(http::stream))
            .with_state((db.clone(), wiring.shutdown_token()));
        let routes = http::Listing::ALL
            .into_iter()
            .fold(Router::new(), |routes, listing| {
                routes.route(listing.path(), listing.route())
            })
            .route("/roomStates/{number}", get(http::state))
            .route("/notifications", get(http::notifications))
            .with_state(db)
            .merge(stream)
            .merge(hifive_openapi::route(http::openapi::document()));
        Ok(wiring.serve(routes))
    }
}
