//! What the consumer tells the metrics (docs/observability.md): events handled, duplicates
//! and dead letters, how old an event was when its effect was committed, and per partition
//! the lag, its age and whether it is stalled (refreshed after each lag sample).

use ::metrics::{counter, gauge, histogram};
use shared_events::Envelope;

use super::ConsumerStatus;

/// Makes the counters exist at zero, so that a rate or an alert has a series from the start.
pub(super) fn register() {
    counter!("hifive_consumer_recoveries_total").absolute(0);
    for stage in ["decode", "apply"] {
        counter!("hifive_events_dead_lettered_total", "stage" => stage).absolute(0);
    }
}

/// An event's effect was committed here.
pub(super) fn applied(envelope: &Envelope) {
    let event_type = envelope.event.event_type();
    counter!("hifive_events_handled_total", "event_type" => event_type).increment(1);
    let age = (chrono::Utc::now() - envelope.timestamp)
        .to_std()
        .unwrap_or_default();
    histogram!("hifive_event_age_seconds", "event_type" => event_type).record(age.as_secs_f64());
}

/// A delivery of an event whose effect was applied already.
pub(super) fn duplicate(envelope: &Envelope) {
    counter!("hifive_events_duplicates_total", "event_type" => envelope.event.event_type())
        .increment(1);
}

/// An event was published to the dead-letter topic.
pub(super) fn dead_lettered(stage: &str) {
    counter!("hifive_events_dead_lettered_total", "stage" => stage.to_owned()).increment(1);
}

/// The consumer is re-created after a stall.
pub(super) fn recovered() {
    counter!("hifive_consumer_recoveries_total").increment(1);
}

/// The per-partition gauges, from what the status knows now.
pub(super) fn export(status: &ConsumerStatus) {
    for p in status.partition_gauges() {
        let partition = p.partition.to_string();
        gauge!("hifive_consumer_lag", "partition" => partition.clone()).set(p.lag as f64);
        gauge!("hifive_consumer_lag_seconds", "partition" => partition.clone())
            .set(p.lag_age.as_secs_f64());
        let stalled = if p.stalled { 1.0 } else { 0.0 };
        gauge!("hifive_consumer_stalled", "partition" => partition).set(stalled);
    }
}
