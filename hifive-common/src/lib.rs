//! Plumbing shared by the HiFive services. Nothing in here knows about bookings, payments
//! or rooms: domain rules live in each service.

pub mod auth;
pub mod config;
pub mod consumer;
pub mod db;
pub mod http;
pub mod idempotency;
pub mod kafka;
pub mod outbox;
pub mod server;
pub mod telemetry;

pub use auth::{Auth, Caller, Role, Scope};
pub use config::{CommonConfig, KafkaConfig};
pub use consumer::{ConsumerStatus, EventContext, Policy, PolicyError};
pub use db::{Db, DbConn};
pub use http::{AppError, BaseUrl, JsonObject, PageParams, RequestId};
pub use outbox::Outbox;
pub use server::{Server, Wiring};
pub use tokio_util::sync::CancellationToken;

/// The delay before retry number `attempt` (from 1): 100 ms doubling, capped at 6.4 s.
pub fn backoff(attempt: u32) -> std::time::Duration {
    std::time::Duration::from_millis(100 * 2u64.pow(attempt.min(6)))
}
