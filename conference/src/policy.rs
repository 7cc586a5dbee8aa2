//! Conference follows the room service's verdict on each booking (Kafka).

use hifive_common::{DbConn, EventContext, Handled, Policy};
use shared_events::{ConferenceId, Event, PayId};

use crate::{app, domain::Verdict};

pub struct BookingPolicy;

/// A verdict on booking `0`, paid with `1`.
pub type VerdictOn = (ConferenceId, PayId, Verdict);

impl Policy for BookingPolicy {
    type Command = VerdictOn;

    fn command(&self, event: &Event) -> Option<VerdictOn> {
        match event {
            Event::Assigned(e) => Some((e.conference_id, e.pay_id, Verdict::Assigned)),
            Event::AssignRejected(e) => Some((e.conference_id, e.pay_id, Verdict::Rejected)),
            _ => None,
        }
    }

    async fn apply(&self, tx: &mut DbConn, on: VerdictOn, _: &EventContext) -> Handled {
        let (id, pay_id, verdict) = on;
        Ok(app::follow_verdict(tx, id, pay_id, verdict).await?)
    }
}
