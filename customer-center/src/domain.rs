//! The view's rules, without I/O: what a room looks like after an event, and what to tell
//! people about it.

use std::{fmt, str::FromStr};

use serde::Serialize;
use shared_events::{ConferenceId, Event, PayId, RoomNumber, RoomStatus, UnknownStatus};

/// A booking and its payment: the one that holds a room, or that just let it go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booking {
    pub conference_id: ConferenceId,
    pub pay_id: PayId,
}

/// A room as customer-center shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomState {
    pub room_number: RoomNumber,
    pub used_count: i64,
    /// The booking that holds the room, if any.
    pub holder: Option<Booking>,
    /// The room service's revision of this state (absent in events from older producers).
    pub revision: Option<i64>,
}

impl RoomState {
    /// `FULL` while a booking holds the room.
    pub fn status(&self) -> RoomStatus {
        RoomStatus::of(self.holder.is_some())
    }
}

/// What a notification tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NoticeKind {
    /// A booking got its room.
    Assigned,
    /// A booking let its room go.
    Released,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 2] = [NoticeKind::Assigned, NoticeKind::Released];

    /// The name in the API and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Assigned => "ASSIGNED",
            NoticeKind::Released => "RELEASED",
        }
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NoticeKind {
    type Err = UnknownStatus;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| UnknownStatus {
                what: "notification kind",
                allowed: &["ASSIGNED", "RELEASED"],
                got: raw.to_owned(),
            })
    }
}

/// For rows read with `#[sqlx(try_from = "String")]`.
impl TryFrom<String> for NoticeKind {
    type Error = UnknownStatus;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.parse()
    }
}

/// A notification to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub room_number: RoomNumber,
    pub conference_id: ConferenceId,
}

impl Notice {
    /// What the notification says.
    pub fn message(&self) -> String {
        let Notice {
            kind,
            room_number,
            conference_id,
        } = self;
        match kind {
            NoticeKind::Assigned => {
                format!("Room {room_number} is assigned to conference {conference_id}.")
            }
            NoticeKind::Released => {
                format!("Room {room_number} is released by conference {conference_id}.")
            }
        }
    }
}

/// How an event changes the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new room: add it unless it is known already.
    Register(RoomState),
    /// The room service's new state of a room, with a notification.
    Update(RoomState, Notice),
}

/// The change `event` makes to the view, if any: a registered room is added empty; an
/// assignment fills the room, a release empties it, and both are told about.
pub fn on_event(event: &Event) -> Option<Change> {
    let room_number = event.room_number();
    let (kind, booking, used_count, revision) = match event {
        Event::RoomRegistered(e) => {
            return Some(Change::Register(RoomState {
                room_number,
                used_count: e.used_count,
                holder: None,
                revision: e.revision,
            }));
        }
        Event::Assigned(e) => (
            NoticeKind::Assigned,
            booking(e.conference_id, e.pay_id),
            e.used_count,
            e.revision,
        ),
        Event::CancelAssigned(e) => (
            NoticeKind::Released,
            booking(e.conference_id, e.pay_id),
            e.used_count,
            e.revision,
        ),
        _ => return None,
    };
    let state = RoomState {
        room_number,
        used_count,
        holder: (kind == NoticeKind::Assigned).then_some(booking),
        revision,
    };
    let notice = Notice {
        kind,
        room_number,
        conference_id: booking.conference_id,
    };
    Some(Change::Update(state, notice))
}

fn booking(conference_id: ConferenceId, pay_id: PayId) -> Booking {
    Booking {
        conference_id,
        pay_id,
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
    use serde::de::DeserializeOwned;
    use serde_json::json;

    /// An `Assigned` or a `CancelAssigned` (as `status` says) of room 3 by booking 9, paid
    /// with payment 90, read from the wire.
    fn moved<T: DeserializeOwned>(status: &str, used_count: i64, revision: i64) -> T {
        serde_json::from_value(json!({
            "roomNumber": 3, "roomStatus": status, "conferenceId": 9, "payId": 90,
            "usedCount": used_count, "revision": revision,
        }))
        .unwrap()
    }

    fn booking_9() -> Booking {
        booking(ConferenceId::new(9).unwrap(), PayId::new(90).unwrap())
    }

    #[test]
    fn a_registered_room_is_added_empty() {
        let e = Event::RoomRegistered(moved("EMPTY", 3, 1));
        let Some(Change::Register(state)) = on_event(&e) else {
            panic!()
        };
        assert_eq!(state.status(), RoomStatus::Empty);
        assert_eq!((state.used_count, state.holder), (3, None));
    }

    #[test]
    fn assignment_fills_the_room_and_notifies() {
        let Some(Change::Update(state, notice)) =
            on_event(&Event::Assigned(moved("ASSIGNED", 2, 2)))
        else {
            panic!()
        };
        assert_eq!(state.status(), RoomStatus::Full);
        assert_eq!((state.used_count, state.revision), (2, Some(2)));
        assert_eq!(state.holder, Some(booking_9()));
        assert_eq!(notice.kind, NoticeKind::Assigned);
        assert_eq!(notice.message(), "Room 3 is assigned to conference 9.");
    }

    #[test]
    fn release_empties_the_room_and_notifies() {
        let e = Event::CancelAssigned(moved("CANCELED", 1, 3));
        let Some(Change::Update(state, notice)) = on_event(&e) else {
            panic!()
        };
        assert_eq!((state.status(), state.holder), (RoomStatus::Empty, None));
        assert_eq!(
            (notice.kind, notice.conference_id),
            (NoticeKind::Released, booking_9().conference_id)
        );
        assert_eq!(notice.message(), "Room 3 is released by conference 9.");
    }

    #[test]
    fn payments_do_not_change_the_view() {
        let e = Event::Paid(
            serde_json::from_value(
                json!({"payId": 1, "payStatus": "PAID", "conferenceId": 1, "roomNumber": 1}),
            )
            .unwrap(),
        );
        assert_eq!(on_event(&e), None);
    }

    #[test]
    fn notice_kinds_read_back_what_they_write() {
        for kind in NoticeKind::ALL {
            assert_eq!(kind.as_str().parse::<NoticeKind>().unwrap(), kind);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
        assert!(NoticeKind::try_from("CANCELED".to_owned()).is_err());
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
