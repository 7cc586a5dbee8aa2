//! What conference records for `/metrics` (docs/observability.md, "Conference (the saga)"):
//! bookings by the status they reach, the saga's step latencies, refusals, and the pay
//! call's guard. Each fact is recorded once, where it happens (the use cases in `app`, the
//! guard in `pay_guard`); these functions only name the series. Without a recorder
//! installed they do nothing.

use std::time::Duration;

use shared_events::ConferenceStatus;
use tower_resilience_circuitbreaker::CircuitState;

/// A booking reached `status` (its status changed to it, or for `PAID`: its `201`).
pub fn booking_reached(status: ConferenceStatus) {
    ::metrics::counter!("hifive_bookings_total", "status" => status.as_str()).increment(1);
}

/// A step of the saga, timed from the booking's creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The `201`: booked and paid.
    Paid,
    /// The room service's verdict arrived: the room is the booking's...
    Assigned,
    /// ...or it is not.
    Rejected,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Paid => "paid",
            Step::Assigned => "assigned",
            Step::Rejected => "rejected",
        }
    }
}

/// The booking made at `created_at` (RFC 3339, as stored) reached `step` now. A time that
/// cannot be read records nothing (it is logged: the stored format is ours).
pub fn saga_step(step: Step, created_at: &str) {
    match since(created_at) {
        Some(age) => ::metrics::histogram!("hifive_saga_step_seconds", "step" => step.as_str())
            .record(age.as_secs_f64()),
        None => tracing::warn!(created_at, "unreadable creation time; saga step not timed"),
    }
}

/// How long ago `at` (RFC 3339) was; zero for a time in the future (clocks of two database
/// clients may differ slightly).
fn since(at: &str) -> Option<Duration> {
    let at = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    let age = chrono::Utc::now().signed_duration_since(at);
    Some(age.to_std().unwrap_or(Duration::ZERO))
}

/// Why a booking was refused before it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The saga is behind (`503 saga_busy`).
    SagaBusy,
    /// Pay was not asked: the breaker is open or the bulkhead full (`503 payment_busy`).
    PaymentBusy,
    /// Pay was asked and did not confirm (`503 payment_unavailable`).
    PaymentUnavailable,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::SagaBusy => "saga_busy",
            Refusal::PaymentBusy => "payment_busy",
            Refusal::PaymentUnavailable => "payment_unavailable",
        }
    }
}

pub fn refused(reason: Refusal) {
    ::metrics::counter!("hifive_refusals_total", "reason" => reason.as_str()).increment(1);
}

/// How one call to pay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayOutcome {
    /// Pay confirmed the payment.
    Paid,
    /// Pay refused it (4xx).
    Refused,
    /// No answer within `PAY_TIMEOUT_MS`.
    Timeout,
    /// Unreachable, a 5xx or an unreadable answer.
    Error,
}

impl PayOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            PayOutcome::Paid => "paid",
            PayOutcome::Refused => "refused",
            PayOutcome::Timeout => "timeout",
            PayOutcome::Error => "error",
        }
    }
}

/// One call to pay (one that the guard let through) took `took`.
pub fn pay_call(outcome: PayOutcome, took: Duration) {
    ::metrics::histogram!("hifive_pay_call_duration_seconds", "outcome" => outcome.as_str())
        .record(took.as_secs_f64());
}

fn state_name(state: CircuitState) -> &'static str {
    match state {
        CircuitState::Closed => "closed",
        CircuitState::Open => "open",
        CircuitState::HalfOpen => "half_open",
    }
}

/// The breaker is in `current`: 1 for it, 0 for the other states.
pub fn breaker_state(current: CircuitState) {
    for state in [
        CircuitState::Closed,
        CircuitState::Open,
        CircuitState::HalfOpen,
    ] {
        let on = if state == current { 1.0 } else { 0.0 };
        ::metrics::gauge!("hifive_pay_breaker_state", "state" => state_name(state)).set(on);
    }
}

/// The breaker changed to `to`.
pub fn breaker_transition(to: CircuitState) {
    ::metrics::counter!("hifive_pay_breaker_transitions_total", "to" => state_name(to))
        .increment(1);
    breaker_state(to);
}

