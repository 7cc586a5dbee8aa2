//! The view's reactions to events: it keeps each room equal to the room service's state and
//! notifies on every assignment and release.

use hifive_common::{DbConn, EventContext, Policy, PolicyError};
use shared_events::{Envelope, Event};

use crate::{app, domain};

pub struct ViewPolicy;

impl Policy for ViewPolicy {
    fn handles(&self, event: &Event) -> bool {
        domain::on_event(event).is_some()
    }

    async fn apply(
        &self,
        tx: &mut DbConn,
        envelope: &Envelope,
        _ctx: &EventContext,
    ) -> Result<(), PolicyError> {
        if let Some(change) = domain::on_event(&envelope.event) {
            app::apply(tx, change).await?;
        }
        Ok(())
    }
}
