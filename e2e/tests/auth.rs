//! Who may do what (docs/contract.md), end to end through the gateway with tokens of the system's
//! development issuer: the internal payment call is not routed and pay refuses it without
//! conference's grant; each role × endpoint; a customer's bookings and payments are theirs
//! alone; forged and expired tokens; `Idempotency-Key` replays; rate and body limits; CORS;
//! and `AUTH_MODE=off`, loud.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed step fails the test"
)]

use std::time::Duration;

use e2e::{Body, System, Who, conference_id, status_of};
use hifive_common::auth::ChargeGrant;
use serde_json::{Value, json};

async fn as_(
    sys: &System,
    who: Who<'_>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> e2e::Reply {
    sys.call_as(who, method, path, body.map(Body::Json), &[])
        .await
}

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
        conference_id: 424242,
        room_number: 5,
        customer: "mallory".into(),
    };
    let (status, _, body) = direct(
        Some(forged.sign("a guessed secret, at least 32 chars long")),
        attack.clone(),
    )
    .await;
    assert_eq!(status, 401, "a grant signed with another secret: {body}");
    let other_booking = ChargeGrant {
        conference_id: 1,
        room_number: 1,
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

/// Another customer's booking and payment are `404`, as if they did not exist; lists show
/// a customer only their own; a manager sees all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_sees_and_cancels_only_their_own_bookings_and_payments() {
    let sys = System::start().await;
    for room in 1..=2 {
        sys.register_room(room).await;
    }
    let alice = as_(
        &sys,
        Who::Customer("alice"),
        "POST",
        "/conferences",
        Some(json!({"roomNumber": 1})),
    )
    .await;
    let bob = as_(
        &sys,
        Who::Customer("bob"),
        "POST",
        "/conferences",
        Some(json!({"roomNumber": 2})),
    )
    .await;
    assert_eq!(
        (alice.status.as_u16(), bob.status.as_u16()),
        (201, 201),
        "{} {}",
        alice.text,
        bob.text
    );
    assert_eq!(alice.json["customer"], "alice");
    let (a, b) = (conference_id(&alice.json), conference_id(&bob.json));
    let bob_pay = bob.json["payId"].as_i64().unwrap();

    let items = |reply: &e2e::Reply, rel: &str| -> Vec<i64> {
        reply.json["_embedded"][rel]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|i| i["conferenceId"].as_i64().unwrap())
            .collect()
    };
    let mine = as_(&sys, Who::Customer("alice"), "GET", "/conferences", None).await;
    assert_eq!(items(&mine, "conferences"), vec![a], "{}", mine.text);
    assert_eq!(mine.json["page"]["totalElements"], 1);
    let all = as_(&sys, Who::Manager, "GET", "/conferences", None).await;
    assert_eq!(items(&all, "conferences"), vec![a, b]);
    let pays = as_(&sys, Who::Customer("alice"), "GET", "/pays", None).await;
    assert_eq!(items(&pays, "pays"), vec![a], "{}", pays.text);
    let carol = as_(&sys, Who::Customer("carol"), "GET", "/conferences", None).await;
    assert_eq!(items(&carol, "conferences"), Vec::<i64>::new());

    // Bob's booking, to Alice, is the same 404 as a booking that does not exist.
    let missing = as_(
        &sys,
        Who::Customer("alice"),
        "GET",
        "/conferences/999999",
        None,
    )
    .await;
    for (method, path) in [
        ("GET", format!("/conferences/{b}")),
        ("DELETE", format!("/conferences/{b}")),
        ("GET", format!("/pays/{bob_pay}")),
    ] {
        let r = as_(&sys, Who::Customer("alice"), method, &path, None).await;
        assert_eq!(r.status, 404, "alice {method} {path}: {}", r.text);
        assert_eq!(r.json["error"], missing.json["error"]);
    }
    let still = sys
        .until(
            &format!("booking {b} is bob's and not cancelled"),
            &format!("/conferences/{b}"),
            |v| ["PAID", "ASSIGNED"].contains(&status_of(v)),
        )
        .await;
    assert_eq!(still["customer"], "bob");

    // Alice cancels her own.
    let r = as_(
        &sys,
        Who::Customer("alice"),
        "DELETE",
        &format!("/conferences/{a}"),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    sys.until_status(&format!("/conferences/{a}"), "CANCELED")
        .await;
    sys.until_status(&format!("/conferences/{b}"), "ASSIGNED")
        .await;
    sys.assert_consistent(&[a, b]).await;
}

