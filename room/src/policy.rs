//! Room's reactions to events: a paid booking gets its room, a refunded one releases it.

use hifive_common::{DbConn, EventContext, Outbox, Policy, PolicyError};
use shared_events::{Envelope, Event};

use crate::app;

/// Room assigns paid bookings and releases refunded ones.
pub struct AssignmentPolicy {
    outbox: Outbox,
}

impl AssignmentPolicy {
    pub fn new(outbox: Outbox) -> Self {
        Self { outbox }
    }
}

impl Policy for AssignmentPolicy {
    fn handles(&self, event: &Event) -> bool {
        matches!(event, Event::Paid(_) | Event::PayCanceled(_))
    }

    async fn apply(
        &self,
        tx: &mut DbConn,
        envelope: &Envelope,
        ctx: &EventContext,
    ) -> Result<(), PolicyError> {
        let on = app::Reaction {
            tx,
            outbox: &self.outbox,
            request_id: ctx.request_id.as_deref(),
        };
        match &envelope.event {
            Event::Paid(paid) => app::assign(on, paid).await?,
            Event::PayCanceled(refund) => app::release(on, refund).await?,
            _ => {}
        }
        Ok(())
    }
}
