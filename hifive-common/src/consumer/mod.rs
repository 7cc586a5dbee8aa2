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

mod monitor;
pub mod progress;
pub mod status;

use std::{future::Future, sync::Arc, time::Duration};

use rdkafka::{
    ClientContext, Message,
    consumer::{Consumer, ConsumerContext, Rebalance, StreamConsumer},
    message::{Header, Headers, OwnedHeaders},
    producer::FutureRecord,
    util::Timeout,
};
use shared_events::{Decoded, Envelope, Event, REQUEST_ID_HEADER};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use status::ConsumerStatus;

use crate::{
    config::KafkaConfig,
    db::{Db, DbConn, now},
    kafka::{self, Producer},
    outbox::Outbox,
};

/// What a policy needs to know about the message besides the event.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    /// Correlation id of the request that started this chain of events.
    pub request_id: Option<String>,
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

/// Headers a dead-lettered event carries besides its original ones.
pub mod dlq_header {
    /// Why it was dead-lettered.
    pub const ERROR: &str = "hifive.dlq.error";
    /// `decode` (the value is not a readable event) or `apply` (its effect failed).
    pub const STAGE: &str = "hifive.dlq.stage";
    /// The consumer group that gave up on it.
    pub const GROUP: &str = "hifive.dlq.group";
    /// Where it was read from.
    pub const TOPIC: &str = "hifive.dlq.topic";
    pub const PARTITION: &str = "hifive.dlq.partition";
    pub const OFFSET: &str = "hifive.dlq.offset";
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

struct GroupContext {
    status: Arc<ConsumerStatus>,
    quiet: kafka::QuietContext,
}

impl ClientContext for GroupContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        self.quiet.log(level, fac, message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        match error.rdkafka_error_code() {
            Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown) => {
                self.status.set_broker_up(false);
            }
            // The end of a partition is news, not an error (it arrives as a message too).
            Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) => return,
            _ => {}
        }
        self.quiet.error(error, reason);
    }

    fn stats(&self, statistics: rdkafka::Statistics) {
        let highs: Vec<(i32, i64)> = statistics
            .topics
            .values()
            .flat_map(|t| t.partitions.values())
            .filter(|p| p.partition >= 0 && p.hi_offset >= 0 && p.fetch_state == "active")
            .map(|p| (p.partition, p.hi_offset))
            .collect();
        self.status.hinted(&highs);
        let up = statistics.brokers.values().any(|b| b.state == "UP");
        if up != self.status.set_broker_up(up) {
            if up {
                tracing::info!("broker connection up");
            } else {
                tracing::warn!(
                    "no broker connection: events wait (in the outbox and on the broker)"
                );
            }
        }
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
                let partitions: Vec<i32> = parts.elements().iter().map(|e| e.partition()).collect();
                tracing::info!(?partitions, "consumer joined its group");
                self.status.assigned(&partitions);
            }
            Rebalance::Revoke(_) => self.status.revoked(),
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
        }
    }
}

/// What became of one message.
enum Outcome {
    /// Applied, a duplicate, or not for this service: store the offset for commit.
    Done,
    /// It cannot be applied: send it to the dead-letter topic, then store the offset.
    DeadLetter { stage: &'static str, reason: String },
    /// Stopping before it was handled: do not commit; it is redelivered on the next start.
    Stopped,
}

/// Why one consumer instance stopped reading.
enum Exit {
    Shutdown,
    /// The stall monitor asked for a fresh consumer.
    Recreate,
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

/// Everything needed to handle one message.
struct Handler<P> {
    db: Db,
    outbox: Outbox,
    policy: P,
    config: KafkaConfig,
    status: Arc<ConsumerStatus>,
    shutdown: CancellationToken,
}

impl<P: Policy> Handler<P> {
    fn subscribe(&self) -> anyhow::Result<StreamConsumer<GroupContext>> {
        let consumer: StreamConsumer<GroupContext> = kafka::consumer_config(&self.config)
            .create_with_context(GroupContext {
                status: self.status.clone(),
                quiet: Default::default(),
            })?;
        consumer.subscribe(&[&self.config.topic])?;
        tracing::info!(group = %self.config.group, topic = %self.config.topic, "consumer subscribed");
        Ok(consumer)
    }