/// A pay call took a bulkhead slot (`true`) or gave it back.
pub fn bulkhead_slot(taken: bool) {
    let in_use = ::metrics::gauge!("hifive_pay_bulkhead_in_use");
    if taken {
        in_use.increment(1.0);
    } else {
        in_use.decrement(1.0);
    }
}

/// The bulkhead is empty (at start).
pub fn bulkhead_empty() {
    ::metrics::gauge!("hifive_pay_bulkhead_in_use").set(0.0);
}

#[cfg(test)]
mod tests {
    use hifive_common::metrics::testing::{DebugValue, recorded};

    use super::*;

    fn gauge(v: f64) -> DebugValue {
        DebugValue::Gauge(v.into())
    }

    #[test]
    fn bookings_and_refusals_are_counted_by_their_status_and_reason() {
        let got = recorded(|| {
            booking_reached(ConferenceStatus::Paid);
            booking_reached(ConferenceStatus::Assigned);
            booking_reached(ConferenceStatus::Assigned);
            refused(Refusal::SagaBusy);
            refused(Refusal::PaymentBusy);
            refused(Refusal::PaymentUnavailable);
        });
        let counter = |k: &str| got.get(k);
        assert_eq!(
            counter("hifive_bookings_total{status=PAID}"),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(
            counter("hifive_bookings_total{status=ASSIGNED}"),
            Some(&DebugValue::Counter(2))
        );
        for reason in ["saga_busy", "payment_busy", "payment_unavailable"] {
            assert_eq!(
                counter(&format!("hifive_refusals_total{{reason={reason}}}")),
                Some(&DebugValue::Counter(1)),
                "{reason}"
            );
        }
    }

    #[test]
    fn saga_steps_are_timed_from_the_creation() {
        let created = hifive_common::db::ago(Duration::from_millis(1500));
        let got = recorded(|| {
            saga_step(Step::Assigned, &created);
            saga_step(Step::Rejected, "not a time");
        });
        let Some(DebugValue::Histogram(values)) =
            got.get("hifive_saga_step_seconds{step=assigned}")
        else {
            panic!("no histogram: {got:?}");
        };
        assert_eq!(values.len(), 1);
        assert!((1.5..10.0).contains(&values[0].into_inner()), "{values:?}");
        assert!(!got.contains_key("hifive_saga_step_seconds{step=rejected}"));
    }

    #[test]
    fn a_creation_time_ahead_of_the_clock_is_no_time_ago() {
        assert_eq!(since("2999-01-01T00:00:00.000Z"), Some(Duration::ZERO));
        assert_eq!(since("yesterday"), None);
    }

    #[test]
    fn pay_calls_are_timed_by_outcome() {
        let got = recorded(|| {
            pay_call(PayOutcome::Paid, Duration::from_millis(20));
            pay_call(PayOutcome::Timeout, Duration::from_secs(2));
        });
        assert_eq!(
            got.get("hifive_pay_call_duration_seconds{outcome=paid}"),
            Some(&DebugValue::Histogram(vec![0.02.into()]))
        );
        assert_eq!(
            got.get("hifive_pay_call_duration_seconds{outcome=timeout}"),
            Some(&DebugValue::Histogram(vec![2.0.into()]))
        );
    }

    #[test]
    fn the_breaker_shows_one_state_and_counts_its_changes() {
        let got = recorded(|| {
            breaker_state(CircuitState::Closed);
            breaker_transition(CircuitState::Open);
        });
        assert_eq!(
            got.get("hifive_pay_breaker_state{state=open}"),
            Some(&gauge(1.0))
        );
        assert_eq!(
            got.get("hifive_pay_breaker_state{state=closed}"),
            Some(&gauge(0.0))
        );
        assert_eq!(
            got.get("hifive_pay_breaker_state{state=half_open}"),
            Some(&gauge(0.0))
        );
        assert_eq!(
            got.get("hifive_pay_breaker_transitions_total{to=open}"),
            Some(&DebugValue::Counter(1))
        );
    }

    #[test]
    fn the_bulkhead_gauge_follows_slots_taken_and_given_back() {
        let got = recorded(|| {
            bulkhead_empty();
            bulkhead_slot(true);
            bulkhead_slot(true);
            bulkhead_slot(false);
        });
        assert_eq!(got.get("hifive_pay_bulkhead_in_use{}"), Some(&gauge(1.0)));
    }
}
