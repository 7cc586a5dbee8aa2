//! Plumbing shared by the HiFive services. Nothing in here knows about bookings, payments
//! or rooms: domain rules live in each service.

//!
//! Without its default feature `service` (the gateway), it is only HTTP serving: no Kafka
//! client, no database driver; with `auth` alone, bearer-token checks.

#[cfg(feature = "auth")]
pub mod auth;
pub mod config;
#[cfg(feature = "service")]
pub mod consumer;
#[cfg(feature = "service")]
pub mod db;
pub mod http;
#[cfg(feature = "service")]
pub mod idempotency;
#[cfg(feature = "service")]
pub mod kafka;
pub mod metrics;
#[cfg(feature = "service")]
pub mod outbox;
pub mod server;
pub mod telemetry;
#[cfg(feature = "service")]
pub mod wiring;

#[cfg(feature = "auth")]
pub use auth::{Auth, Caller, Role, Scope};
pub use config::ServerConfig;
#[cfg(feature = "service")]
pub use config::{CommonConfig, KafkaConfig};
#[cfg(feature = "service")]
pub use consumer::{ConsumerStatus, EventContext, Handled, Policy, PolicyError};
#[cfg(feature = "service")]
pub use db::{Db, DbConn};
pub use http::{AppError, BaseUrl, Body, JsonObject, PageParams, RequestId};
#[cfg(feature = "service")]
pub use outbox::Outbox;
pub use server::Server;
pub use tokio_util::sync::CancellationToken;
#[cfg(feature = "service")]
pub use wiring::Wiring;

/// The delay before retry number `attempt` (from 1): 100 ms doubling, capped at 6.4 s.
pub fn backoff(attempt: u32) -> std::time::Duration {
    std::time::Duration::from_millis(100 * 2u64.pow(attempt.min(6)))
}

/// Waits `period` for a periodic chore; `false` once `shutdown` comes first:
/// `while hifive_common::next_round(every, &shutdown).await { ... }`.
pub async fn next_round(period: std::time::Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(period) => true,
        _ = shutdown.cancelled() => false,
    }
}
