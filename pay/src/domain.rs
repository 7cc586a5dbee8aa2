//! Payment rules, without I/O. At most one payment per booking; a refund is final.

use shared_events::PayStatus;

/// The payment already recorded for a booking, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Existing {
    pub pay_id: i64,
    pub status: PayStatus,
}

/// What to do with a payment request (`POST /pays/room_applied`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRequest {
    /// Record a new payment and announce `Paid`.
    Charge,
    /// The same booking asked again (a retry): answer with the same payment.
    AlreadyPaid(i64),
    /// The booking was cancelled or refunded already: refuse (409).
    Refuse(&'static str),
}

pub fn on_request(existing: Option<Existing>, voided: bool) -> OnRequest {
    match existing {
        Some(Existing {
            pay_id,
            status: PayStatus::Paid,
        }) => OnRequest::AlreadyPaid(pay_id),
        Some(Existing {
            status: PayStatus::Canceled,
            ..
        }) => OnRequest::Refuse("the payment for this booking was refunded"),
        None if voided => OnRequest::Refuse("this booking was cancelled before it was paid"),
        None => OnRequest::Charge,
    }
}

/// What to do when a booking is cancelled, failed or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRefund {
    /// `PAID → CANCELED` and announce `PayCanceled`.
    Refund(i64),
    /// Refunded before (a duplicate or a second reason): nothing to do.
    AlreadyRefunded,
    /// Nothing was charged yet: remember the booking so that a late request is refused.
    Void,
}

pub fn on_refund(existing: Option<Existing>) -> OnRefund {
    match existing {
        Some(Existing {
            pay_id,
            status: PayStatus::Paid,
        }) => OnRefund::Refund(pay_id),
        Some(Existing {
            status: PayStatus::Canceled,
            ..
        }) => OnRefund::AlreadyRefunded,
        None => OnRefund::Void,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAID: Existing = Existing {
        pay_id: 4,
        status: PayStatus::Paid,
    };
    const REFUNDED: Existing = Existing {
        pay_id: 4,
        status: PayStatus::Canceled,
    };

    #[test]
    fn one_payment_per_booking() {
        assert_eq!(on_request(None, false), OnRequest::Charge);
        assert_eq!(on_request(Some(PAID), false), OnRequest::AlreadyPaid(4));
    }

    #[test]
    fn cancelled_bookings_are_never_charged() {
        assert!(matches!(on_request(None, true), OnRequest::Refuse(_)));
        assert!(matches!(
            on_request(Some(REFUNDED), false),
            OnRequest::Refuse(_)
        ));
    }

    #[test]
    fn refunds_happen_once() {
        assert_eq!(on_refund(Some(PAID)), OnRefund::Refund(4));
        assert_eq!(on_refund(Some(REFUNDED)), OnRefund::AlreadyRefunded);
        assert_eq!(on_refund(None), OnRefund::Void);
    }
}
