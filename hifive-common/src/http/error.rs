//! The one error type of the HTTP edge: every refusal becomes `{"error", "detail"}` with its
//! status here, and nowhere else.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

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

#[cfg(feature = "service")]
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

#[cfg(all(test, feature = "service"))]
mod tests {
    use super::*;

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
}
