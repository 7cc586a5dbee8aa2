//! The contract's invariants, one function each, over an indexed [`Snapshot`].

use std::collections::{BTreeMap, BTreeSet};

use shared_events::{ConferenceId, ConferenceStatus, PayStatus, RoomNumber, RoomStatus};

use crate::{Booking, Payment, Room, Snapshot, Violation};

/// A snapshot with its lookups.
pub(crate) struct Index<'a> {
    s: &'a Snapshot,
    bookings: BTreeMap<ConferenceId, &'a Booking>,
    rooms: BTreeMap<RoomNumber, &'a Room>,
    states: BTreeMap<RoomNumber, &'a Room>,
    payments: BTreeMap<ConferenceId, Vec<&'a Payment>>,
}

impl<'a> Index<'a> {
    pub(crate) fn of(s: &'a Snapshot) -> Self {
        let mut payments: BTreeMap<ConferenceId, Vec<&Payment>> = BTreeMap::new();
        for p in &s.payments {
            payments.entry(p.conference_id).or_default().push(p);
        }
        Index {
            s,
            bookings: s.bookings.iter().map(|b| (b.conference_id, b)).collect(),
            rooms: s.rooms.iter().map(|r| (r.room_number, r)).collect(),
            states: s.room_states.iter().map(|r| (r.room_number, r)).collect(),
            payments,
        }
    }

    fn assigned(&self) -> impl Iterator<Item = &'a Booking> {
        self.s.bookings.iter().filter(|b| is_assigned(b))
    }
}

fn is_assigned(b: &Booking) -> bool {
    b.status == ConferenceStatus::Assigned
}

fn push(out: &mut Vec<Violation>, invariant: u8, message: String) {
    out.push(Violation { invariant, message });
}

/// 1. No room is held by more than one active booking.
pub(crate) fn one_holder_per_room(ix: &Index, out: &mut Vec<Violation>) {
    let mut holders: BTreeMap<RoomNumber, Vec<i64>> = BTreeMap::new();
    for b in ix.assigned() {
        holders
            .entry(b.room_number)
            .or_default()
            .push(b.conference_id.get());
    }
    for (room, ids) in holders.iter().filter(|(_, ids)| ids.len() > 1) {
        push(
            out,
            1,
            format!("room {room} is ASSIGNED to conferences {ids:?}"),
        );
    }
}

/// 2a. Every ASSIGNED booking holds its room and has exactly one payment, PAID.
pub(crate) fn assigned_bookings_hold_their_room(ix: &Index, out: &mut Vec<Violation>) {
    for b in ix.assigned() {
        let id = b.conference_id;
        match ix.rooms.get(&b.room_number) {
            None => push(
                out,
                2,
                format!(
                    "ASSIGNED conference {id} names room {}, which does not exist",
                    b.room_number
                ),
            ),
            Some(r) if r.room_status != RoomStatus::Full || r.conference_id != Some(id) => push(
                out,
                2,
                format!(
                    "ASSIGNED conference {id} does not hold room {}: the room is {} held by {:?}",
                    b.room_number,
                    r.room_status,
                    r.conference_id.map(|c| c.get())
                ),
            ),
            Some(_) => {}
        }
        has_one_payment(ix, b, out);
    }
}

fn has_one_payment(ix: &Index, b: &Booking, out: &mut Vec<Violation>) {
    let id = b.conference_id;
    let paid: Vec<&Payment> = ix
        .payments
        .get(&id)
        .into_iter()
        .flatten()
        .copied()
        .collect();
    match paid.as_slice() {
        [p] if p.status == PayStatus::Paid => {
            if b.pay_id.is_some_and(|pay| pay != p.pay_id) {
                push(
                    out,
                    2,
                    format!(
                        "ASSIGNED conference {id} names payment {:?} but its payment is {}",
                        b.pay_id.map(|p| p.get()),
                        p.pay_id
                    ),
                );
            }
        }
        _ => push(
            out,
            2,
            format!(
                "ASSIGNED conference {id} must have exactly one PAID payment; it has {:?}",
                paid.iter()
                    .map(|p| format!("{} {}", p.pay_id, p.status))
                    .collect::<Vec<_>>()
            ),
        ),
    }
}

