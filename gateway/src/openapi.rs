//! `GET /openapi.json`: the public API as one OpenAPI 3.1 document, merged from the
//! services' own (`GET /openapi.json` on each), keeping only what [`public_api`] routes, and
//! the gateway's own operations (this document, `/system/health`; not the web page).
//!
//! Fetched and merged when asked, then cached for [`FRESH`]: each service's document stays
//! generated from its own handlers (nothing to rebuild here when a service changes), the
//! gateway links no service code (no database driver, no Kafka client), and it starts
//! whether or not the services are up. While one cannot be reached, the last merge is served;
//! before any, `503` + `Retry-After`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::State,
    http::Method,
    response::{IntoResponse, Response},
    routing::get,
};
use hifive_common::AppError;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::{
    Route,
    public_api::{self, Verdict},
};

/// How long a merged document is served before it is fetched again.
pub const FRESH: Duration = Duration::from_secs(30);

/// The services' documents and the last merge.
#[derive(Clone)]
pub struct Docs {
    client: reqwest::Client,
    /// One address per service (its first instance).
    sources: Vec<(&'static str, String)>,
    cache: Arc<Mutex<Option<(Instant, Value)>>>,
}

impl Docs {
    pub fn new(routes: &[Route], timeout: Duration) -> anyhow::Result<Self> {
        let mut sources: Vec<(&'static str, String)> = Vec::new();
        for route in routes {
            if sources.iter().any(|(service, _)| *service == route.service) {
                continue;
            }
            if let Some(upstream) = route.upstreams.first() {
                sources.push((route.service, format!("{upstream}/openapi.json")));
            }
        }
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            client,
            sources,
            cache: Arc::new(Mutex::new(None)),
        })
    }

    /// `GET /openapi.json`.
    pub fn routes(self) -> Router {
        Router::new()
            .route("/openapi.json", get(serve))
            .with_state(self)
    }

    async fn fetch(&self) -> Result<Vec<Value>, String> {
        let mut docs = Vec::with_capacity(self.sources.len());
        for (service, url) in &self.sources {
            let answer = self.client.get(url).send().await;
            let doc = match answer {
                Ok(response) if response.status().is_success() => response
                    .json::<Value>()
                    .await
                    .map_err(|e| format!("{service}: {e}"))?,
                Ok(response) => return Err(format!("{service}: {}", response.status())),
                Err(e) => return Err(format!("{service}: {e}")),
            };
            docs.push(doc);
        }
        Ok(docs)
    }
}

async fn serve(State(docs): State<Docs>) -> Response {
    let mut cache = docs.cache.lock().await;
    if let Some((at, doc)) = cache.as_ref()
        && at.elapsed() < FRESH
    {
        return Json(doc.clone()).into_response();
    }
    match docs.fetch().await {
        Ok(fetched) => {
            let doc = merged(&fetched);
            *cache = Some((Instant::now(), doc.clone()));
            Json(doc).into_response()
        }
        Err(why) => {
            tracing::warn!(error = %why, "cannot fetch a service's OpenAPI document");
            match cache.as_ref() {
                Some((_, stale)) => Json(stale.clone()).into_response(),
                None => AppError::unavailable(
                    "upstream_unavailable",
                    format!("a service's API document cannot be fetched ({why}); retry shortly"),
                    2,
                )
                .into_response(),
            }
        }
    }
}

/// The services' documents as the public API: what the gateway routes, and this document.
pub fn merged(docs: &[Value]) -> Value {
    let base = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "HiFive",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Meeting-room booking: the public API, through the gateway (docs/contract.md).",
        },
    });
    let mut doc = hifive_openapi::merge(base, docs, |method, path| {
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            return false;
        };
        matches!(public_api::judge(&method, &example(path)), Verdict::Pass(_))
    });
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        paths.insert("/openapi.json".into(), this_document());
        paths.insert("/system/health".into(), system_health());
    }
    doc
}

/// A path template with an id for each parameter: `/rooms/{number}` → `/rooms/1`.
fn example(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

fn this_document() -> Value {
    let error = json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
    let retry = json!({"Retry-After": {"description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0}}});
    json!({"get": {
        "tags": ["openapi"],
        "operationId": "getOpenApi",
        "summary": "This document: the public API of every service, merged.",
        "responses": {
            "200": {"description": "The OpenAPI 3.1 document.",
                "content": {"application/json": {"schema": {"type": "object"}}}},
            "429": {"description": "Over the rate limit of this client.", "content": error, "headers": retry},
            "503": {"description": "A service's document cannot be fetched yet.", "content": error, "headers": retry},
        }
    }})
}

/// `GET /system/health` ([`crate::system`]).
fn system_health() -> Value {
    let error = json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
    let retry = json!({"Retry-After": {"description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0}}});
    let challenge = json!({"WWW-Authenticate": {"description": "Bearer challenge (RFC 6750).",
        "schema": {"type": "string"}}});
    let service = json!({
        "type": "object",
        "required": ["name", "url", "ready", "health", "error"],
        "properties": {
            "name": {"type": "string", "description": "The service: conference, pay, room, customer-center."},
            "url": {"type": "string", "description": "The instance's base URL."},
            "ready": {"type": "boolean", "description": "Its /health/ready answered 200."},
            "health": {"type": ["object", "null"], "description": "What its /health/ready answered: status and components (kafka lag and stall, outbox, conference's payCircuitBreaker and sagaAdmission); null if it did not answer JSON."},
            "error": {"type": ["string", "null"], "description": "Why it is not ready, if it is not."},
        },
    });
    json!({"get": {
        "tags": ["system"],
        "operationId": "getSystemHealth",
        "summary": "Every service instance's readiness and health components (room managers).",
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": "Each instance behind the gateway, asked at once with a short timeout.",
                "content": {"application/json": {"schema": {
                    "type": "object", "required": ["services"],
                    "properties": {"services": {"type": "array", "items": service}}}}}},
            "401": {"description": "No token, or a bad one.", "content": error, "headers": challenge},
            "403": {"description": "Not a room manager.", "content": error},
            "429": {"description": "Over the rate limit of this client.", "content": error, "headers": retry},
            "503": {"description": "The issuer's keys cannot be fetched to check the token.", "content": error, "headers": retry},
        }
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_operations_are_merged_and_this_document_is_listed() {
        let pay = json!({"openapi": "3.1.0", "paths": {
            "/pays": {"get": {}},
            "/pays/{id}": {"get": {}, "delete": {}},
            "/pays/room_applied": {"post": {}},
        }, "components": {"schemas": {"Error": {}}}});
        let doc = merged(&[pay]);
        let found: Vec<_> = hifive_openapi::operations(&doc).into_iter().collect();
        let want = [
            ("GET", "/openapi.json"),
            ("GET", "/pays"),
            ("GET", "/pays/{id}"),
            ("GET", "/system/health"),
        ];
        assert_eq!(
            found,
            want.map(|(m, p)| (m.to_owned(), p.to_owned())).to_vec()
        );
        assert_eq!(hifive_openapi::dangling_refs(&doc), Vec::<String>::new());
    }
}
