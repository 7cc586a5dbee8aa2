//! Request extractors that turn bad input into clear 4xx answers: JSON object bodies with
//! lenient numbers, ids in paths and queries, the base URL the client used.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::AppError;

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

/// A typed JSON request body: `T`'s fields from a JSON object, `null` read as absent.
/// Transport errors as [`JsonObject`]'s; a required field missing → `422 missing_field`;
/// a field of the wrong kind → `422 invalid_field`. Numbers are lenient where `T` says so
/// (the ids of `shared_events` and `shared_events::lenient`).
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonObject(object) = JsonObject::from_request(req, state).await?;
        Self::from_object(object)
    }
}

impl<T: DeserializeOwned> Body<T> {
    /// Reads `T` from a body already read (checked as the extractor does).
    pub fn from_bytes(headers: &axum::http::HeaderMap, bytes: &[u8]) -> Result<Self, AppError> {
        Self::from_object(JsonObject::from_bytes(headers, bytes)?.0)
    }

    /// Reads `T` from a JSON object. A missing required field is reported before a field of
    /// the wrong kind, whatever their order.
    pub fn from_object(mut object: Map<String, Value>) -> Result<Self, AppError> {
        object.retain(|_, v| !v.is_null());
        match read::<T>(&object) {
            Ok(value) => Ok(Body(value)),
            Err(Refusal::Missing(field)) => Err(missing(&field)),
            Err(Refusal::Invalid { field, detail }) => {
                Err(missing_besides::<T>(object, &field)
                    .unwrap_or_else(|| invalid(&field, &detail)))
            }
        }
    }
}

/// Why a body is not a `T`.
enum Refusal {
    Missing(String),
    Invalid { field: String, detail: String },
}

fn read<T: DeserializeOwned>(object: &Map<String, Value>) -> Result<T, Refusal> {
    serde_path_to_error::deserialize(Value::Object(object.clone())).map_err(|e| {
        let field = e.path().to_string();
        let detail = e.into_inner().to_string();
        match detail.strip_prefix("missing field ") {
            Some(missing) => Refusal::Missing(missing.to_owned()),
            None => Refusal::Invalid { field, detail },
        }
    })
}

/// A required field that is missing from `object` too, once the invalid ones are set aside.
fn missing_besides<T: DeserializeOwned>(
    mut object: Map<String, Value>,
    invalid: &str,
) -> Option<AppError> {
    let mut set_aside = invalid.to_owned();
    for _ in 0..object.len() {
        object.remove(&set_aside);
        match read::<T>(&object) {
            Err(Refusal::Missing(field)) if field.trim_matches('`') != set_aside => {
                return Some(missing(&field));
            }
            Err(Refusal::Invalid { field, .. }) => set_aside = field,
            _ => return None,
        }
    }
    None
}

fn missing(field: &str) -> AppError {
    AppError::unprocessable("missing_field", format!("{field} is required"))
}

fn invalid(field: &str, detail: &str) -> AppError {
    AppError::unprocessable("invalid_field", format!("`{field}`: {detail}"))
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

/// Parses an id of the shared vocabulary (`ConferenceId`, `RoomNumber`, ...) from a path
/// segment: not a positive whole number → `400 invalid_id`.
pub fn path_id<T: TryFrom<i64>>(raw: &str, what: &str) -> Result<T, AppError> {
    raw.parse::<i64>()
        .ok()
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| {
            AppError::bad_request(
                "invalid_id",
                format!("{what} must be a positive whole number, got {raw:?}"),
            )
        })
}

/// A required query parameter that is a positive whole number.
pub fn query_id<T: TryFrom<i64>>(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<T, AppError> {
    let raw = params.get(name).ok_or_else(|| {
        AppError::bad_request(
            "missing_parameter",
            format!("query parameter `{name}` is required"),
        )
    })?;
    path_id(raw, name)
}

/// `http://host[:port]` as the client addressed us (through the gateway, the gateway's).
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

/// A response type as JSON. Response types are plain data (numbers, strings, the shared
/// ids and states), so this cannot fail; were it to, the error is logged and the value is
/// `null` rather than a panic.
pub fn to_json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "a response type did not serialise");
        Value::Null
    })
}

impl BaseUrl {
    /// A response item as JSON with its `_links.self` (`path` under the base URL).
    pub fn link(&self, item: &impl serde::Serialize, path: &str) -> Value {
        self.with_self_link(to_json(item), path)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> JsonObject {
        JsonObject(v.as_object().unwrap().clone())
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

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    struct Booking {
        room_number: shared_events::RoomNumber,
        #[serde(default, deserialize_with = "shared_events::lenient::optional_count")]
        used_count: Option<i64>,
    }

    fn booking(v: Value) -> Result<Booking, AppError> {
        Body::<Booking>::from_object(v.as_object().unwrap().clone()).map(|b| b.0)
    }

    #[test]
    fn typed_bodies_read_lenient_numbers_and_treat_null_as_absent() {
        let b = booking(json!({"roomNumber": "12", "usedCount": null})).unwrap();
        assert_eq!((b.room_number.get(), b.used_count), (12, None));
        let b = booking(json!({"roomNumber": 3, "usedCount": "2", "extra": true})).unwrap();
        assert_eq!((b.room_number.get(), b.used_count), (3, Some(2)));
    }

    #[test]
    fn typed_bodies_say_which_field_is_missing_or_wrong() {
        for (body, code) in [
            (json!({}), "missing_field"),
            (json!({"roomNumber": null}), "missing_field"),
            (json!({"roomNumber": "one"}), "invalid_field"),
            (json!({"roomNumber": -1}), "invalid_field"),
            (json!({"roomNumber": 1.5}), "invalid_field"),
            (json!({"roomNumber": 1, "usedCount": -2}), "invalid_field"),
        ] {
            let err = booking(body.clone()).unwrap_err();
            assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(err.error, code, "{body}: {}", err.detail);
        }
        let err = booking(json!({})).unwrap_err();
        assert_eq!(err.detail, "`roomNumber` is required");
        let err = booking(json!({"usedCount": -1})).unwrap_err();
        assert_eq!(err.error, "missing_field", "missing before invalid");
        assert_eq!(err.detail, "`roomNumber` is required");
        let err = booking(json!({"roomNumber": 2, "usedCount": "many"})).unwrap_err();
        assert_eq!(
            err.detail,
            r#"`usedCount`: must be a whole number, got "many""#
        );
    }

    #[test]
    fn path_ids_must_be_positive_numbers() {
        let id: shared_events::PayId = path_id("7", "id").unwrap();
        assert_eq!(id.get(), 7);
        let refused = path_id::<shared_events::PayId>("x", "id").unwrap_err();
        assert_eq!(
            (refused.status, refused.error),
            (StatusCode::BAD_REQUEST, "invalid_id")
        );
        for bad in ["0", "-3", "1.5", ""] {
            assert!(path_id::<shared_events::PayId>(bad, "id").is_err(), "{bad}");
        }
    }
}
