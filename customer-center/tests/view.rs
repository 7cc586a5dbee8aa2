//! The view as a client reads it: events applied through the service's policy show up in
//! `/roomStates` (whole, by room, by booking, one room), in `/notifications` (newest first)
//! and live on `/notifications/stream`; a late event changes nothing; bad ids and unknown
//! rooms get their 4xx. Started in-process with `App::build` (port 0, a real SQLite file,
//! a broker address nothing listens on: events are applied with the policy directly).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::{net::TcpListener, time::Duration};

use customer_center::{App, MIGRATIONS, ViewPolicy};
use hifive_common::{CommonConfig, EventContext, KafkaConfig, Policy, auth::AuthConfig};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared_events::Event;

fn config(dir: &std::path::Path) -> CommonConfig {
    let dead_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut common = CommonConfig::from_env("customer-center", 0).unwrap();
    common.host = [127, 0, 0, 1].into();
    common.port = 0;
    common.database_url = format!("sqlite://{}/customer-center.db?mode=rwc", dir.display());
    common.kafka = KafkaConfig::local(&format!("127.0.0.1:{dead_port}"), "customer-center");
    common.auth = AuthConfig::off();
    common.shutdown_grace = Duration::from_secs(3);
    common
}

/// An event as it comes on the wire.
fn event<T: DeserializeOwned>(fields: Value) -> T {
    serde_json::from_value(fields).unwrap()
}

fn registered(room: i64) -> Event {
    Event::RoomRegistered(event(
        json!({"roomNumber": room, "roomStatus": "EMPTY", "usedCount": 0, "revision": 1}),
    ))
}

/// Room 1 taken (`ASSIGNED`) or let go (`CANCELED`) by `conference`, paid with ×10.
fn moved(status: &str, conference: i64, revision: i64) -> Value {
    json!({"roomNumber": 1, "roomStatus": status, "conferenceId": conference,
           "payId": conference * 10, "usedCount": 1, "revision": revision})
}

