//! What a load run measured, and its report. Pure: the runner in `main.rs` feeds it.

use std::{collections::BTreeMap, fmt::Write, time::Duration};

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// 201: booked.
    Booked,
    /// An HTTP answer other than 201, with the JSON `error` when there is one.
    Refused { status: u16, error: String },
    /// No answer (connection refused, reset, client timeout).
    NoAnswer,
}

impl Outcome {
    fn label(&self) -> String {
        match self {
            Outcome::Booked => "201 booked".into(),
            Outcome::Refused { status, error } if error.is_empty() => format!("{status}"),
            Outcome::Refused { status, error } => format!("{status} {error}"),
            Outcome::NoAnswer => "no answer".into(),
        }
    }
}

/// A breaker state seen at some time into the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub at: Duration,
    pub state: String,
}

/// Everything recorded during a run.
#[derive(Debug, Default)]
pub struct Run {
    pub samples: Vec<(Outcome, Duration)>,
    pub elapsed: Duration,
    /// Breaker states as sampled (only changes are kept).
    pub breaker: Vec<Seen>,
    /// The breaker's own transition counter, before and after the run.
    pub transitions: Option<(u64, u64)>,
}

/// The `q`-quantile (0..=1) of sorted durations, nearest rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.0}", d.as_secs_f64() * 1000.0))
}

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    format!(
        "n {:>6}  p50 {:>6} ms  p90 {:>6} ms  p99 {:>6} ms  max {:>6} ms",
        v.len(),
        ms(quantile(&v, 0.5)),
        ms(quantile(&v, 0.9)),
        ms(quantile(&v, 0.99)),
        ms(v.last().copied())
    )
}

impl Run {
    /// Records a breaker state if it differs from the last one seen.
    pub fn saw(&mut self, at: Duration, state: &str) {
        if self.breaker.last().is_none_or(|s| s.state != state) {
            self.breaker.push(Seen {
                at,
                state: state.to_owned(),
            });
        }
    }

    /// The report: availability (as siege computes it), throughput, latency percentiles of
    /// successes, of fast refusals (payment_busy) and of other failures, and the breaker.
    pub fn report(&self) -> String {
        let mut out = String::new();
        self.write_counts(&mut out);
        self.write_latencies(&mut out);
        self.write_breaker(&mut out);
        out
    }

    /// Requests, availability, throughput and the count of each outcome.
    fn write_counts(&self, out: &mut String) {
        let total = self.samples.len();
        let secs = self.elapsed.as_secs_f64().max(f64::EPSILON);
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for (o, _) in &self.samples {
            *by.entry(o.label()).or_default() += 1;
        }
        let booked = by.get("201 booked").copied().unwrap_or(0);
        let pct = |n: usize| 100.0 * n as f64 / total.max(1) as f64;
        let _ = writeln!(
            out,
            "requests              {total:>7}   {:.1}/s over {:.1} s",
            total as f64 / secs,
            secs
        );
        let _ = writeln!(
            out,
            "availability          {:>6.2}%   ({booked} bookings accepted; siege's measure)",
            pct(booked)
        );
        let _ = writeln!(out, "successful throughput {:>7.1}/s", booked as f64 / secs);
        for (label, n) in &by {
            let _ = writeln!(out, "  {label:<28} {n:>7}  {:>6.2}%", pct(*n));
        }
    }

    /// Latency percentiles of successes, of fast refusals and of other failures.
    fn write_latencies(&self, out: &mut String) {
        let pick = |f: &dyn Fn(&Outcome) -> bool| -> Vec<Duration> {
            self.samples
                .iter()
                .filter(|(o, _)| f(o))
                .map(|(_, d)| *d)
                .collect()
        };
        let busy =
            |o: &Outcome| matches!(o, Outcome::Refused { error, .. } if error == "payment_busy");
        let _ = writeln!(
            out,
            "latency, 201 booked:        {}",
            percentiles(pick(&|o| *o == Outcome::Booked))
        );
        let _ = writeln!(
            out,
            "latency, 503 payment_busy:  {}",
            percentiles(pick(&busy))
        );
        let _ = writeln!(
            out,
            "latency, other failures:   {}",
            percentiles(pick(&|o| *o != Outcome::Booked && !busy(o)))
        );
    }

    /// The breaker's transitions and the states seen.
    fn write_breaker(&self, out: &mut String) {
        match self.transitions {
            Some((before, after)) => {
                let _ = writeln!(
                    out,
                    "breaker transitions:   {}",
                    after.saturating_sub(before)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "breaker transitions:   unknown (conference not reachable)"
                );
            }
        }
        let timeline: Vec<String> = self
            .breaker
            .iter()
            .map(|s| format!("{:.1}s {}", s.at.as_secs_f64(), s.state))
            .collect();
        let _ = writeln!(out, "breaker states seen:   {}", timeline.join(" → "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(d).collect();
        assert_eq!(quantile(&v, 0.5), Some(d(50)));
        assert_eq!(quantile(&v, 0.99), Some(d(99)));
        assert_eq!(quantile(&v, 1.0), Some(d(100)));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[d(7)], 0.99), Some(d(7)));
    }

    #[test]
    fn the_report_counts_availability_like_siege() {
        let busy = Outcome::Refused {
            status: 503,
            error: "payment_busy".into(),
        };
        let mut run = Run {
            samples: vec![
                (Outcome::Booked, d(500)),
                (Outcome::Booked, d(600)),
                (busy.clone(), d(2)),
                (Outcome::NoAnswer, d(30_000)),
            ],
            elapsed: d(2000),
            ..Run::default()
        };
        run.saw(d(0), "CLOSED");
        run.saw(d(100), "CLOSED");
        run.saw(d(900), "OPEN");
        let report = run.report();
        assert!(report.contains(" 50.00%"), "{report}");
        assert!(report.contains("503 payment_busy"), "{report}");
        assert!(report.contains("0.0s CLOSED → 0.9s OPEN"), "{report}");
        assert!(
            report.contains("successful throughput     1.0/s"),
            "{report}"
        );
    }
}
