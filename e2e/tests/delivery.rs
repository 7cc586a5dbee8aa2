//! Delivery faults end to end: the same event delivered twice, events arriving late (out of
//! order), poison messages, and many clients racing for one room. Real broker, real services.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use e2e::{Record, System, conference_id as id_of, eventually, status_of};
use serde_json::{Value, json};

fn is_event(r: &Record, event_type: &str, conference_id: i64) -> bool {
    let v = r.json();
    v["eventType"] == event_type && v["conferenceId"] == conference_id
}

/// The same record with a new `eventId`: the same fact announced again, as a producer that
/// re-sent it would (so de-duplication by id cannot catch it; the domain must).
fn announced_again(r: &Record) -> Record {
    let mut v = r.json();
    v["eventId"] = json!(uuid::Uuid::new_v4().to_string());
    Record {
        payload: serde_json::to_vec(&v).expect("json"),
        ..r.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_late_events_change_nothing() {
    let sys = System::start().await;
    sys.register_room(5).await;
    let first = sys.book_id(5).await;
    sys.until_status(&format!("/conferences/{first}"), "ASSIGNED")
        .await;
    let saga = sys
        .read_topic("hifive", |rs| {
            rs.iter().any(|r| is_event(r, "Assigned", first))
        })
        .await;
    assert!(saga.iter().any(|r| is_event(r, "Paid", first)));
    // The view starts EMPTY: see it FULL first, so that EMPTY below is the cancellation's.
    sys.until(
        "the view shows room 5 held by the first booking",
        "/roomStates/search/findByRoomNumber?roomNumber=5",
        |v| {
            let room = &v["_embedded"]["roomStates"][0];
            room["roomStatus"] == "FULL" && room["conferenceId"] == first
        },
    )
    .await;

    // Every event so far delivered a second time, unchanged (same eventIds).
    for r in &saga {
        sys.publish("hifive", r).await;
    }
    // Cancel: this flow runs behind the duplicates on room 5's partition.
    assert_eq!(
        sys.delete(&format!("/conferences/{first}")).await.status,
        204
    );
    sys.until(
        "room 5 is EMPTY in the view",
        "/roomStates/search/findByRoomNumber?roomNumber=5",
        |v| v["_embedded"]["roomStates"][0]["roomStatus"] == "EMPTY",
    )
    .await;

    // Late arrivals: the first booking's Paid and Assigned announced again after its
    // cancellation, with new ids. Room must not be taken again, the view not refilled.
    for r in saga
        .iter()
        .filter(|r| is_event(r, "Paid", first) || is_event(r, "Assigned", first))
    {
        sys.publish("hifive", &announced_again(r)).await;
    }
    // A new booking of room 5 queues behind those on the same partition; it must win.
    let second = sys.book_id(5).await;
    sys.until_status(&format!("/conferences/{second}"), "ASSIGNED")
        .await;
    sys.until(
        "the view shows room 5 held by the second booking",
        "/roomStates/search/findByRoomNumber?roomNumber=5",
        |v| v["_embedded"]["roomStates"][0]["conferenceId"] == second,
    )
    .await;

    let room = sys.get("/rooms/5").await.json;
    assert_eq!(room["roomStatus"], "FULL");
    assert_eq!(room["conferenceId"], second);
    assert_eq!(room["usedCount"], 1, "assigned, released, assigned: {room}");
    assert_eq!(
        status_of(&sys.get(&format!("/conferences/{first}")).await.json),
        "CANCELED"
    );
    let kinds: Vec<Value> = sys
        .notifications_for(first)
        .await
        .iter()
        .map(|n| n["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![json!("RELEASED"), json!("ASSIGNED")],
        "one each"
    );
    let paid = sys.payments_for(first).await;
    assert_eq!(paid.len(), 1, "{paid:?}");
    assert_eq!(status_of(&paid[0]), "CANCELED");
    sys.assert_consistent(&[first, second]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_and_later_events_still_flow() {
    let sys = System::start().await;
    sys.register_room(6).await;
    let garbage = Record {
        key: Some("6".into()),
        payload: b"this is not an event {".to_vec(),
        headers: vec![("x-request-id".into(), "poison-1".into())],
    };
    let bad_fields = Record {
        key: Some("6".into()),
        payload: serde_json::to_vec(&json!({
            "eventType": "Paid",
            "timestamp": "2026-11-24T10:00:00Z",
            "eventId": uuid::Uuid::new_v4().to_string(),
            "payId": "not a number",
            "conferenceId": 1,
            "roomNumber": 6,
        }))
        .unwrap(),
        headers: vec![],
    };
    sys.publish("hifive", &garbage).await;
    sys.publish("hifive", &bad_fields).await;

    // A booking of room 6 comes after the poison on the same partition, and completes.
    let id = sys.book_id(6).await;
    sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
        .await;
    sys.until(
        "the view shows room 6 FULL",
        "/roomStates/search/findByRoomNumber?roomNumber=6",
        |v| v["_embedded"]["roomStates"][0]["conferenceId"] == id,
    )
    .await;

    // Every consumer group dead-lettered both, unchanged, with the reason in headers.
    let groups = ["conference", "pay", "room", "customer-center"];
    let dead = sys
        .read_topic("hifive.dlq", |rs| rs.len() >= groups.len() * 2)
        .await;
    for group in groups {
        for poison in [&garbage, &bad_fields] {
            let r = dead
                .iter()
                .find(|r| {
                    r.payload == poison.payload && r.header("hifive.dlq.group") == Some(group)
                })
                .unwrap_or_else(|| panic!("{group} did not dead-letter {poison:?}: {dead:#?}"));
            assert_eq!(r.key.as_deref(), Some("6"));
            assert_eq!(r.header("hifive.dlq.stage"), Some("decode"));
            assert_eq!(r.header("hifive.dlq.topic"), Some("hifive"));
            assert!(r.header("hifive.dlq.offset").is_some());
            assert!(
                !r.header("hifive.dlq.error").unwrap_or_default().is_empty(),
                "{r:?}"
            );
        }
    }
    let with_request_id = dead
        .iter()
        .find(|r| r.payload == garbage.payload)
        .expect("garbage dead-lettered");
    assert_eq!(
        with_request_id.header("x-request-id"),
        Some("poison-1"),
        "original headers are kept"
    );
    sys.assert_consistent(&[id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bookings_of_one_room_have_exactly_one_winner() {
    let sys = System::start().await;
    sys.register_room(7).await;
    let attempts = futures::future::join_all((0..20).map(|_| sys.book(7))).await;
    let ids: Vec<i64> = attempts.iter().map(id_of).collect();

    let ended = eventually("every booking of room 7 ended", e2e::SETTLE, || async {
        let all = sys.items("/conferences", "conferences").await;
        let mine: Vec<Value> = all
            .into_iter()
            .filter(|b| ids.contains(&id_of(b)))
            .collect();
        mine.iter()
            .all(|b| ["ASSIGNED", "REJECTED"].contains(&status_of(b)))
            .then_some(mine)
    })
    .await;
    let winners: Vec<i64> = ended
        .iter()
        .filter(|b| status_of(b) == "ASSIGNED")
        .map(id_of)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {ended:?}");
    let winner = winners[0];
    let room = sys.get("/rooms/7").await.json;
    assert_eq!(room["conferenceId"], winner);
    assert_eq!(room["usedCount"], 1);
    sys.until("every loser is refunded", "/pays?size=1000", |v| {
        let pays = v["_embedded"]["pays"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        pays.len() == 20
            && pays
                .iter()
                .all(|p| (p["conferenceId"] == winner) == (status_of(p) == "PAID"))
    })
    .await;
    sys.assert_consistent(&ids).await;
}
