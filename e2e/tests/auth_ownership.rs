//! Who may do what (docs/contract.md): a customer's bookings and payments are theirs alone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use e2e::{System, Who, as_, conference_id, status_of};
use serde_json::json;

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
