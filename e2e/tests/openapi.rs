//! `GET /openapi.json` through the gateway: the services' documents merged into one OpenAPI
//! 3.1 document with exactly the public API (the gateway's table, so the two cannot drift),
//! every reference resolved, and every documented read routed to a service that serves it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use e2e::{System, http::Who};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_the_merged_document_of_the_public_api() {
    let sys = System::start().await;
    let reply = sys
        .call_as(Who::Anonymous, "GET", "/openapi.json", None, &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let doc = reply.json;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(hifive_openapi::dangling_refs(&doc), Vec::<String>::new());
    assert_eq!(
        hifive_openapi::normalized(&doc),
        hifive_openapi::table_operations(gateway::public_api::PUBLIC, &[""]),
        "the merged document lists exactly the public API"
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["Error"].is_object());
    let apply = &doc["paths"]["/conferences"]["post"];
    assert_eq!(apply["parameters"][0]["name"], "Idempotency-Key");
    assert!(apply["responses"]["503"]["headers"]["Retry-After"].is_object());
    let stream = &doc["paths"]["/notifications/stream"]["get"]["responses"]["200"];
    assert!(stream["content"]["text/event-stream"].is_object());
    assert!(
        !doc.to_string().contains("room_applied"),
        "the payment call is not public"
    );

    // Every documented read (but the endless stream) reaches a service that serves it.
    for (method, path) in hifive_openapi::operations(&doc) {
        if method != "GET" || path == "/notifications/stream" {
            continue;
        }
        let operation = &doc["paths"][&path]["get"];
        let concrete = with_examples(&path, operation);
        let reply = sys.call_as(Who::Manager, "GET", &concrete, None, &[]).await;
        let detail = reply.json["detail"].as_str().unwrap_or_default();
        assert!(
            reply.status == 200 || (reply.status == 404 && !detail.starts_with("no route")),
            "GET {concrete}: {} {}",
            reply.status,
            reply.text
        );
    }

    // The document is cached, and served to anyone while the services run.
    let again = sys
        .call_as(Who::Anonymous, "GET", "/openapi.json", None, &[])
        .await;
    assert_eq!(again.json, doc);
}

/// `path` with `1` for each path parameter and each required query parameter.
fn with_examples(path: &str, operation: &Value) -> String {
    let mut concrete: String = path
        .split('/')
        .map(|s| if s.starts_with('{') { "1" } else { s })
        .collect::<Vec<_>>()
        .join("/");
    let required: Vec<String> = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query" && p["required"] == true)
        .map(|p| format!("{}=1", p["name"].as_str().unwrap()))
        .collect();
    if !required.is_empty() {
        concrete = format!("{concrete}?{}", required.join("&"));
    }
    concrete
}
