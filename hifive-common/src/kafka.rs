//! Kafka clients: the idempotent producer used by the outbox relay, the topic bootstrap and
//! the consumer configuration. Works the same against Apache Kafka and Tansu.

use std::time::Duration;

use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    producer::FutureProducer,
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
    c
}

/// Producer for the outbox relay: acks from all replicas, idempotent, low linger.
pub fn producer(config: &KafkaConfig) -> anyhow::Result<FutureProducer> {
    Ok(base(config)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "30000")
        .create()?)
}

/// Consumer settings: manual offset commits after the effect is durable.
pub fn consumer_config(config: &KafkaConfig) -> ClientConfig {
    let mut c = base(config);
    c.set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("topic.metadata.refresh.interval.ms", "5000");
    c
}

/// Creates the topic if it is missing, retrying until the broker answers or `shutdown`.
/// Returns false when stopped first.
pub async fn ensure_topic(config: &KafkaConfig, shutdown: &CancellationToken) -> bool {
    let mut attempt = 0u32;
    loop {
        match try_create_topic(config).await {
            Ok(()) => return true,
            Err(e) => {
                attempt += 1;
                let wait = Duration::from_millis(200 * 2u64.pow(attempt.min(5)));
                if attempt == 1 || attempt % 10 == 0 {
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
    let admin: AdminClient<DefaultClientContext> = base(config).create()?;
    let topic = NewTopic::new(
        &config.topic,
        config.partitions,
        TopicReplication::Fixed(config.replication),
    );
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
    let results = admin.create_topics([&topic], &options).await?;
    for result in results {
        match result {
            Ok(name) => tracing::info!(topic = %name, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("cannot create topic {name}: {code}"),
        }
    }
    Ok(())
}
