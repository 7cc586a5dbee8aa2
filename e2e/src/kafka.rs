//! The broker seen raw: reaching it, publishing a record as it is, reading a topic from its
//! start (for tests of delivery, duplicates and malformed events).

use std::time::{Duration, Instant};

use crate::{SETTLE, System};
use serde_json::Value;

/// A raw Kafka record.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub key: Option<String>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Record {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A record as read from the broker (keys and header values read as UTF-8, lossily).
    fn from_message(message: &impl rdkafka::Message) -> Self {
        use rdkafka::message::Headers;
        let headers = message
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Record {
            key: message
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned()),
            payload: message.payload().unwrap_or_default().to_vec(),
            headers,
        }
    }

    /// The payload as JSON (Null when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or(Value::Null)
    }
}

impl System {
    /// Settings to reach this system's broker (for tests that publish or read raw events).
    pub fn kafka(&self) -> hifive_common::KafkaConfig {
        hifive_common::KafkaConfig::local(
            &format!("127.0.0.1:{}", self.kafka_port),
            &format!("e2e-{}", uuid::Uuid::new_v4()),
        )
    }

    /// The broker's address (`host:port`).
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.kafka_port)
    }

    /// Publishes `record` to `topic` as it is (no envelope, no outbox).
    pub async fn publish(&self, topic: &str, record: &Record) {
        use rdkafka::{
            message::{Header, OwnedHeaders},
            producer::FutureRecord,
        };
        let producer = hifive_common::kafka::producer(&self.kafka()).expect("producer");
        let mut headers = OwnedHeaders::new();
        for (k, v) in &record.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
        let mut r = FutureRecord::to(topic)
            .payload(&record.payload)
            .headers(headers);
        if let Some(key) = &record.key {
            r = r.key(key);
        }
        producer
            .send(r, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .expect("publish");
    }

    /// Reads `topic` from the start until `done` accepts what was read (or panics after
    /// [`SETTLE`]).
    pub async fn read_topic(&self, topic: &str, done: impl Fn(&[Record]) -> bool) -> Vec<Record> {
        use rdkafka::consumer::{Consumer, StreamConsumer};
        let consumer: StreamConsumer = hifive_common::kafka::consumer_config(&self.kafka())
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let mut records = Vec::new();
        let deadline = Instant::now() + SETTLE;
        while !done(&records) {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match tokio::time::timeout(left, consumer.recv()).await {
                Ok(Ok(m)) => m,
                // The end of a partition for now; more may come.
                Ok(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => continue,
                Ok(Err(e)) => panic!("reading {topic}: {e}"),
                Err(_) => panic!(
                    "timed out reading {topic}; read {} records: {records:#?}",
                    records.len()
                ),
            };
            records.push(Record::from_message(&message));
        }
        records
    }
}
