//! The room service: registers rooms, assigns a paid booking its room (or rejects it), and
//! releases the room when the booking's payment is refunded.
//!
//! [`http`] → [`app`] (use cases) → [`domain`] (rules); [`store`] (SQL); [`policy`] (events);
//! [`error`] (refusals, and their HTTP answers); [`metrics`] (its decisions, counted).

pub mod app;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod policy;
pub mod store;

use hifive_common::{CommonConfig, Server};

pub use error::Error;

/// The schema, for SQLite and for Postgres (chosen by `DATABASE_URL`).
pub static MIGRATIONS: hifive_common::db::Migrations = hifive_common::migrations!();

/// The room service has only the common settings; it checks its callers' tokens.
pub fn config_from_env() -> anyhow::Result<CommonConfig> {
    let config = CommonConfig::from_env("room", 8083)?;
    config.auth.ensure_users()?;
    Ok(config)
}

/// The room service; `App::build(config)` gives a [`Server`] to `run` (port 0 works).
pub struct App;

impl App {
    pub async fn build(config: CommonConfig) -> anyhow::Result<Server> {
        let mut wiring = Server::wire(&config, &MIGRATIONS, policy::AssignmentPolicy::new).await?;
        let rooms = app::Rooms::new(wiring.db.clone(), wiring.outbox.clone());
        wiring.keep_idempotency_keys(config.idempotency_ttl);
        Ok(wiring.serve(http::routes(rooms)))
    }
}
