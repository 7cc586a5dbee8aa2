//! The relay: publishes committed outbox rows in order and deletes those the broker
//! acknowledged; rows not acknowledged stay and are sent again (after a crash, on the next
//! start).

use std::{future::Future, time::Duration};

use futures::{StreamExt, stream::FuturesOrdered};
use rdkafka::{
    error::{KafkaError, KafkaResult},
    message::{Header, OwnedHeaders},
    producer::FutureRecord,
    util::Timeout,
};
use shared_events::{EVENT_TYPE_HEADER, REQUEST_ID_HEADER};
use sqlx::{Row, any::AnyRow};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::Outbox;
use crate::{
    config::KafkaConfig,
    db::Db,
    kafka::{self, Producer},
    telemetry::{self, TRACEPARENT},
};

/// How long the relay keeps publishing after shutdown began.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

const BATCH: i64 = 256;

impl Outbox {
    /// Publishes committed outbox rows in order until `shutdown`, then flushes what is left
    /// for a moment. A producer that hit a fatal error (its idempotence state is lost, e.g.
    /// after a broker lost or rejected its sequence numbers) is replaced by a new one.
    pub async fn relay(self, db: Db, config: KafkaConfig, shutdown: CancellationToken) {
        let mut producer = match kafka::producer(&config) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot create the outbox producer; events wait in the outbox");
                return;
            }
        };
        ::metrics::counter!("hifive_outbox_published_total").absolute(0);
        let mut failures = 0u32;
        // After shutdown, a batch under way gets a moment to finish; unsent rows stay in
        // the outbox and go out on the next start.
        let grace = async {
            shutdown.cancelled().await;
            tokio::time::sleep(SHUTDOWN_FLUSH).await;
        };
        tokio::pin!(grace);
        loop {
            let published = tokio::select! {
                r = publish_batch(&db, &producer, &config.topic) => r,
                _ = &mut grace => {
                    stopping_with_unpublished_events();
                    break;
                }
            };
            let wait = match published {
                Ok(0) if shutdown.is_cancelled() => break,
                Ok(0) => {
                    failures = 0;
                    self.idle(&shutdown).await;
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    continue;
                }
                Err(e) => {
                    failures += 1;
                    after_failure(&e, failures, &mut producer, &config)
                }
            };
            if shutdown.is_cancelled() && failures > 1 {
                stopping_with_unpublished_events();
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut grace => {
                    stopping_with_unpublished_events();
                    break;
                }
            }
        }
    }

    /// Nothing to publish: waits for a wake after a commit, for a second, or for shutdown.
    async fn idle(&self, shutdown: &CancellationToken) {
        tokio::select! {
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.cancelled() => {}
        }
    }
}

/// A batch could not be published (`failures` times in a row): logs it, replaces a producer
/// that failed for good, and says how long to wait before the next try.
fn after_failure(
    e: &anyhow::Error,
    failures: u32,
    producer: &mut Producer,
    config: &KafkaConfig,
) -> Duration {
    let wait = crate::backoff(failures);
    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "outbox relay could not publish");
    if let Some(fatal) = kafka::fatal_error(producer) {
        tracing::warn!(error = %fatal, "the producer failed for good; replacing it");
        match kafka::producer(config) {
            Ok(p) => *producer = p,
            Err(e) => tracing::error!(error = %e, "cannot create a new producer"),
        }
    }
    wait
}

fn stopping_with_unpublished_events() {
    tracing::warn!("stopping with unpublished events; they are sent on the next start");
}

/// Sends the oldest unsent rows; deletes those the broker acknowledged. Returns how many.
/// Counts them (`hifive_outbox_published_total`) and times the batch.
async fn publish_batch(db: &Db, producer: &Producer, topic: &str) -> anyhow::Result<usize> {
    let rows = sqlx::query(
        "SELECT id, event_type, msg_key, payload, request_id, traceparent
         FROM outbox ORDER BY id LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(db)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let started = std::time::Instant::now();
    let mut sends = FuturesOrdered::new();
    for row in &rows {
        sends.push_back(send(producer, topic, row)?);
    }
    let (delivered, failure) = acknowledged(sends, rows.len()).await;
    ::metrics::histogram!("hifive_outbox_publish_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    ::metrics::counter!("hifive_outbox_published_total").increment(delivered.len() as u64);
    delete(db, &delivered).await?;
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(delivered.len()),
    }
}

/// Starts sending one outbox row; the future ends with the row's id and the broker's answer.
fn send(
    producer: &Producer,
    topic: &str,
    row: &AnyRow,
) -> Result<impl Future<Output = (i64, KafkaResult<()>)>, sqlx::Error> {
    let id: i64 = row.try_get("id")?;
    let event_type: String = row.try_get("event_type")?;
    let key: String = row.try_get("msg_key")?;
    let payload: String = row.try_get("payload")?;
    let request_id: Option<String> = row.try_get("request_id")?;
    let span = tracing::info_span!("publish", event_type = %event_type, otel.kind = "producer");
    let traceparent: Option<String> = row.try_get("traceparent")?;
    telemetry::continue_trace(&span, traceparent.as_deref());
    let traceparent = telemetry::traceparent_of(&span).or(traceparent);
    let mut headers = OwnedHeaders::new().insert(Header {
        key: EVENT_TYPE_HEADER,
        value: Some(event_type.as_str()),
    });
    if let Some(rid) = &request_id {
        headers = headers.insert(Header {
            key: REQUEST_ID_HEADER,
            value: Some(rid.as_str()),
        });
    }
    if let Some(traceparent) = &traceparent {
        headers = headers.insert(Header {
            key: TRACEPARENT,
            value: Some(traceparent.as_str()),
        });
    }
    let producer = producer.clone();
    let topic = topic.to_owned();
    Ok(async move {
        let record = FutureRecord::to(&topic)
            .key(&key)
            .payload(&payload)
            .headers(headers);
        let sent = producer
            .send(record, Timeout::After(Duration::from_secs(30)))
            .await;
        (id, sent.map(|_| ()).map_err(|(e, _)| e))
    }
    .instrument(span))
}

/// The broker's answers, in order: the ids acknowledged before the first failure, and that
/// failure.
async fn acknowledged(
    mut sends: FuturesOrdered<impl Future<Output = (i64, KafkaResult<()>)>>,
    count: usize,
) -> (Vec<i64>, Option<KafkaError>) {
    let mut delivered = Vec::with_capacity(count);
    let mut failure = None;
    while let Some((id, result)) = sends.next().await {
        match result {
            Ok(()) if failure.is_none() => delivered.push(id),
            Ok(()) => {}
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    (delivered, failure)
}

/// Deletes the rows the broker acknowledged.
async fn delete(db: &Db, delivered: &[i64]) -> Result<(), sqlx::Error> {
    if delivered.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (1..=delivered.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "DELETE FROM outbox WHERE id IN ({})",
        placeholders.join(",")
    );
    let mut query = sqlx::query(&sql);
    for id in delivered {
        query = query.bind(*id);
    }
    query.execute(db).await?;
    tracing::debug!(count = delivered.len(), "published outbox events");
    Ok(())
}
