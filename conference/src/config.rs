//! Conference's settings, read from the environment (README "Configuration").

use std::time::Duration;

use hifive_common::{
    CommonConfig,
    config::{env_millis, env_or, env_parse},
};

use crate::{pay_guard::GuardConfig, saga_guard::SagaLimits};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `PAY_URL`: base URL of the pay service (default http://127.0.0.1:8082).
    pub pay_url: String,
    /// The timeout, bulkhead and circuit breaker around the pay call.
    pub pay_guard: GuardConfig,
    /// `PAY_RETRY_AFTER_SECS`: the `Retry-After` sent when pay is unavailable (default 5).
    pub retry_after_secs: u64,
    /// `STUCK_BOOKING_AFTER_MS`: a booking still `CREATED` this long after it was made lost
    /// its pay call (the service stopped mid-call); it is marked `FAILED` and any payment
    /// refunded (default 30000).
    pub stuck_after: Duration,
    /// Backpressure: the bounds within which the saga is said to keep up.
    pub saga: SagaLimits,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let common = CommonConfig::from_env("conference", 8081)?;
        common.auth.ensure_users()?;
        common.auth.ensure_service_secret()?;
        Ok(Self {
            common,
            pay_url: env_or("PAY_URL", "http://127.0.0.1:8082"),
            pay_guard: guard_config()?,
            retry_after_secs: env_parse("PAY_RETRY_AFTER_SECS", 5)?,
            stuck_after: env_millis("STUCK_BOOKING_AFTER_MS", 30_000)?,
            saga: saga_limits()?,
        })
    }
}

/// Reads the saga's bounds; the defaults are [`SagaLimits::default`].
fn saga_limits() -> anyhow::Result<SagaLimits> {
    let d = SagaLimits::default();
    Ok(SagaLimits {
        max_lag: env_millis("SAGA_MAX_LAG_MS", d.max_lag.as_millis() as u64)?,
        max_outbox: env_parse("SAGA_MAX_OUTBOX", d.max_outbox)?,
        max_outbox_age: env_millis(
            "SAGA_MAX_OUTBOX_AGE_MS",
            d.max_outbox_age.as_millis() as u64,
        )?,
        retry_after_secs: env_parse("SAGA_RETRY_AFTER_SECS", d.retry_after_secs)?.max(1),
    })
}

/// Reads the pay guard's settings; the defaults are [`GuardConfig::default`].
fn guard_config() -> anyhow::Result<GuardConfig> {
    let d = GuardConfig::default();
    Ok(GuardConfig {
        timeout: env_millis("PAY_TIMEOUT_MS", d.timeout.as_millis() as u64)?,
        max_concurrent: env_parse("PAY_MAX_CONCURRENT", d.max_concurrent)?,
        failure_rate: env_parse("BREAKER_FAILURE_RATE", d.failure_rate)?,
        slow_call: env_millis("BREAKER_SLOW_CALL_MS", d.slow_call.as_millis() as u64)?,
        slow_call_rate: env_parse("BREAKER_SLOW_CALL_RATE", d.slow_call_rate)?,
        window: env_parse("BREAKER_WINDOW", d.window)?,
        min_calls: env_parse("BREAKER_MIN_CALLS", d.min_calls)?,
        open_wait: env_millis("BREAKER_OPEN_MS", d.open_wait.as_millis() as u64)?,
        half_open_calls: env_parse("BREAKER_HALF_OPEN_CALLS", d.half_open_calls)?,
    })
}
