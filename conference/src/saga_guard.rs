//! Backpressure for the asynchronous half of the saga. A booking is accepted only while the
//! saga keeps up: conference's outbox is publishing (few events waiting, none for long) and
//! its consumer is close to the head of the topic. Otherwise `POST /conferences` answers at
//! once `503 saga_busy` with `Retry-After`, storing nothing, instead of accepting work that
//! would wait behind an ever longer backlog.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use hifive_common::{ConsumerStatus, Db, Outbox};
use serde::Serialize;

/// The bounds (environment variables in brackets; see the README).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SagaLimits {
    /// Refuse while conference's consumer is behind on events older than this
    /// (`SAGA_MAX_LAG_MS`).
    pub max_lag: Duration,
    /// Refuse while more events than this wait in the outbox (`SAGA_MAX_OUTBOX`).
    pub max_outbox: i64,
    /// Refuse while the oldest unpublished event is older than this
    /// (`SAGA_MAX_OUTBOX_AGE_MS`).
    pub max_outbox_age: Duration,
    /// `Retry-After` of a refusal (`SAGA_RETRY_AFTER_SECS`).
    pub retry_after_secs: u64,
}

impl Default for SagaLimits {
    fn default() -> Self {
        Self {
            max_lag: Duration::from_secs(3),
            max_outbox: 2000,
            max_outbox_age: Duration::from_secs(10),
            retry_after_secs: 2,
        }
    }
}

/// What the saga looks like right now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SagaLoad {
    pub lag_age: Duration,
    pub outbox_pending: i64,
    pub outbox_age: Duration,
}

/// Why a booking was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SagaBusy {
    #[error("the saga is behind: events {:.1} s old are still being processed (limit {:.1} s)", .lag.as_secs_f64(), .limit.as_secs_f64())]
    Behind { lag: Duration, limit: Duration },
    #[error("{pending} events wait to be published (limit {limit})")]
    OutboxFull { pending: i64, limit: i64 },
    #[error("events have waited {:.1} s to be published (limit {:.1} s)", .age.as_secs_f64(), .limit.as_secs_f64())]
    OutboxStale { age: Duration, limit: Duration },
}

impl SagaBusy {
    /// A short name for logs and reports.
    pub fn reason(&self) -> &'static str {
        match self {
            SagaBusy::Behind { .. } => "lag",
            SagaBusy::OutboxFull { .. } => "outbox_backlog",
            SagaBusy::OutboxStale { .. } => "outbox_age",
        }
    }
}

/// The admission rule (pure).
pub fn admit(limits: &SagaLimits, load: &SagaLoad) -> Result<(), SagaBusy> {
    if load.outbox_age > limits.max_outbox_age {
        return Err(SagaBusy::OutboxStale {
            age: load.outbox_age,
            limit: limits.max_outbox_age,
        });
    }
    if load.outbox_pending > limits.max_outbox {
        return Err(SagaBusy::OutboxFull {
            pending: load.outbox_pending,
            limit: limits.max_outbox,
        });
    }
    if load.lag_age > limits.max_lag {
        return Err(SagaBusy::Behind {
            lag: load.lag_age,
            limit: limits.max_lag,
        });
    }
    Ok(())
}

/// The admission's part of `/health/ready` (it does not decide readiness).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReport {
    /// `ADMITTING` or `REFUSING`.
    pub status: &'static str,
    pub reason: Option<String>,
    pub lag_seconds: f64,
    pub outbox_pending: i64,
    pub outbox_age_seconds: f64,
    pub max_lag_seconds: f64,
    pub max_outbox: i64,
    pub max_outbox_age_seconds: f64,
    pub admitted: u64,
    pub refused: u64,
}

/// The guard as the service uses it: reads the load, applies [`admit`], counts refusals.
#[derive(Clone)]
pub struct SagaGuard {
    limits: SagaLimits,
    db: Db,
    outbox: Outbox,
    consumer: Arc<ConsumerStatus>,
    refused: Arc<AtomicU64>,
    admitted: Arc<AtomicU64>,
}

