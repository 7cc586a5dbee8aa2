//! HiFive's own requests, as a client makes them: register a room, book one, read the
//! bookings, payments and notifications, and the fields tests read from them.

use serde_json::Value;

use crate::System;

impl System {
    /// `POST /conferences {"roomNumber": n}`; asserts 201 and returns the booking.
    pub async fn book(&self, room_number: i64) -> Value {
        let r = self
            .post(
                "/conferences",
                serde_json::json!({ "roomNumber": room_number }),
            )
            .await;
        assert_eq!(r.status, 201, "booking room {room_number}: {}", r.text);
        r.json
    }

    /// `book`, returning only the new booking's id.
    pub async fn book_id(&self, room_number: i64) -> i64 {
        conference_id(&self.book(room_number).await)
    }

    /// `POST /rooms {"roomNumber": n}`; asserts 201.
    pub async fn register_room(&self, room_number: i64) {
        let r = self
            .post("/rooms", serde_json::json!({ "roomNumber": room_number }))
            .await;
        assert_eq!(r.status, 201, "registering room {room_number}: {}", r.text);
    }

    /// The notifications about one booking, newest first.
    pub async fn notifications_for(&self, conference_id: i64) -> Vec<Value> {
        self.items_about("/notifications", "notifications", conference_id)
            .await
    }

    /// The payments of one booking.
    pub async fn payments_for(&self, conference_id: i64) -> Vec<Value> {
        self.items_about("/pays", "pays", conference_id).await
    }

    async fn items_about(&self, path: &str, rel: &str, conference_id: i64) -> Vec<Value> {
        self.items(path, rel)
            .await
            .into_iter()
            .filter(|item| item["conferenceId"] == conference_id)
            .collect()
    }

    /// Items of a HAL collection (`_embedded.<rel>`), all pages up to 1000 items.
    pub async fn items(&self, path: &str, rel: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let reply = self.get(&format!("{path}{sep}size=1000")).await;
        assert!(
            reply.status.is_success(),
            "GET {path} → {} {}",
            reply.status,
            reply.text
        );
        reply.json["_embedded"][rel]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// The `conferenceId` of a booking.
pub fn conference_id(v: &Value) -> i64 {
    v["conferenceId"]
        .as_i64()
        .expect("conferenceId in the booking")
}

/// The `status` field of a booking or payment.
pub fn status_of(v: &Value) -> &str {
    v["status"].as_str().unwrap_or_default()
}
