//! Booking rules, without I/O. A booking moves
//! `CREATED → PAID → ASSIGNED`, or ends `REJECTED`, `CANCELED` or `FAILED`.

use shared_events::conference_status as s;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Paid,
    Assigned,
    Rejected,
    Canceled,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => s::CREATED,
            Status::Paid => s::PAID,
            Status::Assigned => s::ASSIGNED,
            Status::Rejected => s::REJECTED,
            Status::Canceled => s::CANCELED,
            Status::Failed => s::FAILED,
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Status::Created,
            Status::Paid,
            Status::Assigned,
            Status::Rejected,
            Status::Canceled,
            Status::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == raw)
    }
}

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

pub fn on_paid(status: Status) -> OnPaid {
    match status {
        Status::Created => OnPaid::MarkPaid,
        Status::Paid | Status::Assigned | Status::Rejected => OnPaid::KeepStatus,
        Status::Canceled | Status::Failed => OnPaid::Ended,
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

pub fn on_pay_failure(status: Status, may_have_charged: bool) -> OnPayFailure {
    match status {
        Status::Created => OnPayFailure::MarkFailed {
            refund: may_have_charged,
        },
        Status::Paid | Status::Assigned | Status::Rejected => OnPayFailure::Proceeded,
        Status::Canceled | Status::Failed => OnPayFailure::Ended,
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

pub fn on_cancel(status: Status) -> OnCancel {
    match status {
        Status::Created | Status::Paid | Status::Assigned => OnCancel::Cancel,
        Status::Canceled => OnCancel::AlreadyCanceled,
        Status::Rejected | Status::Failed => OnCancel::NotCancelable,
    }
}

/// The room service assigned the room: `PAID → ASSIGNED` (also from `CREATED`, when the
/// event overtakes pay's HTTP answer). A cancelled or failed booking stays as it is: its
/// refund releases the room.
pub fn on_assigned(status: Status) -> Option<Status> {
    matches!(status, Status::Created | Status::Paid).then_some(Status::Assigned)
}

/// The room service rejected the booking (unknown or occupied room): it ends `REJECTED`.
pub fn on_assign_rejected(status: Status) -> Option<Status> {
    matches!(status, Status::Created | Status::Paid).then_some(Status::Rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for st in [
            Status::Created,
            Status::Paid,
            Status::Assigned,
            Status::Rejected,
            Status::Canceled,
            Status::Failed,
        ] {
            assert_eq!(Status::parse(st.as_str()), Some(st));
        }
        assert_eq!(Status::parse("Req complete"), None);
    }

    #[test]
    fn happy_path_created_paid_assigned() {
        assert_eq!(on_paid(Status::Created), OnPaid::MarkPaid);
        assert_eq!(on_assigned(Status::Paid), Some(Status::Assigned));
    }

    #[test]
    fn assigned_event_may_overtake_the_pay_answer() {
        assert_eq!(on_assigned(Status::Created), Some(Status::Assigned));
        assert_eq!(on_paid(Status::Assigned), OnPaid::KeepStatus);
        assert_eq!(
            on_pay_failure(Status::Assigned, true),
            OnPayFailure::Proceeded
        );
    }

    #[test]
    fn late_events_do_not_revive_ended_bookings() {
        for ended in [
            Status::Canceled,
            Status::Failed,
            Status::Rejected,
            Status::Assigned,
        ] {
            assert_eq!(on_assigned(ended), None, "{ended:?}");
            assert_eq!(on_assign_rejected(ended), None, "{ended:?}");
        }
    }

    #[test]
    fn pay_failure_refunds_only_when_pay_may_have_charged() {
        assert_eq!(
            on_pay_failure(Status::Created, false),
            OnPayFailure::MarkFailed { refund: false }
        );
        assert_eq!(
            on_pay_failure(Status::Created, true),
            OnPayFailure::MarkFailed { refund: true }
        );
        assert_eq!(on_pay_failure(Status::Canceled, true), OnPayFailure::Ended);
    }

    #[test]
    fn cancel_is_idempotent_and_refuses_ended_bookings() {
        assert_eq!(on_cancel(Status::Assigned), OnCancel::Cancel);
        assert_eq!(on_cancel(Status::Paid), OnCancel::Cancel);
        assert_eq!(on_cancel(Status::Canceled), OnCancel::AlreadyCanceled);
        assert_eq!(on_cancel(Status::Rejected), OnCancel::NotCancelable);
        assert_eq!(on_cancel(Status::Failed), OnCancel::NotCancelable);
        assert_eq!(on_paid(Status::Canceled), OnPaid::Ended);
    }
}
