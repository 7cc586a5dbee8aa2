//! The view's rules, without I/O: what a room looks like after an event, and what to tell
//! people about it.

use shared_events::{ConferenceId, Event, PayId, RoomNumber, RoomStatus};

/// A room as customer-center shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomState {
    pub room_number: RoomNumber,
    pub room_status: RoomStatus,
    pub used_count: i64,
    pub conference_id: Option<ConferenceId>,
    pub pay_id: Option<PayId>,
    /// The room service's revision of this state (absent in events from older producers).
    pub revision: Option<i64>,
}

/// A notification to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: &'static str,
    pub room_number: RoomNumber,
    pub conference_id: ConferenceId,
    pub message: String,
}

/// How an event changes the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new room: add it unless it is known already.
    Register(RoomState),
    /// The room service's new state of a room, with a notification.
    Update(RoomState, Notice),
}

pub fn on_event(event: &Event) -> Option<Change> {
    match event {
        Event::RoomRegistered(e) => Some(Change::Register(RoomState {
            room_number: e.room_number,
            room_status: RoomStatus::Empty,
            used_count: e.used_count,
            conference_id: None,
            pay_id: None,
            revision: e.revision,
        })),
        Event::Assigned(e) => Some(Change::Update(
            RoomState {
                room_number: e.room_number,
                room_status: RoomStatus::Full,
                used_count: e.used_count,
                conference_id: Some(e.conference_id),
                pay_id: Some(e.pay_id),
                revision: e.revision,
            },
            Notice {
                kind: "ASSIGNED",
                room_number: e.room_number,
                conference_id: e.conference_id,
                message: format!(
                    "Room {} is assigned to conference {}.",
                    e.room_number, e.conference_id
                ),
            },
        )),
        Event::CancelAssigned(e) => Some(Change::Update(
            RoomState {
                room_number: e.room_number,
                room_status: RoomStatus::Empty,
                used_count: e.used_count,
                conference_id: None,
                pay_id: None,
                revision: e.revision,
            },
            Notice {
                kind: "RELEASED",
                room_number: e.room_number,
                conference_id: e.conference_id,
                message: format!(
                    "Room {} is released by conference {}.",
                    e.room_number, e.conference_id
                ),
            },
        )),
        _ => None,
    }
}

/// Whether an event carrying `incoming` is newer than the view's `stored` revision of the
/// room. Events that arrive late (a redelivery, or overtaken in transit) change nothing.
/// An event without a revision (an older producer) is applied as it comes.
pub fn supersedes(stored: Option<i64>, incoming: Option<i64>) -> bool {
    match (stored, incoming) {
        (Some(stored), Some(incoming)) => incoming > stored,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_events::{Assigned, Assignment, CancelAssigned, Paid, PayStatus};

    fn ids(room: i64, conference: i64, pay: i64) -> (RoomNumber, ConferenceId, PayId) {
        (
            RoomNumber::new(room).unwrap(),
            ConferenceId::new(conference).unwrap(),
            PayId::new(pay).unwrap(),
        )
    }

    #[test]
    fn assignment_fills_the_room_and_notifies() {
        let (room_number, conference_id, pay_id) = ids(3, 9, 90);
        let e = Event::Assigned(Assigned {
            room_number,
            room_status: Assignment::Assigned,
            conference_id,
            pay_id,
            used_count: 2,
            revision: Some(2),
        });
        let Some(Change::Update(state, notice)) = on_event(&e) else {
            panic!()
        };
        assert_eq!(state.room_status, RoomStatus::Full);
        assert_eq!(state.used_count, 2);
        assert_eq!(state.conference_id, Some(conference_id));
        assert_eq!(notice.kind, "ASSIGNED");
    }

    #[test]
    fn release_empties_the_room_and_notifies() {
        let (room_number, conference_id, pay_id) = ids(3, 9, 90);
        let e = Event::CancelAssigned(CancelAssigned {
            room_number,
            room_status: Assignment::Canceled,
            conference_id,
            pay_id,
            used_count: 1,
            revision: Some(3),
        });
        let Some(Change::Update(state, notice)) = on_event(&e) else {
            panic!()
        };
        assert_eq!(state.room_status, RoomStatus::Empty);
        assert_eq!(state.conference_id, None);
        assert_eq!(notice.kind, "RELEASED");
    }

    #[test]
    fn payments_do_not_change_the_view() {
        let (room_number, conference_id, pay_id) = ids(1, 1, 1);
        let e = Event::Paid(Paid {
            pay_id,
            pay_status: PayStatus::Paid,
            conference_id,
            room_number,
        });
        assert_eq!(on_event(&e), None);
    }

    #[test]
    fn late_events_do_not_overwrite_newer_state() {
        assert!(supersedes(None, Some(1)));
        assert!(supersedes(Some(2), Some(3)));
        assert!(
            !supersedes(Some(3), Some(2)),
            "a stale Assigned after its release"
        );
        assert!(!supersedes(Some(3), Some(3)), "the same change twice");
        assert!(
            supersedes(Some(3), None),
            "events without revisions apply as they come"
        );
    }
}
