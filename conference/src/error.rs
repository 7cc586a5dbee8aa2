//! Why a use case did not do what it was asked, in the domain's words, and the one place
//! where each reason becomes an HTTP answer.

use hifive_common::AppError;
use shared_events::{ConferenceId, ConferenceStatus};

use crate::{pay_client::PayError, pay_guard::PayCallError, saga_guard::SagaBusy};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such booking, or not one the caller may see.
    #[error("conference {0} does not exist")]
    NotFound(ConferenceId),
    /// A rejected or failed booking holds nothing to cancel.
    #[error("conference {id} is {status}: it holds no room or payment to cancel")]
    NotCancelable {
        id: ConferenceId,
        status: ConferenceStatus,
    },
    /// Cancelled (or swept as stuck) while pay was answering: its `ApplyCanceled` makes pay
    /// refund the payment.
    #[error("conference {id} became {status} while it was being paid; its payment is refunded")]
    EndedWhilePaying {
        id: ConferenceId,
        status: ConferenceStatus,
    },
    /// Backpressure: the saga is behind; nothing was stored.
    #[error("{reason}; nothing was booked or charged; retry in {retry_after} s")]
    SagaBusy { reason: SagaBusy, retry_after: u64 },
    /// The breaker is open or the bulkhead full: pay was not asked; nothing was kept.
    #[error("{reason}; nothing was booked or charged; retry in {retry_after} s")]
    PaymentBusy {
        reason: PayCallError,
        retry_after: u64,
    },
    /// Pay was asked and did not confirm: the booking is `FAILED` (refunded if need be).
    #[error("payment could not be made, so conference {id} was not booked: {reason}; retry later")]
    PaymentUnavailable {
        id: ConferenceId,
        reason: PayError,
        retry_after: u64,
    },
    /// The database failed (busy: `503 database_busy`; otherwise `500`).
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    /// The task carrying the booking to its end died.
    #[error("the booking could not be finished")]
    Unfinished,
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        let detail = e.to_string();
        match e {
            Error::Store(e) => AppError::from(e),
            Error::NotFound(_) => AppError::not_found(detail),
            Error::NotCancelable { .. } => AppError::conflict("not_cancelable", detail),
            Error::EndedWhilePaying { .. } => AppError::conflict("booking_ended", detail),
            Error::SagaBusy { retry_after, .. } => {
                AppError::unavailable("saga_busy", detail, retry_after)
            }
            Error::PaymentBusy { retry_after, .. } => {
                AppError::unavailable("payment_busy", detail, retry_after)
            }
            Error::PaymentUnavailable { retry_after, .. } => {
                AppError::unavailable("payment_unavailable", detail, retry_after)
            }
            Error::Unfinished => AppError::internal(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn id() -> ConferenceId {
        ConferenceId::new(7).unwrap()
    }

    #[test]
    fn each_reason_keeps_its_status_code_and_retry_after() {
        let cases = [
            (
                Error::NotFound(id()),
                StatusCode::NOT_FOUND,
                "not_found",
                None,
            ),
            (
                Error::NotCancelable {
                    id: id(),
                    status: ConferenceStatus::Rejected,
                },
                StatusCode::CONFLICT,
                "not_cancelable",
                None,
            ),
            (
                Error::PaymentBusy {
                    reason: PayCallError::Busy(64),
                    retry_after: 1,
                },
                StatusCode::SERVICE_UNAVAILABLE,
                "payment_busy",
                Some(1),
            ),
            (
                Error::PaymentUnavailable {
                    id: id(),
                    reason: PayError::Unconfirmed("timeout".into()),
                    retry_after: 5,
                },
                StatusCode::SERVICE_UNAVAILABLE,
                "payment_unavailable",
                Some(5),
            ),
        ];
        for (error, status, code, retry_after) in cases {
            let answer = AppError::from(error);
            assert_eq!(
                (answer.status, answer.error, answer.retry_after_secs),
                (status, code, retry_after)
            );
        }
    }

    #[test]
    fn details_say_what_happened() {
        let e = Error::NotCancelable {
            id: id(),
            status: ConferenceStatus::Failed,
        };
        assert_eq!(
            AppError::from(e).detail,
            "conference 7 is FAILED: it holds no room or payment to cancel"
        );
        let busy = Error::PaymentBusy {
            reason: PayCallError::Open,
            retry_after: 5,
        };
        assert_eq!(
            busy.to_string(),
            "payment is busy: the circuit to pay is open; nothing was booked or charged; retry in 5 s"
        );
    }
}
