//! The view's reactions to events: it keeps each room equal to the room service's state and
//! notifies on every assignment and release.

use hifive_common::{DbConn, EventContext, Handled, Policy};
use shared_events::Event;

use crate::{app, domain};

pub struct ViewPolicy;

impl Policy for ViewPolicy {
    /// How a room's state in the view changes.
    type Command = domain::Change;

    fn command(&self, event: &Event) -> Option<domain::Change> {
        domain::on_event(event)
    }

    async fn apply(&self, tx: &mut DbConn, change: domain::Change, ctx: &EventContext) -> Handled {
        app::apply(tx, change, ctx.occurred_at)
            .await
            .map_err(Into::into)
    }
}
