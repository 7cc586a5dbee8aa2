//! The lag monitor beside each consumer: every `CONSUMER_LAG_INTERVAL_MS` it asks the broker
//! for the topic's high watermarks (ListOffsets) and the group's committed offsets
//! (OffsetFetch) with a client of its own, so that it sees the truth even when the group
//! consumer itself is wedged, and steps the stall state machine.

use std::{sync::Arc, time::Duration};

use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{
    progress::Sample,
    status::{Action, ConsumerStatus},
};
use crate::{config::KafkaConfig, kafka};

/// How long one broker request of the monitor may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) async fn run(
    config: KafkaConfig,
    status: Arc<ConsumerStatus>,
    recreate: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let client: Arc<BaseConsumer<kafka::QuietContext>> = match kafka::monitor_config(&config)
        .create_with_context(kafka::QuietContext::default())
    {
        Ok(c) => Arc::new(c),
        Err(e) => {
            tracing::error!(error = %e, "cannot create the lag monitor; stalls will not be detected");
            return;
        }
    };
    let every = status.settings().sample_every;
    let mut partitions: Option<(std::time::Instant, Vec<i32>)> = None;
    let mut first = true;
    loop {
        // The first sample at once: a consumer that starts behind knows it from the start.
        let wait = if first { Duration::ZERO } else { every };
        first = false;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => return,
        }
        let (client, topic) = (client.clone(), config.topic.clone());
        let known = partitions
            .as_ref()
            .filter(|(at, _)| at.elapsed() < PARTITIONS_FRESH)
            .map(|(_, p)| p.clone());
        let asked = tokio::task::spawn_blocking(move || sample(&client, &topic, known));
        // A broker that does not answer at all must not hold the monitor either.
        match tokio::time::timeout(ASK_TIMEOUT * 3, asked).await {
            Ok(Ok(Ok((listed, samples)))) => {
                if let Some(listed) = listed {
                    partitions = Some((std::time::Instant::now(), listed));
                }
                status.sampled(&samples);
            }
            Ok(Ok(Err(e))) => tracing::debug!(error = %e, "cannot sample the lag now"),
            Ok(Err(e)) => tracing::warn!(error = %e, "lag sampling failed"),
            Err(_) => tracing::debug!("lag sampling timed out"),
        }
        if status.tick() == Action::Recreate {
            recreate.notify_one();
        }
        super::metrics::export(&status);
    }
}

/// How long the topic's partition list is reused.
const PARTITIONS_FRESH: Duration = Duration::from_secs(60);

/// The group's committed offsets and the high watermarks of every partition of `topic` (and
/// the log start where nothing is committed), in two or three requests (blocking). Returns
/// the partition list too when it had to be read.
fn sample(
    client: &BaseConsumer<kafka::QuietContext>,
    topic: &str,
    known: Option<Vec<i32>>,
) -> anyhow::Result<(Option<Vec<i32>>, Vec<Sample>)> {
    // The client is never subscribed, but its queue still gets events (errors while the
    // broker is away): serve them so that they do not pile up.
    let _ = client.poll(Duration::ZERO);
    let (partitions, listed) = match known {
        Some(p) => (p, None),
        None => {
            let metadata = client.fetch_metadata(Some(topic), ASK_TIMEOUT)?;
            let p: Vec<i32> = metadata
                .topics()
                .iter()
                .filter(|t| t.name() == topic)
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            (p.clone(), Some(p))
        }
    };
    anyhow::ensure!(
        !partitions.is_empty(),
        "topic {topic} has no partitions yet"
    );
    let list = |offset: Offset| -> anyhow::Result<TopicPartitionList> {
        let mut tpl = TopicPartitionList::new();
        for p in &partitions {
            tpl.add_partition_offset(topic, *p, offset)?;
        }
        Ok(tpl)
    };
    let offset_of = |tpl: &TopicPartitionList, p: i32| {
        tpl.find_partition(topic, p).and_then(|e| match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        })
    };
    let committed = client.committed_offsets(list(Offset::Invalid)?, ASK_TIMEOUT)?;
    // ListOffsets with the timestamp "latest" (-1) answers the high watermarks, "earliest"
    // (-2) the log start.
    let high = client.offsets_for_times(list(Offset::End)?, ASK_TIMEOUT)?;
    let low = if partitions
        .iter()
        .any(|p| offset_of(&committed, *p).is_none())
    {
        Some(client.offsets_for_times(list(Offset::Beginning)?, ASK_TIMEOUT)?)
    } else {
        None
    };
    let samples = partitions
        .iter()
        .filter_map(|p| {
            Some(Sample {
                partition: *p,
                high: offset_of(&high, *p)?,
                low: low.as_ref().and_then(|l| offset_of(l, *p)).unwrap_or(0),
                committed: offset_of(&committed, *p),
            })
        })
        .collect();
    Ok((listed, samples))
}
