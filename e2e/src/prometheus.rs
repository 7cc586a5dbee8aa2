//! Reading a service's `GET /metrics` (the Prometheus text format): [`System::metrics`]
//! scrapes it, [`sample`] finds one series' value in it.

use crate::System;

impl System {
    /// `GET /metrics` on a service's own port (the gateway never routes it): the text.
    pub async fn metrics(&self, service: &str) -> String {
        let r = self
            .http
            .get(format!("{}/metrics", self.url_of(service)))
            .send()
            .await
            .expect("the service answers /metrics");
        assert!(
            r.status().is_success(),
            "{service} /metrics: {}",
            r.status()
        );
        r.text().await.expect("a text body")
    }
}

/// The value of the series `name` whose labels include every one of `labels` (summed when
/// several series match, e.g. when other labels differ); `None` when none does.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(parse_line)
        .filter(|(n, ls, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| ls.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, value)| value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

type Labels = Vec<(String, String)>;

/// `name{k="v",...} value [timestamp]` → its parts; `None` for anything else.
fn parse_line(line: &str) -> Option<(String, Labels, f64)> {
    let line = line.trim();
    let (series, rest) = if line.contains('{') {
        let close = line.rfind('}')?;
        (&line[..close + 1], &line[close + 1..])
    } else {
        line.split_at(line.find(char::is_whitespace)?)
    };
    let value = rest.split_whitespace().next()?.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, labels)) => (name, parse_labels(labels.strip_suffix('}')?)?),
        None => (series, Vec::new()),
    };
    Some((name.to_owned(), labels, value))
}

/// `k="v",k2="v\"2"` → the pairs, escapes (`\\`, `\"`, `\n`) undone.
fn parse_labels(mut text: &str) -> Option<Labels> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start_matches([',', ' ']);
        if text.is_empty() {
            return Some(labels);
        }
        let (key, rest) = text.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim().to_owned(), value));
        text = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP hifive_bookings_total bookings reaching a status
# TYPE hifive_bookings_total counter
hifive_bookings_total{service="conference",status="PAID"} 2
hifive_bookings_total{service="conference",status="ASSIGNED"} 1
hifive_saga_step_seconds_bucket{service="conference",step="assigned",le="+Inf"} 1
hifive_saga_step_seconds_count{service="conference",step="assigned"} 1
hifive_saga_step_seconds_sum{service="conference",step="assigned"} 0.25
http_server_requests_total{method="GET",route="/a,b",status="200",service="pay"} 3
http_server_requests_total{method="GET",route="say \"hi\"",status="200",service="pay"} 4
hifive_consumer_recoveries_total 0
"#;

    #[test]
    fn a_series_is_found_by_name_and_labels() {
        let one = |name, labels| sample(TEXT, name, labels);
        assert_eq!(
            one("hifive_bookings_total", &[("status", "ASSIGNED")]),
            Some(1.0)
        );
        assert_eq!(one("hifive_bookings_total", &[]), Some(3.0), "summed");
        assert_eq!(
            one(
                "hifive_saga_step_seconds_count",
                &[("step", "assigned"), ("service", "conference")]
            ),
            Some(1.0)
        );
        assert_eq!(one("hifive_bookings_total", &[("status", "FAILED")]), None);
        assert_eq!(one("hifive_consumer_recoveries_total", &[]), Some(0.0));
        assert_eq!(
            one("http_server_requests_total", &[("route", "/a,b")]),
            Some(3.0)
        );
        assert_eq!(
            one("http_server_requests_total", &[("route", "say \"hi\"")]),
            Some(4.0)
        );
        assert_eq!(
            one(
                "hifive_saga_step_seconds_bucket",
                &[("le", "+Inf"), ("step", "assigned")]
            ),
            Some(1.0)
        );
    }
}
