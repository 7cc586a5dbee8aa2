//! Pay's reactions to events: it refunds a booking that was cancelled (`ApplyCanceled`) or
//! could not get its room (`AssignRejected`).

use hifive_common::{DbConn, EventContext, Handled, Outbox, Policy};
use shared_events::{ConferenceId, Event};

use crate::app;

pub struct RefundPolicy {
    /// Where the refund's `PayCanceled` is written.
    pub outbox: Outbox,
}

/// A refund of a booking's payment, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub conference_id: ConferenceId,
    pub reason: String,
}

/// The refund `event` asks for; `None` for the events pay does not handle.
fn refund_of(event: &Event) -> Option<Refund> {
    let (conference_id, reason) = match event {
        Event::ApplyCanceled(e) => (e.conference_id, "booking cancelled"),
        Event::AssignRejected(e) => (e.conference_id, e.reason.as_str()),
        _ => return None,
    };
    Some(Refund {
        conference_id,
        reason: reason.to_owned(),
    })
}

impl Policy for RefundPolicy {
    type Command = Refund;

    fn command(&self, event: &Event) -> Option<Refund> {
        refund_of(event)
    }

    /// Refunds in the consumer's transaction; the `PayCanceled` carries the event's request id.
    async fn apply(&self, tx: &mut DbConn, refund: Refund, ctx: &EventContext) -> Handled {
        let request_id = ctx.request_id.as_deref();
        let Refund {
            conference_id,
            reason,
        } = refund;
        app::refund(tx, &self.outbox, conference_id, &reason, request_id).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use shared_events::{ApplyCanceled, AssignRejected, ConferenceStatus, PayId, RoomNumber};

    use super::*;

    #[test]
    fn cancelled_and_rejected_bookings_are_refunded() {
        let (conference_id, room_number, pay_id) = (
            ConferenceId::new(7).unwrap(),
            RoomNumber::new(5).unwrap(),
            PayId::new(3).unwrap(),
        );
        let cancelled = Event::ApplyCanceled(ApplyCanceled {
            conference_id,
            conference_status: ConferenceStatus::Canceled,
            pay_id: None,
            room_number,
        });
        let refund = |reason: &str| {
            Some(Refund {
                conference_id,
                reason: reason.into(),
            })
        };
        assert_eq!(refund_of(&cancelled), refund("booking cancelled"));
        let rejected = Event::AssignRejected(AssignRejected {
            room_number,
            conference_id,
            pay_id,
            reason: "room 5 is occupied".into(),
        });
        assert_eq!(refund_of(&rejected), refund("room 5 is occupied"));
    }
}
