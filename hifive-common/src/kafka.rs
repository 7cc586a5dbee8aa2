//! Kafka clients: the idempotent producer used by the outbox relay, the topic bootstrap and
//! the consumer configuration. Works the same against Apache Kafka and Tansu.

use std::time::Duration;

use std::sync::Mutex;

use rdkafka::{
    ClientConfig, ClientContext,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    config::RDKafkaLogLevel,
    consumer::ConsumerContext,
    error::KafkaError,
    producer::{FutureProducer, ProducerContext},
    types::RDKafkaErrorCode,
};
use tokio_util::sync::CancellationToken;

use crate::config::KafkaConfig;

fn base(config: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.brokers)
        // Loopback brokers are IPv4 (Tansu listens on 127.0.0.1 only).
        .set("broker.address.family", "v4")
        .set("socket.keepalive.enable", "true");
    if let Ok(debug) = std::env::var("KAFKA_DEBUG") {
        c.set("debug", debug);
    }
    c
}

/// Client context that reports librdkafka's errors as warnings, once per distinct message
/// (a broker that is down is reported every second otherwise).
#[derive(Default)]
pub struct QuietContext {
    last_error: Mutex<String>,
}

impl ClientContext for QuietContext {
    fn log(&self, _level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        // Errors arrive through `error`; the rest is detail for debugging.
        tracing::debug!(target: "librdkafka", fac, "{log_message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let message = format!("{error}: {reason}");
        let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        if *last != message {
            tracing::warn!(target: "librdkafka", "{message}");
            *last = message;
        }
    }
}

impl ProducerContext for QuietContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

impl ConsumerContext for QuietContext {}

pub type Producer = FutureProducer<QuietContext>;

/// Producer for the outbox relay: acks from all replicas, idempotent, low linger.
pub fn producer(config: &KafkaConfig) -> anyhow::Result<Producer> {
    Ok(base(config)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "30000")
        .create_with_context(QuietContext::default())?)
}

/// Consumer settings: at-least-once. The consumer stores a message's offset only after its
/// effect is durable; stored offsets are committed in the background once a second (and on
/// leaving the group), not one request per message, which would flood the group coordinator
/// and starve its heartbeats. After a crash, up to a second of events is delivered again and
/// de-duplicated by `eventId`.
pub fn consumer_config(config: &KafkaConfig) -> ClientConfig {
    let mut c = base(config);
    c.set("group.id", &config.group)
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.commit.interval.ms", "1000")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("topic.metadata.refresh.interval.ms", "5000")
        // Low end-to-end latency: do not let the broker hold a fetch for long.
        .set("fetch.wait.max.ms", "50")
        // Statistics every second tell readiness whether a broker connection is up.
        .set("statistics.interval.ms", "1000");
    if let Some(id) = &config.instance_id {
        c.set("group.instance.id", id);
    }
    c
}

/// Creates the event topic and the dead-letter topic if they are missing, retrying until the broker answers or `shutdown`.
/// Returns false when stopped first.
pub async fn ensure_topic(config: &KafkaConfig, shutdown: &CancellationToken) -> bool {
    let mut attempt = 0u32;
    loop {
        let created = tokio::select! {
            r = try_create_topic(config) => r,
            _ = shutdown.cancelled() => return false,
        };
        match created {
            Ok(()) => return true,
            Err(e) => {
                attempt += 1;
                let wait = Duration::from_millis(200 * 2u64.pow(attempt.min(5)));
                if attempt == 1 || attempt.is_multiple_of(10) {
                    tracing::warn!(error = %e, brokers = %config.brokers, "broker not reachable yet; retrying");
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => return false,
                }
            }
        }
    }
}

async fn try_create_topic(config: &KafkaConfig) -> anyhow::Result<()> {
    let admin: AdminClient<QuietContext> =
        base(config).create_with_context(QuietContext::default())?;
    let topics: Vec<NewTopic> = [&config.topic, &config.dlq_topic]
        .into_iter()
        .map(|name| {
            NewTopic::new(
                name,
                config.partitions,
                TopicReplication::Fixed(config.replication),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
    let results = admin.create_topics(&topics, &options).await?;
    for result in results {
        match result {
            Ok(name) => tracing::info!(topic = %name, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("cannot create topic {name}: {code}"),
        }
    }
    Ok(())
}
