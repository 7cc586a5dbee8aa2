//! The consumer loop shared by every service: at-least-once delivery in, exactly-once effect.
//!
//! Each event is applied in one database transaction that also records its `eventId` as
//! processed (a duplicate delivery changes nothing) and enqueues any events it causes in the
//! outbox. The offset is committed only after that transaction is durable.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rdkafka::{
    ClientContext, Message,
    consumer::{CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer},
    message::Headers,
};
use shared_events::{Decoded, Envelope, Event, REQUEST_ID_HEADER};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    config::KafkaConfig,
    db::{Db, DbConn, now},
    kafka,
    outbox::Outbox,
};

/// What a policy needs to know about the message besides the event.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    /// Correlation id of the request that started this chain of events.
    pub request_id: Option<String>,
}

/// Why a policy could not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The database was unavailable or busy: retried with backoff.
    #[error("transient: {0}")]
    Transient(#[from] sqlx::Error),
    /// The event can never be applied (it contradicts the contract).
    #[error("cannot apply event: {0}")]
    Permanent(String),
}

/// A service's reactions to events ("policies" in event-storming terms).
pub trait Policy: Send + Sync + 'static {
    /// Whether this service reacts to `event` at all; others are skipped without a write.
    fn handles(&self, event: &Event) -> bool;

    /// Applies `event` inside the caller's transaction.
    fn apply(
        &self,
        tx: &mut DbConn,
        envelope: &Envelope,
        ctx: &EventContext,
    ) -> impl Future<Output = Result<(), PolicyError>> + Send;
}

/// Whether the consumer has joined its group and been given partitions.
#[derive(Debug, Default)]
pub struct ConsumerStatus {
    joined: AtomicBool,
}

impl ConsumerStatus {
    pub fn joined(&self) -> bool {
        self.joined.load(Ordering::Relaxed)
    }
}

struct GroupContext {
    status: Arc<ConsumerStatus>,
    quiet: kafka::QuietContext,
}

impl ClientContext for GroupContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        self.quiet.log(level, fac, message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.quiet.error(error, reason);
    }
}

impl ConsumerContext for GroupContext {
    fn post_rebalance(
        &self,
        _consumer: &rdkafka::consumer::BaseConsumer<Self>,
        rebalance: &Rebalance<'_>,
    ) {
        match rebalance {
            Rebalance::Assign(parts) => {
                tracing::info!(partitions = parts.count(), "consumer joined its group");
                self.status.joined.store(true, Ordering::Relaxed);
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
        }
    }
}

/// Runs the consumer for `policy` until `shutdown`, then leaves the group.
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
    let consumer: StreamConsumer<GroupContext> = kafka::consumer_config(&config)
        .create_with_context(GroupContext {
            status: status.clone(),
            quiet: Default::default(),
        })?;
    consumer.subscribe(&[&config.topic])?;
    tracing::info!(group = %config.group, topic = %config.topic, "consumer subscribed");
    loop {
        let message = tokio::select! {
            m = consumer.recv() => m,
            _ = shutdown.cancelled() => break,
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "consumer error");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let request_id = message.headers().and_then(|headers| {
            headers
                .iter()
                .find(|h| h.key == REQUEST_ID_HEADER)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        });
        let ctx = EventContext { request_id };
        match Envelope::decode(message.payload().unwrap_or_default()) {
            Err(e) => tracing::error!(
                error = %e,
                partition = message.partition(),
                offset = message.offset(),
                "unreadable event skipped"
            ),
            Ok(Decoded::Unknown { event_type }) => {
                tracing::debug!(%event_type, "ignoring unknown event type")
            }
            Ok(Decoded::Known(envelope)) if policy.handles(&envelope.event) => {
                let span = tracing::info_span!(
                    "event",
                    event_type = envelope.event.event_type(),
                    event_id = %envelope.event_id,
                    conference_id = envelope.event.conference_id(),
                    room_number = envelope.event.room_number(),
                    request_id = ctx.request_id.as_deref().unwrap_or("-"),
                );
                let applied = apply_with_retry(&db, &outbox, &policy, &envelope, &ctx, &shutdown)
                    .instrument(span)
                    .await;
                if !applied {
                    break; // shutting down: the event is redelivered on the next start
                }
            }
            Ok(Decoded::Known(_)) => {}
        }
        if let Err(e) = consumer.commit_message(&message, CommitMode::Async) {
            tracing::warn!(error = %e, "offset commit failed; the event may be redelivered");
        }
    }
    consumer.unsubscribe();
    tracing::info!("consumer left its group");
    Ok(())
}

/// Applies one event, retrying transient failures. Returns false if stopped first.
async fn apply_with_retry<P: Policy>(
    db: &Db,
    outbox: &Outbox,
    policy: &P,
    envelope: &Envelope,
    ctx: &EventContext,
    shutdown: &CancellationToken,
) -> bool {
    let mut attempt = 0u32;
    loop {
        match apply_once(db, policy, envelope, ctx).await {
            Ok(true) => {
                outbox.wake();
                return true;
            }
            Ok(false) => {
                tracing::debug!("duplicate delivery ignored");
                return true;
            }
            Err(PolicyError::Permanent(reason)) => {
                tracing::error!(%reason, "event cannot be applied; skipped");
                return true;
            }
            Err(PolicyError::Transient(e)) => {
                attempt += 1;
                let wait = Duration::from_millis(50 * 2u64.pow(attempt.min(7)));
                tracing::warn!(error = %e, attempt, "applying event failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => return false,
                }
            }
        }
    }
}

/// One transaction: mark processed (or detect a duplicate), apply, commit.
async fn apply_once<P: Policy>(
    db: &Db,
    policy: &P,
    envelope: &Envelope,
    ctx: &EventContext,
) -> Result<bool, PolicyError> {
    let mut tx = db.begin().await?;
    let fresh = sqlx::query(
        "INSERT INTO processed_event (event_id, event_type, processed_at) VALUES ($1, $2, $3)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(envelope.event_id.to_string())
    .bind(envelope.event.event_type())
    .bind(now())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(false);
    }
    policy.apply(&mut tx, envelope, ctx).await?;
    tx.commit().await?;
    Ok(true)
}
