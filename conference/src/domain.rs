//! Booking rules, without I/O. A booking moves
//! `CREATED → PAID → ASSIGNED`, or ends `REJECTED`, `CANCELED` or `FAILED`.

use shared_events::ConferenceStatus;

/// Where a booking stands with its payment. Every answer about a payment depends on this
/// alone: pay confirming it, the pay call failing, and a retry of a request that was cut
/// short before it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    /// `CREATED`: pay's answer is awaited. A confirmation makes it `PAID` (and announces
    /// `Applied`); a failure makes it `FAILED`, asking pay to refund what it may have
    /// charged; a cut-short request's key stays in flight until the sweeper ends it.
    Awaited,
    /// `PAID`, `ASSIGNED` or `REJECTED`: paid, and the saga has it (its events may overtake
    /// pay's HTTP answer). A confirmation only records the payment id; a failed call stands
    /// corrected (pay did charge); a cut-short request gets its `201`.
    Made,
    /// `CANCELED` or `FAILED`: ended without a payment to keep (a cancellation already asked
    /// pay to refund by booking id). A confirmation is refused; the key is freed.
    Ended,
}

pub fn payment(status: ConferenceStatus) -> Payment {
    match status {
        ConferenceStatus::Created => Payment::Awaited,
        ConferenceStatus::Paid | ConferenceStatus::Assigned | ConferenceStatus::Rejected => {
            Payment::Made
        }
        ConferenceStatus::Canceled | ConferenceStatus::Failed => Payment::Ended,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_created_paid_assigned() {
        assert_eq!(payment(ConferenceStatus::Created), Payment::Awaited);
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
        assert_eq!(payment(ConferenceStatus::Assigned), Payment::Made);
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
    fn a_rejection_ends_a_paid_booking() {
        assert_eq!(
            on_verdict(Verdict::Rejected, ConferenceStatus::Paid),
            Some(ConferenceStatus::Rejected)
        );
    }

    #[test]
    fn every_status_has_one_payment_stage() {
        use ConferenceStatus::*;
        let stages: Vec<_> = ConferenceStatus::ALL.iter().map(|s| payment(*s)).collect();
        assert_eq!(
            ConferenceStatus::ALL,
            [Created, Paid, Assigned, Rejected, Canceled, Failed]
        );
        assert_eq!(
            stages,
            [
                Payment::Awaited,
                Payment::Made,
                Payment::Made,
                Payment::Made,
                Payment::Ended,
                Payment::Ended
            ]
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
    }
}
