//! Prometheus metrics (docs/observability.md is the catalogue): the process-wide recorder of
//! the `metrics` facade, and `GET /metrics` rendering it in the Prometheus text format.
//!
//! [`install`] sets the recorder once per process, with the global label `service`; any code
//! of the process then records with `metrics::counter!`, `histogram!` and `gauge!`. A process
//! that installs twice (tests that build several apps in one process) keeps the first
//! recorder and its `service` label: metrics are per process, not per app.

#[cfg(feature = "testing")]
pub mod testing;

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, OnceLock},
    time::Duration,
};

use axum::{
    Router,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Histogram buckets, in seconds: from a millisecond (a local HTTP answer) to five minutes
/// (an event that waited for a service that was down).
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The `Content-Type` of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder, every series labelled `service=<service>`; returns the
/// handle that renders it. Idempotent: later calls (whatever their `service`) get the first
/// recorder's handle. If another recorder was set already (not through here), metrics are
/// not recorded and `/metrics` answers an empty page (logged).
pub fn install(service: &str) -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .add_global_label("service", service)
                .set_buckets(BUCKETS)
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "histogram buckets refused; using summaries");
                    PrometheusBuilder::new()
                        .add_global_label("service", service)
                        .build_recorder()
                });
            let handle = recorder.handle();
            if let Err(e) = ::metrics::set_global_recorder(recorder) {
                tracing::warn!(error = %e, "another metrics recorder is installed; /metrics stays empty");
            }
            describe();
            upkeep(handle.clone());
            handle
        })
        .clone()
}

/// The installed recorder's handle, if [`install`] ran.
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE.get().cloned()
}

/// Folds histogram samples into buckets now and then (a scrape does it too), so that a
/// process nobody scrapes does not keep every sample.
fn upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the metrics upkeep thread");
    }
}

/// Something to read just before a scrape (a gauge of the database pool, the outbox).
pub type Collector = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A [`Collector`] from an async closure.
pub fn collector<F, Fut>(collect: F) -> Collector
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move || Box::pin(collect()))
}

/// `GET /metrics`: the Prometheus text format of the installed recorder, after running
/// `collectors` (each bounded to a second, so a busy database cannot hold a scrape).
pub fn routes(collectors: Vec<Collector>) -> Router {
    let collectors = Arc::new(collectors);
    Router::new().route(
        "/metrics",
        get(move || {
            let collectors = collectors.clone();
            async move {
                for collect in collectors.iter() {
                    if tokio::time::timeout(Duration::from_secs(1), collect())
                        .await
                        .is_err()
                    {
                        tracing::debug!("a metrics collector took over a second; skipped");
                    }
                }
                render()
            }
        }),
    )
}

/// The page a scrape gets (empty before [`install`]).
pub fn render() -> Response {
    let text = handle().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

/// The help lines of the series every service has (docs/observability.md).
fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!("http_server_requests_total", "HTTP requests answered");
    describe_histogram!(
        "http_server_request_duration_seconds",
        Unit::Seconds,
        "HTTP requests: time to the response head"
    );
    describe_counter!(
        "hifive_events_handled_total",
        "events whose effect this instance applied"
    );
    describe_counter!(
        "hifive_events_duplicates_total",
        "deliveries found already applied"
    );
    describe_counter!(
        "hifive_events_dead_lettered_total",
        "events sent to the dead-letter topic"
    );
    describe_histogram!(
        "hifive_event_age_seconds",
        Unit::Seconds,
        "from an event's timestamp to its effect committed here"
    );
    describe_gauge!("hifive_consumer_lag", "records behind the partition's end");
    describe_gauge!(
        "hifive_consumer_lag_seconds",
        "age of the oldest record not yet consumed"
    );
    describe_gauge!(
        "hifive_consumer_stalled",
        "1 while the partition is stalled"
    );
    describe_counter!(
        "hifive_consumer_recoveries_total",
        "consumer re-creations after a stall"
    );
    describe_gauge!(
        "hifive_outbox_backlog",
        "events written but not yet published"
    );
    describe_gauge!(
        "hifive_outbox_oldest_age_seconds",
        "age of the oldest unpublished event"
    );
    describe_histogram!(
        "hifive_outbox_publish_duration_seconds",
        Unit::Seconds,
        "one relay batch: send to acknowledged"
    );
    describe_counter!(
        "hifive_outbox_published_total",
        "events published by the relay"
    );
    describe_gauge!(
        "hifive_db_pool_connections",
        "database pool connections by state"
    );
    describe_gauge!("hifive_db_pool_max_connections", "the database pool's size");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_twice_keeps_the_first_recorder() {
        // Other tests of this process may have installed first: that one is kept then.
        let first = install("first-app");
        let second = install("second-app");
        ::metrics::counter!("hifive_test_installs_total").increment(2);
        let line = |text: &str| {
            text.lines()
                .find(|l| l.starts_with("hifive_test_installs_total{service=\""))
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("no labelled sample in {text}"))
        };
        let text = second.render();
        assert_eq!(line(&text), line(&first.render()), "one recorder");
        assert!(line(&text).ends_with("\"} 2"), "{text}");
        assert!(!text.contains("second-app"), "{text}");
    }

    #[tokio::test]
    async fn the_page_is_the_text_format_with_a_counter() {
        install("test");
        ::metrics::counter!("hifive_test_rendered_total", "kind" => "page").increment(3);
        let response = render();
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains("# TYPE hifive_test_rendered_total counter"),
            "{text}"
        );
        let line = text
            .lines()
            .find(|l| l.starts_with("hifive_test_rendered_total{"))
            .unwrap_or_else(|| panic!("no sample in {text}"));
        assert!(line.contains(r#"kind="page""#), "{line}");
        assert!(line.ends_with(" 3"), "{line}");
    }
}
