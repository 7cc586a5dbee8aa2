//! Booking rules, without I/O. A booking moves
//! `CREATED → PAID → ASSIGNED`, or ends `REJECTED`, `CANCELED` or `FAILED`.

use shared_events::ConferenceStatus;

/// What to do when pay confirms the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnPaid {
    /// `CREATED → PAID`, announce `Applied`.
    MarkPaid,
    /// Events got here first (the room was already assigned or rejected): keep the status,
    /// record the payment id.
    KeepStatus,
    /// The customer cancelled while pay was answering: the cancellation already asked pay
    /// to refund by booking id.
    Ended,
}

pub fn on_paid(status: ConferenceStatus) -> OnPaid {
    match status {
        ConferenceStatus::Created => OnPaid::MarkPaid,
        ConferenceStatus::Paid | ConferenceStatus::Assigned | ConferenceStatus::Rejected => {
            OnPaid::KeepStatus
        }
        ConferenceStatus::Canceled | ConferenceStatus::Failed => OnPaid::Ended,
    }
}

/// What to do when the pay call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnPayFailure {
    /// `CREATED → FAILED`; when pay may have charged, ask it to refund (ApplyCanceled).
    MarkFailed { refund: bool },
    /// Pay did charge and the saga moved on through events: the booking stands.
    Proceeded,
    /// Already cancelled or failed: nothing more to do.
    Ended,
}

pub fn on_pay_failure(status: ConferenceStatus, may_have_charged: bool) -> OnPayFailure {
    match status {
        ConferenceStatus::Created => OnPayFailure::MarkFailed {
            refund: may_have_charged,
        },
        ConferenceStatus::Paid | ConferenceStatus::Assigned | ConferenceStatus::Rejected => {
            OnPayFailure::Proceeded
        }
        ConferenceStatus::Canceled | ConferenceStatus::Failed => OnPayFailure::Ended,
    }
}

/// What to do on `DELETE /conferences/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCancel {
    /// Mark `CANCELED` and announce `ApplyCanceled` (pay refunds, room releases).
    Cancel,
    /// Cancelling twice is harmless.
    AlreadyCanceled,
    /// A booking that was rejected or failed holds nothing: nothing to cancel.
    NotCancelable,
}

pub fn on_cancel(status: ConferenceStatus) -> OnCancel {
    match status {
        ConferenceStatus::Created | ConferenceStatus::Paid | ConferenceStatus::Assigned => {
            OnCancel::Cancel
        }
        ConferenceStatus::Canceled => OnCancel::AlreadyCanceled,
        ConferenceStatus::Rejected | ConferenceStatus::Failed => OnCancel::NotCancelable,
    }
}

/// What the room service decided about a booking (`Assigned` or `AssignRejected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The room is the booking's.
    Assigned,
    /// The room is unknown or taken: the booking is refunded.
    Rejected,
}

/// Where a verdict takes the booking: `PAID → ASSIGNED` or `REJECTED` (also from `CREATED`,
/// when the event overtakes pay's HTTP answer). A booking that ended (cancelled, failed, or
/// already assigned or rejected) stays as it is: its refund releases the room. `None`: no
/// change.
pub fn on_verdict(verdict: Verdict, status: ConferenceStatus) -> Option<ConferenceStatus> {
    let next = match verdict {
        Verdict::Assigned => ConferenceStatus::Assigned,
        Verdict::Rejected => ConferenceStatus::Rejected,
    };
    matches!(status, ConferenceStatus::Created | ConferenceStatus::Paid).then_some(next)
}

/// A request holding an `Idempotency-Key` was cut short (the service stopped before it
/// answered). What its booking, as it is now, tells a retry with the same key (a booking
/// that is gone frees the key, as an unpaid one does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutShort {
    /// Still `CREATED`: the sweeper has yet to end it; the key stays in flight.
    InFlight,
    /// Paid, and the saga moved on: the retry gets the `201` the first request would have.
    Answer,
    /// Never paid: the key is freed and the retry books anew.
    Free,
}

pub fn on_cut_short(status: ConferenceStatus) -> CutShort {
    match status {
        ConferenceStatus::Created => CutShort::InFlight,
        ConferenceStatus::Paid | ConferenceStatus::Assigned | ConferenceStatus::Rejected => {
            CutShort::Answer
        }
        ConferenceStatus::Canceled | ConferenceStatus::Failed => CutShort::Free,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_created_paid_assigned() {
        assert_eq!(on_paid(ConferenceStatus::Created), OnPaid::MarkPaid);
        assert_eq!(
            on_verdict(Verdict::Assigned, ConferenceStatus::Paid),
            Some(ConferenceStatus::Assigned)
        );
    }

    #[test]
    fn assigned_event_may_overtake_the_pay_answer() {
        assert_eq!(
            on_verdict(Verdict::Assigned, ConferenceStatus::Created),
            Some(ConferenceStatus::Assigned)
        );
        assert_eq!(on_paid(ConferenceStatus::Assigned), OnPaid::KeepStatus);
        assert_eq!(
            on_pay_failure(ConferenceStatus::Assigned, true),
            OnPayFailure::Proceeded
        );
    }

    #[test]
    fn late_events_do_not_revive_ended_bookings() {
        for ended in [
            ConferenceStatus::Canceled,
            ConferenceStatus::Failed,
            ConferenceStatus::Rejected,
            ConferenceStatus::Assigned,
        ] {
            assert_eq!(on_verdict(Verdict::Assigned, ended), None, "{ended:?}");
            assert_eq!(on_verdict(Verdict::Rejected, ended), None, "{ended:?}");
        }
    }

    #[test]
    fn pay_failure_refunds_only_when_pay_may_have_charged() {
        assert_eq!(
            on_pay_failure(ConferenceStatus::Created, false),
            OnPayFailure::MarkFailed { refund: false }
        );
        assert_eq!(
            on_pay_failure(ConferenceStatus::Created, true),
            OnPayFailure::MarkFailed { refund: true }
        );
        assert_eq!(
            on_pay_failure(ConferenceStatus::Canceled, true),
            OnPayFailure::Ended
        );
    }

    #[test]
    fn cancel_is_idempotent_and_refuses_ended_bookings() {
        assert_eq!(on_cancel(ConferenceStatus::Assigned), OnCancel::Cancel);
        assert_eq!(on_cancel(ConferenceStatus::Paid), OnCancel::Cancel);
        assert_eq!(
            on_cancel(ConferenceStatus::Canceled),
            OnCancel::AlreadyCanceled
        );
        assert_eq!(
            on_cancel(ConferenceStatus::Rejected),
            OnCancel::NotCancelable
        );
        assert_eq!(on_cancel(ConferenceStatus::Failed), OnCancel::NotCancelable);
        assert_eq!(on_paid(ConferenceStatus::Canceled), OnPaid::Ended);
    }

    #[test]
    fn a_rejection_ends_a_paid_booking() {
        assert_eq!(
            on_verdict(Verdict::Rejected, ConferenceStatus::Paid),
            Some(ConferenceStatus::Rejected)
        );
    }

    #[test]
    fn a_cut_short_request_is_answered_once_its_booking_moved_on() {
        use ConferenceStatus::*;
        assert_eq!(on_cut_short(Created), CutShort::InFlight);
        for paid in [Paid, Assigned, Rejected] {
            assert_eq!(on_cut_short(paid), CutShort::Answer, "{paid}");
        }
        for unpaid in [Canceled, Failed] {
            assert_eq!(on_cut_short(unpaid), CutShort::Free, "{unpaid}");
        }
    }
}
