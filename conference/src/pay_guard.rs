//! The guarded call to pay, built once and shared by every request: a bulkhead (at most
//! `max_concurrent` pay calls; more are refused at once), then a tower stack of circuit
//! breaker (failure rate and slow-call rate over a sliding window of calls) → timeout → HTTP.
//!
//! [`GuardedPay::admit`] decides before anything is stored: a full bulkhead, or a breaker that
//! opened less than its wait ago, refuses at once without touching the database.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Serialize;
use shared_events::{ConferenceId, PayId, RoomNumber};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt, util::BoxCloneSyncService};
use tower_resilience_circuitbreaker::{
    CircuitBreakerError, CircuitBreakerLayer, CircuitState, SlidingWindowType,
};

use crate::{
    metrics::{self, PayOutcome},
    pay_client::{PayClient, PayError},
};

/// Settings of the guard (environment variables in brackets; see the README).
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// How long a booking waits for pay (`PAY_TIMEOUT_MS`).
    pub timeout: Duration,
    /// Bulkhead: pay calls in flight at most (`PAY_MAX_CONCURRENT`).
    pub max_concurrent: usize,
    /// Opens when this share of the calls in the window failed (`BREAKER_FAILURE_RATE`, %).
    pub failure_rate: f64,
    /// A call slower than this counts as slow (`BREAKER_SLOW_CALL_MS`).
    pub slow_call: Duration,
    /// Opens when this share of the calls in the window were slow (`BREAKER_SLOW_CALL_RATE`, %).
    pub slow_call_rate: f64,
    /// The window: the last N calls (`BREAKER_WINDOW`).
    pub window: usize,
    /// No decision before this many calls in the window (`BREAKER_MIN_CALLS`).
    pub min_calls: usize,
    /// How long it stays open before letting trial calls through (`BREAKER_OPEN_MS`).
    pub open_wait: Duration,
    /// Trial calls in half-open; all must succeed to close (`BREAKER_HALF_OPEN_CALLS`).
    pub half_open_calls: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(2000),
            max_concurrent: 64,
            failure_rate: 50.0,
            slow_call: Duration::from_millis(1000),
            slow_call_rate: 80.0,
            window: 20,
            min_calls: 10,
            open_wait: Duration::from_secs(5),
            half_open_calls: 3,
        }
    }
}

/// One payment to make.
#[derive(Debug, Clone)]
pub struct PayRequest {
    pub conference_id: ConferenceId,
    pub room_number: RoomNumber,
    /// Who books (the token's `sub`): the payment is theirs.
    pub customer: String,
    pub request_id: String,
}

/// Why a guarded pay call did not give a payment.
#[derive(Debug, thiserror::Error)]
pub enum PayCallError {
    /// The circuit is open: pay was not called.
    #[error("payment is busy: the circuit to pay is open")]
    Open,
    /// The bulkhead is full: pay was not called.
    #[error("payment is busy: {0} payments are in progress already")]
    Busy(usize),
    /// Pay was called and failed.
    #[error(transparent)]
    Pay(#[from] PayError),
}

/// The pay guard's part of `/health/ready`: an open breaker is reported, but does not make
/// conference unready (it still serves reads and cancellations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerReport {
    /// `CLOSED`, `OPEN` or `HALF_OPEN`.
    pub status: &'static str,
    pub transitions: u64,
    pub max_concurrent: usize,
    pub timeout_ms: u64,
}

/// The breaker's state as the guard last saw it, and how often it changed.
#[derive(Debug, Default)]
pub struct BreakerState {
    state: AtomicU8,
    transitions: AtomicU64,
    opened_at: Mutex<Option<Instant>>,
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

fn code(state: CircuitState) -> u8 {
    match state {
        CircuitState::Closed => CLOSED,
        CircuitState::Open => OPEN,
        CircuitState::HalfOpen => HALF_OPEN,
    }
}

impl BreakerState {
    pub fn name(&self) -> &'static str {
        match self.state.load(Ordering::Relaxed) {
            OPEN => "OPEN",
            HALF_OPEN => "HALF_OPEN",
            _ => "CLOSED",
        }
    }

    pub fn transitions(&self) -> u64 {
        self.transitions.load(Ordering::Relaxed)
    }

    /// Open, and opened less than `wait` ago: certainly refusing (after the wait, the next
    /// call is the breaker's to decide, as it half-opens).
    fn refusing(&self, wait: Duration) -> bool {
        self.state.load(Ordering::Relaxed) == OPEN
            && self
                .opened_at
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|at| at.elapsed() < wait)
    }

    fn saw(&self, to: CircuitState) {
        if to == CircuitState::Open {
            *self.opened_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
        self.state.store(code(to), Ordering::Relaxed);
        self.transitions.fetch_add(1, Ordering::Relaxed);
        metrics::breaker_transition(to);
    }
}

/// The pay call behind its bulkhead, breaker and timeout. Cheap to clone; clones share the
/// breaker and the bulkhead.
#[derive(Clone)]
pub struct GuardedPay {
    service: BoxCloneSyncService<PayRequest, PayId, PayCallError>,
    bulkhead: Arc<Semaphore>,
    state: Arc<BreakerState>,
    config: GuardConfig,
}

/// Permission to call pay: a bulkhead slot, held until the call ends.
pub struct Admission {
    _slot: Slot,
    service: BoxCloneSyncService<PayRequest, PayId, PayCallError>,
}

/// A bulkhead slot, counted in use (`hifive_pay_bulkhead_in_use`) while it is held.
struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    fn taken(permit: OwnedSemaphorePermit) -> Self {
        metrics::bulkhead_slot(true);
        Self { _permit: permit }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        metrics::bulkhead_slot(false);
    }
}

