//! Overload knobs to reproduce the original's load test, off by default: a simulated
//! processing time per payment (the original slept 400–620 ms after recording the payment,
//! before answering) and a capacity (payments handled at once; the rest queue, as on a
//! saturated server).
//!
//! Set at start with `PAY_LATENCY_MS` (`500` or `400..620`) and `PAY_CAPACITY`, or at run time
//! with `PUT /admin/overload` on pay's own port when `PAY_ADMIN_ENABLED=true` (the gateway does
//! not route `/admin`).

use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A processing time: fixed, or uniformly spread over a range (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub min_ms: u64,
    pub max_ms: u64,
}

impl Latency {
    /// `"500"` or `"400..620"`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let number = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("{raw:?} is not a latency: use 500 or 400..620 (ms)"))
        };
        let (min_ms, max_ms) = match raw.split_once("..") {
            Some((lo, hi)) => (number(lo)?, number(hi)?),
            None => (number(raw)?, number(raw)?),
        };
        if min_ms > max_ms {
            return Err(format!("{raw:?}: the range is empty"));
        }
        Ok(Self { min_ms, max_ms })
    }

    /// The delay for a draw `r` in `0..u64::MAX`.
    pub fn pick(&self, r: u64) -> Duration {
        let span = self.max_ms - self.min_ms + 1;
        Duration::from_millis(self.min_ms + r % span)
    }

    fn text(&self) -> String {
        if self.min_ms == self.max_ms {
            self.min_ms.to_string()
        } else {
            format!("{}..{}", self.min_ms, self.max_ms)
        }
    }
}

#[derive(Default)]
struct Settings {
    latency: Option<Latency>,
    capacity: Option<(usize, Arc<Semaphore>)>,
}

/// The current overload settings, shared by every request.
#[derive(Clone, Default)]
pub struct Overload {
    settings: Arc<RwLock<Settings>>,
    draws: Arc<AtomicU64>,
}

/// The current settings, as `GET /admin/overload` shows them (`null`: off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `"500"` or `"400..620"`.
    pub latency_ms: Option<String>,
    pub capacity: Option<usize>,
}

/// Held while a payment is processed (frees its capacity slot on drop).
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
    delay: Option<Duration>,
}

impl Slot {
    /// The simulated processing time, spent after the payment is recorded: a slow answer
    /// for a payment that is already made (conference may give up on it meanwhile).
    pub async fn work(&self) {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
    }
}

impl Overload {
    pub fn new(latency: Option<Latency>, capacity: Option<usize>) -> Self {
        let o = Self::default();
        o.set(latency, capacity);
        o
    }

    pub fn set(&self, latency: Option<Latency>, capacity: Option<usize>) {
        let mut s = self.settings.write().unwrap_or_else(|e| e.into_inner());
        s.latency = latency;
        s.capacity = capacity
            .filter(|n| *n > 0)
            .map(|n| (n, Arc::new(Semaphore::new(n))));
        if s.latency.is_some() || s.capacity.is_some() {
            tracing::warn!(
                latency_ms = latency.map(|l| l.text()),
                capacity,
                "payment overload simulation on"
            );
        }
    }

    pub fn report(&self) -> Report {
        let s = self.settings.read().unwrap_or_else(|e| e.into_inner());
        Report {
            latency_ms: s.latency.map(|l| l.text()),
            capacity: s.capacity.as_ref().map(|(n, _)| *n),
        }
    }

    /// Waits for a capacity slot; [`Slot::work`] then takes the simulated processing time.
    pub async fn enter(&self) -> Slot {
        let (latency, capacity) = {
            let s = self.settings.read().unwrap_or_else(|e| e.into_inner());
            (s.latency, s.capacity.as_ref().map(|(_, sem)| sem.clone()))
        };
        let permit = match capacity {
            Some(sem) => sem.acquire_owned().await.ok(),
            None => None,
        };
        Slot {
            _permit: permit,
            delay: latency.map(|l| l.pick(self.draw())),
        }
    }

    /// A cheap pseudo-random number (splitmix64 over a counter and the clock).
    fn draw(&self) -> u64 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or_default();
        let mut z = self
            .draws
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(nanos);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_are_fixed_or_ranges() {
        assert_eq!(
            Latency::parse("500").unwrap(),
            Latency {
                min_ms: 500,
                max_ms: 500
            }
        );
        let seed = Latency::parse("400..620").unwrap();
        assert_eq!(
            seed,
            Latency {
                min_ms: 400,
                max_ms: 620
            }
        );
        for r in [0, 1, 220, 221, u64::MAX] {
            let d = seed.pick(r).as_millis();
            assert!((400..=620).contains(&d), "{d}");
        }
        assert!(Latency::parse("620..400").is_err());
        assert!(Latency::parse("fast").is_err());
    }

    #[test]
    fn the_report_shows_what_is_on() {
        let off = Overload::default().report();
        assert_eq!(
            serde_json::to_value(&off).unwrap(),
            serde_json::json!({"latencyMs": null, "capacity": null})
        );
        let on = Overload::new(Latency::parse("400..620").ok(), Some(10)).report();
        assert_eq!(
            serde_json::to_value(&on).unwrap(),
            serde_json::json!({"latencyMs": "400..620", "capacity": 10})
        );
    }
}
