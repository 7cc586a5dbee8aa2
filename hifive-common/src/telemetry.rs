//! Logging and traces. Every line about a request carries its `request_id`; every line about
//! a booking carries its `conference_id` (fields of the spans opened by the HTTP layer and the
//! consumer). Text for people by default; `LOG_FORMAT=json` writes one JSON object per line for
//! a log pipeline, with the fields of the span it happened in.
//!
//! Traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the spans go to an OTLP/HTTP (protobuf)
//! receiver, named after the service (`service.name`), and the W3C `traceparent` of a span is
//! what [`traceparent`] gives to an outgoing call and what [`continue_trace`] makes the parent
//! of an incoming one. Without it nothing is exported and no trace context is kept (an incoming
//! `traceparent` is not continued).

use std::{collections::HashMap, io::IsTerminal, time::Duration};

use anyhow::{Context as _, bail};
use opentelemetry::{
    propagation::TextMapPropagator,
    trace::{TraceContextExt as _, TracerProvider as _},
};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{
    EnvFilter, Layer, Registry, filter::FilterFn, fmt::MakeWriter, layer::SubscriberExt,
    util::SubscriberInitExt,
};

/// The W3C Trace Context header (HTTP) and Kafka record header.
pub const TRACEPARENT: &str = "traceparent";

/// The target of spans for traces only (the `db` span of a transaction): log lines do not see
/// them, so a line logged inside one still names the request or event span it belongs to
/// (`#[tracing::instrument(name = "db", target = "hifive::db", ...)]`).
pub const TRACE_ONLY_TARGET: &str = "hifive::db";

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Lines for people (`text`, the default).
    #[default]
    Text,
    /// One JSON object per line (`json`).
    Json,
}

impl LogFormat {
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var("LOG_FORMAT").as_deref() {
            Err(_) | Ok("") | Ok("text") => Ok(LogFormat::Text),
            Ok("json") => Ok(LogFormat::Json),
            Ok(other) => bail!("LOG_FORMAT must be `text` or `json`, not {other:?}"),
        }
    }
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,rdkafka=warn,hyper=warn"))
}

/// What [`init`] installed: the span exporter, flushed by [`Telemetry::shutdown`].
#[must_use = "keep it until the process ends, then call shutdown to flush the last spans"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what is left (a few seconds at most); call it outside any Tokio runtime.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown_with_timeout(Duration::from_secs(3))
        {
            tracing::warn!(error = %e, "spans not exported at shutdown");
        }
    }
}

/// Installs the global subscriber; `RUST_LOG` overrides the default filter. Exports spans as
/// `service` when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Call it before starting a runtime
/// (the exporter's blocking HTTP client must not be created inside one).
pub fn init(service: &'static str) -> anyhow::Result<Telemetry> {
    let format = LogFormat::from_env()?;
    let provider = tracer_provider(service, otlp_endpoint()?)?;
    let lines = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(std::io::stdout().is_terminal())
            .boxed(),
        LogFormat::Json => json(std::io::stdout).boxed(),
    }
    .with_filter(not_trace_only());
    let spans = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service)));
    let _ = Registry::default()
        .with(lines)
        .with(spans)
        .with(filter())
        .try_init();
    Ok(Telemetry { provider })
}

/// What log lines see: everything but the spans for traces only ([`TRACE_ONLY_TARGET`]).
fn not_trace_only() -> FilterFn {
    FilterFn::new(|meta| !(meta.is_span() && meta.target() == TRACE_ONLY_TARGET))
}

/// Where spans go: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the whole URL) or
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL, spans go to `{endpoint}/v1/traces`); neither (or
/// empty) exports nothing. The exporter reads them, and the other `OTEL_EXPORTER_OTLP_*`
/// settings, itself; they are read here only to decide and to check them.
fn otlp_endpoint() -> anyhow::Result<Option<String>> {
    for name in [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ] {
        match std::env::var(name) {
            Ok(url) if !url.is_empty() => {
                return check_endpoint(&url)
                    .with_context(|| format!("{name}={url:?}"))
                    .map(Some);
            }
            _ => {}
        }
    }
    Ok(None)
}

/// An OTLP/HTTP endpoint this build can send to: `http://host[:port][/path]`. The exporter
/// would quietly fall back to `http://localhost:4318` on a URL it cannot parse, and this build
/// has no TLS: both are refused at start rather than losing every span.
fn check_endpoint(url: &str) -> anyhow::Result<String> {
    let uri: axum::http::Uri = url.parse().context("not a URL")?;
    match uri.scheme_str() {
        Some("http") if uri.host().is_some_and(|h| !h.is_empty()) => Ok(url.to_owned()),
        Some("https") => bail!(
            "https is not supported by this build: export over http to a collector near the \
             service (a sidecar or one in the cluster), which may forward over TLS"
        ),
        _ => bail!("must be http://host[:port][/path]"),
    }
}

/// The OTLP/HTTP exporter, if there is an endpoint to export to ([`otlp_endpoint`]).
fn tracer_provider(
    service: &'static str,
    endpoint: Option<String>,
) -> anyhow::Result<Option<SdkTracerProvider>> {
    if endpoint.is_none() {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .context("cannot build the OTLP exporter")?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(Some(provider))
}

/// The `traceparent` of the current span, for an outgoing call or event (none when no trace
/// is kept: nothing exported, or the span is disabled).
pub fn traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The `traceparent` of `span` (see [`traceparent`]).
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes `span` (just created, not yet entered) a child of the remote span a `traceparent`
/// names (an HTTP request's header, a Kafka record's header); a missing or malformed one
/// leaves it a root. Then records its trace and span ids in its fields `trace_id` and
/// `span_id`, if it declares them (`trace_id = tracing::field::Empty`), for log lines; none
/// when no trace is kept.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(traceparent) = traceparent {
        let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
        let parent = TraceContextPropagator::new().extract(&carrier);
        if let Err(e) = span.set_parent(parent) {
            tracing::debug!(error = %e, "traceparent not continued");
        }
    }
    let context = span.context();
    let trace = context.span().span_context().clone();
    if trace.is_valid() {
        span.record("trace_id", trace.trace_id().to_string());
        span.record("span_id", trace.span_id().to_string());
    }
}

