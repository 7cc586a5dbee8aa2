//! Every service's OpenAPI document against the gateway's public API table: each lists
//! exactly its share of the public routes (so the two cannot drift apart), resolves every
//! `$ref`, and documents what its operations answer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use gateway::public_api::PUBLIC;
use hifive_openapi::{assert_answers, assert_serves_exactly};
use serde_json::json;

/// What the two creating operations answer (and the edge in front of them).
const CREATED: [&str; 9] = [
    "201", "400", "401", "403", "409", "413", "422", "429", "503",
];

#[test]
fn bookings_are_documented_with_their_key_location_and_retry_after() {
    let doc = conference::http::openapi::document();
    assert_serves_exactly(&doc, PUBLIC, &["/conferences"]);
    let apply = &doc["paths"]["/conferences"]["post"];
    assert_eq!(apply["parameters"][0]["name"], "Idempotency-Key");
    assert_answers(apply, &CREATED);
    assert!(apply["responses"]["503"]["headers"]["Retry-After"].is_object());
    assert!(apply["responses"]["201"]["headers"]["Location"].is_object());
    assert_eq!(apply["security"], json!([{"bearer": []}]));
}

#[test]
fn rooms_are_documented_with_their_key() {
    let doc = room::http::openapi::document();
    assert_serves_exactly(&doc, PUBLIC, &["/rooms"]);
    let register = &doc["paths"]["/rooms"]["post"];
    assert_eq!(register["parameters"][0]["name"], "Idempotency-Key");
    assert_answers(register, &CREATED);
}

#[test]
fn payments_are_documented_as_hal_collections() {
    let doc = pay::http::openapi::document();
    assert_serves_exactly(&doc, PUBLIC, &["/pays"]);
    let read = &doc["paths"]["/pays/{id}"]["get"];
    assert_answers(read, &["200", "400", "401", "403", "404", "429", "503"]);
    let page = &doc["components"]["schemas"]["PaymentsEmbedded"]["properties"]["pays"];
    assert_eq!(page["type"], "array");
}

#[test]
fn the_view_is_public_and_its_stream_is_server_sent_events() {
    let doc = customer_center::http::openapi::document();
    assert_serves_exactly(&doc, PUBLIC, &["/roomStates", "/notifications"]);
    let stream = &doc["paths"]["/notifications/stream"]["get"];
    assert!(stream["responses"]["200"]["content"]["text/event-stream"].is_object());
    assert!(stream.get("security").is_none(), "anyone may read");
    assert!(stream["responses"].get("401").is_none());
}

#[test]
fn the_gateways_own_operations_are_documented_and_the_web_page_is_not() {
    let doc = gateway::openapi::merged(&[json!({"openapi": "3.1.0", "paths": {},
        "components": {"schemas": {"Error": {}}}})]);
    let health = &doc["paths"]["/system/health"]["get"];
    assert_answers(health, &["200", "401", "403", "429"]);
    assert_eq!(health["security"], json!([{"bearer": []}]));
    assert!(health["responses"]["401"]["headers"]["WWW-Authenticate"].is_object());
    for (page, _) in gateway::public_api::PAGE {
        let path = page.replace('*', "{id}");
        assert!(doc["paths"].get(&path).is_none(), "{page} is not API");
    }
    assert_eq!(hifive_openapi::dangling_refs(&doc), Vec::<String>::new());
}
