//! Room rules, without I/O. A room is `EMPTY` or `FULL`; a `FULL` room is held by exactly
//! one booking, and only that booking's refund releases it.

use shared_events::{ConferenceId, PayId, RoomNumber, RoomStatus};

/// The booking that holds a room: the booking (conference) and the payment it was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booking {
    pub conference_id: ConferenceId,
    pub pay_id: PayId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub number: RoomNumber,
    pub used_count: i64,
    /// The booking holding the room: the room is `FULL` while there is one.
    pub held_by: Option<Booking>,
    /// Grows by one with every change (registration is revision 1); events carry it.
    pub revision: i64,
}

impl Room {
    /// A newly registered room: EMPTY, revision 1.
    pub fn registered(number: RoomNumber, used_count: i64) -> Self {
        Room {
            number,
            used_count,
            held_by: None,
            revision: 1,
        }
    }

    pub fn status(&self) -> RoomStatus {
        RoomStatus::of(self.held_by.is_some())
    }

    /// Whether booking `conference_id` holds the room.
    fn held_for(&self, conference_id: ConferenceId) -> bool {
        self.held_by
            .is_some_and(|b| b.conference_id == conference_id)
    }
}

/// A registration that asks for a room in another state than `EMPTY`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a room is registered EMPTY; roomStatus {0:?} is not allowed (a room is FULL only while a booking holds it)"
)]
pub struct NotEmpty(pub String);

/// A room is registered `EMPTY`: it is `FULL` only while a booking holds it. The client may
/// send `roomStatus` (the original's clients send `EMPTY`), but nothing else.
pub fn check_registration_status(room_status: Option<&str>) -> Result<(), NotEmpty> {
    match room_status {
        None | Some("") => Ok(()),
        Some(s) if s == RoomStatus::Empty.as_str() => Ok(()),
        Some(other) => Err(NotEmpty(other.to_owned())),
    }
}

/// Why a paid booking does not get its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    UnknownRoom,
    Occupied,
}

impl Rejection {
    /// The `reason` of `AssignRejected`.
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::UnknownRoom => "room is not registered",
            Rejection::Occupied => "room is occupied by another booking",
        }
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
    Reject(Rejection),
}

pub fn on_paid(room: Option<&Room>, booking: Booking, refunded: bool) -> OnPaid {
    match room {
        _ if refunded => OnPaid::AlreadyRefunded,
        None => OnPaid::Reject(Rejection::UnknownRoom),
        Some(r) if r.held_for(booking.conference_id) => OnPaid::AlreadyHeld,
        Some(r) if r.held_by.is_some() => OnPaid::Reject(Rejection::Occupied),
        Some(r) => OnPaid::Assign(Room {
            used_count: r.used_count + 1,
            held_by: Some(booking),
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

pub fn on_refund(room: Option<&Room>, conference_id: ConferenceId) -> OnRefund {
    match room {
        Some(r) if r.held_for(conference_id) => OnRefund::Release(Room {
            used_count: (r.used_count - 1).max(0),
            held_by: None,
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
        Room::registered(RoomNumber::new(1).unwrap(), 0)
    }

    fn booking(conference: i64) -> Booking {
        Booking {
            conference_id: ConferenceId::new(conference).unwrap(),
            pay_id: PayId::new(conference * 10).unwrap(),
        }
    }

    #[test]
    fn a_paid_booking_gets_an_empty_room() {
        let OnPaid::Assign(room) = on_paid(Some(&empty()), booking(7), false) else {
            panic!()
        };
        assert_eq!(room.held_by, Some(booking(7)));
        assert_eq!(room.used_count, 1);
        assert_eq!(room.revision, 2);
        assert_eq!(room.status(), RoomStatus::Full);
    }

    #[test]
    fn rooms_are_registered_empty() {
        assert_eq!(empty().status(), RoomStatus::Empty);
        assert!(check_registration_status(None).is_ok());
        assert!(check_registration_status(Some("")).is_ok());
        assert!(check_registration_status(Some("EMPTY")).is_ok());
        assert_eq!(
            check_registration_status(Some("FULL")),
            Err(NotEmpty("FULL".into()))
        );
        assert!(check_registration_status(Some("empty")).is_err());
    }

    #[test]
    fn no_double_booking() {
        let OnPaid::Assign(held) = on_paid(Some(&empty()), booking(7), false) else {
            panic!()
        };
        assert_eq!(
            on_paid(Some(&held), booking(8), false),
            OnPaid::Reject(Rejection::Occupied)
        );
        assert_eq!(on_paid(Some(&held), booking(7), false), OnPaid::AlreadyHeld);
    }

    #[test]
    fn unknown_rooms_are_rejected() {
        assert_eq!(
            on_paid(None, booking(7), false),
            OnPaid::Reject(Rejection::UnknownRoom)
        );
    }

    #[test]
    fn rejections_keep_their_reasons_on_the_wire() {
        assert_eq!(Rejection::UnknownRoom.reason(), "room is not registered");
        assert_eq!(
            Rejection::Occupied.reason(),
            "room is occupied by another booking"
        );
    }

    #[test]
    fn only_the_holder_releases() {
        let OnPaid::Assign(held) = on_paid(Some(&empty()), booking(7), false) else {
            panic!()
        };
        let other = ConferenceId::new(8).unwrap();
        let holder = ConferenceId::new(7).unwrap();
        assert_eq!(on_refund(Some(&held), other), OnRefund::NotHeld);
        let OnRefund::Release(room) = on_refund(Some(&held), holder) else {
            panic!()
        };
        assert_eq!(room.status(), RoomStatus::Empty);
        assert_eq!(room.used_count, 0);
        assert_eq!(room.held_by, None);
        assert_eq!(room.revision, 3, "every change is a new revision");
        assert_eq!(on_refund(Some(&room), holder), OnRefund::NotHeld);
        assert_eq!(on_refund(None, holder), OnRefund::NotHeld);
    }

    #[test]
    fn a_paid_that_arrives_after_its_refund_takes_nothing() {
        assert_eq!(
            on_paid(Some(&empty()), booking(7), true),
            OnPaid::AlreadyRefunded
        );
        assert_eq!(on_paid(None, booking(7), true), OnPaid::AlreadyRefunded);
    }
}
