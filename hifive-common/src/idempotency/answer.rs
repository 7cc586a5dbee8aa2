//! What an earlier request with the same key left, and the answer it gets: the stored
//! answer replayed, `409` while in flight, `422` for a different request.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::REPLAYED;
use crate::AppError;

/// What an earlier request with the same key left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// It finished: answer the same again.
    Done(Stored),
    /// It is still being carried out (or was cut short: `since` tells when it began).
    InFlight { resource: String, since: String },
    /// The key was used for a different request.
    Mismatch,
}

/// Renders the answer stored for what a request made (`T`: a booking, a room).
pub type Render<'a, T> = &'a (dyn Fn(&T) -> Stored + Sync);

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

impl Prior {
    /// The answer to a request that found this prior.
    pub fn answer(self) -> Response {
        match self {
            Prior::Done(stored) => stored.into_response(),
            Prior::InFlight { .. } => AppError {
                retry_after_secs: Some(1),
                ..AppError::conflict(
                    "idempotency_key_in_flight",
                    "a request with this Idempotency-Key is still being carried out; retry shortly",
                )
            }
            .into_response(),
            Prior::Mismatch => AppError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request; use a new key",
            )
            .into_response(),
        }
    }
}

impl IntoResponse for Stored {
    /// The answer replayed (`Idempotent-Replayed: true`).
    fn into_response(self) -> Response {
        self.response(true)
    }
}

impl Stored {
    /// The answer, first given (`replayed` false) or replayed.
    pub fn response(self, replayed: bool) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body,
        )
            .into_response();
        let headers = response.headers_mut();
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, location);
        }
        if replayed {
            headers.insert(REPLAYED, HeaderValue::from_static("true"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::now;

    #[test]
    fn a_replay_says_so_and_keeps_status_body_and_location() {
        let response = Stored {
            status: 201,
            body: "{\"a\":1}".into(),
            location: Some("http://h/conferences/1".into()),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[REPLAYED], "true");
        assert_eq!(
            response.headers()[header::LOCATION],
            "http://h/conferences/1"
        );
    }

    #[test]
    fn priors_answer_409_and_422() {
        let in_flight = Prior::InFlight {
            resource: "conference:1".into(),
            since: now(),
        };
        assert_eq!(in_flight.answer().status(), StatusCode::CONFLICT);
        assert_eq!(
            Prior::Mismatch.answer().status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
