//! Transactional outbox: an event is written in the same transaction as the state change
//! that causes it, and a relay publishes it after commit. Nothing is published for a change
//! that rolled back; a crash between commit and publish re-sends on restart.

use std::{sync::Arc, time::Duration};

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
    db::{Db, DbConn, now},
    kafka::Producer,
};

/// Handle to a service's outbox: enqueue inside a transaction, wake the relay after commit.
#[derive(Clone, Default)]
pub struct Outbox {
    wake: Arc<Notify>,
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

    /// Tells the relay that committed events are waiting. Call after commit.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Publishes committed outbox rows in order until `shutdown`, then flushes what is left.
    pub async fn relay(
        self,
        db: Db,
        producer: Producer,
        topic: String,
        shutdown: CancellationToken,
    ) {
        let mut failures = 0u32;
        // After shutdown, a batch under way gets a few seconds to finish; unsent rows stay in
        // the outbox and go out on the next start.
        let grace = async {
            shutdown.cancelled().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        };
        tokio::pin!(grace);
        loop {
            let published = tokio::select! {
                r = publish_batch(&db, &producer, &topic) => r,
                _ = &mut grace => {
                    tracing::warn!("stopping with unpublished events; they are sent on the next start");
                    break;
                }
            };
            match published {
                Ok(0) => {
                    if shutdown.is_cancelled() {
                        break;
                    }
                    failures = 0;
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.cancelled() => {}
                    }
                }
                Ok(_) => failures = 0,
                Err(e) => {
                    failures += 1;
                    let backoff = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "outbox relay could not publish");
                    if shutdown.is_cancelled() && failures > 3 {
                        tracing::warn!(
                            "stopping with unpublished events; they are sent on the next start"
                        );
                        break;
                    }
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }
}

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
