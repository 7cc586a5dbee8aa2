//! The consumer loop shared by every service: at-least-once delivery in, exactly-once effect.
//!
//! Each event is applied in one database transaction that also records its `eventId` as
//! processed (a duplicate delivery changes nothing) and enqueues any events it causes in the
//! outbox. The offset is stored (and then committed, in the background) only after that
//! transaction is durable.
//!
//! An event that cannot be read, or whose effect keeps failing, is published to the
//! dead-letter topic with the reason in its headers and the consumer moves on; while the
//! database is unavailable the event is retried with backoff instead.
//!
//! Beside the loop, a monitor samples the broker's high watermarks and the group's committed
//! offsets: a consumer whose lag does not move is stalled, is re-created, and if that does not
//! help fails liveness ([`status`]).
//!
//! The parts: `worker` reads and hands each message over, `apply` applies an event
//! exactly once, `dead_letter` publishes what cannot be applied, `group` follows the group's
//! rebalances, `monitor` samples the lag (and refreshes the `metrics`), [`progress`] tells how far behind the consumer is
//! and [`status`] what the service knows of it (stalls, health).

mod apply;
mod dead_letter;
mod group;
mod metrics;
mod monitor;
pub mod progress;
pub mod status;
mod worker;

use std::{future::Future, sync::Arc};

use shared_events::Event;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use dead_letter::dlq_header;
pub use status::ConsumerStatus;

use crate::{
    config::KafkaConfig,
    db::{Db, DbConn},
    kafka,
    outbox::Outbox,
};
use worker::Handler;

/// What a policy needs to know about the message besides the event.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    /// Correlation id of the request that started this chain of events.
    pub request_id: Option<String>,
    /// When the event happened (its `timestamp`), for the latencies a policy measures.
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Why a policy could not apply an event, which decides what happens to it.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The database was unavailable or busy: retried with backoff until it works (the
    /// partition waits; nothing is skipped).
    #[error("transient: {0}")]
    Transient(sqlx::Error),
    /// The effect failed for another reason: retried `CONSUMER_MAX_ATTEMPTS` times, then the
    /// event is dead-lettered.
    #[error("failed: {0}")]
    Failed(String),
    /// The event can never be applied (it contradicts the contract): dead-lettered at once.
    #[error("cannot apply event: {0}")]
    Permanent(String),
}

impl From<sqlx::Error> for PolicyError {
    fn from(e: sqlx::Error) -> Self {
        if crate::db::is_transient(&e) {
            PolicyError::Transient(e)
        } else {
            PolicyError::Failed(e.to_string())
        }
    }
}

/// What applying an event gives: done, or why not ([`PolicyError`]).
pub type Handled = Result<(), PolicyError>;

/// A service's reactions to events ("policies" in event-storming terms): an event becomes a
/// command of this service (decided from the event alone, before any write), which is then
/// carried out.
pub trait Policy: Send + Sync + 'static {
    /// What an event asks of this service, in its own words.
    type Command: Send;

    /// The command `event` asks for; `None`: not this service's business, skipped without a
    /// write.
    fn command(&self, event: &Event) -> Option<Self::Command>;

    /// Carries out `command` inside the caller's transaction (the one that records the
    /// event as handled).
    fn apply(
        &self,
        tx: &mut DbConn,
        command: Self::Command,
        ctx: &EventContext,
    ) -> impl Future<Output = Handled> + Send;
}

/// Runs the consumer for `policy` until `shutdown`, then leaves the group. A monitor samples
/// the lag beside it; a stalled consumer is re-created (see [`status`]).
pub async fn run<P: Policy>(
    config: KafkaConfig,
    db: Db,
    outbox: Outbox,
    policy: P,
    status: Arc<ConsumerStatus>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if !kafka::ensure_topic(&config, &shutdown).await {
        return Ok(());
    }
    metrics::register();
    // The dead-letter topic's producer.
    let mut producer = kafka::producer(&config)?;
    let recreate = Arc::new(Notify::new());
    let monitor = tokio::spawn(monitor::run(
        config.clone(),
        status.clone(),
        recreate.clone(),
        shutdown.clone(),
    ));
    let handler = Handler {
        db,
        outbox,
        policy,
        config,
        status,
        shutdown,
    };
    let result = handler.consume(&mut producer, &recreate).await;
    monitor.abort();
    result
}
