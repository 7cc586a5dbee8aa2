//! The consistency checker: reads every booking, payment, room and room state through the
//! gateway and reports each broken invariant of docs/contract.md with the ids involved.
//!
//! [`check`] is pure (a snapshot in, violations out); [`Snapshot::fetch`] does the reading.

mod fetch;
mod invariants;

use std::{collections::BTreeMap, fmt};

use serde::Deserialize;
use shared_events::{ConferenceId, ConferenceStatus, PayId, PayStatus, RoomNumber, RoomState};

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    pub conference_id: ConferenceId,
    pub status: ConferenceStatus,
    pub pay_id: Option<PayId>,
    pub room_number: RoomNumber,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub pay_id: PayId,
    pub status: PayStatus,
    pub conference_id: ConferenceId,
    pub room_number: RoomNumber,
}

/// A room as the room service has it, or as customer-center shows it (same fields).
pub type Room = RoomState;

/// Everything the invariants talk about, as read through the gateway.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub bookings: Vec<Booking>,
    pub payments: Vec<Payment>,
    pub rooms: Vec<Room>,
    pub room_states: Vec<Room>,
}

/// One broken invariant (numbered as in docs/contract.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: u8,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invariant {}: {}", self.invariant, self.message)
    }
}

/// Checks the contract's invariants 1–6 on a snapshot of a quiet system. `accepted` are the ids
/// of bookings that got a 201 (invariant 6); pass none to skip that part.
pub fn check(s: &Snapshot, accepted: &[i64]) -> Vec<Violation> {
    let index = invariants::Index::of(s);
    let mut out = Vec::new();
    invariants::one_holder_per_room(&index, &mut out);
    invariants::assigned_bookings_hold_their_room(&index, &mut out);
    invariants::full_rooms_are_held(&index, &mut out);
    invariants::payments_belong_to_live_bookings(&index, &mut out);
    invariants::no_booking_left_open(&index, &mut out);
    invariants::view_equals_rooms(&index, &mut out);
    invariants::accepted_bookings_exist(&index, accepted, &mut out);
    out
}

/// Counts by status, for the report.
pub fn summary(s: &Snapshot) -> String {
    fn count<'a>(items: impl Iterator<Item = &'a str>) -> String {
        let mut by: BTreeMap<&str, usize> = BTreeMap::new();
        for i in items {
            *by.entry(i).or_default() += 1;
        }
        by.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
    format!(
        "{} bookings ({}); {} payments ({}); {} rooms ({}); {} room states",
        s.bookings.len(),
        count(s.bookings.iter().map(|b| b.status.as_str())),
        s.payments.len(),
        count(s.payments.iter().map(|p| p.status.as_str())),
        s.rooms.len(),
        count(s.rooms.iter().map(|r| r.room_status.as_str())),
        s.room_states.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<T: TryFrom<i64, Error: std::fmt::Debug>>(n: i64) -> T {
        T::try_from(n).unwrap()
    }

    fn b(conference: i64, status: &str, pay: Option<i64>, room: i64) -> Booking {
        Booking {
            conference_id: id(conference),
            status: status.parse().unwrap(),
            pay_id: pay.map(id),
            room_number: id(room),
        }
    }

    fn p(pay: i64, status: &str, conference: i64, room: i64) -> Payment {
        Payment {
            pay_id: id(pay),
            status: status.parse().unwrap(),
            conference_id: id(conference),
            room_number: id(room),
        }
    }

    fn r(room: i64, status: &str, used: i64, conference: Option<i64>, pay: Option<i64>) -> Room {
        Room {
            room_number: id(room),
            room_status: status.parse().unwrap(),
            used_count: used,
            conference_id: conference.map(id),
            pay_id: pay.map(id),
        }
    }

    fn consistent() -> Snapshot {
        let rooms = vec![
            r(1, "FULL", 1, Some(1), Some(10)),
            r(2, "EMPTY", 1, None, None),
        ];
        Snapshot {
            bookings: vec![
                b(1, "ASSIGNED", Some(10), 1),
                b(2, "CANCELED", Some(11), 2),
                b(3, "REJECTED", Some(12), 1),
                b(4, "FAILED", None, 2),
            ],
            payments: vec![
                p(10, "PAID", 1, 1),
                p(11, "CANCELED", 2, 2),
                p(12, "CANCELED", 3, 1),
            ],
            room_states: rooms.clone(),
            rooms,
        }
    }

    fn invariants(s: &Snapshot, accepted: &[i64]) -> Vec<u8> {
        check(s, accepted).iter().map(|v| v.invariant).collect()
    }

    #[test]
    fn a_consistent_system_has_no_violations() {
        assert_eq!(check(&consistent(), &[1, 2, 3, 4]), vec![]);
    }

    #[test]
    fn double_booking_is_reported_with_both_ids() {
        let mut s = consistent();
        s.bookings[2].status = ConferenceStatus::Assigned;
        s.payments[2].status = PayStatus::Paid;
        let v = check(&s, &[]);
        assert!(
            v.iter()
                .any(|v| v.invariant == 1 && v.message.contains("[1, 3]")),
            "{v:?}"
        );
    }

    #[test]
    fn an_assigned_booking_without_its_room_or_payment_is_reported() {
        let mut s = consistent();
        s.rooms[0] = r(1, "EMPTY", 0, None, None);
        s.room_states[0] = s.rooms[0].clone();
        s.payments[0].status = PayStatus::Canceled;
        assert_eq!(invariants(&s, &[]), vec![2, 2]);
    }

    #[test]
    fn a_full_room_held_by_a_cancelled_booking_is_reported() {
        let mut s = consistent();
        s.rooms[1] = r(2, "FULL", 2, Some(2), Some(11));
        s.room_states[1] = s.rooms[1].clone();
        assert_eq!(invariants(&s, &[]), vec![2]);
    }

    #[test]
    fn a_kept_payment_without_a_booking_is_reported() {
        let mut s = consistent();
        s.payments.push(p(13, "PAID", 4, 2));
        s.payments.push(p(14, "PAID", 99, 2));
        assert_eq!(invariants(&s, &[]), vec![3, 3]);
    }

    #[test]
    fn stuck_bookings_are_reported() {
        let mut s = consistent();
        s.bookings.push(b(5, "CREATED", None, 2));
        s.bookings.push(b(6, "PAID", Some(15), 2));
        s.payments.push(p(15, "PAID", 6, 2));
        assert_eq!(invariants(&s, &[]), vec![4, 4]);
    }

    #[test]
    fn a_view_that_differs_from_the_room_is_reported() {
        let mut s = consistent();
        s.room_states[1].used_count = 5;
        s.room_states.push(r(9, "EMPTY", 0, None, None));
        s.room_states.remove(0);
        assert_eq!(invariants(&s, &[]), vec![5, 5, 5]);
    }

    #[test]
    fn a_lost_accepted_booking_is_reported() {
        assert_eq!(invariants(&consistent(), &[1, 77]), vec![6]);
    }
}
