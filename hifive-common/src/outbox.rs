//! Transactional outbox: an event is written in the same transaction as the state change
//! that causes it, and a relay publishes it after commit. Nothing is published for a change
//! that rolled back; a crash between commit and publish re-sends on restart.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{StreamExt, stream::FuturesOrdered};
use rdkafka::{
    message::{Header, OwnedHeaders},
    producer::FutureRecord,
    util::Timeout,
};
use shared_events::{EVENT_TYPE_HEADER, Envelope, REQUEST_ID_HEADER};
use sqlx::Row;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    config::KafkaConfig,
    db::{Db, DbConn, now},
    kafka::{self, Producer},
};

/// Handle to a service's outbox: enqueue inside a transaction, wake the relay after commit.
#[derive(Clone, Default)]
pub struct Outbox {
    wake: Arc<Notify>,
    /// The last backlog read, and when (reads within [`BACKLOG_FRESH`] reuse it).
    backlog: Arc<std::sync::Mutex<Option<(Instant, Backlog)>>>,
}

/// How long a backlog reading is reused: admission asks on every booking.
const BACKLOG_FRESH: Duration = Duration::from_millis(250);

/// Events written but not yet acknowledged by the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Backlog {
    /// False when the database could not be read (then the rest is zero).
    pub known: bool,
    pub pending: i64,
    /// When the oldest unpublished event was written (RFC 3339).
    pub oldest: Option<String>,
}

impl Backlog {
    /// How long the oldest unpublished event has waited.
    pub fn oldest_age(&self) -> Duration {
        self.oldest
            .as_deref()
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .and_then(|at| {
                (chrono::Utc::now() - at.with_timezone(&chrono::Utc))
                    .to_std()
                    .ok()
            })
            .unwrap_or_default()
    }

    /// The `outbox` component of `/health/ready`.
    pub fn report(&self) -> serde_json::Value {
        serde_json::json!({
            "status": if self.known { "UP" } else { "UNKNOWN" },
            "pending": self.pending,
            "oldestAgeSeconds": (self.oldest_age().as_secs_f64() * 10.0).round() / 10.0,
        })
    }
}

impl Outbox {
    /// Records `envelope` for publication as part of the caller's transaction.
    pub async fn enqueue(
        &self,
        conn: &mut DbConn,
        envelope: &Envelope,
        request_id: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO outbox (event_id, event_type, msg_key, payload, request_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(envelope.event_id.to_string())
        .bind(envelope.event.event_type())
        .bind(envelope.event.key())
        .bind(envelope.to_json())
        .bind(request_id.map(str::to_owned))
        .bind(now())
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The events waiting to be published (read at most every 250 ms).
    pub async fn backlog(&self, db: &Db) -> Backlog {
        if let Some((at, backlog)) = self.cached().as_ref()
            && at.elapsed() < BACKLOG_FRESH
        {
            return backlog.clone();
        }
        let backlog =
            match sqlx::query("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox")
                .fetch_one(db)
                .await
                .and_then(|row| Ok((row.try_get::<i64, _>("n")?, row.try_get("oldest")?)))
            {
                Ok((pending, oldest)) => Backlog {
                    known: true,
                    pending,
                    oldest,
                },
                Err(e) => {
                    tracing::debug!(error = %e, "cannot read the outbox backlog");
                    Backlog {
                        known: false,
                        pending: 0,
                        oldest: None,
                    }
                }
            };
        *self.cached() = Some((Instant::now(), backlog.clone()));
        backlog
    }

    /// The last backlog read, without asking the database (None before the first read).
    pub fn last_backlog(&self) -> Option<Backlog> {
        self.cached().as_ref().map(|(_, b)| b.clone())
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Backlog)>> {
        self.backlog.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the relay that committed events are waiting. Call after commit.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

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
                    tracing::warn!("stopping with unpublished events; they are sent on the next start");
                    break;
                }
            };
            let wait = match published {
                Ok(0) if shutdown.is_cancelled() => break,
                Ok(0) => {
                    failures = 0;
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.cancelled() => {}
                    }
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    continue;
                }
                Err(e) => {
                    failures += 1;
                    let wait = crate::backoff(failures);
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "outbox relay could not publish");
                    if let Some(fatal) = kafka::fatal_error(&producer) {
                        tracing::warn!(error = %fatal, "the producer failed for good; replacing it");
                        match kafka::producer(&config) {
                            Ok(p) => producer = p,
                            Err(e) => tracing::error!(error = %e, "cannot create a new producer"),
                        }
                    }
                    wait
                }
            };
            if shutdown.is_cancelled() && failures > 1 {
                tracing::warn!("stopping with unpublished events; they are sent on the next start");
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut grace => {
                    tracing::warn!("stopping with unpublished events; they are sent on the next start");
                    break;
                }
            }
        }
    }
}

/// How long the relay keeps publishing after shutdown began.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

const BATCH: i64 = 256;

/// Sends the oldest unsent rows; deletes those the broker acknowledged. Returns how many.
async fn publish_batch(db: &Db, producer: &Producer, topic: &str) -> anyhow::Result<usize> {
    let rows = sqlx::query(
        "SELECT id, event_type, msg_key, payload, request_id FROM outbox ORDER BY id LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(db)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut sends = FuturesOrdered::new();
    for row in &rows {
        let id: i64 = row.try_get("id")?;
        let event_type: String = row.try_get("event_type")?;
        let key: String = row.try_get("msg_key")?;
        let payload: String = row.try_get("payload")?;
        let request_id: Option<String> = row.try_get("request_id")?;
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
        let producer = producer.clone();
        let topic = topic.to_owned();
        sends.push_back(async move {
            let record = FutureRecord::to(&topic)
                .key(&key)
                .payload(&payload)
                .headers(headers);
            let sent = producer
                .send(record, Timeout::After(Duration::from_secs(30)))
                .await;
            (id, sent.map(|_| ()).map_err(|(e, _)| e))
        });
    }
    let mut delivered = Vec::with_capacity(rows.len());
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
    if !delivered.is_empty() {
        let placeholders: Vec<String> = (1..=delivered.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "DELETE FROM outbox WHERE id IN ({})",
            placeholders.join(",")
        );
        let mut query = sqlx::query(&sql);
        for id in &delivered {
            query = query.bind(*id);
        }
        query.execute(db).await?;
        tracing::debug!(count = delivered.len(), "published outbox events");
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(delivered.len()),
    }
}
