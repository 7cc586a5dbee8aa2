//! The reading loop of one consumer: it joins the group, reads message after message, hands
//! each to the policy (or to the dead-letter topic) and stores its offset once done with it;
//! when the stall monitor asks, it leaves the group and joins again with a fresh consumer.

use std::{sync::Arc, time::Duration};

use rdkafka::{
    Message,
    consumer::{Consumer, StreamConsumer},
    message::Headers,
};
use shared_events::{Decoded, Envelope, REQUEST_ID_HEADER};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    ConsumerStatus, EventContext, Policy, dead_letter::dead_letter, group::GroupContext, status,
};
use crate::{
    config::KafkaConfig,
    db::Db,
    kafka::{self, Producer},
    outbox::Outbox,
};

/// What became of one message.
pub(super) enum Outcome {
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

/// Everything needed to handle one message.
pub(super) struct Handler<P> {
    pub(super) db: Db,
    pub(super) outbox: Outbox,
    pub(super) policy: P,
    pub(super) config: KafkaConfig,
    pub(super) status: Arc<ConsumerStatus>,
    pub(super) shutdown: CancellationToken,
}

impl<P: Policy> Handler<P> {
    fn subscribe(&self) -> anyhow::Result<StreamConsumer<GroupContext>> {
        let consumer: StreamConsumer<GroupContext> = kafka::consumer_config(&self.config)
            .create_with_context(GroupContext::new(self.status.clone()))?;
        consumer.subscribe(&[&self.config.topic])?;
        tracing::info!(group = %self.config.group, topic = %self.config.topic, "consumer subscribed");
        Ok(consumer)
    }

    /// Consumes until shutdown, re-creating the consumer whenever the monitor asks.
    pub(super) async fn consume(
        &self,
        producer: &mut Producer,
        recreate: &Notify,
    ) -> anyhow::Result<()> {
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
        let mut ctx = EventContext {
            request_id: header(message, REQUEST_ID_HEADER),
            occurred_at: None,
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
            Ok(Decoded::Known(envelope)) if self.policy.command(&envelope.event).is_some() => {
                ctx.occurred_at = Some(envelope.timestamp);
                let span = tracing::info_span!(
                    "event",
                    event_type = envelope.event.event_type(),
                    event_id = %envelope.event_id,
                    conference_id = envelope.event.conference_id().map(|id| id.get()),
                    room_number = envelope.event.room_number().get(),
                    request_id = ctx.request_id.as_deref().unwrap_or("-"),
                    trace_id = tracing::field::Empty,
                    span_id = tracing::field::Empty,
                    otel.kind = "consumer",
                );
                let traceparent = header(message, crate::telemetry::TRACEPARENT);
                crate::telemetry::continue_trace(&span, traceparent.as_deref());
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
