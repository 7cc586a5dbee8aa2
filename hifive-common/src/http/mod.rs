//! HTTP plumbing: the JSON error type ([`error`]), extractors that turn bad input into clear
//! 4xx answers ([`extract`]), the HAL collection shape ([`paging`]), health routes
//! ([`health`]), request metrics ([`metrics`]), and the request-id / tracing layers (here).

mod error;
mod extract;
#[cfg(feature = "service")]
mod health;
pub mod metrics;
mod paging;

use axum::{
    Json, Router,
    extract::{FromRequestParts, Request},
    http::request::Parts,
    routing::get,
};
use tower::ServiceBuilder;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnFailure, TraceLayer},
};

pub use error::AppError;
pub use extract::{BaseUrl, Body, JsonObject, path_id, query_id, to_json, unreadable_body};
#[cfg(feature = "service")]
pub use health::{Detail, Readiness, consumer_admin_routes, health_routes};
pub use paging::PageParams;

/// The request's correlation id (`X-Request-Id`, set by [`layers`] when the client sent none).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId(request_id_of(&parts.headers)))
    }
}

pub const REQUEST_ID: &str = "x-request-id";

fn request_id_of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

/// Request id (kept if sent, else a new UUID), a tracing span per request carrying it
/// (and `conference_id`, filled in by handlers; continuing the caller's trace), the id echoed in the response, JSON 404s, and
/// request metrics ([`metrics`]; applied inside the router, where the route is known).
pub fn layers(router: Router) -> Router {
    layers_keeping_fallback(router.fallback(unknown_route))
}

/// [`layers`] for a router with a fallback of its own (answering unknown paths).
pub fn layers_keeping_fallback(router: Router) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn(metrics::record))
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    // Handlers log their own failures with context; 5xx answers like 503 readiness are expected.
                    .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
            )
            .layer(PropagateRequestIdLayer::x_request_id()),
    )
}

/// Paths polled by orchestrators and Prometheus: no span, so no trace of their own.
const PROBES: &[&str] = &[
    "/health/live",
    "/health/ready",
    "/actuator/health",
    "/metrics",
];

/// The "http" span of a request: a child of the caller's span when the request carries a W3C
/// `traceparent` (see [`crate::telemetry`]). Probes ([`PROBES`]) get none.
fn request_span(req: &Request) -> tracing::Span {
    if PROBES.contains(&req.uri().path()) {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "http",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %request_id_of(req.headers()),
        conference_id = tracing::field::Empty,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
        otel.kind = "server",
    );
    let traceparent = req
        .headers()
        .get(crate::telemetry::TRACEPARENT)
        .and_then(|v| v.to_str().ok());
    crate::telemetry::continue_trace(&span, traceparent);
    span
}

async fn unknown_route(req: Request) -> AppError {
    AppError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

/// `/health/live`, `/health/ready` and `/actuator/health` of a process with nothing to report
/// but that it answers (the gateway).
pub fn process_health_routes() -> Router {
    let up = || async { Json(serde_json::json!({ "status": "UP" })) };
    Router::new()
        .route("/health/live", get(up))
        .route("/health/ready", get(up))
        .route("/actuator/health", get(up))
}
