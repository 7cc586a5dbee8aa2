//! Room rules, without I/O. A room is `EMPTY` or `FULL`; a `FULL` room is held by exactly
//! one booking, and only that booking's refund releases it.

use shared_events::RoomStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub room_number: i64,
    pub full: bool,
    pub used_count: i64,
    pub conference_id: Option<i64>,
    pub pay_id: Option<i64>,
    /// Grows by one with every change (registration is revision 1); events carry it.
    pub revision: i64,
}

impl Room {
    /// A newly registered room: EMPTY, revision 1.
    pub fn registered(room_number: i64, used_count: i64) -> Self {
        Room {
            room_number,
            full: false,
            used_count,
            conference_id: None,
            pay_id: None,
            revision: 1,
        }
    }

    pub fn status(&self) -> RoomStatus {
        RoomStatus::of(self.full)
    }
}

/// A room is registered `EMPTY`: it is `FULL` only while a booking holds it. The client may
/// send `roomStatus` (the original's clients send `EMPTY`), but nothing else.
pub fn check_registration_status(room_status: Option<&str>) -> Result<(), String> {
    match room_status {
        None | Some("") => Ok(()),
        Some(s) if s == RoomStatus::Empty.as_str() => Ok(()),
        Some(other) => Err(format!(
            "a room is registered EMPTY; roomStatus {other:?} is not allowed (a room is FULL only while a booking holds it)"
        )),
    }
}

/// A paid booking asks for its room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnPaid {
    /// The room becomes `FULL`, held by the booking; announce `Assigned`.
    Assign(Room),
    /// This booking holds the room already (a duplicate): nothing to do.
    AlreadyHeld,
    /// The payment was refunded before its Paid arrived (events overtook each other): the
    /// booking is over, so the room is not taken and nobody needs to be told.
    AlreadyRefunded,
    /// Unknown or occupied room: announce `AssignRejected` so pay refunds.
    Reject(&'static str),
}

pub const UNKNOWN_ROOM: &str = "room is not registered";
pub const OCCUPIED_ROOM: &str = "room is occupied by another booking";

pub fn on_paid(room: Option<&Room>, conference_id: i64, pay_id: i64, refunded: bool) -> OnPaid {
    match room {
        _ if refunded => OnPaid::AlreadyRefunded,
        None => OnPaid::Reject(UNKNOWN_ROOM),
        Some(r) if r.full && r.conference_id == Some(conference_id) => OnPaid::AlreadyHeld,
        Some(r) if r.full => OnPaid::Reject(OCCUPIED_ROOM),
        Some(r) => OnPaid::Assign(Room {
            full: true,
            used_count: r.used_count + 1,
            conference_id: Some(conference_id),
            pay_id: Some(pay_id),
            revision: r.revision + 1,
            ..r.clone()
        }),
    }
}

/// A booking's payment was refunded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnRefund {
    /// The booking held the room: it becomes `EMPTY`; announce `CancelAssigned`.
    Release(Room),
    /// The booking never held this room (rejected, or released already): nothing to do.
    NotHeld,
}

pub fn on_refund(room: Option<&Room>, conference_id: i64) -> OnRefund {
    match room {
        Some(r) if r.full && r.conference_id == Some(conference_id) => OnRefund::Release(Room {
            full: false,
            used_count: (r.used_count - 1).max(0),
            conference_id: None,
            pay_id: None,
            revision: r.revision + 1,
            ..r.clone()
        }),
        _ => OnRefund::NotHeld,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Room {
        Room::registered(1, 0)
    }

    #[test]
    fn a_paid_booking_gets_an_empty_room() {
        let OnPaid::Assign(room) = on_paid(Some(&empty()), 7, 70, false) else {
            panic!()
        };
        assert!(room.full);
        assert_eq!(room.used_count, 1);
        assert_eq!(room.conference_id, Some(7));
        assert_eq!(room.status(), RoomStatus::Full);
    }

    #[test]
    fn rooms_are_registered_empty() {
        assert!(check_registration_status(None).is_ok());
        assert!(check_registration_status(Some("")).is_ok());
        assert!(check_registration_status(Some("EMPTY")).is_ok());
        assert!(check_registration_status(Some("FULL")).is_err());
    }

    #[test]
    fn no_double_booking() {
        let OnPaid::Assign(held) = on_paid(Some(&empty()), 7, 70, false) else {
            panic!()
        };
        assert_eq!(
            on_paid(Some(&held), 8, 80, false),
            OnPaid::Reject(OCCUPIED_ROOM)
        );
        assert_eq!(on_paid(Some(&held), 7, 70, false), OnPaid::AlreadyHeld);
    }

    #[test]
    fn unknown_rooms_are_rejected() {
        assert_eq!(on_paid(None, 7, 70, false), OnPaid::Reject(UNKNOWN_ROOM));
    }

    #[test]
    fn only_the_holder_releases() {
        let OnPaid::Assign(held) = on_paid(Some(&empty()), 7, 70, false) else {
            panic!()
        };
        assert_eq!(on_refund(Some(&held), 8), OnRefund::NotHeld);
        let OnRefund::Release(room) = on_refund(Some(&held), 7) else {
            panic!()
        };
        assert!(!room.full);
        assert_eq!(room.used_count, 0);
        assert_eq!(room.conference_id, None);
        assert_eq!(room.revision, 3, "every change is a new revision");
        assert_eq!(on_refund(Some(&room), 7), OnRefund::NotHeld);
        assert_eq!(on_refund(None, 7), OnRefund::NotHeld);
    }

    #[test]
    fn a_paid_that_arrives_after_its_refund_takes_nothing() {
        assert_eq!(
            on_paid(Some(&empty()), 7, 70, true),
            OnPaid::AlreadyRefunded
        );
        assert_eq!(on_paid(None, 7, 70, true), OnPaid::AlreadyRefunded);
    }
}