/// Drops a request's W3C trace context (`traceparent`, `tracestate`): at the public edge, a
/// client's is not trusted (see [`crate::Server::edge_routes`]).
pub async fn forget_trace(mut req: axum::extract::Request) -> axum::extract::Request {
    req.headers_mut().remove(TRACEPARENT);
    req.headers_mut().remove("tracestate");
    req
}

/// The JSON lines: the event's fields at the top level (`message`, ...), `level`,
/// `timestamp`, `target`, and the fields of the span it happened in under `span`
/// (`request_id`, `conference_id`, ...).
fn json<S, W>(writer: W) -> impl Layer<S> + Send + Sync
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(writer)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Lines {
        type Writer = Lines;

        fn make_writer(&'w self) -> Lines {
            self.clone()
        }
    }

    #[test]
    fn json_lines_carry_the_request_and_the_booking() {
        let lines = Lines::default();
        let subscriber = Registry::default()
            .with(json(lines.clone()))
            .with(EnvFilter::new("info"));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "http",
                request_id = "my-booking",
                conference_id = tracing::field::Empty
            );
            let _in = span.enter();
            span.record("conference_id", 7);
            tracing::info!(room_number = 3, "booking paid");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["message"], "booking paid");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["room_number"], 3);
        assert_eq!(line["span"]["request_id"], "my-booking");
        assert_eq!(line["span"]["conference_id"], 7);
    }

    #[test]
    fn json_lines_in_a_transaction_name_the_request() {
        let lines = Lines::default();
        let subscriber = Registry::default()
            .with(json(lines.clone()).with_filter(not_trace_only()))
            .with(EnvFilter::new("info"));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("http", request_id = "my-booking");
            let _in = span.enter();
            let db = tracing::info_span!(target: "hifive::db", "db", op = "create_booking");
            let _tx = db.enter();
            tracing::info!("booking stored");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["span"]["request_id"], "my-booking");
        assert_eq!(line["span"]["op"], serde_json::Value::Null);
    }

    #[test]
    fn a_span_continues_the_incoming_trace_and_hands_it_on() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = Registry::default()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("http");
            continue_trace(&span, Some(incoming));
            let outgoing = span.in_scope(traceparent).unwrap();
            assert!(outgoing.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
            assert_ne!(outgoing, incoming, "a span of its own");
            assert!(outgoing.ends_with("-01"), "still sampled: {outgoing}");
            let root = tracing::info_span!("other");
            continue_trace(&root, Some("garbage"));
            let own = traceparent_of(&root).unwrap();
            assert!(!own.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
        });
    }

    #[test]
    fn json_lines_carry_the_trace_and_span_ids() {
        let lines = Lines::default();
        let provider = SdkTracerProvider::builder().build();
        let subscriber = Registry::default()
            .with(json(lines.clone()).with_filter(not_trace_only()))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(EnvFilter::new("info"));
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut own = String::new();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "http",
                trace_id = tracing::field::Empty,
                span_id = tracing::field::Empty
            );
            continue_trace(&span, Some(incoming));
            own = traceparent_of(&span).unwrap();
            span.in_scope(|| tracing::info!("booking paid"));
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["span"]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        // The line's span id is the span's own (the one it hands on), not the caller's.
        let span_id = line["span"]["span_id"].as_str().unwrap();
        assert_eq!(
            own,
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{span_id}-01")
        );
        assert_ne!(span_id, "00f067aa0ba902b7");
    }

    #[test]
    fn only_an_http_endpoint_is_taken() {
        for good in [
            "http://127.0.0.1:4318",
            "http://otel-collector.monitoring:4318/",
        ] {
            assert_eq!(check_endpoint(good).unwrap(), good);
        }
        for bad in [
            "otel-collector:4318",
            "https://collector:4318",
            "http://",
            "",
            "x y",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad:?} taken");
        }
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint() {
        assert!(tracer_provider("test", None).unwrap().is_none());
    }

    #[test]
    fn no_trace_is_kept_without_an_exporter() {
        let subscriber = Registry::default().with(EnvFilter::new("info"));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("http");
            assert_eq!(span.in_scope(traceparent), None);
        });
    }
}