/// `Idempotency-Key` (Stripe's semantics): a retry replays the first answer and creates
/// nothing; another body is 422; a key still in flight 409; a refusal leaves the key free so
/// the retry `Retry-After` invites succeeds; keys are per user; rooms too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_with_an_idempotency_key_create_nothing_twice() {
    let mut sys = System::start_with(&[("PAY_ADMIN_ENABLED", "true")]).await;
    for room in 1..=5 {
        sys.register_room(room).await;
    }
    let alice = Who::Customer("alice");
    let first = post(&sys, alice, "key-1", 1).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = post(&sys, alice, "key-1", 1).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json, first.json, "the same answer");
    assert_eq!(again.header("location"), first.header("location"));
    let other_body = post(&sys, alice, "key-1", 2).await;
    assert_eq!(other_body.status, 422, "{}", other_body.text);
    assert_eq!(other_body.json["error"], "idempotency_key_reused");
    // Keys are per user: Bob's key-1 is his own.
    let bob = post(&sys, Who::Customer("bob"), "key-1", 2).await;
    assert_eq!(bob.status, 201, "{}", bob.text);
    assert_ne!(conference_id(&bob.json), conference_id(&first.json));
    let bad_key = sys
        .call_as(
            alice,
            "POST",
            "/conferences",
            Some(Body::Json(json!({"roomNumber": 3}))),
            &[("idempotency-key", &"k".repeat(300))],
        )
        .await;
    assert_eq!(bad_key.status, 400, "{}", bad_key.text);
    assert_eq!(bad_key.json["error"], "invalid_idempotency_key");

    // Two at once with one key: one is carried out, the other is told it is in flight.
    sys.set_pay_latency(json!(1500)).await;
    let (x, y) = tokio::join!(post(&sys, alice, "key-2", 3), post(&sys, alice, "key-2", 3));
    let mut statuses = [x.status.as_u16(), y.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{} / {}", x.text, y.text);
    let conflict = if x.status == 409 { &x } else { &y };
    assert_eq!(conflict.json["error"], "idempotency_key_in_flight");
    let winner = if x.status == 201 { &x } else { &y };
    let replay = post(&sys, alice, "key-2", 3).await;
    assert_eq!(replay.json, winner.json, "{}", replay.text);
    // A client that gives up while pay answers: the booking is carried to its end all the
    // same, and the retry gets its answer (not a second booking, not a 409 for long).
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(format!("{}/conferences", sys.gateway()))
        .bearer_auth(sys.token("customer", "alice"))
        .header("idempotency-key", "key-4")
        .json(&json!({"roomNumber": 5}))
        .send()
        .await;
    assert!(
        gave_up.is_err(),
        "the client should have given up: {gave_up:?}"
    );
    let answered = e2e::eventually(
        "the retry with key-4 is answered",
        Duration::from_secs(10),
        || async {
            let r = post(&sys, alice, "key-4", 5).await;
            (r.status == 201).then_some(r)
        },
    )
    .await;
    assert_eq!(answered.header("idempotent-replayed"), Some("true"));
    sys.set_pay_latency(Value::Null).await;

    // A refusal (pay down: 503 + Retry-After) leaves the key free: the retry books.
    sys.kill("pay").await;
    let refused = post(&sys, alice, "key-3", 4).await;
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert!(refused.header("retry-after").is_some());
    sys.restart("pay").await;
    let sys = sys;
    let retried = e2e::eventually(
        "the retry with key-3 is booked",
        Duration::from_secs(30),
        || async {
            let r = post(&sys, alice, "key-3", 4).await;
            (r.status == 201).then_some(r)
        },
    )
    .await;
    assert_eq!(
        retried.header("idempotent-replayed"),
        None,
        "carried out, not replayed"
    );

    // Alice holds exactly one active booking per key.
    let s = sys.snapshot().await;
    let active: Vec<_> = s
        .bookings
        .iter()
        .filter(|b| ["PAID", "ASSIGNED"].contains(&b.status.as_str()))
        .map(|b| b.room_number)
        .collect();
    let mut rooms = active.clone();
    rooms.sort();
    assert_eq!(
        rooms,
        vec![1, 2, 3, 4, 5],
        "one active booking per key and user: {active:?}"
    );

    // Rooms take a key too.
    let register = |key: &'static str, room: i64| {
        let sys = &sys;
        async move {
            sys.call_as(
                Who::Manager,
                "POST",
                "/rooms",
                Some(Body::Json(json!({ "roomNumber": room }))),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let r1 = register("room-key", 10).await;
    assert_eq!(r1.status, 201, "{}", r1.text);
    let r2 = register("room-key", 10).await;
    assert_eq!(
        (r2.status.as_u16(), r2.header("idempotent-replayed")),
        (201, Some("true"))
    );
    assert_eq!(r2.json, r1.json);
    let r3 = register("room-key", 11).await;
    assert_eq!(r3.status, 422, "{}", r3.text);
    let without_key = sys.post("/rooms", json!({"roomNumber": 10})).await;
    assert_eq!(
        without_key.status, 409,
        "the room exists: {}",
        without_key.text
    );
    sys.assert_consistent(&[]).await;
}

async fn post(sys: &System, who: Who<'_>, key: &str, room: i64) -> e2e::Reply {
    sys.call_as(
        who,
        "POST",
        "/conferences",
        Some(Body::Json(json!({ "roomNumber": room }))),
        &[("idempotency-key", key)],
    )
    .await
}

/// The gateway's limits: a client over its rate gets 429 + Retry-After (another client does
/// not), a body over the limit 413, CORS only for the configured origin and never with
/// credentials. The services limit bodies themselves too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_limits_rate_body_size_and_origins() {
    let sys = System::start_with(&[
        ("GATEWAY_RATE_LIMIT", "5"),
        ("GATEWAY_RATE_BURST", "5"),
        ("GATEWAY_MAX_BODY_BYTES", "1024"),
        ("CORS_ALLOWED_ORIGINS", "https://hifive.example"),
    ])
    .await;
    let http = reqwest::Client::new();
    let gw = sys.gateway();

    // CORS: the configured origin only, no credentials.
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, format!("{gw}/conferences"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,idempotency-key",
            )
            .send()
    };
    let ok = preflight("https://hifive.example").await.unwrap();
    let headers = ok.headers();
    assert_eq!(
        headers.get("access-control-allow-origin").unwrap(),
        "https://hifive.example"
    );
    assert!(headers.get("access-control-allow-credentials").is_none());
    let allowed = headers
        .get("access-control-allow-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("idempotency-key") && allowed.contains("authorization"),
        "{allowed}"
    );
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(
        evil.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        evil.headers()
    );

    // Body size: 413 at the gateway (declared length) and at the service (its own limit).
    let big = json!({ "roomNumber": 1, "note": "x".repeat(2000) });
    let r = sys
        .call_as(
            Who::Customer("alice"),
            "POST",
            "/conferences",
            Some(Body::Json(big.clone())),
            &[],
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.json["error"], "body_too_large");
    let huge = json!({ "roomNumber": 1, "note": "x".repeat(70_000) });
    let direct = http
        .post(format!("{}/conferences", sys.service("conference")))
        .bearer_auth(sys.token("customer", "alice"))
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 413);
    let body: Value = direct.json().await.unwrap();
    assert_eq!(body["error"], "body_too_large");

    // Rate: a burst of 5, then 429 with Retry-After for this client, with a JSON reason.
    let mut limited = None;
    for _ in 0..20 {
        let r = http.get(format!("{gw}/roomStates")).send().await.unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("no 429 after 20 quick requests at 5/s");
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    // The gateway's own probes are not limited.
    let health = http.get(format!("{gw}/health/ready")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // After waiting as told, the client is served again.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let again = http.get(format!("{gw}/roomStates")).send().await.unwrap();
    assert_eq!(again.status(), 200);
}

/// `AUTH_MODE=off` runs the original's scenario without tokens, and says so in the log and
/// in `/health`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_off_is_for_demos_and_says_so() {
    let sys = System::start_with(&[("AUTH_MODE", "off")]).await;
    let r = sys
        .call_as(
            Who::Anonymous,
            "POST",
            "/rooms",
            Some(Body::Json(
                json!({"roomStatus": "EMPTY", "usedCount": 0, "roomNumber": 10}),
            )),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = sys
        .call_as(
            Who::Anonymous,
            "POST",
            "/conferences",
            Some(Body::Json(
                json!({"status": "", "payId": 0, "roomNumber": "10"}),
            )),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = conference_id(&r.json);
    let r = sys
        .call_as(
            Who::Anonymous,
            "DELETE",
            &format!("/conferences/{id}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    for service in ["conference", "pay", "room"] {
        let (_, health) = sys.health(service, "/health/ready").await;
        assert_eq!(
            health["components"]["auth"]["mode"], "off",
            "{service}: {health}"
        );
        assert!(health["components"]["auth"]["warning"].is_string());
        assert!(
            sys.log(service).contains("AUTH_MODE=off"),
            "{service} did not warn"
        );
    }
}
