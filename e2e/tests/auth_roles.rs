//! Who may do what (docs/contract.md), end to end through the gateway with tokens of the
//! system's development issuer: each role × endpoint, and forged, expired and malformed
//! tokens.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::time::Duration;

use e2e::{System, Who, as_, conference_id};
use serde_json::{Value, json};

/// Requests (method, path, expected status); `{id}` and `{pay}` stand for a booking and its
/// payment.
type Cases<'a> = &'a [(&'a str, &'a str, u16)];

fn assert_401(reply: &e2e::Reply, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", reply.text);
    assert_eq!(reply.json["error"], "unauthorized", "{what}");
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer"),
        "{what}: WWW-Authenticate {challenge:?}"
    );
}

/// Each role × endpoint, and every kind of bad token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_do_what_the_spec_says_and_bad_tokens_are_401() {
    let sys = System::start().await;
    let r = as_(
        &sys,
        Who::Manager,
        "POST",
        "/rooms",
        Some(json!({"roomNumber": 1})),
    )
    .await;
    assert_eq!(r.status, 201, "a manager registers a room: {}", r.text);
    let booked = as_(
        &sys,
        Who::Customer("alice"),
        "POST",
        "/conferences",
        Some(json!({"roomNumber": 1})),
    )
    .await;
    assert_eq!(booked.status, 201, "a customer books: {}", booked.text);
    let id = conference_id(&booked.json);
    let pay_id = booked.json["payId"].as_i64().unwrap();
    let admin = sys.token("admin", "root");

    let anyone: Cases = &[
        ("GET", "/roomStates", 200),
        (
            "GET",
            "/roomStates/search/findByRoomNumber?roomNumber=1",
            200,
        ),
        ("GET", "/notifications", 200),
    ];
    let everything_else: Cases = &[
        ("POST", "/conferences", 401),
        ("GET", "/conferences", 401),
        ("GET", "/conferences/{id}", 401),
        ("DELETE", "/conferences/{id}", 401),
        ("GET", "/pays", 401),
        ("GET", "/pays/{pay}", 401),
        ("POST", "/rooms", 401),
        ("GET", "/rooms", 401),
        ("GET", "/rooms/1", 401),
    ];
    // A customer books and reads their own; rooms are the managers'.
    let customer: Cases = &[
        ("GET", "/conferences", 200),
        ("GET", "/conferences/{id}", 200),
        ("GET", "/pays", 200),
        ("GET", "/pays/{pay}", 200),
        ("POST", "/rooms", 403),
        ("GET", "/rooms", 403),
        ("GET", "/rooms/1", 403),
        ("GET", "/rooms/search/findByPayId?payId={pay}", 403),
        ("GET", "/roomStates", 200),
    ];
    // A manager registers and reads rooms and reads every booking and payment, but does not
    // book or cancel for customers.
    let manager: Cases = &[
        ("GET", "/rooms", 200),
        ("GET", "/rooms/1", 200),
        ("GET", "/rooms/search/findByPayId?payId={pay}", 200),
        ("GET", "/conferences", 200),
        ("GET", "/conferences/{id}", 200),
        ("GET", "/pays", 200),
        ("GET", "/pays/{pay}", 200),
        ("POST", "/conferences", 403),
        ("DELETE", "/conferences/{id}", 403),
    ];
    // A valid token with a role HiFive does not know may do only what anyone may.
    let unknown_role: Cases = &[
        ("GET", "/conferences", 403),
        ("POST", "/conferences", 403),
        ("GET", "/pays", 403),
        ("GET", "/rooms", 403),
        ("GET", "/roomStates", 200),
    ];
    let table: [(Who, Cases); 6] = [
        (Who::Anonymous, anyone),
        (Who::Anonymous, everything_else),
        (Who::Customer("alice"), customer),
        (Who::Manager, manager),
        (Who::Token(&admin), unknown_role),
        (Who::Token(&admin), anyone),
    ];
    let mut checked = 0;
    for (who, cases) in table {
        for (method, path, expected) in cases {
            let path = path
                .replace("{id}", &id.to_string())
                .replace("{pay}", &pay_id.to_string());
            // What a client of that endpoint would send.
            let body = match (*method, path.as_str()) {
                ("POST", "/rooms") => Some(json!({"roomNumber": 2})),
                ("POST", "/conferences") => Some(json!({"roomNumber": 1})),
                _ => None,
            };
            let r = as_(&sys, who, method, &path, body).await;
            assert_eq!(r.status, *expected, "{who:?} {method} {path}: {}", r.text);
            match expected {
                401 => assert_401(&r, &format!("{who:?} {method} {path}")),
                403 => assert_eq!(r.json["error"], "forbidden", "{method} {path}"),
                _ => {}
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 38);
    let book = Some(json!({"roomNumber": 1}));
    // The refused requests changed nothing.
    let s = sys.snapshot().await;
    assert_eq!(s.bookings.len(), 1, "bookings: {:?}", s.bookings);
    assert_eq!(s.rooms.len(), 1, "rooms: {:?}", s.rooms);

    // Forged, expired and malformed tokens: 401 with the reason, nothing done.
    let issuer = sys.issuer();
    let hour = Duration::from_secs(3600);
    let forged = |change: &dyn Fn(&mut Value)| {
        let mut claims = issuer.claims("customer", "alice", hour);
        change(&mut claims);
        issuer.sign(&claims)
    };
    let now = jsonwebtoken_now();
    let good = sys.token("customer", "alice");
    let payload = good.split('.').nth(1).unwrap().to_owned();
    let other_dir =
        std::env::temp_dir().join(format!("hifive-other-issuer-{}", std::process::id()));
    let other_issuer = hifive_stack::issuer::DevIssuer::load_or_create(&other_dir).unwrap();
    let bad: Vec<(&str, String)> = vec![
        ("expired", forged(&|c| c["exp"] = json!(now - 600))),
        ("not yet valid", forged(&|c| c["nbf"] = json!(now + 600))),
        (
            "wrong issuer",
            forged(&|c| c["iss"] = json!("https://evil.example")),
        ),
        (
            "wrong audience",
            forged(&|c| c["aud"] = json!("another-api")),
        ),
        ("another key", other_issuer.token("customer", "alice", hour)),
        // {"alg":"none","typ":"JWT"}, unsigned.
        (
            "alg none",
            format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."),
        ),
        ("garbage", "not.a.token".into()),
    ];
    for (what, token) in &bad {
        let r = as_(
            &sys,
            Who::Token(token),
            "POST",
            "/conferences",
            book.clone(),
        )
        .await;
        assert_401(&r, what);
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(challenge.contains("invalid_token"), "{what}: {challenge}");
    }
    let basic = sys
        .call_as(
            Who::Anonymous,
            "GET",
            "/conferences",
            None,
            &[("authorization", "Basic YWxpY2U6cHc=")],
        )
        .await;
    assert_401(&basic, "Basic credentials");
    assert_eq!(sys.snapshot().await.bookings.len(), 1, "a bad token booked");
    let _ = std::fs::remove_dir_all(other_dir);
}

fn jsonwebtoken_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