/// 2b. Every FULL room is held by an ASSIGNED booking.
pub(crate) fn full_rooms_are_held(ix: &Index, out: &mut Vec<Violation>) {
    for r in
        ix.s.rooms
            .iter()
            .filter(|r| r.room_status == RoomStatus::Full)
    {
        let holder = r.conference_id.and_then(|id| ix.bookings.get(&id));
        if !holder.is_some_and(|b| is_assigned(b)) {
            push(
                out,
                2,
                format!(
                    "room {} is FULL but held by conference {:?}, which is {}",
                    r.room_number,
                    r.conference_id.map(|c| c.get()),
                    holder.map_or("missing", |b| b.status.as_str())
                ),
            );
        }
    }
}

/// 3. Every payment that is not refunded belongs to a PAID or ASSIGNED booking; no booking
///    is paid twice.
pub(crate) fn payments_belong_to_live_bookings(ix: &Index, out: &mut Vec<Violation>) {
    for p in
        ix.s.payments
            .iter()
            .filter(|p| p.status != PayStatus::Canceled)
    {
        let owner = ix.bookings.get(&p.conference_id);
        let live = |b: &&&Booking| {
            matches!(
                b.status,
                ConferenceStatus::Paid | ConferenceStatus::Assigned
            )
        };
        if !owner.is_some_and(|b| live(&b)) {
            push(
                out,
                3,
                format!(
                    "payment {} ({}) is kept for conference {}, which is {}",
                    p.pay_id,
                    p.status,
                    p.conference_id,
                    owner.map_or("missing", |b| b.status.as_str())
                ),
            );
        }
    }
    for (id, list) in ix.payments.iter().filter(|(_, l)| l.len() > 1) {
        push(
            out,
            3,
            format!(
                "conference {id} has {} payments: {:?}",
                list.len(),
                list.iter().map(|p| p.pay_id.get()).collect::<Vec<_>>()
            ),
        );
    }
}

/// 4. No booking stays CREATED or PAID.
pub(crate) fn no_booking_left_open(ix: &Index, out: &mut Vec<Violation>) {
    for b in &ix.s.bookings {
        if matches!(b.status, ConferenceStatus::Created | ConferenceStatus::Paid) {
            push(
                out,
                4,
                format!(
                    "conference {} (room {}) is still {}",
                    b.conference_id, b.room_number, b.status
                ),
            );
        }
    }
}

/// 5. customer-center's view of every room equals the room service's state.
pub(crate) fn view_equals_rooms(ix: &Index, out: &mut Vec<Violation>) {
    for r in &ix.s.rooms {
        match ix.states.get(&r.room_number) {
            None => push(
                out,
                5,
                format!("room {} is missing from the view", r.room_number),
            ),
            Some(v) if *v != r => push(
                out,
                5,
                format!(
                    "room {}: the room service has {}, the view has {}",
                    r.room_number,
                    describe(r),
                    describe(v)
                ),
            ),
            Some(_) => {}
        }
    }
    for v in
        ix.s.room_states
            .iter()
            .filter(|v| !ix.rooms.contains_key(&v.room_number))
    {
        push(
            out,
            5,
            format!(
                "the view shows room {}, which the room service does not have",
                v.room_number
            ),
        );
    }
}

fn describe(r: &Room) -> String {
    format!(
        "{} usedCount {} conference {:?} pay {:?}",
        r.room_status,
        r.used_count,
        r.conference_id.map(|c| c.get()),
        r.pay_id.map(|p| p.get())
    )
}

/// 6. Every accepted booking exists (and, by 4, reached a final status).
pub(crate) fn accepted_bookings_exist(ix: &Index, accepted: &[i64], out: &mut Vec<Violation>) {
    let known: BTreeSet<i64> = ix.bookings.keys().map(|id| id.get()).collect();
    for id in accepted.iter().filter(|id| !known.contains(id)) {
        push(
            out,
            6,
            format!("conference {id} was accepted (201) but does not exist"),
        );
    }
}