    /// Consumes until shutdown, re-creating the consumer whenever the monitor asks.
    async fn consume(&self, producer: &mut Producer, recreate: &Notify) -> anyhow::Result<()> {
        let mut failures = 0u32;
        loop {
            let consumer = match self.subscribe() {
                Ok(c) => c,
                Err(e) => {
                    // Not fatal: the monitor goes on, and a consumer that never comes back is
                    // a stall (liveness fails).
                    failures += 1;
                    tracing::error!(error = %e, attempt = failures, "cannot create the consumer; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(crate::backoff(failures)) => continue,
                        _ = self.shutdown.cancelled() => return Ok(()),
                    }
                }
            };
            failures = 0;
            let exit = self.read(&consumer, producer, recreate).await;
            self.status.left();
            close(consumer).await;
            match exit {
                Exit::Shutdown => {
                    tracing::info!("consumer left its group");
                    return Ok(());
                }
                Exit::Recreate => tracing::warn!("consumer closed; joining the group again"),
            }
        }
    }

    async fn read(
        &self,
        consumer: &StreamConsumer<GroupContext>,
        producer: &mut Producer,
        recreate: &Notify,
    ) -> Exit {
        loop {
            if self.status.wedge() != status::Wedge::No {
                // Fault injection: read nothing, as a consumer the broker stopped serving.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    _ = recreate.notified() => return Exit::Recreate,
                    _ = self.shutdown.cancelled() => return Exit::Shutdown,
                }
            }
            let message = tokio::select! {
                m = consumer.recv() => m,
                _ = recreate.notified() => return Exit::Recreate,
                _ = self.shutdown.cancelled() => return Exit::Shutdown,
            };
            let message = match message {
                Ok(m) => m,
                Err(rdkafka::error::KafkaError::PartitionEOF(partition)) => {
                    self.status.reached_end(partition);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "consumer error");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = self.shutdown.cancelled() => return Exit::Shutdown,
                    }
                    continue;
                }
            };
            match self.handle(&message).await {
                Outcome::Done => {}
                Outcome::Stopped => return Exit::Shutdown,
                Outcome::DeadLetter { stage, reason } => {
                    if !dead_letter(
                        producer,
                        &self.config,
                        &message,
                        stage,
                        &reason,
                        &self.shutdown,
                    )
                    .await
                    {
                        return Exit::Shutdown;
                    }
                }
            }
            if let Err(e) = consumer.store_offset_from_message(&message) {
                tracing::warn!(error = %e, "cannot store the offset; the event may be redelivered");
            }
            self.status.handled(
                message.partition(),
                message.offset(),
                message.timestamp().to_millis(),
            );
        }
    }

    async fn handle(&self, message: &impl Message) -> Outcome {
        let ctx = EventContext {
            request_id: header(message, REQUEST_ID_HEADER),
        };
        match Envelope::decode(message.payload().unwrap_or_default()) {
            Err(e) => Outcome::DeadLetter {
                stage: "decode",
                reason: format!("unreadable event: {e}"),
            },
            Ok(Decoded::Unknown { event_type }) => {
                tracing::debug!(%event_type, "ignoring unknown event type");
                Outcome::Done
            }
            Ok(Decoded::Known(envelope)) if self.policy.handles(&envelope.event) => {
                let span = tracing::info_span!(
                    "event",
                    event_type = envelope.event.event_type(),
                    event_id = %envelope.event_id,
                    conference_id = envelope.event.conference_id(),
                    room_number = envelope.event.room_number(),
                    request_id = ctx.request_id.as_deref().unwrap_or("-"),
                );
                self.apply_with_retry(&envelope, &ctx)
                    .instrument(span)
                    .await
            }
            Ok(Decoded::Known(_)) => Outcome::Done,
        }
    }
}

/// Closes a consumer off the async runtime, giving it a few seconds to leave its group and
/// commit; a broker that does not answer cannot hold the service (the close goes on alone).
async fn close(consumer: StreamConsumer<GroupContext>) {
    let closing = tokio::task::spawn_blocking(move || {
        consumer.unsubscribe();
        drop(consumer);
    });
    if tokio::time::timeout(Duration::from_secs(2), closing)
        .await
        .is_err()
    {
        tracing::warn!(
            "the consumer did not close within 2 s (broker unreachable?); going on without it"
        );
    }
}

fn header(message: &impl Message, name: &str) -> Option<String> {
    message.headers().and_then(|headers| {
        headers
            .iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    })
}

