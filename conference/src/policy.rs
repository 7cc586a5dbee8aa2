//! Conference follows the room service's verdict on each booking (Kafka).

use hifive_common::{DbConn, EventContext, Policy, PolicyError};
use shared_events::{Envelope, Event};

use crate::{app, domain::Verdict};

pub struct BookingPolicy;

impl Policy for BookingPolicy {
    fn handles(&self, event: &Event) -> bool {
        matches!(event, Event::Assigned(_) | Event::AssignRejected(_))
    }

    async fn apply(
        &self,
        tx: &mut DbConn,
        envelope: &Envelope,
        _ctx: &EventContext,
    ) -> Result<(), PolicyError> {
        let (id, pay_id, verdict) = match &envelope.event {
            Event::Assigned(e) => (e.conference_id, e.pay_id, Verdict::Assigned),
            Event::AssignRejected(e) => (e.conference_id, e.pay_id, Verdict::Rejected),
            _ => return Ok(()),
        };
        app::follow_verdict(tx, id, pay_id, verdict).await?;
        Ok(())
    }
}
