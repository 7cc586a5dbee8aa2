//! Why a use case of pay did not happen, in the domain's words; and the one place where each
//! reason becomes an HTTP answer.

use hifive_common::{AppError, auth::ChargeGrant};
use shared_events::{ConferenceId, PayId, RoomNumber};

use crate::domain::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such payment, or another customer's.
    #[error("payment {0} does not exist")]
    NotFound(PayId),
    /// Conference's grant names another booking than the one asked to be charged.
    #[error(
        "this call may charge conference {} for room {}, not conference {conference_id} for room {room_number}",
        granted.conference_id,
        granted.room_number
    )]
    NotGranted {
        granted: ChargeGrant,
        conference_id: ConferenceId,
        room_number: RoomNumber,
    },
    /// The booking may not be charged (any more).
    #[error("conference {conference_id}: {refusal}")]
    Refused {
        conference_id: ConferenceId,
        refusal: Refusal,
    },
    /// The database failed: `503` while it is busy or away (retry), else `500`.
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(_) => AppError::not_found(e.to_string()),
            Error::NotGranted { .. } => AppError::forbidden(e.to_string()),
            Error::Refused { .. } => AppError::conflict("payment_refused", e.to_string()),
            Error::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn each_reason_has_its_status_code_and_detail() {
        let conference_id = ConferenceId::new(7).unwrap();
        let room_number = RoomNumber::new(5).unwrap();
        let granted = ChargeGrant {
            conference_id: ConferenceId::new(1).unwrap(),
            room_number: RoomNumber::new(2).unwrap(),
            customer: "alice".into(),
        };
        for (reason, status, code, detail) in [
            (
                Error::NotFound(PayId::new(3).unwrap()),
                StatusCode::NOT_FOUND,
                "not_found",
                "payment 3 does not exist",
            ),
            (
                Error::NotGranted {
                    granted,
                    conference_id,
                    room_number,
                },
                StatusCode::FORBIDDEN,
                "forbidden",
                "this call may charge conference 1 for room 2, not conference 7 for room 5",
            ),
            (
                Error::Refused {
                    conference_id,
                    refusal: Refusal::Refunded,
                },
                StatusCode::CONFLICT,
                "payment_refused",
                "conference 7: the payment for this booking was refunded",
            ),
        ] {
            let answer = AppError::from(reason);
            assert_eq!((answer.status, answer.error), (status, code));
            assert_eq!(answer.detail, detail);
            assert_eq!(answer.retry_after_secs, None);
        }
        let busy = AppError::from(Error::Store(sqlx::Error::PoolTimedOut));
        assert_eq!(
            (busy.status, busy.retry_after_secs),
            (StatusCode::SERVICE_UNAVAILABLE, Some(1))
        );
    }
}