/// Publishes `message` unchanged to the dead-letter topic with its original headers plus the
/// reason, retrying until the broker acknowledges it. Returns false if stopped first (the
/// offset is then not committed and the message is seen again).
async fn dead_letter(
    producer: &mut Producer,
    config: &KafkaConfig,
    message: &impl Message,
    stage: &str,
    reason: &str,
    shutdown: &CancellationToken,
) -> bool {
    tracing::error!(
        stage,
        %reason,
        partition = message.partition(),
        offset = message.offset(),
        dlq = %config.dlq_topic,
        "event dead-lettered; moving on"
    );
    let partition = message.partition().to_string();
    let offset = message.offset().to_string();
    let mut headers = OwnedHeaders::new();
    if let Some(original) = message.headers() {
        for h in original.iter() {
            headers = headers.insert(Header {
                key: h.key,
                value: h.value,
            });
        }
    }
    for (key, value) in [
        (dlq_header::ERROR, reason),
        (dlq_header::STAGE, stage),
        (dlq_header::GROUP, config.group.as_str()),
        (dlq_header::TOPIC, message.topic()),
        (dlq_header::PARTITION, partition.as_str()),
        (dlq_header::OFFSET, offset.as_str()),
    ] {
        headers = headers.insert(Header {
            key,
            value: Some(value),
        });
    }
    let mut attempt = 0u32;
    loop {
        let mut record = FutureRecord::to(&config.dlq_topic)
            .payload(message.payload().unwrap_or_default())
            .headers(headers.clone());
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        let sent = tokio::select! {
            r = producer.send(record, Timeout::After(Duration::from_secs(10))) => r,
            _ = shutdown.cancelled() => return false,
        };
        match sent {
            Ok(_) => return true,
            Err((e, _)) => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "cannot publish to the dead-letter topic; retrying");
                if let Some(fatal) = kafka::fatal_error(producer) {
                    tracing::warn!(error = %fatal, "the dead-letter producer failed for good; replacing it");
                    if let Ok(fresh) = kafka::producer(config) {
                        *producer = fresh;
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(crate::backoff(attempt)) => {}
                    _ = shutdown.cancelled() => return false,
                }
            }
        }
    }
}

