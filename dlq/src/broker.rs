//! The dead-letter topic on the broker: its partitions and offsets, reading its records, the
//! `hifive-dlq` group's committed offsets (what is purged), and producing a replay. Plain
//! Kafka requests that Tansu 0.6 and Apache Kafka both serve (Metadata, ListOffsets, Fetch,
//! OffsetFetch, OffsetCommit, Produce); no DeleteRecords (see [`crate::purge`]).

use std::time::{Duration, Instant};

use anyhow::Context;
use hifive_common::{
    KafkaConfig,
    kafka::{self, QuietContext},
};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer},
    error::KafkaError,
};

use crate::letter::{DeadLetter, Id};

/// Where the dead letters are and who keeps track of the purged ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Bootstrap servers (`KAFKA_BROKERS`).
    pub brokers: String,
    /// The event topic replays go to (`KAFKA_TOPIC`).
    pub topic: String,
    /// The dead-letter topic (`KAFKA_DLQ_TOPIC`, default `<topic>.dlq`).
    pub dlq_topic: String,
    /// The consumer group whose committed offsets mark what is purged.
    pub group: String,
    /// How long a broker request, or reading the topic, may take.
    pub timeout: Duration,
}

impl Settings {
    /// The services' Kafka settings with these values (the tool's clients are built by the
    /// same helpers as the services').
    pub fn kafka(&self) -> KafkaConfig {
        KafkaConfig {
            topic: self.topic.clone(),
            dlq_topic: self.dlq_topic.clone(),
            ..KafkaConfig::local(&self.brokers, &self.group)
        }
    }
}

/// One partition of the dead-letter topic: its first and next offsets and what the group
/// committed (records before `committed` are purged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub id: i32,
    pub low: i64,
    pub high: i64,
    pub committed: Option<i64>,
}

impl Partition {
    /// The first offset that is not purged.
    pub fn unpurged(&self) -> i64 {
        self.committed.unwrap_or(self.low).max(self.low)
    }

    /// Whether the record at `offset` is purged.
    pub fn is_purged(&self, offset: i64) -> bool {
        offset < self.unpurged()
    }
}

/// A client of the dead-letter topic: the group's id (to read and commit its offsets) but
/// never a member of it (it assigns partitions itself; nobody else is fenced).
pub struct Broker {
    consumer: BaseConsumer<QuietContext>,
    pub settings: Settings,
}

impl Broker {
    pub fn connect(settings: Settings) -> anyhow::Result<Self> {
        let mut config = kafka::monitor_config(&settings.kafka());
        config
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest")
            // Small fetches that do not wait long: kind to Tansu (docs/broker.md).
            .set("fetch.wait.max.ms", "100")
            .set("fetch.max.bytes", "262144")
            .set("message.max.bytes", "262144");
        let consumer = config
            .create_with_context(QuietContext::default())
            .context("cannot create a Kafka client")?;
        Ok(Self { consumer, settings })
    }

