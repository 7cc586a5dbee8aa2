//! Who may do what (docs/contract.md): the internal payment call is not routed by the
//! gateway, and pay refuses it without conference's grant for that very booking.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use e2e::{Body, System, Who, as_};
use hifive_common::auth::ChargeGrant;
use serde_json::{Value, json};
use shared_events::{ConferenceId, RoomNumber};

/// The attack: one anonymous request through the gateway made pay charge and room
/// hold room 5 for a booking that does not exist. Now the gateway does not route it, and pay
/// called directly refuses anything but conference's grant for that very booking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_internal_payment_call_is_not_routed_and_pay_refuses_it_without_a_grant() {
    let sys = System::start_with(&[("PAY_ADMIN_ENABLED", "true")]).await;
    sys.register_room(5).await;
    let attack = json!({"conferenceId": 424242, "roomNumber": 5, "conferenceStatus": "CREATED"});

    for who in [Who::Anonymous, Who::Customer("mallory"), Who::Manager] {
        let r = as_(
            &sys,
            who,
            "POST",
            "/pays/room_applied",
            Some(attack.clone()),
        )
        .await;
        assert_eq!(r.status, 404, "{who:?} through the gateway: {}", r.text);
        assert_eq!(r.json["error"], "not_found");
    }
    // Nor any admin path, nor tricks on the path.
    for (method, path) in [
        ("PUT", "/admin/overload"),
        ("GET", "/admin/consumer"),
        ("POST", "/pays//room_applied"),
        ("POST", "/pays/room_applied/"),
        ("POST", "/conferences/../pays/room_applied"),
    ] {
        let r = sys
            .call_as(
                Who::Manager,
                method,
                path,
                Some(Body::Json(attack.clone())),
                &[],
            )
            .await;
        assert!(
            r.status == 404 || r.status == 405,
            "{method} {path}: {} {}",
            r.status,
            r.text
        );
    }

    // Pay itself: who calls is checked first, then what the grant allows.
    let http = reqwest::Client::new();
    let pay = format!("{}/pays/room_applied", sys.service("pay"));
    let direct = |token: Option<String>, body: Value| {
        let mut req = http.post(&pay).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        async move {
            let r = req.send().await.expect("pay answers");
            let status = r.status().as_u16();
            let challenge = r
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            let body: Value = r.json().await.unwrap_or_default();
            (status, challenge, body)
        }
    };
    let (status, challenge, body) = direct(None, attack.clone()).await;
    assert_eq!(status, 401, "{body}");
    assert!(challenge.is_some_and(|c| c.starts_with("Bearer")));
    for role in ["customer", "manager"] {
        let (status, _, body) = direct(Some(sys.token(role, "mallory")), attack.clone()).await;
        assert_eq!(status, 403, "a {role}'s token at pay: {body}");
    }
    let secret = hifive_stack::issuer::service_secret(sys.dir()).unwrap();
    let forged = ChargeGrant {
        conference_id: ConferenceId::new(424242).unwrap(),
        room_number: RoomNumber::new(5).unwrap(),
        customer: "mallory".into(),
    };
    let (status, _, body) = direct(
        Some(forged.sign("a guessed secret, at least 32 chars long")),
        attack.clone(),
    )
    .await;
    assert_eq!(status, 401, "a grant signed with another secret: {body}");
    let other_booking = ChargeGrant {
        conference_id: ConferenceId::new(1).unwrap(),
        room_number: RoomNumber::new(1).unwrap(),
        customer: "alice".into(),
    };
    let (status, _, body) = direct(Some(other_booking.sign(&secret)), attack.clone()).await;
    assert_eq!(status, 403, "a grant for another booking: {body}");

    // Nothing changed: no payment, room 5 free; a real booking of room 5 gets it.
    assert!(
        sys.snapshot().await.payments.is_empty(),
        "a payment was made"
    );
    let room = sys.get("/rooms/5").await;
    assert_eq!(room.json["roomStatus"], "EMPTY", "{}", room.text);
    let id = sys.book_id(5).await;
    sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
        .await;
    sys.assert_consistent(&[id]).await;
}
