//! The booking saga end to end, through the gateway, with the real broker and the five
//! services as separate processes (the seed's httpie scenario and its failure paths).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use e2e::{Body, System, status_of};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn book_assign_cancel_and_reject_through_the_gateway() {
    let sys = System::start().await;

    // The room manager registers rooms (httpie sends numbers as strings).
    for n in ["1", "2"] {
        let r = sys
            .post(
                "/rooms",
                json!({"roomStatus": "EMPTY", "usedCount": "0", "roomNumber": n}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    sys.until("both rooms are in the view", "/roomStates", |v| {
        v["page"]["totalElements"] == 2
    })
    .await;

    // A customer books room 1: 201, PAID, with a payment and a Location.
    let r = sys
        .call_with(
            "POST",
            "/conferences",
            Some(Body::Json(
                json!({"status": "", "payId": 0, "roomNumber": "1"}),
            )),
            &[("X-Request-Id", "e2e-booking-1")],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // PAID, unless the Assigned event overtook pay's answer (then already ASSIGNED).
    assert!(
        ["PAID", "ASSIGNED"].contains(&status_of(&r.json)),
        "{}",
        r.text
    );
    assert_eq!(r.header("x-request-id"), Some("e2e-booking-1"));
    let id = r.json["conferenceId"]
        .as_i64()
        .expect("conferenceId in the body");
    let pay_id = r.json["payId"].as_i64().expect("payId set");
    assert!(
        r.header("location")
            .unwrap()
            .ends_with(&format!("/conferences/{id}"))
    );

    // Eventually ASSIGNED; the room FULL (usedCount 1); the view FULL; a notification.
    let path = format!("/conferences/{id}");
    sys.until_status(&path, "ASSIGNED").await;
    let room = sys
        .until("room 1 is FULL", "/rooms/1", |v| v["roomStatus"] == "FULL")
        .await;
    assert_eq!(room["usedCount"], 1);
    assert_eq!(room["conferenceId"], id);
    assert_eq!(room["payId"], pay_id);
    let state = sys
        .until("the view shows room 1 FULL", "/roomStates/1", |v| {
            v["roomStatus"] == "FULL"
        })
        .await;
    assert_eq!(state["usedCount"], 1);
    assert_eq!(state["conferenceId"], id);
    let by_conf = sys
        .items(
            &format!("/roomStates/search/findByConferenceId?conferenceId={id}"),
            "roomStates",
        )
        .await;
    assert_eq!(by_conf.len(), 1);
    e2e::eventually("an ASSIGNED notification", e2e::SETTLE, || async {
        let n = sys.notifications_for(id).await;
        (n.len() == 1 && n[0]["kind"] == "ASSIGNED").then_some(())
    })
    .await;

    // The correlation id followed the booking into every service that handled it.
    for service in ["gateway", "conference", "pay", "room", "customer-center"] {
        let log = sys.log(service);
        assert!(
            log.lines()
                .any(|l| l.contains("e2e-booking-1") && l.contains(&format!("conference_id={id}"))),
            "{service}'s log has no line with the request id and conference id:\n{log}"
        );
    }

    // Cancel: 204; eventually CANCELED, payment refunded, room EMPTY, view EMPTY, 2nd notification.
    let r = sys.delete(&path).await;
    assert_eq!(r.status, 204, "{}", r.text);
    sys.until_status(&path, "CANCELED").await;
    sys.until_status(&format!("/pays/{pay_id}"), "CANCELED")
        .await;
    let room = sys
        .until("room 1 is EMPTY", "/rooms/1", |v| {
            v["roomStatus"] == "EMPTY"
        })
        .await;
    assert_eq!(room["usedCount"], 0);
    assert_eq!(room["conferenceId"], Value::Null);
    sys.until("the view shows room 1 EMPTY", "/roomStates/1", |v| {
        v["roomStatus"] == "EMPTY"
    })
    .await;
    e2e::eventually("a RELEASED notification", e2e::SETTLE, || async {
        let n = sys.notifications_for(id).await;
        (n.len() == 2 && n[0]["kind"] == "RELEASED").then_some(())
    })
    .await;
    // Cancelling twice is harmless.
    assert_eq!(sys.delete(&path).await.status, 204);

    // A booking for an unregistered room ends REJECTED and its payment is refunded.
    let r = sys.book(99).await;
    let rejected = r["conferenceId"].as_i64().unwrap();
    let rejected_pay = r["payId"].as_i64().unwrap();
    sys.until_status(&format!("/conferences/{rejected}"), "REJECTED")
        .await;
    sys.until_status(&format!("/pays/{rejected_pay}"), "CANCELED")
        .await;
    assert_eq!(sys.get("/roomStates/99").await.status, 404);
    // A rejected booking holds nothing: cancelling it is a conflict, and changes nothing.
    let r = sys.delete(&format!("/conferences/{rejected}")).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json["error"], "not_cancelable");

    // No double booking: the second booking of room 2 is rejected and refunded.
    let first = sys.book(2).await;
    let first_id = first["conferenceId"].as_i64().unwrap();
    sys.until_status(&format!("/conferences/{first_id}"), "ASSIGNED")
        .await;
    let second = sys.book(2).await;
    let second_id = second["conferenceId"].as_i64().unwrap();
    sys.until_status(&format!("/conferences/{second_id}"), "REJECTED")
        .await;
    sys.until_status(&format!("/pays/{}", second["payId"]), "CANCELED")
        .await;
    let room = sys.get("/rooms/2").await.json;
    assert_eq!(
        room["conferenceId"], first_id,
        "room 2 still belongs to the first booking"
    );
    assert_eq!(room["usedCount"], 1);

    // HAL collection shape with ids in the body.
    let list = sys.get("/conferences?page=0&size=2").await.json;
    assert_eq!(list["page"]["size"], 2);
    assert_eq!(list["page"]["totalElements"], 4);
    assert_eq!(list["page"]["totalPages"], 2);
    assert!(list["_embedded"]["conferences"][0]["conferenceId"].is_i64());
    assert!(
        list["_links"]["next"]["href"]
            .as_str()
            .unwrap()
            .contains("page=1")
    );
    let by_pay = sys
        .items(
            &format!("/rooms/search/findByPayId?payId={}", first["payId"]),
            "rooms",
        )
        .await;
    assert_eq!(by_pay.len(), 1);
    assert_eq!(by_pay[0]["roomNumber"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_are_accepted_while_room_is_down_and_assigned_when_it_returns() {
    let mut sys = System::start().await;
    for n in [5, 6] {
        sys.register_room(n).await;
    }
    // The registrations reached the view before room goes down (its RoomRegistered events
    // left its outbox).
    for n in [5, 6] {
        sys.until(
            &format!("room {n} is in the view"),
            &format!("/roomStates/{n}"),
            |v| v["roomStatus"] == "EMPTY",
        )
        .await;
    }

    sys.kill("room").await;
    let mut ids = Vec::new();
    for n in [5, 6] {
        let booking = sys.book(n).await;
        assert_eq!(status_of(&booking), "PAID");
        ids.push(booking["conferenceId"].as_i64().unwrap());
    }
    // Room is down: its routes answer a clear JSON 503 from the gateway.
    let r = sys.get("/rooms/5").await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json["error"], "upstream_unavailable");
    for id in &ids {
        assert_eq!(
            status_of(&sys.get(&format!("/conferences/{id}")).await.json),
            "PAID"
        );
    }

    sys.restart("room").await;
    for id in ids {
        sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
            .await;
    }
    sys.until("room 6 is FULL", "/roomStates/6", |v| {
        v["roomStatus"] == "FULL"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_down_means_503_with_retry_after_and_no_booking() {
    let mut sys = System::start().await;
    sys.register_room(7).await;

    sys.kill("pay").await;
    let r = sys.post("/conferences", json!({"roomNumber": 7})).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json["error"], "payment_unavailable");
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(retry > 0);

    // No active booking is left behind: the attempt is recorded FAILED, nothing else.
    let bookings = sys.items("/conferences", "conferences").await;
    assert_eq!(bookings.len(), 1, "{bookings:?}");
    assert_eq!(status_of(&bookings[0]), "FAILED", "{bookings:?}");

    sys.restart("pay").await;
    assert!(
        sys.items("/pays", "pays").await.is_empty(),
        "nothing was charged"
    );
    let id = sys.book_id(7).await;
    sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
        .await;
    // The FAILED attempt never gets a room or a payment.
    assert_eq!(sys.items("/pays", "pays").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_stream_live_through_the_gateway() {
    let sys = System::start().await;
    sys.register_room(8).await;
    let mut stream = sys.open_stream("/notifications/stream").await;
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );

    let id = sys.book_id(8).await;
    // Read the stream until the booking's ASSIGNED notification arrives (deadline, no sleeps).
    let wanted = format!("\"conferenceId\":{id}");
    let deadline = std::time::Instant::now() + e2e::SETTLE;
    let mut received = String::new();
    while !(received.contains("event: notification")
        && received.contains(&wanted)
        && received.contains("\"kind\":\"ASSIGNED\""))
    {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(
            !left.is_zero(),
            "no ASSIGNED notification streamed; got: {received}"
        );
        if let Ok(chunk) = tokio::time::timeout(left, stream.chunk()).await {
            let bytes = chunk.expect("stream stays open").expect("stream not ended");
            received.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
}