async fn apply(db: &hifive_common::Db, event: Event) {
    let change = ViewPolicy
        .command(&event)
        .expect("the view follows this event");
    let mut tx = db.begin().await.unwrap();
    ViewPolicy
        .apply(&mut tx, change, &EventContext::default())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{base}{path}")).await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The item without its timestamp, which the test cannot know.
fn without(mut v: Value, field: &str) -> Value {
    v.as_object_mut().unwrap().remove(field).expect(field);
    v
}

#[tokio::test]
async fn the_view_follows_the_rooms_and_tells_about_them() {
    let dir = std::env::temp_dir().join(format!("hifive-cc-view-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = config(&dir);
    let server = App::build(config.clone()).await.unwrap();
    let base = format!("http://127.0.0.1:{}", server.port());
    let stop = server.shutdown_token();
    let running = tokio::spawn(server.run());
    let db = hifive_common::db::connect(&config.database_url, &MIGRATIONS)
        .await
        .unwrap();

    apply(&db, registered(1)).await;
    apply(&db, registered(2)).await;
    apply(&db, Event::Assigned(event(moved("ASSIGNED", 9, 2)))).await;
    apply(&db, Event::Assigned(event(moved("ASSIGNED", 8, 2)))).await; // late: the same revision again
    check_states(&base).await;
    check_refusals(&base).await;
    check_stream(&base, &db).await;
    check_notifications(&base).await;

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("stops in time")
        .unwrap()
        .unwrap();
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Room 1 held by booking 9 (not 8: that event came late), room 2 empty.
async fn check_states(base: &str) {
    let (status, all) = get(base, "/roomStates").await;
    assert_eq!(status, 200);
    let states = all["_embedded"]["roomStates"].as_array().unwrap().clone();
    let states: Vec<Value> = states
        .into_iter()
        .map(|s| without(s, "updatedAt"))
        .collect();
    assert_eq!(
        states,
        vec![
            json!({"roomNumber": 1, "roomStatus": "FULL", "usedCount": 1, "conferenceId": 9,
                   "payId": 90, "_links": {"self": {"href": format!("{base}/roomStates/1")}}}),
            json!({"roomNumber": 2, "roomStatus": "EMPTY", "usedCount": 0, "conferenceId": null,
                   "payId": null, "_links": {"self": {"href": format!("{base}/roomStates/2")}}}),
        ]
    );
    assert_eq!(
        all["page"],
        json!({"size": 20, "totalElements": 2, "totalPages": 1, "number": 0})
    );
    assert_eq!(
        all["_links"]["self"]["href"],
        format!("{base}/roomStates?page=0&size=20")
    );

    let (status, one) = get(base, "/roomStates/1").await;
    assert_eq!(status, 200);
    assert_eq!(without(one, "updatedAt"), states[0]);

    let (_, by_room) = get(base, "/roomStates/search/findByRoomNumber?roomNumber=2").await;
    assert_eq!(by_room["page"]["totalElements"], 1);
    assert_eq!(
        without(by_room["_embedded"]["roomStates"][0].clone(), "updatedAt"),
        states[1]
    );
    assert_eq!(
        by_room["_links"]["self"]["href"],
        format!("{base}/roomStates/search/findByRoomNumber?page=0&size=20")
    );
    let (_, by_booking) = get(base, "/roomStates/search/findByConferenceId?conferenceId=9").await;
    assert_eq!(by_booking["page"]["totalElements"], 1);
    assert_eq!(by_booking["_embedded"]["roomStates"][0]["roomNumber"], 1);
    let (_, none) = get(base, "/roomStates/search/findByConferenceId?conferenceId=8").await;
    assert_eq!(none["_embedded"]["roomStates"], json!([]));
}

async fn check_refusals(base: &str) {
    for (path, status, error) in [
        ("/roomStates/3", 404, "not_found"),
        ("/roomStates/abc", 400, "invalid_id"),
        ("/roomStates/0", 400, "invalid_id"),
        (
            "/roomStates/search/findByRoomNumber",
            400,
            "missing_parameter",
        ),
        (
            "/roomStates/search/findByRoomNumber?roomNumber=zero",
            400,
            "invalid_id",
        ),
        (
            "/roomStates/search/findByConferenceId?conferenceId=-1",
            400,
            "invalid_id",
        ),
        ("/roomStates?size=0", 400, "invalid_parameter"),
    ] {
        let (got, body) = get(base, path).await;
        assert_eq!(
            (got, body["error"].as_str().unwrap()),
            (status, error),
            "{path}"
        );
    }
    let (_, missing) = get(base, "/roomStates/3").await;
    assert_eq!(missing["detail"], "no state for room 3");
    let (_, bad) = get(base, "/roomStates/abc").await;
    assert_eq!(
        bad["detail"],
        r#"room number must be a positive whole number, got "abc""#
    );
}

/// The stream tells what happens from the moment of connection: booking 9 releases room 1.
async fn check_stream(base: &str, db: &hifive_common::Db) {
    let mut stream = reqwest::get(format!("{base}/notifications/stream"))
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    apply(db, Event::CancelAssigned(event(moved("CANCELED", 9, 3)))).await;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains("\n\n") || !text.contains("data:") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("a notification in time")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let event = text.split("\n\n").find(|e| e.contains("data:")).unwrap();
    let field = |name: &str| {
        event
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.trim_start().to_owned())
            .unwrap()
    };
    assert_eq!(field("event"), "notification");
    let live: Value = serde_json::from_str(&field("data")).unwrap();
    assert_eq!(field("id"), live["notificationId"].to_string());
    assert_eq!(
        without(live.clone(), "createdAt"),
        json!({"notificationId": live["notificationId"], "kind": "RELEASED", "roomNumber": 1,
               "conferenceId": 9, "message": "Room 1 is released by conference 9."})
    );
}

async fn check_notifications(base: &str) {
    let (status, notes) = get(base, "/notifications").await;
    assert_eq!(status, 200);
    assert_eq!(notes["page"]["totalElements"], 2);
    let notes: Vec<Value> = notes["_embedded"]["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| without(without(n.clone(), "createdAt"), "notificationId"))
        .collect();
    assert_eq!(
        notes,
        vec![
            json!({"kind": "RELEASED", "roomNumber": 1, "conferenceId": 9,
                   "message": "Room 1 is released by conference 9."}),
            json!({"kind": "ASSIGNED", "roomNumber": 1, "conferenceId": 9,
                   "message": "Room 1 is assigned to conference 9."}),
        ],
        "newest first, and nothing about the late event"
    );
    let (_, one) = get(base, "/roomStates/1").await;
    assert_eq!(
        (one["roomStatus"].clone(), one["conferenceId"].clone()),
        (json!("EMPTY"), Value::Null)
    );
}
