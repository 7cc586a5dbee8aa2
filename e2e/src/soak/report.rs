//! What a soak measured: the [`Tally`] its tasks keep during the run, and the [`Report`]
//! made of it (its `Display` is what `hifive-soak` prints).

use std::{collections::BTreeMap, fmt::Write as _, time::Duration};

use hifive_stack::supervisor::Happening;

#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) accepted: Vec<i64>,
    pub(super) cancelled: Vec<i64>,
    /// Answers by request kind and outcome, e.g. "book 503 saga_busy".
    pub(super) answers: BTreeMap<String, usize>,
    /// Saga latency of followed bookings: `201` → final status seen.
    pub(super) saga: Vec<Duration>,
    /// Followed bookings that had not finished when the run ended.
    pub(super) unfinished: Vec<i64>,
    pub(super) faults: Vec<String>,
    pub(super) max_lag: i64,
    pub(super) max_lag_age: f64,
    /// The largest lag (events, seconds) seen per service.
    pub(super) lag_by_service: BTreeMap<String, (i64, f64)>,
    /// Consumer self-recoveries (re-created consumers), summed over process lifetimes.
    pub(super) consumer_recoveries: u64,
    pub(super) stalled_seen: BTreeMap<String, usize>,
}

/// What the operator's checker said after the run.
pub(super) struct Verdict {
    /// The checker's exit status and output.
    pub(super) check_ok: bool,
    pub(super) check_output: String,
    /// Acknowledged cancellations that did not end CANCELED.
    pub(super) lost_cancellations: Vec<i64>,
}

impl Tally {
    /// The report of a run that took `elapsed`, with what the supervisor did and the
    /// checker's verdict.
    pub(super) fn report(
        &self,
        elapsed: Duration,
        happenings: Vec<Happening>,
        verdict: Verdict,
    ) -> Report {
        Report {
            elapsed,
            accepted: self.accepted.len(),
            cancelled: self.cancelled.len(),
            answers: self.answers.clone(),
            saga: self.saga.clone(),
            unfinished: self.unfinished.clone(),
            faults: self.faults.clone(),
            happenings,
            max_lag: self.max_lag,
            max_lag_age: self.max_lag_age,
            lag_by_service: self.lag_by_service.clone(),
            consumer_recoveries: self.consumer_recoveries,
            stalled_seen: self.stalled_seen.clone(),
            check_ok: verdict.check_ok,
            check_output: verdict.check_output,
            lost_cancellations: verdict.lost_cancellations,
        }
    }
}

/// What a soak measured; `Display` prints the report.
#[derive(Debug)]
pub struct Report {
    pub elapsed: Duration,
    pub accepted: usize,
    pub cancelled: usize,
    pub answers: BTreeMap<String, usize>,
    pub saga: Vec<Duration>,
    pub unfinished: Vec<i64>,
    pub faults: Vec<String>,
    pub happenings: Vec<Happening>,
    pub max_lag: i64,
    pub max_lag_age: f64,
    pub lag_by_service: BTreeMap<String, (i64, f64)>,
    pub consumer_recoveries: u64,
    pub stalled_seen: BTreeMap<String, usize>,
    /// The checker's exit status and output.
    pub check_ok: bool,
    pub check_output: String,
    /// Acknowledged cancellations that did not end CANCELED.
    pub lost_cancellations: Vec<i64>,
}

impl Report {
    /// Zero violations, zero stuck bookings, every acknowledged cancellation done.
    pub fn healthy(&self) -> bool {
        self.check_ok && self.lost_cancellations.is_empty()
    }

    /// Refusals by their reason (answers that are not 201/204).
    pub fn refusals(&self) -> BTreeMap<String, usize> {
        let mut by = BTreeMap::new();
        for (k, n) in &self.answers {
            let outcome = k.split_once(' ').map_or(k.as_str(), |(_, o)| o);
            if !matches!(outcome, "201" | "204") {
                *by.entry(outcome.to_owned()).or_default() += n;
            }
        }
        by
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.load_line());
        let _ = writeln!(out, "{}", self.saga_line());
        let _ = writeln!(out, "{}", self.lag_line());
        let _ = writeln!(out, "{}", self.refusals_line());
        let _ = writeln!(
            out,
            "faults        {} injected: {}",
            self.faults.len(),
            self.faults.join(", ")
        );
        let _ = writeln!(out, "{}", self.recoveries_line());
        let _ = write!(out, "check         {}", self.check_output.trim_end());
        if !self.lost_cancellations.is_empty() {
            let _ = write!(
                out,
                "\nLOST CANCELLATIONS (204 but not CANCELED): {:?}",
                self.lost_cancellations
            );
        }
        f.write_str(&out)
    }
}

/// The lines of the report.
impl Report {
    /// Requests and bookings, in all and per second.
    fn load_line(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(f64::EPSILON);
        let requests: usize = self.answers.values().sum();
        format!(
            "load          {:.0} s, {requests} requests ({:.1}/s); {} bookings accepted ({:.1}/s), {} cancelled",
            secs,
            requests as f64 / secs,
            self.accepted,
            self.accepted as f64 / secs,
            self.cancelled
        )
    }

    /// Percentiles of the followed bookings' saga latency.
    fn saga_line(&self) -> String {
        let mut saga = self.saga.clone();
        saga.sort();
        let q = |p: f64| {
            load::quantile(&saga, p)
                .map_or("-".into(), |d| format!("{:.0}", d.as_secs_f64() * 1000.0))
        };
        format!(
            "saga latency  201 → final status, {} followed: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms{}",
            saga.len(),
            q(0.5),
            q(0.9),
            q(0.99),
            saga.last()
                .map_or("-".into(), |d| format!("{:.0}", d.as_secs_f64() * 1000.0)),
            if self.unfinished.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} not final when the load stopped",
                    self.unfinished.len()
                )
            }
        )
    }

    /// The largest consumer lag, overall and per service.
    fn lag_line(&self) -> String {
        let by: Vec<String> = self
            .lag_by_service
            .iter()
            .map(|(s, (n, age))| format!("{s} {n} / {age:.1} s"))
            .collect();
        format!(
            "largest lag   {} events; events {:.1} s old ({})",
            self.max_lag,
            self.max_lag_age,
            by.join(", ")
        )
    }

    /// The answers that were not 201/204, by reason.
    fn refusals_line(&self) -> String {
        let refusals: Vec<String> = self
            .refusals()
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect();
        format!(
            "not 201/204   {}",
            if refusals.is_empty() {
                "none".into()
            } else {
                refusals.join(", ")
            }
        )
    }

    /// The supervisor's restarts, the consumers' own recoveries and the stalls seen.
    fn recoveries_line(&self) -> String {
        let restarts: Vec<String> = self
            .happenings
            .iter()
            .filter_map(|h| match h {
                Happening::Restarted { name, reason } => Some(format!("{name} ({reason})")),
                Happening::Exited { .. } => None,
            })
            .collect();
        let stalled: Vec<String> = self
            .stalled_seen
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect();
        format!(
            "recoveries    {} restarts by the supervisor{}{}; {} consumers re-created after a stall; stalls seen: {}",
            restarts.len(),
            if restarts.is_empty() { "" } else { ": " },
            restarts.join(", "),
            self.consumer_recoveries,
            if stalled.is_empty() {
                "none".into()
            } else {
                stalled.join(", ")
            }
        )
    }
}