    /// The dead-letter topic's partitions with their offsets (empty when the topic does
    /// not exist yet).
    pub fn partitions(&self) -> anyhow::Result<Vec<Partition>> {
        let (topic, timeout) = (&self.settings.dlq_topic, self.settings.timeout);
        let metadata = self
            .consumer
            .fetch_metadata(Some(topic), timeout)
            .with_context(|| format!("cannot reach the broker at {}", self.settings.brokers))?;
        let ids: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic)
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = |offset: Offset| self.list(&ids, offset);
        let committed = self
            .consumer
            .committed_offsets(list(Offset::Invalid)?, timeout)?;
        // ListOffsets "earliest" (-2) is the log start, "latest" (-1) the high watermark.
        let low = self
            .consumer
            .offsets_for_times(list(Offset::Beginning)?, timeout)?;
        let high = self
            .consumer
            .offsets_for_times(list(Offset::End)?, timeout)?;
        let at = |tpl: &TopicPartitionList, p: i32| match tpl
            .find_partition(topic, p)
            .map(|e| e.offset())
        {
            Some(Offset::Offset(o)) => Some(o),
            _ => None,
        };
        Ok(ids
            .iter()
            .map(|&id| Partition {
                id,
                low: at(&low, id).unwrap_or(0),
                high: at(&high, id).unwrap_or(0),
                committed: at(&committed, id),
            })
            .collect())
    }

    fn list(&self, partitions: &[i32], offset: Offset) -> anyhow::Result<TopicPartitionList> {
        let mut tpl = TopicPartitionList::new();
        for p in partitions {
            tpl.add_partition_offset(&self.settings.dlq_topic, *p, offset)?;
        }
        Ok(tpl)
    }

    /// Every record of each partition from `from` (its first offset to read) up to its high
    /// watermark as read in `partitions`, in partition and offset order.
    pub fn read(
        &self,
        partitions: &[Partition],
        from: impl Fn(&Partition) -> i64,
    ) -> anyhow::Result<Vec<DeadLetter>> {
        // (partition, next offset to read, end): those with something to read.
        let mut todo: Vec<(i32, i64, i64)> = partitions
            .iter()
            .map(|p| (p.id, from(p).max(p.low), p.high))
            .filter(|(_, start, end)| start < end)
            .collect();
        let mut tpl = TopicPartitionList::new();
        for (p, start, _) in &todo {
            tpl.add_partition_offset(&self.settings.dlq_topic, *p, Offset::Offset(*start))?;
        }
        self.consumer.assign(&tpl)?;
        let mut letters = Vec::new();
        let deadline = Instant::now() + self.settings.timeout;
        while todo.iter().any(|(_, next, end)| next < end) {
            let left = deadline.saturating_duration_since(Instant::now());
            anyhow::ensure!(
                !left.is_zero(),
                "timed out reading {} from {}",
                self.settings.dlq_topic,
                self.settings.brokers
            );
            let (partition, next) = match self.consumer.poll(left.min(Duration::from_millis(500))) {
                None => continue,
                Some(Ok(m)) => {
                    let letter = DeadLetter::from_message(&m);
                    let next = letter.id.offset + 1;
                    let end = todo
                        .iter()
                        .find(|t| t.0 == letter.id.partition)
                        .map(|t| t.2);
                    if end.is_some_and(|end| letter.id.offset < end) {
                        letters.push(letter);
                    }
                    (m.partition(), next)
                }
                // Nothing more there for now (gaps in the offsets end here too).
                Some(Err(KafkaError::PartitionEOF(p))) => (p, i64::MAX),
                Some(Err(e)) => return Err(e).context("cannot read the dead-letter topic"),
            };
            if let Some(t) = todo.iter_mut().find(|t| t.0 == partition) {
                t.1 = t.1.max(next);
            }
        }
        self.consumer.unassign()?;
        letters.sort_by_key(|l| l.id);
        Ok(letters)
    }

    /// The record at `id`, if there is one.
    pub fn read_one(&self, id: Id) -> anyhow::Result<Option<(DeadLetter, Partition)>> {
        let Some(partition) = self
            .partitions()?
            .into_iter()
            .find(|p| p.id == id.partition)
        else {
            return Ok(None);
        };
        if id.offset < partition.low || id.offset >= partition.high {
            return Ok(None);
        }
        let one = Partition {
            high: id.offset + 1,
            ..partition
        };
        let letter = self
            .read(&[one], |_| id.offset)?
            .into_iter()
            .find(|l| l.id == id);
        Ok(letter.map(|l| (l, partition)))
    }

    /// Commits `offsets` (partition, first offset not purged) for the group, synchronously.
    pub fn commit(&self, offsets: &[(i32, i64)]) -> anyhow::Result<()> {
        let mut tpl = TopicPartitionList::new();
        for (p, o) in offsets {
            tpl.add_partition_offset(&self.settings.dlq_topic, *p, Offset::Offset(*o))?;
        }
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .with_context(|| format!("cannot commit the offsets of group {}", self.settings.group))
    }
}
