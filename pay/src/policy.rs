//! Pay's reactions to events: it refunds a booking that was cancelled (`ApplyCanceled`) or
//! could not get its room (`AssignRejected`).

use hifive_common::{DbConn, EventContext, Outbox, Policy, PolicyError};
use shared_events::{ConferenceId, Envelope, Event};

use crate::app;

pub struct RefundPolicy {
    /// Where the refund's `PayCanceled` is written.
    pub outbox: Outbox,
}

/// The booking `event` asks to refund, and why; `None` for the events pay does not handle.
fn refund_of(event: &Event) -> Option<(ConferenceId, &str)> {
    match event {
        Event::ApplyCanceled(e) => Some((e.conference_id, "booking cancelled")),
        Event::AssignRejected(e) => Some((e.conference_id, e.reason.as_str())),
        _ => None,
    }
}

impl Policy for RefundPolicy {
    fn handles(&self, event: &Event) -> bool {
        refund_of(event).is_some()
    }

    async fn apply(
        &self,
        tx: &mut DbConn,
        envelope: &Envelope,
        ctx: &EventContext,
    ) -> Result<(), PolicyError> {
        if let Some((conference_id, reason)) = refund_of(&envelope.event) {
            let request_id = ctx.request_id.as_deref();
            app::refund(tx, &self.outbox, conference_id, reason, request_id).await?;
        }
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
        assert_eq!(
            refund_of(&cancelled),
            Some((conference_id, "booking cancelled"))
        );
        let rejected = Event::AssignRejected(AssignRejected {
            room_number,
            conference_id,
            pay_id,
            reason: "room 5 is occupied".into(),
        });
        assert_eq!(
            refund_of(&rejected),
            Some((conference_id, "room 5 is occupied"))
        );
    }
}
