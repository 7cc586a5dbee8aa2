//! Payment rules, without I/O. At most one payment per booking; a refund is final.

use shared_events::{ConferenceId, PayId, PayStatus, RoomNumber};

/// A payment, as recorded (one row of `pay`: read by the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub pay_id: PayId,
    pub status: PayStatus,
    pub conference_id: ConferenceId,
    pub room_number: RoomNumber,
    /// Whose payment it is (the booking customer's `sub`); none for payments made before
    /// payments had owners.
    pub customer: Option<String>,
}

/// The booking a payment is asked for: the one conference's grant names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub conference_id: ConferenceId,
    pub room_number: RoomNumber,
    /// The booking customer's `sub` (`anonymous` when nobody is named).
    pub customer: String,
}

/// Why a payment request is refused (`409 payment_refused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the payment for this booking was refunded")]
    Refunded,
    #[error("this booking was cancelled before it was paid")]
    CancelledUnpaid,
}

/// What to do with a payment request (`POST /pays/room_applied`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRequest {
    /// Record a new payment and announce `Paid`.
    Charge,
    /// The same booking asked again (a retry): answer with the same payment.
    AlreadyPaid(PayId),
    /// The booking was cancelled or refunded already.
    Refuse(Refusal),
}

/// Decides on a payment request, given the booking's payment and whether the booking was
/// voided (cancelled before anything was charged).
pub fn on_request(existing: Option<&Payment>, voided: bool) -> OnRequest {
    match existing {
        Some(payment) => match payment.status {
            PayStatus::Paid => OnRequest::AlreadyPaid(payment.pay_id),
            PayStatus::Canceled => OnRequest::Refuse(Refusal::Refunded),
        },
        None if voided => OnRequest::Refuse(Refusal::CancelledUnpaid),
        None => OnRequest::Charge,
    }
}

/// What to do when a booking is cancelled, failed or rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnRefund {
    /// `PAID → CANCELED` and announce `PayCanceled`: this payment.
    Refund(Payment),
    /// Refunded before (a duplicate or a second reason): nothing to do.
    AlreadyRefunded,
    /// Nothing was charged yet: remember the booking so that a late request is refused.
    Void,
}

/// Decides on a refund, given the booking's payment.
pub fn on_refund(existing: Option<Payment>) -> OnRefund {
    match existing {
        Some(payment) => match payment.status {
            PayStatus::Paid => OnRefund::Refund(payment),
            PayStatus::Canceled => OnRefund::AlreadyRefunded,
        },
        None => OnRefund::Void,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(status: PayStatus) -> Payment {
        Payment {
            pay_id: PayId::new(4).unwrap(),
            status,
            conference_id: ConferenceId::new(9).unwrap(),
            room_number: RoomNumber::new(2).unwrap(),
            customer: Some("alice".into()),
        }
    }

    #[test]
    fn one_payment_per_booking() {
        assert_eq!(on_request(None, false), OnRequest::Charge);
        assert_eq!(
            on_request(Some(&payment(PayStatus::Paid)), false),
            OnRequest::AlreadyPaid(PayId::new(4).unwrap())
        );
    }

    #[test]
    fn cancelled_bookings_are_never_charged() {
        assert_eq!(
            on_request(None, true),
            OnRequest::Refuse(Refusal::CancelledUnpaid)
        );
        assert_eq!(
            on_request(Some(&payment(PayStatus::Canceled)), false),
            OnRequest::Refuse(Refusal::Refunded)
        );
    }

    #[test]
    fn refunds_happen_once_and_carry_the_payment() {
        assert_eq!(
            on_refund(Some(payment(PayStatus::Paid))),
            OnRefund::Refund(payment(PayStatus::Paid))
        );
        assert_eq!(
            on_refund(Some(payment(PayStatus::Canceled))),
            OnRefund::AlreadyRefunded
        );
        assert_eq!(on_refund(None), OnRefund::Void);
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(
            Refusal::Refunded.to_string(),
            "the payment for this booking was refunded"
        );
        assert_eq!(
            Refusal::CancelledUnpaid.to_string(),
            "this booking was cancelled before it was paid"
        );
    }
}
