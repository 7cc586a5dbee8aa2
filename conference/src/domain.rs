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

/// The room service assigned the room: `PAID → ASSIGNED` (also from `CREATED`, when the
/// event overtakes pay's HTTP answer). A cancelled or failed booking stays as it is: its
/// refund releases the room.
pub fn on_assigned(status: ConferenceStatus) -> Option<ConferenceStatus> {
    matches!(status, ConferenceStatus::Created | ConferenceStatus::Paid)
        .then_some(ConferenceStatus::Assigned)
}

/// The room service rejected the booking (unknown or occupied room): it ends `REJECTED`.
pub fn on_assign_rejected(status: ConferenceStatus) -> Option<ConferenceStatus> {
    matches!(status, ConferenceStatus::Created | ConferenceStatus::Paid)
        .then_some(ConferenceStatus::Rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_created_paid_assigned() {
        assert_eq!(on_paid(ConferenceStatus::Created), OnPaid::MarkPaid);
        assert_eq!(
            on_assigned(ConferenceStatus::Paid),
            Some(ConferenceStatus::Assigned)
        );
    }

    #[test]
    fn assigned_event_may_overtake_the_pay_answer() {
        assert_eq!(
            on_assigned(ConferenceStatus::Created),
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
            assert_eq!(on_assigned(ended), None, "{ended:?}");
            assert_eq!(on_assign_rejected(ended), None, "{ended:?}");
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
}
