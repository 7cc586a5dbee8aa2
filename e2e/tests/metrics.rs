//! A booking through the gateway shows up in `GET /metrics` of every service it touched
//! (docs/observability.md, the plumbing every service shares): HTTP requests by route
//! template, events handled, the outbox relay, consumer lag per partition, the database pool;
//! the gateway's own on its management port, never on the public one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use e2e::{SETTLE, System, eventually, prometheus::sample};

const EVENT_DRIVEN: [&str; 4] = ["conference", "pay", "room", "customer-center"];

/// `/metrics` of a service: its own port, or the gateway's management port.
async fn scrape(sys: &System, service: &str) -> String {
    if service == "gateway" {
        sys.gateway_metrics().await
    } else {
        sys.metrics(service).await
    }
}

/// Waits until `service` shows the series `name` with `labels` (and its `service` label) at
/// `min` or more; returns its value.
async fn at_least(
    sys: &System,
    service: &str,
    name: &str,
    labels: &[(&str, &str)],
    min: f64,
) -> f64 {
    let mut labels = labels.to_vec();
    labels.push(("service", service));
    let what = format!("{service} shows {name}{labels:?} >= {min}");
    eventually(&what, SETTLE, || async {
        sample(&scrape(sys, service).await, name, &labels).filter(|v| *v >= min)
    })
    .await
}

/// Every sample line of a page (not `#` comments) carries `service="<service>"`.
fn every_sample_is_labelled(page: &str, service: &str) {
    let label = format!(r#"service="{service}""#);
    let samples: Vec<&str> = page
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert!(!samples.is_empty(), "{service}: an empty page");
    for line in samples {
        assert!(line.contains(&label), "{service}: {line} lacks {label}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_shows_in_the_metrics_of_every_service_it_touched() {
    let sys = System::start().await;
    sys.register_room(1).await;
    let id = sys.book_id(1).await;
    sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
        .await;

    // The request, by route template (never the path with its id).
    let booked = [
        ("method", "POST"),
        ("route", "/conferences"),
        ("status", "201"),
    ];
    at_least(
        &sys,
        "conference",
        "http_server_requests_total",
        &booked,
        1.0,
    )
    .await;
    let page = sys.metrics("conference").await;
    let read = [("route", "/conferences/{id}"), ("status", "200")];
    assert!(sample(&page, "http_server_requests_total", &read).is_some_and(|v| v >= 1.0));
    assert!(
        !page.contains(&format!("/conferences/{id}\"")),
        "a path as a label"
    );

    // The saga's events, each where it was handled, and the relays that published them.
    let paid = [("event_type", "Paid")];
    at_least(&sys, "room", "hifive_events_handled_total", &paid, 1.0).await;
    at_least(&sys, "room", "hifive_event_age_seconds_count", &paid, 1.0).await;
    let assigned = [("event_type", "Assigned")];
    at_least(
        &sys,
        "customer-center",
        "hifive_events_handled_total",
        &assigned,
        1.0,
    )
    .await;
    at_least(
        &sys,
        "conference",
        "hifive_events_handled_total",
        &assigned,
        1.0,
    )
    .await;
    at_least(&sys, "pay", "hifive_outbox_published_total", &[], 1.0).await;
    at_least(&sys, "room", "hifive_outbox_published_total", &[], 1.0).await;
    at_least(
        &sys,
        "pay",
        "hifive_outbox_publish_duration_seconds_count",
        &[],
        1.0,
    )
    .await;

    // What every event-driven service shows: its consumer per partition, its outbox, its pool.
    for service in EVENT_DRIVEN {
        at_least(&sys, service, "hifive_consumer_lag", &[], 0.0).await;
        let page = sys.metrics(service).await;
        for partition in ["0", "1", "2"] {
            let p = [("partition", partition)];
            assert!(
                sample(&page, "hifive_consumer_lag", &p).is_some(),
                "{service} {partition}"
            );
            assert!(
                sample(&page, "hifive_consumer_lag_seconds", &p).is_some(),
                "{service}"
            );
            assert_eq!(
                sample(&page, "hifive_consumer_stalled", &p),
                Some(0.0),
                "{service}"
            );
        }
        let max = sample(&page, "hifive_db_pool_max_connections", &[]);
        assert!(
            max.is_some_and(|n| n >= 1.0),
            "{service}: pool size {max:?}"
        );
        for state in ["idle", "used"] {
            let n = sample(&page, "hifive_db_pool_connections", &[("state", state)]);
            assert!(n.is_some(), "{service}: pool {state}");
        }
        assert!(
            sample(&page, "hifive_outbox_backlog", &[]).is_some(),
            "{service}"
        );
        assert!(sample(&page, "hifive_outbox_oldest_age_seconds", &[]).is_some());
        assert_eq!(
            sample(&page, "hifive_consumer_recoveries_total", &[]),
            Some(0.0)
        );
        let decode = [("stage", "decode")];
        assert_eq!(
            sample(&page, "hifive_events_dead_lettered_total", &decode),
            Some(0.0)
        );
        every_sample_is_labelled(&page, service);
    }

    // The gateway: what it forwarded, on its management port only.
    let forwarded = [("upstream", "conference"), ("status", "201")];
    at_least(
        &sys,
        "gateway",
        "hifive_gateway_upstream_requests_total",
        &forwarded,
        1.0,
    )
    .await;
    at_least(&sys, "gateway", "http_server_requests_total", &booked, 1.0).await;
    let public = sys.get("/metrics").await;
    assert_eq!(
        public.status, 404,
        "the public port serves no metrics: {}",
        public.text
    );
    let not_public = [("reason", "not_public")];
    at_least(
        &sys,
        "gateway",
        "hifive_gateway_refusals_total",
        &not_public,
        1.0,
    )
    .await;
    let page = sys.gateway_metrics().await;
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert!(sample(&page, "http_server_requests_total", &unmatched).is_some());
    every_sample_is_labelled(&page, "gateway");
}
