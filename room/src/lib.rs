//! The room service: registers rooms, assigns a paid booking its room (or rejects it), and
//! releases the room when the booking's payment is refunded.
//!
//! [`http`] → [`app`] (use cases) → [`domain`] (rules); [`store`] (SQL); [`policy`] (events);
//! [`error`] (refusals, and their HTTP answers).

pub mod app;
pub mod domain;
pub mod error;
pub mod http;
pub mod policy;
pub mod store;

use hifive_common::{CommonConfig, Server};

pub use error::Error;

/// The schema, for SQLite and for Postgres (chosen by `DATABASE_URL`).
pub static MIGRATIONS: hifive_common::db::Migrations = hifive_common::migrations!();

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let common = CommonConfig::from_env("room", 8083)?;
        common.auth.ensure_users()?;
        Ok(Self { common })
    }
}

/// The room service; `App::build(config)` gives a [`Server`] to `run` (port 0 works).
pub struct App;

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Server> {
        let mut wiring =
            Server::wire(&config.common, &MIGRATIONS, policy::AssignmentPolicy::new).await?;
        let rooms = app::Rooms::new(wiring.db.clone(), wiring.outbox.clone());
        wiring.keep_idempotency_keys(config.common.idempotency_ttl);
        Ok(wiring.serve(http::routes(rooms)))
    }
}