impl SagaGuard {
    pub fn new(limits: SagaLimits, db: Db, outbox: Outbox, consumer: Arc<ConsumerStatus>) -> Self {
        Self {
            limits,
            db,
            outbox,
            consumer,
            refused: Arc::default(),
            admitted: Arc::default(),
        }
    }

    pub fn limits(&self) -> &SagaLimits {
        &self.limits
    }

    async fn load(&self) -> SagaLoad {
        let backlog = self.outbox.backlog(&self.db).await;
        SagaLoad {
            lag_age: self.consumer.lag_age(),
            outbox_pending: backlog.pending,
            outbox_age: backlog.oldest_age(),
        }
    }

    /// Whether a new booking may start now.
    pub async fn admit(&self) -> Result<(), SagaBusy> {
        let load = self.load().await;
        let verdict = admit(&self.limits, &load);
        let counter = if verdict.is_ok() {
            &self.admitted
        } else {
            &self.refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
        verdict
    }

    /// `/health/ready` details (they do not decide readiness), from the last readings.
    pub fn report(&self) -> AdmissionReport {
        let backlog = self.outbox.last_backlog();
        let load = SagaLoad {
            lag_age: self.consumer.lag_age(),
            outbox_pending: backlog.as_ref().map_or(0, |b| b.pending),
            outbox_age: backlog.as_ref().map(|b| b.oldest_age()).unwrap_or_default(),
        };
        let verdict = admit(&self.limits, &load);
        AdmissionReport {
            status: if verdict.is_ok() {
                "ADMITTING"
            } else {
                "REFUSING"
            },
            reason: verdict.err().map(|e| e.to_string()),
            lag_seconds: load.lag_age.as_secs_f64(),
            outbox_pending: load.outbox_pending,
            outbox_age_seconds: load.outbox_age.as_secs_f64(),
            max_lag_seconds: self.limits.max_lag.as_secs_f64(),
            max_outbox: self.limits.max_outbox,
            max_outbox_age_seconds: self.limits.max_outbox_age.as_secs_f64(),
            admitted: self.admitted.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(lag_ms: u64, pending: i64, age_ms: u64) -> SagaLoad {
        SagaLoad {
            lag_age: Duration::from_millis(lag_ms),
            outbox_pending: pending,
            outbox_age: Duration::from_millis(age_ms),
        }
    }

    #[test]
    fn admits_while_the_saga_keeps_up() {
        let limits = SagaLimits::default();
        assert_eq!(admit(&limits, &load(0, 0, 0)), Ok(()));
        assert_eq!(
            admit(&limits, &load(3000, 2000, 10_000)),
            Ok(()),
            "bounds are inclusive"
        );
    }

    #[test]
    fn refuses_when_any_bound_is_passed() {
        let limits = SagaLimits::default();
        assert_eq!(
            admit(&limits, &load(3001, 0, 0)).unwrap_err().reason(),
            "lag"
        );
        assert_eq!(
            admit(&limits, &load(0, 2001, 0)).unwrap_err().reason(),
            "outbox_backlog"
        );
        assert_eq!(
            admit(&limits, &load(0, 1, 10_001)).unwrap_err().reason(),
            "outbox_age"
        );
    }

    #[test]
    fn refusals_say_what_is_behind() {
        let e = admit(&SagaLimits::default(), &load(7500, 0, 0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the saga is behind: events 7.5 s old are still being processed (limit 3.0 s)"
        );
    }

    #[test]
    fn the_report_keeps_its_field_names() {
        let report = AdmissionReport {
            status: "ADMITTING",
            reason: None,
            lag_seconds: 0.5,
            outbox_pending: 3,
            outbox_age_seconds: 0.0,
            max_lag_seconds: 3.0,
            max_outbox: 2000,
            max_outbox_age_seconds: 10.0,
            admitted: 7,
            refused: 1,
        };
        let json = serde_json::to_value(&report).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "admitted",
                "lagSeconds",
                "maxLagSeconds",
                "maxOutbox",
                "maxOutboxAgeSeconds",
                "outboxAgeSeconds",
                "outboxPending",
                "reason",
                "refused",
                "status"
            ]
        );
        assert_eq!(json["reason"], serde_json::Value::Null);
    }
}
