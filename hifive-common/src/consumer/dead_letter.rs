//! The dead-letter topic: where an event goes that cannot be read or whose effect keeps
//! failing, unchanged, with why, where from and by whom in its headers.

use std::time::Duration;

use rdkafka::{
    Message,
    message::{Header, Headers, OwnedHeaders},
    producer::FutureRecord,
    util::Timeout,
};
use tokio_util::sync::CancellationToken;

use crate::{
    config::KafkaConfig,
    kafka::{self, Producer},
};

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

/// Publishes `message` unchanged to the dead-letter topic with its original headers plus the
/// reason, retrying until the broker acknowledges it. Returns false if stopped first (the
/// offset is then not committed and the message is seen again).
pub(super) async fn dead_letter(
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
    let headers = dead_letter_headers(config, message, stage, reason);
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
            Ok(_) => {
                super::metrics::dead_lettered(stage);
                return true;
            }
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

/// The headers of a dead letter: the message's own, then the [`dlq_header`]s.
fn dead_letter_headers(
    config: &KafkaConfig,
    message: &impl Message,
    stage: &str,
    reason: &str,
) -> OwnedHeaders {
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
    headers
}
