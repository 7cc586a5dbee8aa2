//! What can go wrong reading or updating the view, and the one place it becomes HTTP (and,
//! for the consumer, a retry class).

use hifive_common::{AppError, PolicyError};
use shared_events::RoomNumber;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The view's database failed (a transient failure is retried by the consumer).
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    /// The view has no state for the room (the room service never announced it).
    #[error("no state for room {0}")]
    UnknownRoom(RoomNumber),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        match e {
            Error::UnknownRoom(_) => AppError::not_found(e.to_string()),
            Error::Store(e) => e.into(),
        }
    }
}

impl From<Error> for PolicyError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(e) => e.into(),
            other => PolicyError::Failed(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn an_unknown_room_is_a_404() {
        let e = AppError::from(Error::UnknownRoom(RoomNumber::new(3).unwrap()));
        assert_eq!(
            (e.status, e.error, e.detail.as_str()),
            (StatusCode::NOT_FOUND, "not_found", "no state for room 3")
        );
    }
}
