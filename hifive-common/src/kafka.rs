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
    if let Some(debug) = &config.debug {
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

/// Producer for the outbox relay and the dead-letter topic: acknowledged by all replicas, one
/// request in flight per broker so that a retry cannot reorder a partition. Not idempotent:
/// consumers de-duplicate by `eventId` anyway, and an idempotent producer that bumps its own
/// epoch after a timeout sends an epoch Tansu 0.6 never issued, which kills its storage (see
/// docs/broker.md).
pub fn producer(config: &KafkaConfig) -> anyhow::Result<Producer> {
    Ok(base(config)
        .set("enable.idempotence", "false")
        .set("acks", "all")
        .set("max.in.flight.requests.per.connection", "1")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .create_with_context(QuietContext::default())?)
}

/// The fatal error a producer hit, if any: an idempotent producer that lost its sequence
/// state refuses every later send and must be replaced.
pub fn fatal_error(producer: &Producer) -> Option<String> {
    use rdkafka::producer::Producer as _;
    producer
        .client()
        .fatal_error()
        .map(|(code, reason)| format!("{code:?}: {reason}"))
}

/// Consumer settings: at-least-once. The consumer stores a message's offset only after its
/// effect is durable; stored offsets are committed in the background every few seconds (and
/// on leaving the group), not one request per message, which would flood the group
/// coordinator and starve its heartbeats. After a crash, those few seconds of events are
/// delivered again and de-duplicated by `eventId`.
///
/// The rest keeps the coordinator and the storage of a small broker (Tansu) well within
/// what they can do: a generous session, fetches that wait `KAFKA_FETCH_WAIT_MS` for data
/// and bring at most 256 KiB (docs/broker.md says why).
pub fn consumer_config(config: &KafkaConfig) -> ClientConfig {
    let mut c = base(config);
    c.set("group.id", &config.group)
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.commit.interval.ms", "5000")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "30000")
        .set("heartbeat.interval.ms", "3000")
        .set("topic.metadata.refresh.interval.ms", "30000")
        .set(
            "fetch.wait.max.ms",
            config.fetch_wait.as_millis().to_string(),
        )
        // Reaching the end of a partition is reported: the consumer is caught up there.
        .set("enable.partition.eof", "true")
        .set("fetch.max.bytes", "262144")
        .set("message.max.bytes", "262144")
        // Statistics every second tell whether a broker connection is up.
        .set("statistics.interval.ms", "1000");
    if let Some(id) = &config.instance_id {
        c.set("group.instance.id", id);
    }
    c
}

/// The lag monitor's client: the group's id (to read its committed offsets) but never a
/// member of it (it does not subscribe, so it takes no partitions and fences no one).
pub fn monitor_config(config: &KafkaConfig) -> ClientConfig {
    let mut c = base(config);
    c.set("group.id", &config.group)
        .set("enable.auto.commit", "false");
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
                let wait = crate::backoff(attempt);
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
    // Only the missing ones: a broker that exists already has them (Tansu logs an error for
    // every attempt to create an existing topic).
    let client_config = base(config);
    let existing: Vec<String> = tokio::task::spawn_blocking(move || {
        let client: rdkafka::consumer::BaseConsumer<QuietContext> =
            client_config.create_with_context(QuietContext::default())?;
        let metadata =
            rdkafka::consumer::Consumer::fetch_metadata(&client, None, Duration::from_secs(5))?;
        Ok::<_, anyhow::Error>(
            metadata
                .topics()
                .iter()
                .filter(|t| !t.partitions().is_empty())
                .map(|t| t.name().to_owned())
                .collect(),
        )
    })
    .await??;
    let topics: Vec<NewTopic> = [&config.topic, &config.dlq_topic]
        .into_iter()
        .filter(|name| !existing.contains(name))
        .map(|name| {
            NewTopic::new(
                name,
                config.partitions,
                TopicReplication::Fixed(config.replication),
            )
        })
        .collect();
    if topics.is_empty() {
        return Ok(());
    }
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
