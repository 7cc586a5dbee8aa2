//! `/health`'s view of a consumer: the `kafka` component, with its status, lag and partitions.

use std::{sync::atomic::Ordering, time::Instant};

use serde_json::{Value, json};

use super::{ConsumerStatus, Inner, stall::Stall};
use crate::consumer::progress::{Evaluation, PartitionProgress};

impl ConsumerStatus {
    /// The `kafka` component of `/health` (and the reason of a failed liveness).
    pub fn report(&self) -> Value {
        let e = self.evaluation();
        let inner = self.inner();
        let now = Instant::now();
        let stalled_seconds = inner
            .stalled_since
            .map(|s| now.saturating_duration_since(s).as_secs_f64());
        let status = self.health_status(&inner, &e);
        let partitions: Vec<Value> = inner
            .tracker
            .partitions()
            .iter()
            .map(|(n, p)| partition_report(*n, p, now))
            .collect();
        json!({
            "status": status,
            "joined": self.joined(),
            "brokerUp": self.broker_up(),
            "lag": e.lag_known.then_some(e.lag),
            "lagSeconds": e.lag_known.then_some(round(e.lag_age.as_secs_f64())),
            "maxLag": inner.max_lag,
            "stalled": !matches!(inner.stall, Stall::Healthy),
            "stalledSeconds": stalled_seconds.map(round),
            "stallAfterSeconds": self.settings.stall_after.as_secs_f64(),
            "recoveries": self.recoveries(),
            "applied": self.applied.load(Ordering::Relaxed),
            "duplicatesSkipped": self.duplicates.load(Ordering::Relaxed),
            "waitingForDatabase": self.waiting_for_database.load(Ordering::Relaxed),
            "partitions": partitions,
        })
    }

    /// The component's `status`: a stall first, then what keeps the consumer from being up.
    fn health_status(&self, inner: &Inner, e: &Evaluation) -> &'static str {
        match inner.stall {
            Stall::Failed { .. } => "FAILED",
            Stall::Recovering { .. } => "STALLED",
            Stall::Healthy if !self.broker_up() => "DOWN",
            Stall::Healthy if self.waiting_for_database.load(Ordering::Relaxed) => {
                "WAITING_FOR_DATABASE"
            }
            Stall::Healthy if e.lag > 0 => "BEHIND",
            Stall::Healthy => "UP",
        }
    }
}

/// One partition in the report.
fn partition_report(n: i32, p: &PartitionProgress, now: Instant) -> Value {
    json!({
        "partition": n,
        "assigned": p.assigned,
        "position": p.position(),
        "highWatermark": p.high,
        "lag": p.lag(),
        "idleSeconds": round(now.saturating_duration_since(p.last_progress).as_secs_f64()),
    })
}

fn round(secs: f64) -> f64 {
    (secs * 10.0).round() / 10.0
}