impl Admission {
    /// Makes the payment (the breaker may still refuse it while half-open).
    pub async fn pay(self, request: PayRequest) -> Result<PayId, PayCallError> {
        self.service.oneshot(request).await
    }
}

impl GuardedPay {
    /// Guards the HTTP client of pay.
    pub fn new(client: PayClient, config: GuardConfig) -> anyhow::Result<Self> {
        Self::around(
            tower::service_fn(move |r: PayRequest| {
                let client = client.clone();
                async move { client.pay(&r).await }
            }),
            config,
        )
    }

    /// Guards any pay service (the tests use a controllable one).
    pub fn around<S>(pay: S, config: GuardConfig) -> anyhow::Result<Self>
    where
        S: Service<PayRequest, Response = PayId, Error = PayError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        let state = Arc::new(BreakerState::default());
        let seen = state.clone();
        let (breaker, _handle) = CircuitBreakerLayer::builder()
            .name("pay")
            .failure_classifier(|result: &Result<PayId, PayError>| {
                // A refusal (4xx) is pay working as it should; it does not trip the breaker.
                matches!(
                    result,
                    Err(PayError::Unreachable(_) | PayError::Unconfirmed(_))
                )
            })
            .sliding_window_type(SlidingWindowType::CountBased)
            .sliding_window_size(config.window.max(1))
            .minimum_number_of_calls(config.min_calls.max(1))
            .failure_rate_threshold((config.failure_rate / 100.0).clamp(0.01, 1.0))
            .slow_call_duration_threshold(config.slow_call)
            .slow_call_rate_threshold((config.slow_call_rate / 100.0).clamp(0.01, 1.0))
            .wait_duration_in_open(config.open_wait)
            .permitted_calls_in_half_open(config.half_open_calls.max(1))
            .on_state_transition(move |from, to| {
                seen.saw(to);
                match to {
                    CircuitState::Open => {
                        tracing::warn!(from = ?from, to = ?to, "pay circuit breaker opened: bookings are refused at once")
                    }
                    _ => tracing::info!(from = ?from, to = ?to, "pay circuit breaker changed state"),
                }
            })
            .build_with_handle()?;
        let timeout = config.timeout;
        let stack = ServiceBuilder::new()
            .map_err(classify)
            .layer(breaker)
            .map_err(move |e: BoxError| timed_out(e, timeout))
            .map_future(timed)
            .timeout(timeout)
            .service(pay);
        metrics::breaker_state(CircuitState::Closed);
        metrics::bulkhead_empty();
        Ok(Self {
            service: BoxCloneSyncService::new(stack),
            bulkhead: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            state,
            config,
        })
    }

    /// Asks to call pay, without waiting: refused at once while the breaker is open or the
    /// bulkhead is full.
    pub fn admit(&self) -> Result<Admission, PayCallError> {
        if self.state.refusing(self.config.open_wait) {
            return Err(PayCallError::Open);
        }
        let slot = self
            .bulkhead
            .clone()
            .try_acquire_owned()
            .map_err(|_| PayCallError::Busy(self.config.max_concurrent.max(1)))?;
        Ok(Admission {
            _slot: Slot::taken(slot),
            service: self.service.clone(),
        })
    }

    /// Admits and makes one payment.
    pub async fn pay(&self, request: PayRequest) -> Result<PayId, PayCallError> {
        self.admit()?.pay(request).await
    }

    /// The breaker's state, for logs and `/health/ready`.
    pub fn breaker(&self) -> &BreakerState {
        &self.state
    }

    /// Seconds a refused client should wait before trying again.
    pub fn retry_after_secs(&self) -> u64 {
        self.config.open_wait.as_secs_f64().ceil().max(1.0) as u64
    }

    /// `/health/ready` details.
    pub fn report(&self) -> BreakerReport {
        BreakerReport {
            status: self.state.name(),
            transitions: self.state.transitions(),
            max_concurrent: self.config.max_concurrent,
            timeout_ms: self.config.timeout.as_millis() as u64,
        }
    }
}

/// Errors out of the timeout layer: the pay client's own error, or "no answer in time"
/// (pay may have charged: the caller refunds).
fn timed_out(e: BoxError, timeout: Duration) -> PayError {
    match e.downcast::<PayError>() {
        Ok(e) => *e,
        Err(e) if e.is::<tower::timeout::error::Elapsed>() => {
            PayError::Unconfirmed(format!("no answer within {} ms", timeout.as_millis()))
        }
        Err(e) => PayError::Unconfirmed(e.to_string()),
    }
}

/// Times one call to pay that the breaker let through (`hifive_pay_call_duration_seconds`),
/// up to its answer or its timeout.
async fn timed<F>(call: F) -> Result<PayId, BoxError>
where
    F: Future<Output = Result<PayId, BoxError>>,
{
    let started = Instant::now();
    let result = call.await;
    metrics::pay_call(outcome(&result), started.elapsed());
    result
}

/// How a call to pay ended, from what the timeout layer gives.
fn outcome(result: &Result<PayId, BoxError>) -> PayOutcome {
    match result {
        Ok(_) => PayOutcome::Paid,
        Err(e) if e.is::<tower::timeout::error::Elapsed>() => PayOutcome::Timeout,
        Err(e) => match e.downcast_ref::<PayError>() {
            Some(PayError::Refused(_)) => PayOutcome::Refused,
            _ => PayOutcome::Error,
        },
    }
}

/// Errors out of the breaker.
fn classify(e: CircuitBreakerError<PayError>) -> PayCallError {
    match e {
        CircuitBreakerError::OpenCircuit => PayCallError::Open,
        CircuitBreakerError::Inner(e) => PayCallError::Pay(e),
    }
}
