//! HTTP plumbing: the JSON error type (the one place errors become responses), request
//! extractors that turn bad input into clear 4xx answers, the HAL collection shape, health
//! routes and the request-id / tracing layers.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Query, Request, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Map, Value, json};
use tower::ServiceBuilder;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnFailure, TraceLayer},
};

use crate::{consumer::ConsumerStatus, db::Db, outbox::Outbox};

/// An error answered as `{"error": "...", "detail": "..."}` with its status.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub error: &'static str,
    pub detail: String,
    pub retry_after_secs: Option<u64>,
    /// `WWW-Authenticate` for a `401`.
    pub challenge: Option<String>,
}

impl AppError {
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error,
            detail: detail.into(),
            retry_after_secs: None,
            challenge: None,
        }
    }
    /// 401 with `WWW-Authenticate: Bearer` (RFC 6750; `error` names what was wrong with a
    /// token that was sent).
    pub fn unauthorized(detail: impl Into<String>, error: Option<&str>) -> Self {
        let detail = detail.into();
        let challenge = match error {
            None => "Bearer realm=\"hifive\"".to_owned(),
            Some(error) => format!(
                "Bearer realm=\"hifive\", error=\"{error}\", error_description=\"{}\"",
                // A header value: printable ASCII only, no quotes (the detail may echo a token).
                detail
                    .chars()
                    .map(|c| match c {
                        ' '..='~' if c != '"' && c != '\\' => c,
                        _ => '\'',
                    })
                    .collect::<String>()
            ),
        };
        Self {
            challenge: Some(challenge),
            ..Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
        }
    }
    /// 403: authenticated, but the role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
    pub fn bad_request(error: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, detail)
    }
    pub fn unprocessable(error: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, error, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
    pub fn conflict(error: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, error, detail)
    }
    /// 503 with `Retry-After`.
    pub fn unavailable(
        error: &'static str,
        detail: impl Into<String>,
        retry_after_secs: u64,
    ) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, error, detail)
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            e if crate::db::is_transient(&e) => {
                tracing::warn!(error = %e, "database busy or unreachable");
                Self::unavailable("database_busy", "the database is busy; retry shortly", 1)
            }
            e => {
                tracing::error!(error = %e, "database error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal database error",
                )
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.error, "detail": self.detail }));
        let mut response = (self.status, body).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// A JSON object request body. Wrong content type or malformed JSON → 400; not an object → 422.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        Self::check_content_type(&headers)?;
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(unreadable_body)?;
        Self::from_bytes(&headers, &bytes)
    }
}

/// A body that could not be read: too large (`413`, over `HTTP_MAX_BODY_BYTES`) or broken.
pub fn unreadable_body(e: axum::extract::rejection::BytesRejection) -> AppError {
    match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            e.body_text(),
        ),
        _ => AppError::bad_request("unreadable_body", e.body_text()),
    }
}

impl JsonObject {
    fn check_content_type(headers: &axum::http::HeaderMap) -> Result<(), AppError> {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let mime = ct
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if is_json {
            Ok(())
        } else {
            Err(AppError::bad_request(
                "unsupported_content_type",
                "send the body as JSON with Content-Type: application/json",
            ))
        }
    }

    /// The object in a body already read (checked as the extractor does).
    pub fn from_bytes(headers: &axum::http::HeaderMap, bytes: &[u8]) -> Result<Self, AppError> {
        Self::check_content_type(headers)?;
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(AppError::unprocessable(
                "invalid_body",
                "the body must be a JSON object",
            )),
            Err(e) => Err(AppError::bad_request("malformed_json", e.to_string())),
        }
    }
}

impl JsonObject {
    /// A required positive whole number; numeric strings ("1") are accepted, as the original
    /// (Jackson) did for httpie's `roomNumber=1`.
    pub fn id(&self, field: &'static str) -> Result<i64, AppError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Err(AppError::unprocessable(
                "missing_field",
                format!("`{field}` is required"),
            )),
            Some(v) => positive_id(v).ok_or_else(|| {
                AppError::unprocessable(
                    "invalid_field",
                    format!("`{field}` must be a positive whole number, got {v}"),
                )
            }),
        }
    }

    /// An optional whole number ≥ 0 (numeric strings accepted); absent or null → None.
    pub fn count(&self, field: &'static str) -> Result<Option<i64>, AppError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => whole(v).filter(|n| *n >= 0).map(Some).ok_or_else(|| {
                AppError::unprocessable(
                    "invalid_field",
                    format!("`{field}` must be a whole number ≥ 0, got {v}"),
                )
            }),
        }
    }

    /// An optional string field.
    pub fn text(&self, field: &'static str) -> Result<Option<&str>, AppError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(AppError::unprocessable(
                "invalid_field",
                format!("`{field}` must be a string, got {v}"),
            )),
        }
    }
}

fn whole(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn positive_id(v: &Value) -> Option<i64> {
    whole(v).filter(|n| *n > 0)
}

/// Parses an id from a path segment: not a positive number → 400.
pub fn path_id(raw: &str, what: &str) -> Result<i64, AppError> {
    raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        AppError::bad_request(
            "invalid_id",
            format!("{what} must be a positive whole number, got {raw:?}"),
        )
    })
}

/// A required query parameter that is a positive whole number.
pub fn query_id(params: &HashMap<String, String>, name: &str) -> Result<i64, AppError> {
    let raw = params.get(name).ok_or_else(|| {
        AppError::bad_request(
            "missing_parameter",
            format!("query parameter `{name}` is required"),
        )
    })?;
    path_id(raw, name)
}

/// `?page=&size=` as Spring Data REST reads them (page from 0, size 20 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageParams {
    pub page: i64,
    pub size: i64,
}

