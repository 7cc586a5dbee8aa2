//! What the room use cases refuse, and the one place it becomes an HTTP answer.

use hifive_common::AppError;
use shared_events::RoomNumber;

use crate::domain::NotEmpty;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("room {0} is not registered")]
    NotFound(RoomNumber),
    #[error("room {0} is already registered")]
    RoomExists(RoomNumber),
    /// A registration that asks for a room that is not `EMPTY`.
    #[error(transparent)]
    NotEmpty(#[from] NotEmpty),
    #[error("database: {0}")]
    Store(#[from] sqlx::Error),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        let detail = e.to_string();
        match e {
            Error::NotFound(_) => AppError::not_found(detail),
            Error::RoomExists(_) => AppError::conflict("room_exists", detail),
            Error::NotEmpty(_) => AppError::unprocessable("invalid_field", detail),
            Error::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn refusals_keep_their_status_code_and_detail() {
        let three = RoomNumber::new(3).unwrap();
        let cases = [
            (
                Error::NotFound(three),
                StatusCode::NOT_FOUND,
                "not_found",
                "room 3 is not registered",
            ),
            (
                Error::RoomExists(three),
                StatusCode::CONFLICT,
                "room_exists",
                "room 3 is already registered",
            ),
            (
                NotEmpty("FULL".into()).into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                "a room is registered EMPTY; roomStatus \"FULL\" is not allowed (a room is FULL only while a booking holds it)",
            ),
        ];
        for (error, status, code, detail) in cases {
            let answer = AppError::from(error);
            assert_eq!(answer.status, status);
            assert_eq!(answer.error, code);
            assert_eq!(answer.detail, detail);
        }
        let busy = AppError::from(Error::Store(sqlx::Error::PoolTimedOut));
        assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.retry_after_secs, Some(1));
    }
}
