//! Transactional outbox: an event is written in the same transaction as the state change
//! that causes it, and a relay publishes it after commit. Nothing is published for a change
//! that rolled back; a crash between commit and publish re-sends on restart.

mod relay;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use shared_events::Envelope;
use sqlx::Row;
use tokio::sync::Notify;

use crate::db::{Db, DbConn, now};

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
    /// Records `envelope` for publication as part of the caller's transaction, with the
    /// `traceparent` of the current span (the request or event that caused it), which the
    /// relay's "publish" span continues.
    pub async fn enqueue(
        &self,
        conn: &mut DbConn,
        envelope: &Envelope,
        request_id: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO outbox
                 (event_id, event_type, msg_key, payload, request_id, created_at, traceparent)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(envelope.event_id.to_string())
        .bind(envelope.event.event_type())
        .bind(envelope.event.key())
        .bind(envelope.to_json())
        .bind(request_id.map(str::to_owned))
        .bind(now())
        .bind(crate::telemetry::traceparent())
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The events waiting to be published (read at most every 250 ms); sets the outbox
    /// gauges of the metrics.
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
        if backlog.known {
            ::metrics::gauge!("hifive_outbox_backlog").set(backlog.pending as f64);
            ::metrics::gauge!("hifive_outbox_oldest_age_seconds")
                .set(backlog.oldest_age().as_secs_f64());
        }
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
}
