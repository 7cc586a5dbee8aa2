//! Room's reactions to events: a paid booking gets its room, a refunded one releases it.

use hifive_common::{DbConn, EventContext, Handled, Outbox, Policy};
use shared_events::{Event, Paid, PayCanceled};

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

/// What an event asks of the room service.
pub enum RoomCommand {
    /// A paid booking asks for its room.
    Assign(Paid),
    /// A refunded booking gives its room back.
    Release(PayCanceled),
}

impl Policy for AssignmentPolicy {
    type Command = RoomCommand;

    fn command(&self, event: &Event) -> Option<RoomCommand> {
        match event {
            Event::Paid(paid) => Some(RoomCommand::Assign(paid.clone())),
            Event::PayCanceled(refund) => Some(RoomCommand::Release(refund.clone())),
            _ => None,
        }
    }

    async fn apply(&self, tx: &mut DbConn, command: RoomCommand, ctx: &EventContext) -> Handled {
        let on = app::Reaction {
            tx,
            outbox: &self.outbox,
            request_id: ctx.request_id.as_deref(),
        };
        match command {
            RoomCommand::Assign(paid) => app::assign(on, &paid).await?,
            RoomCommand::Release(refund) => app::release(on, &refund).await?,
        }
        Ok(())
    }
}