impl<P: Policy> Handler<P> {
    /// Applies one event: transient failures are retried until they pass, other failures up
    /// to `max_attempts` times before the event is dead-lettered.
    async fn apply_with_retry(&self, envelope: &Envelope, ctx: &EventContext) -> Outcome {
        let mut attempt = 0u32;
        let mut failures = 0u32;
        let outcome = loop {
            attempt += 1;
            match self.apply_once(envelope, ctx).await {
                Ok(true) => {
                    self.status.applied(true);
                    self.outbox.wake();
                    break Outcome::Done;
                }
                Ok(false) => {
                    self.status.applied(false);
                    tracing::debug!("duplicate delivery ignored");
                    break Outcome::Done;
                }
                Err(PolicyError::Permanent(reason)) => {
                    break Outcome::DeadLetter {
                        stage: "apply",
                        reason,
                    };
                }
                Err(PolicyError::Failed(reason)) => {
                    failures += 1;
                    if failures >= self.config.max_attempts {
                        break Outcome::DeadLetter {
                            stage: "apply",
                            reason: format!("failed {failures} times: {reason}"),
                        };
                    }
                    tracing::warn!(%reason, attempt, "applying event failed; retrying");
                }
                Err(PolicyError::Transient(e)) => {
                    self.status.waiting_for_database(true);
                    tracing::warn!(error = %e, attempt, "database unavailable; retrying the event");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(crate::backoff(attempt)) => {}
                _ = self.shutdown.cancelled() => break Outcome::Stopped,
            }
        };
        self.status.waiting_for_database(false);
        outcome
    }

    /// One transaction: mark processed (or detect a duplicate), apply, commit.
    async fn apply_once(
        &self,
        envelope: &Envelope,
        ctx: &EventContext,
    ) -> Result<bool, PolicyError> {
        let mut tx = self.db.begin().await?;
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
        self.policy.apply(&mut tx, envelope, ctx).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use shared_events::Paid;
    use sqlx::Row;

    use super::*;

    /// A policy whose first `failures` attempts fail with `error()`, then succeed.
    struct Flaky {
        failures: u32,
        error: fn() -> PolicyError,
        attempts: AtomicU32,
    }

    impl Policy for Flaky {
        fn handles(&self, _: &Event) -> bool {
            true
        }

        async fn apply(
            &self,
            _tx: &mut DbConn,
            _envelope: &Envelope,
            _ctx: &EventContext,
        ) -> Result<(), PolicyError> {
            let n = self.attempts.fetch_add(1, Ordering::Relaxed) + 1;
            if n <= self.failures {
                Err((self.error)())
            } else {
                Ok(())
            }
        }
    }

    fn flaky(failures: u32, error: fn() -> PolicyError) -> Flaky {
        Flaky {
            failures,
            error,
            attempts: AtomicU32::new(0),
        }
    }

    fn config(max_attempts: u32) -> KafkaConfig {
        KafkaConfig {
            max_attempts,
            ..KafkaConfig::local("127.0.0.1:1", "test")
        }
    }

    fn paid() -> Envelope {
        Envelope::new(Event::Paid(Paid {
            pay_id: 1,
            pay_status: "PAID".into(),
            conference_id: 1,
            room_number: 1,
        }))
    }

    async fn db() -> Db {
        static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
        let none = crate::db::Migrations {
            sqlite: &NONE,
            postgres: &NONE,
        };
        crate::db::connect("sqlite::memory:", &none)
            .await
            .expect("in-memory database")
    }

    async fn processed(db: &Db) -> i64 {
        sqlx::query("SELECT COUNT(*) AS n FROM processed_event")
            .fetch_one(db)
            .await
            .unwrap()
            .try_get("n")
            .unwrap()
    }

    fn handler(
        db: &Db,
        policy: Flaky,
        max_attempts: u32,
        stop: CancellationToken,
    ) -> Handler<Flaky> {
        Handler {
            db: db.clone(),
            outbox: Outbox::default(),
            policy,
            config: config(max_attempts),
            status: Arc::new(ConsumerStatus::default()),
            shutdown: stop,
        }
    }

    /// Applies `envelope` with `policy`; returns the outcome and how often the policy ran.
    async fn run(db: &Db, policy: Flaky, envelope: &Envelope, max_attempts: u32) -> (Outcome, u32) {
        let h = handler(db, policy, max_attempts, CancellationToken::new());
        let outcome = h.apply_with_retry(envelope, &EventContext::default()).await;
        (outcome, h.policy.attempts.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn an_effect_that_keeps_failing_is_dead_lettered_after_max_attempts() {
        let db = db().await;
        let policy = flaky(u32::MAX, || PolicyError::Failed("constraint".into()));
        let (outcome, attempts) = run(&db, policy, &paid(), 3).await;
        let Outcome::DeadLetter { stage, reason } = outcome else {
            panic!("not dead-lettered")
        };
        assert_eq!(stage, "apply");
        assert!(reason.contains("failed 3 times"), "{reason}");
        assert_eq!(attempts, 3);
        assert_eq!(
            processed(&db).await,
            0,
            "nothing of a failed attempt is kept"
        );
    }

    #[tokio::test]
    async fn a_contract_violation_is_dead_lettered_at_once() {
        let db = db().await;
        let policy = flaky(u32::MAX, || PolicyError::Permanent("nonsense".into()));
        let (outcome, attempts) = run(&db, policy, &paid(), 5).await;
        assert!(matches!(outcome, Outcome::DeadLetter { .. }));
        assert_eq!(attempts, 1);
    }

    #[tokio::test]
    async fn an_unavailable_database_is_retried_past_max_attempts_until_it_works() {
        let db = db().await;
        let policy = flaky(2, || PolicyError::Transient(sqlx::Error::PoolTimedOut));
        let h = handler(&db, policy, 1, CancellationToken::new());
        let outcome = h.apply_with_retry(&paid(), &EventContext::default()).await;
        assert!(matches!(outcome, Outcome::Done));
        assert_eq!(h.policy.attempts.load(Ordering::Relaxed), 3);
        assert_eq!(processed(&db).await, 1);
        assert_eq!(
            h.status.report()["waitingForDatabase"],
            false,
            "no longer waiting once it applied"
        );
    }

    #[tokio::test]
    async fn a_duplicate_delivery_is_applied_once() {
        let db = db().await;
        let h = handler(
            &db,
            flaky(0, || unreachable!()),
            5,
            CancellationToken::new(),
        );
        let event = paid();
        let ctx = EventContext::default();
        assert!(matches!(
            h.apply_with_retry(&event, &ctx).await,
            Outcome::Done
        ));
        assert!(matches!(
            h.apply_with_retry(&event, &ctx).await,
            Outcome::Done
        ));
        assert_eq!(h.policy.attempts.load(Ordering::Relaxed), 1);
        assert_eq!(processed(&db).await, 1);
    }

    #[tokio::test]
    async fn stopping_while_retrying_leaves_the_event_for_the_next_start() {
        let db = db().await;
        let policy = flaky(u32::MAX, || {
            PolicyError::Transient(sqlx::Error::PoolTimedOut)
        });
        let stop = CancellationToken::new();
        stop.cancel();
        let h = handler(&db, policy, 5, stop);
        let outcome = h.apply_with_retry(&paid(), &EventContext::default()).await;
        assert!(matches!(outcome, Outcome::Stopped));
        assert_eq!(processed(&db).await, 0);
    }
}
