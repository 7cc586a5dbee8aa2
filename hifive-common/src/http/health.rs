//! Health routes (liveness, readiness with components) and the consumer's fault-injection
//! admin route.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Map, Value, json};

use super::{AppError, JsonObject};
use crate::{consumer::ConsumerStatus, db::Db, outbox::Outbox};

/// What the health routes report on.
#[derive(Clone, Default)]
pub struct Readiness {
    /// Readiness: the database answers.
    pub db: Option<Db>,
    /// Shown (lag, stall); liveness fails when a stall survived re-creating the consumer.
    pub consumer: Option<Arc<ConsumerStatus>>,
    /// Shown: events not yet published.
    pub outbox: Option<Outbox>,
    /// Extra components shown in the answer that do not decide readiness (e.g. the state of
    /// a circuit breaker: the service still serves while it is open).
    pub details: Vec<(&'static str, Detail)>,
}

/// A component's current details, as JSON.
pub type Detail = Arc<dyn Fn() -> Value + Send + Sync>;

/// `/health/live`: the process answers and its consumer is not stuck for good (an orchestrator
/// restarts it otherwise). `/health/ready` and `/actuator/health`: this instance can serve its
/// HTTP API, i.e. its database answers. The broker, the consumer's lag and the outbox are
/// reported as components but do not decide readiness: bookings are accepted into the outbox
/// while the broker is away, and reads always answer.
pub fn health_routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/actuator/health", get(ready))
        .with_state(readiness)
}

/// `GET/PUT /admin/consumer {"wedge": "no" | "until_rejoin" | "always"}`: fault injection
/// for the stall tests, served only with `CONSUMER_ADMIN_ENABLED=true` on the service's own
/// port (the gateway routes no `/admin` path).
pub fn consumer_admin_routes(consumer: Arc<ConsumerStatus>) -> Router {
    Router::new()
        .route("/admin/consumer", get(consumer_admin).put(set_wedge))
        .with_state(consumer)
}

async fn consumer_admin(State(consumer): State<Arc<ConsumerStatus>>) -> Json<Value> {
    Json(json!({ "wedge": consumer.wedge().as_str(), "kafka": consumer.report() }))
}

async fn set_wedge(
    State(consumer): State<Arc<ConsumerStatus>>,
    body: JsonObject,
) -> Result<Json<Value>, AppError> {
    let raw = body.text("wedge")?.unwrap_or_default();
    let wedge = crate::consumer::status::Wedge::parse(raw).ok_or_else(|| {
        AppError::unprocessable(
            "invalid_field",
            format!("`wedge` must be \"no\", \"until_rejoin\" or \"always\", got {raw:?}"),
        )
    })?;
    consumer.set_wedge(wedge);
    Ok(Json(json!({ "wedge": consumer.wedge().as_str() })))
}

async fn live(State(readiness): State<Readiness>) -> Response {
    match &readiness.consumer {
        Some(consumer) if !consumer.live() => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "DOWN", "components": { "kafka": consumer.report() } })),
        )
            .into_response(),
        _ => Json(json!({ "status": "UP" })).into_response(),
    }
}

async fn ready(State(readiness): State<Readiness>) -> Response {
    let mut components = Map::new();
    let mut up = true;
    if let Some(db) = &readiness.db {
        let ok = crate::db::ping(db).await;
        up &= ok;
        components.insert(
            "db".into(),
            json!({ "status": if ok { "UP" } else { "DOWN" } }),
        );
        // Not worth asking the database again when it did not answer.
        if let Some(outbox) = readiness.outbox.as_ref().filter(|_| ok) {
            let backlog = outbox.backlog(db).await;
            components.insert("outbox".into(), backlog.report());
        }
    }
    if let Some(consumer) = &readiness.consumer {
        components.insert("kafka".into(), consumer.report());
    }
    for (name, detail) in &readiness.details {
        components.insert((*name).into(), detail());
    }
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({ "status": if up { "UP" } else { "DOWN" }, "components": components });
    (status, Json(body)).into_response()
}
