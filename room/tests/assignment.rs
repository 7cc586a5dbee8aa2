//! The saga's side of rooms on a real SQLite database: a paid booking gets its room, a second
//! one is rejected, a refund releases the room, and a `Paid` that arrives after its refund
//! takes nothing; each change with its event in the outbox.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use hifive_common::metrics::testing::{DebuggingRecorder, Snapshotter, counted_by};
use hifive_common::{Db, EventContext, Outbox, Policy};
use room::{
    app::{NewRoom, Registered, Rooms},
    domain::Booking,
    policy::AssignmentPolicy,
};
use serde_json::Value;
use shared_events::{
    ConferenceId, Event, Paid, PayCanceled, PayId, PayStatus, RoomNumber, RoomStatus,
};
use sqlx::Row;

fn paid(room: i64, conference: i64) -> Paid {
    Paid {
        pay_id: PayId::new(conference * 10).unwrap(),
        pay_status: PayStatus::Paid,
        conference_id: ConferenceId::new(conference).unwrap(),
        room_number: RoomNumber::new(room).unwrap(),
    }
}

fn refund(of: &Paid) -> PayCanceled {
    PayCanceled {
        pay_id: of.pay_id,
        pay_status: PayStatus::Canceled,
        conference_id: of.conference_id,
        room_number: of.room_number,
    }
}

/// What the consumer does with `event`: the room's policy applies it in a transaction.
async fn deliver(db: &Db, outbox: &Outbox, event: Event) {
    let policy = AssignmentPolicy::new(outbox.clone());
    let command = policy.command(&event).expect("room acts on this event");
    let ctx = EventContext {
        request_id: Some("rid".into()),
        occurred_at: None,
    };
    let mut tx = db.begin().await.unwrap();
    policy.apply(&mut tx, command, &ctx).await.unwrap();
    tx.commit().await.unwrap();
}

/// The events written so far, as `(eventType, payload)`.
async fn events(db: &Db) -> Vec<(String, Value)> {
    let rows = sqlx::query("SELECT event_type, payload FROM outbox ORDER BY id")
        .fetch_all(db)
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let payload: String = r.get("payload");
            (r.get("event_type"), serde_json::from_str(&payload).unwrap())
        })
        .collect()
}

/// `hifive_room_assignments_total` by outcome, as recorded so far.
fn decisions(readings: &Snapshotter) -> Vec<(String, u64)> {
    counted_by(readings, "hifive_room_assignments_total", "outcome")
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn paid_bookings_get_their_room_once_and_refunds_release_it() {
    let recorder = DebuggingRecorder::new();
    let readings = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let dir = std::env::temp_dir().join(format!("hifive-room-assignment-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/room.db?mode=rwc", dir.display());
    let db = hifive_common::db::connect(&url, &room::MIGRATIONS)
        .await
        .unwrap();
    let outbox = Outbox::default();
    let rooms = Rooms::new(db.clone(), outbox.clone());
    let one = RoomNumber::new(1).unwrap();
    let new = NewRoom {
        number: one,
        used_count: 2,
        status: Some("EMPTY".into()),
    };
    let Registered::Created(_) = rooms.register(new.clone(), "rid", None).await.unwrap() else {
        panic!("registered")
    };
    assert!(matches!(
        rooms.register(new, "rid", None).await,
        Err(room::Error::RoomExists(n)) if n == one
    ));

    let first = paid(1, 7);
    deliver(&db, &outbox, Event::Paid(first.clone())).await;
    deliver(&db, &outbox, Event::Paid(first.clone())).await; // a duplicate changes nothing
    let held = rooms.read(one).await.unwrap();
    assert_eq!(held.status(), RoomStatus::Full);
    assert_eq!((held.used_count, held.revision), (3, 2));
    let booking = Booking {
        conference_id: first.conference_id,
        pay_id: first.pay_id,
    };
    assert_eq!(held.held_by, Some(booking));
    assert_eq!(rooms.held_with(first.pay_id).await.unwrap(), vec![held]);

    let second = paid(1, 8);
    deliver(&db, &outbox, Event::Paid(second.clone())).await;
    deliver(&db, &outbox, Event::Paid(paid(9, 9))).await;
    deliver(&db, &outbox, Event::PayCanceled(refund(&second))).await; // never held: nothing
    deliver(&db, &outbox, Event::PayCanceled(refund(&first))).await;
    let released = rooms.read(one).await.unwrap();
    assert_eq!(released.status(), RoomStatus::Empty);
    assert_eq!((released.used_count, released.revision), (2, 3));
    assert_eq!(released.held_by, None);
    deliver(&db, &outbox, Event::Paid(first.clone())).await; // late, after its refund: takes nothing
    assert_eq!(rooms.read(one).await.unwrap(), released);
    let (listed, total) = rooms.list(20, 0).await.unwrap();
    assert_eq!((listed, total), (vec![released], 1));

    let events = events(&db).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "RoomRegistered",
            "Assigned",
            "AssignRejected",
            "AssignRejected",
            "CancelAssigned"
        ]
    );
    let payload = |i: usize| &events[i].1;
    assert_eq!(payload(0)["roomStatus"], "EMPTY");
    assert_eq!(payload(1)["roomStatus"], "ASSIGNED");
    assert_eq!(
        (
            payload(1)["conferenceId"].as_i64(),
            payload(1)["payId"].as_i64()
        ),
        (Some(7), Some(70))
    );
    assert_eq!(
        (
            payload(1)["usedCount"].as_i64(),
            payload(1)["revision"].as_i64()
        ),
        (Some(3), Some(2))
    );
    assert_eq!(payload(2)["reason"], "room is occupied by another booking");
    assert_eq!(payload(3)["reason"], "room is not registered");
    assert_eq!(payload(4)["roomStatus"], "CANCELED");
    assert_eq!(payload(4)["usedCount"], 2);
    assert_eq!(
        decisions(&readings),
        [
            ("assigned".to_owned(), 1),
            ("rejected".to_owned(), 2),
            ("released".to_owned(), 1)
        ],
        "one per event announced: none for the duplicate, the late Paid or the refund of a room never held"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
