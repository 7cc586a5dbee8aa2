//! The consistency checker: reads every booking, payment, room and room state through the
//! gateway and reports each broken invariant of docs/contract.md with the ids involved.
//!
//! [`check`] is pure (a snapshot in, violations out); [`Snapshot::fetch`] does the reading.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use serde::Deserialize;
use serde_json::Value;
use shared_events::{conference_status as booking, pay_status, room_status};

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    pub conference_id: i64,
    pub status: String,
    pub pay_id: Option<i64>,
    pub room_number: i64,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub pay_id: i64,
    pub status: String,
    pub conference_id: i64,
    pub room_number: i64,
}

/// A room as the room service has it, or as customer-center shows it (same fields).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Room {
    pub room_number: i64,
    pub room_status: String,
    pub used_count: i64,
    pub conference_id: Option<i64>,
    pub pay_id: Option<i64>,
}

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

const FINAL: [&str; 4] = [
    booking::ASSIGNED,
    booking::REJECTED,
    booking::CANCELED,
    booking::FAILED,
];

/// Checks the contract's invariants 1–6 on a snapshot of a quiet system. `accepted` are the ids
/// of bookings that got a 201 (invariant 6); pass none to skip that part.
pub fn check(s: &Snapshot, accepted: &[i64]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut violation = |invariant: u8, message: String| out.push(Violation { invariant, message });
    let bookings: BTreeMap<i64, &Booking> =
        s.bookings.iter().map(|b| (b.conference_id, b)).collect();
    let rooms: BTreeMap<i64, &Room> = s.rooms.iter().map(|r| (r.room_number, r)).collect();
    let states: BTreeMap<i64, &Room> = s.room_states.iter().map(|r| (r.room_number, r)).collect();
    let mut payments: BTreeMap<i64, Vec<&Payment>> = BTreeMap::new();
    for p in &s.payments {
        payments.entry(p.conference_id).or_default().push(p);
    }
    let assigned = |b: &&Booking| b.status == booking::ASSIGNED;

    // 1. No room is held by more than one active booking.
    let mut holders: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for b in s.bookings.iter().filter(assigned) {
        holders
            .entry(b.room_number)
            .or_default()
            .push(b.conference_id);
    }
    for (room, ids) in holders.iter().filter(|(_, ids)| ids.len() > 1) {
        violation(1, format!("room {room} is ASSIGNED to conferences {ids:?}"));
    }

    // 2. Every ASSIGNED booking holds its room and has exactly one payment, PAID; every
    //    FULL room is held by an ASSIGNED booking.
    for b in s.bookings.iter().filter(assigned) {
        let id = b.conference_id;
        match rooms.get(&b.room_number) {
            None => violation(
                2,
                format!(
                    "ASSIGNED conference {id} names room {}, which does not exist",
                    b.room_number
                ),
            ),
            Some(r) if r.room_status != room_status::FULL || r.conference_id != Some(id) => {
                violation(
                    2,
                    format!(
                        "ASSIGNED conference {id} does not hold room {}: the room is {} held by {:?}",
                        b.room_number, r.room_status, r.conference_id
                    ),
                )
            }
            Some(_) => {}
        }
        let paid: Vec<_> = payments.get(&id).into_iter().flatten().collect();
        match paid.as_slice() {
            [p] if p.status == pay_status::PAID => {
                if b.pay_id.is_some_and(|pay| pay != p.pay_id) {
                    violation(
                        2,
                        format!(
                            "ASSIGNED conference {id} names payment {:?} but its payment is {}",
                            b.pay_id, p.pay_id
                        ),
                    );
                }
            }
            _ => violation(
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
    for r in s
        .rooms
        .iter()
        .filter(|r| r.room_status == room_status::FULL)
    {
        let holder = r.conference_id.and_then(|id| bookings.get(&id));
        if !holder.is_some_and(assigned) {
            violation(
                2,
                format!(
                    "room {} is FULL but held by conference {:?}, which is {}",
                    r.room_number,
                    r.conference_id,
                    holder.map_or("missing", |b| b.status.as_str())
                ),
            );
        }
    }

    // 3. Every payment that is not refunded belongs to a PAID or ASSIGNED booking; no booking
    //    is paid twice.
    for p in s
        .payments
        .iter()
        .filter(|p| p.status != pay_status::CANCELED)
    {
        let owner = bookings.get(&p.conference_id);
        if !owner.is_some_and(|b| b.status == booking::PAID || b.status == booking::ASSIGNED) {
            violation(
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
    for (id, list) in payments.iter().filter(|(_, l)| l.len() > 1) {
        violation(
            3,
            format!(
                "conference {id} has {} payments: {:?}",
                list.len(),
                list.iter().map(|p| p.pay_id).collect::<Vec<_>>()
            ),
        );
    }

    // 4. No booking stays CREATED or PAID.
    for b in &s.bookings {
        if !FINAL.contains(&b.status.as_str()) {
            violation(
                4,
                format!(
                    "conference {} (room {}) is still {}",
                    b.conference_id, b.room_number, b.status
                ),
            );
        }
    }

    // 5. customer-center's view of every room equals the room service's state.
    for r in &s.rooms {
        match states.get(&r.room_number) {
            None => violation(
                5,
                format!("room {} is missing from the view", r.room_number),
            ),
            Some(v) if *v != r => violation(
                5,
                format!(
                    "room {}: the room service has {} usedCount {} conference {:?} pay {:?}, the view has {} usedCount {} conference {:?} pay {:?}",
                    r.room_number,
                    r.room_status,
                    r.used_count,
                    r.conference_id,
                    r.pay_id,
                    v.room_status,
                    v.used_count,
                    v.conference_id,
                    v.pay_id
                ),
            ),
            Some(_) => {}
        }
    }
    for v in s
        .room_states
        .iter()
        .filter(|v| !rooms.contains_key(&v.room_number))
    {
        violation(
            5,
            format!(
                "the view shows room {}, which the room service does not have",
                v.room_number
            ),
        );
    }

    // 6. Every accepted booking exists and reached a final status.
    let known: BTreeSet<i64> = bookings.keys().copied().collect();
    for id in accepted {
        if !known.contains(id) {
            violation(
                6,
                format!("conference {id} was accepted (201) but does not exist"),
            );
        }
    }
    out
}

/// Counts by status, for the report.
pub fn summary(s: &Snapshot) -> String {
    let count = |items: Vec<&str>| {
        let mut by: BTreeMap<&str, usize> = BTreeMap::new();
        for i in items {
            *by.entry(i).or_default() += 1;
        }
        by.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{} bookings ({}); {} payments ({}); {} rooms ({}); {} room states",
        s.bookings.len(),
        count(s.bookings.iter().map(|b| b.status.as_str()).collect()),
        s.payments.len(),
        count(s.payments.iter().map(|p| p.status.as_str()).collect()),
        s.rooms.len(),
        count(s.rooms.iter().map(|r| r.room_status.as_str()).collect()),
        s.room_states.len(),
    )
}

impl Snapshot {
    /// Reads every collection (all pages) through the gateway at `base`, as a room manager
    /// (`token`: a bearer token with the `manager` role, who sees every booking and payment).
    pub async fn fetch(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<Self> {
        Ok(Self {
            bookings: all(http, base, token, "/conferences", "conferences").await?,
            payments: all(http, base, token, "/pays", "pays").await?,
            rooms: all(http, base, token, "/rooms", "rooms").await?,
            room_states: all(http, base, token, "/roomStates", "roomStates").await?,
        })
    }
}

async fn all<T: for<'de> Deserialize<'de>>(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    rel: &str,
) -> anyhow::Result<Vec<T>> {
    let base = base.trim_end_matches('/');
    let mut items = Vec::new();
    let mut page = 0;
    loop {
        let url = format!("{base}{path}?page={page}&size=1000");
        let response = http.get(&url).bearer_auth(token).send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "GET {url} answered {status}: {body}");
        if let Some(list) = body["_embedded"][rel].as_array() {
            for item in list {
                items.push(
                    serde_json::from_value(item.clone())
                        .map_err(|e| anyhow::anyhow!("GET {url}: unexpected item {item}: {e}"))?,
                );
            }
        }
        let pages = body["page"]["totalPages"].as_i64().unwrap_or(0);
        page += 1;
        if page >= pages {
            return Ok(items);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(id: i64, status: &str, pay: Option<i64>, room: i64) -> Booking {
        Booking {
            conference_id: id,
            status: status.into(),
            pay_id: pay,
            room_number: room,
        }
    }

    fn p(pay: i64, status: &str, id: i64, room: i64) -> Payment {
        Payment {
            pay_id: pay,
            status: status.into(),
            conference_id: id,
            room_number: room,
        }
    }

    fn r(room: i64, status: &str, used: i64, id: Option<i64>, pay: Option<i64>) -> Room {
        Room {
            room_number: room,
            room_status: status.into(),
            used_count: used,
            conference_id: id,
            pay_id: pay,
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
        s.bookings[2].status = "ASSIGNED".into();
        s.payments[2].status = "PAID".into();
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
        s.payments[0].status = "CANCELED".into();
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
