//! A broker probe that exercises what the services need, not just an open port: it is a
//! member of a consumer group, produces a record and waits for the acknowledgement, fetches
//! that record back through the group, and commits the group's offset. A broker that accepts
//! connections but has wedged (its group storage panicked, produces fail, fetches return
//! nothing) fails one of these steps.

use std::time::{Duration, Instant};

use hifive_common::KafkaConfig;
use rdkafka::{
    ClientConfig, Message,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    consumer::{CommitMode, Consumer, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
    types::RDKafkaErrorCode,
};

/// The probe's own topic and consumer group (nothing else uses them).
pub const PROBE_TOPIC: &str = "hifive.probe";
pub const PROBE_GROUP: &str = "hifive.probe";

/// Which step of the probe failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Topic,
    Join,
    Produce,
    Fetch,
    Commit,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Topic => "create the probe topic",
            Step::Join => "join a consumer group",
            Step::Produce => "produce",
            Step::Fetch => "fetch",
            Step::Commit => "commit an offset",
        })
    }
}

/// Why the broker failed the probe.
#[derive(Debug, Clone, thiserror::Error)]
#[error("broker probe could not {step}: {reason}")]
pub struct ProbeFailure {
    pub step: Step,
    pub reason: String,
}

fn fail(step: Step, reason: impl ToString) -> ProbeFailure {
    ProbeFailure {
        step,
        reason: reason.to_string(),
    }
}

/// Probes the broker at `brokers` once, with clients of its own.
pub async fn probe(brokers: &str, timeout: Duration) -> Result<Duration, ProbeFailure> {
    BrokerProbe::new(brokers).probe(timeout).await
}

/// A broker probe that keeps its clients between probes: one member of the probe group that
/// stays joined (a rebalance after a broker restart is part of the next probe) and one
/// producer. After a failed probe they are dropped, so the next probe joins the group anew.
pub struct BrokerProbe {
    brokers: String,
    clients: tokio::sync::Mutex<Option<Clients>>,
}

struct Clients {
    consumer: StreamConsumer,
    producer: FutureProducer,
}

impl BrokerProbe {
    pub fn new(brokers: &str) -> Self {
        Self {
            brokers: brokers.to_owned(),
            clients: tokio::sync::Mutex::new(None),
        }
    }

    fn base(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("broker.address.family", "v4")
            .set("socket.timeout.ms", "5000")
            .set("log_level", "3");
        c
    }

    /// Every step must finish within `timeout` in all. Returns how long the probe took.
    pub async fn probe(&self, timeout: Duration) -> Result<Duration, ProbeFailure> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut clients = self.clients.lock().await;
        if clients.is_none() {
            *clients = Some(self.connect(deadline).await?);
        }
        let result = match clients.as_ref() {
            Some(c) => exchange(c, deadline).await,
            None => Err(fail(Step::Join, "no clients")),
        };
        if result.is_err()
            && let Some(old) = clients.take()
        {
            // Leaving the group may hang on a wedged broker: never wait for it here.
            std::thread::spawn(move || {
                old.consumer.unsubscribe();
                drop(old);
            });
        }
        result.map(|()| started.elapsed())
    }

    /// Creates the topic if needed, joins the probe group (until a partition is assigned) and
    /// makes the producer.
    async fn connect(&self, deadline: Instant) -> Result<Clients, ProbeFailure> {
        let left = || deadline.saturating_duration_since(Instant::now());
        ensure_topic(self.base(), left()).await?;
        let config = KafkaConfig::local(&self.brokers, PROBE_GROUP);
        let mut consumer_config = hifive_common::kafka::consumer_config(&config);
        consumer_config
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "3000")
            .set("statistics.interval.ms", "0")
            .set("socket.timeout.ms", "5000")
            .set("log_level", "3");
        let consumer: StreamConsumer = consumer_config.create().map_err(|e| fail(Step::Join, e))?;
        consumer
            .subscribe(&[PROBE_TOPIC])
            .map_err(|e| fail(Step::Join, e))?;
        // Polling drives the join; records of earlier probes may arrive meanwhile.
        while consumer
            .assignment()
            .map(|a| a.count() == 0)
            .unwrap_or(true)
        {
            if left().is_zero() {
                return Err(fail(Step::Join, "no partition assigned in time"));
            }
            if let Ok(Err(e)) =
                tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await
            {
                return Err(fail(Step::Join, e));
            }
        }
        let producer: FutureProducer = self
            .base()
            .set("acks", "all")
            .set("message.timeout.ms", "5000")
            .create()
            .map_err(|e| fail(Step::Produce, e))?;
        Ok(Clients { consumer, producer })
    }
}

/// Produce a record, fetch it back through the group, commit.
async fn exchange(clients: &Clients, deadline: Instant) -> Result<(), ProbeFailure> {
    let left = || deadline.saturating_duration_since(Instant::now());
    let token = uuid::Uuid::new_v4().to_string();
    let sent = tokio::time::timeout(
        left(),
        clients.producer.send(
            FutureRecord::<str, str>::to(PROBE_TOPIC).payload(&token),
            left(),
        ),
    )
    .await
    .map_err(|_| fail(Step::Produce, "no acknowledgement in time"))?;
    sent.map_err(|(e, _)| fail(Step::Produce, e))?;
    loop {
        let message = tokio::time::timeout(left(), clients.consumer.recv())
            .await
            .map_err(|_| fail(Step::Fetch, "the record produced did not come back in time"))?
            .map_err(|e| fail(Step::Fetch, e))?;
        if message.payload() == Some(token.as_bytes()) {
            clients
                .consumer
                .commit_message(&message, CommitMode::Sync)
                .map_err(|e| fail(Step::Commit, e))?;
            return Ok(());
        }
    }
}

async fn ensure_topic(config: ClientConfig, timeout: Duration) -> Result<(), ProbeFailure> {
    let admin: AdminClient<_> = config.create().map_err(|e| fail(Step::Topic, e))?;
    let topic = NewTopic::new(PROBE_TOPIC, 1, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(timeout));
    let results = tokio::time::timeout(timeout, admin.create_topics([&topic], &options))
        .await
        .map_err(|_| fail(Step::Topic, "no answer in time"))?
        .map_err(|e| fail(Step::Topic, e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(fail(Step::Topic, code)),
        }
    }
    Ok(())
}