impl PageParams {
    pub const MAX_SIZE: i64 = 1000;

    pub fn offset(&self) -> i64 {
        self.page * self.size
    }

    fn parse(params: &HashMap<String, String>) -> Result<Self, AppError> {
        let read = |name: &str, default: i64, min: i64| -> Result<i64, AppError> {
            match params.get(name) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| {
                        AppError::bad_request(
                            "invalid_parameter",
                            format!("`{name}` must be a whole number ≥ {min}, got {raw:?}"),
                        )
                    }),
            }
        };
        Ok(Self {
            page: read("page", 0, 0)?,
            size: read("size", 20, 1)?.min(Self::MAX_SIZE),
        })
    }

    /// The HAL collection body: `_embedded.<rel>`, `_links`, `page`.
    pub fn collection(
        &self,
        base: &BaseUrl,
        path: &str,
        rel: &str,
        items: Vec<Value>,
        total: i64,
    ) -> Value {
        let total_pages = (total + self.size - 1) / self.size;
        let href = |page: i64| format!("{}{path}?page={page}&size={}", base.0, self.size);
        let mut links = Map::new();
        links.insert("self".into(), json!({ "href": href(self.page) }));
        if self.page + 1 < total_pages {
            links.insert("next".into(), json!({ "href": href(self.page + 1) }));
        }
        if self.page > 0 {
            links.insert("prev".into(), json!({ "href": href(self.page - 1) }));
        }
        json!({
            "_embedded": { rel: items },
            "_links": links,
            "page": { "size": self.size, "totalElements": total, "totalPages": total_pages, "number": self.page },
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageParams {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(params) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| AppError::bad_request("invalid_query", e.body_text()))?;
        Self::parse(&params)
    }
}

/// `http://host[:port]` as the client addressed us (through the gateway, the gateway's).
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl BaseUrl {
    /// Adds `_links.self.href` to an item.
    pub fn with_self_link(&self, mut item: Value, path: &str) -> Value {
        if let Value::Object(map) = &mut item {
            map.insert(
                "_links".into(),
                json!({ "self": { "href": format!("{}{path}", self.0) } }),
            );
        }
        item
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BaseUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let host = header("x-forwarded-host")
            .or_else(|| header("host"))
            .unwrap_or("localhost");
        let proto = header("x-forwarded-proto").unwrap_or("http");
        Ok(BaseUrl(format!("{proto}://{host}")))
    }
}

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
/// (and `conference_id`, filled in by handlers), the id echoed in the response, and JSON 404s.
pub fn layers(router: Router) -> Router {
    router.fallback(unknown_route).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request| {
                        tracing::info_span!(
                            "http",
                            method = %req.method(),
                            path = %req.uri().path(),
                            request_id = %request_id_of(req.headers()),
                            conference_id = tracing::field::Empty,
                        )
                    })
                    // Handlers log their own failures with context; 5xx answers like 503 readiness are expected.
                    .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
            )
            .layer(PropagateRequestIdLayer::x_request_id()),
    )
}

async fn unknown_route(req: Request) -> AppError {
    AppError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> JsonObject {
        JsonObject(v.as_object().unwrap().clone())
    }

    #[test]
    fn a_busy_database_is_a_503_to_retry_and_a_broken_query_a_500() {
        let busy = AppError::from(sqlx::Error::PoolTimedOut);
        assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.error, "database_busy");
        assert_eq!(busy.retry_after_secs, Some(1));
        let broken = AppError::from(sqlx::Error::RowNotFound);
        assert_eq!(broken.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(broken.retry_after_secs, None);
    }

    #[test]
    fn ids_accept_numbers_and_numeric_strings() {
        assert_eq!(obj(json!({"roomNumber": 1})).id("roomNumber").unwrap(), 1);
        assert_eq!(
            obj(json!({"roomNumber": "12"})).id("roomNumber").unwrap(),
            12
        );
    }

    #[test]
    fn ids_reject_missing_and_non_numeric() {
        for body in [
            json!({}),
            json!({"roomNumber": null}),
            json!({"roomNumber": "one"}),
            json!({"roomNumber": 0}),
            json!({"roomNumber": -3}),
            json!({"roomNumber": 1.5}),
            json!({"roomNumber": [1]}),
        ] {
            let err = obj(body.clone()).id("roomNumber").unwrap_err();
            assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        }
    }

    #[test]
    fn pages_default_and_clamp() {
        let p = PageParams::parse(&HashMap::new()).unwrap();
        assert_eq!(p, PageParams { page: 0, size: 20 });
        let big: HashMap<_, _> = [("size".to_string(), "5000".to_string())].into();
        assert_eq!(PageParams::parse(&big).unwrap().size, PageParams::MAX_SIZE);
        let bad: HashMap<_, _> = [("page".to_string(), "-1".to_string())].into();
        assert!(PageParams::parse(&bad).is_err());
    }

    #[test]
    fn collection_has_hal_shape() {
        let p = PageParams { page: 0, size: 2 };
        let body = p.collection(
            &BaseUrl("http://h".into()),
            "/rooms",
            "rooms",
            vec![json!({"a":1})],
            3,
        );
        assert_eq!(body["page"]["totalPages"], 2);
        assert_eq!(body["_embedded"]["rooms"][0]["a"], 1);
        assert_eq!(
            body["_links"]["next"]["href"],
            "http://h/rooms?page=1&size=2"
        );
    }

    #[test]
    fn path_ids_must_be_positive_numbers() {
        assert_eq!(path_id("7", "id").unwrap(), 7);
        assert_eq!(
            path_id("x", "id").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert!(path_id("0", "id").is_err());
    }
}
