//! Bad input gets a clear 4xx JSON error and changes nothing (through the gateway, real
//! services).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use e2e::{Body, System};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_json_errors_and_stores_nothing() {
    let sys = System::start().await;
    let raw = |content_type, text| Some(Body::Raw { content_type, text });

    let cases: Vec<(&str, &str, Option<Body>, u16, &str)> = vec![
        (
            "POST",
            "/conferences",
            Some(Body::Json(json!({"status": ""}))),
            422,
            "missing_field",
        ),
        (
            "POST",
            "/conferences",
            Some(Body::Json(json!({"roomNumber": null}))),
            422,
            "missing_field",
        ),
        (
            "POST",
            "/conferences",
            Some(Body::Json(json!({"roomNumber": "one"}))),
            422,
            "invalid_field",
        ),
        (
            "POST",
            "/conferences",
            Some(Body::Json(json!({"roomNumber": -1}))),
            422,
            "invalid_field",
        ),
        (
            "POST",
            "/conferences",
            Some(Body::Json(json!({"roomNumber": 1.5}))),
            422,
            "invalid_field",
        ),
        (
            "POST",
            "/conferences",
            Some(Body::Json(json!([1]))),
            422,
            "invalid_body",
        ),
        (
            "POST",
            "/conferences",
            raw("application/json", "{\"roomNumber\": 1"),
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/conferences",
            raw("text/plain", "roomNumber=1"),
            400,
            "unsupported_content_type",
        ),
        (
            "POST",
            "/conferences",
            None,
            400,
            "unsupported_content_type",
        ),
        ("GET", "/conferences/999", None, 404, "not_found"),
        ("GET", "/conferences/abc", None, 400, "invalid_id"),
        ("DELETE", "/conferences/999", None, 404, "not_found"),
        ("DELETE", "/conferences/abc", None, 400, "invalid_id"),
        (
            "GET",
            "/conferences?page=-1",
            None,
            400,
            "invalid_parameter",
        ),
        (
            "GET",
            "/conferences?size=abc",
            None,
            400,
            "invalid_parameter",
        ),
        (
            "POST",
            "/rooms",
            Some(Body::Json(json!({"roomNumber": "x"}))),
            422,
            "invalid_field",
        ),
        (
            "POST",
            "/rooms",
            Some(Body::Json(json!({"roomNumber": 3, "usedCount": -2}))),
            422,
            "invalid_field",
        ),
        (
            "POST",
            "/rooms",
            Some(Body::Json(json!({"roomNumber": 3, "roomStatus": "FULL"}))),
            422,
            "invalid_field",
        ),
        ("GET", "/rooms/404", None, 404, "not_found"),
        (
            "GET",
            "/rooms/search/findByPayId",
            None,
            400,
            "missing_parameter",
        ),
        // The internal payment call is not routed by the gateway (see auth_internal_call.rs).
        (
            "POST",
            "/pays/room_applied",
            Some(Body::Json(json!({"roomNumber": 1}))),
            404,
            "not_found",
        ),
        ("GET", "/pays/5", None, 404, "not_found"),
        (
            "GET",
            "/roomStates/search/findByRoomNumber?roomNumber=zero",
            None,
            400,
            "invalid_id",
        ),
        ("GET", "/roomStates/8", None, 404, "not_found"),
    ];
    for (method, path, body, status, error) in cases {
        let r = sys.call(method, path, body).await;
        assert_eq!(r.status.as_u16(), status, "{method} {path} → {}", r.text);
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "{method} {path}"
        );
        assert_eq!(r.json["error"], error, "{method} {path} → {}", r.text);
        assert!(
            r.json["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{method} {path}"
        );
    }

    // A room registered twice: 409, the first registration stands.
    assert_eq!(
        sys.post("/rooms", json!({"roomNumber": 3})).await.status,
        201
    );
    let again = sys
        .post("/rooms", json!({"roomNumber": 3, "usedCount": 9}))
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(sys.get("/rooms/3").await.json["usedCount"], 0);

    // Pay's overload controls exist only when PAY_ADMIN_ENABLED=true.
    let admin = reqwest::Client::new()
        .put(format!("{}/admin/overload", sys.service("pay")))
        .json(&json!({"latencyMs": 5000}))
        .send()
        .await
        .expect("pay answers");
    assert_eq!(admin.status(), 404);

    // Nothing was stored by any refused request.
    assert!(sys.items("/conferences", "conferences").await.is_empty());
    assert!(sys.items("/pays", "pays").await.is_empty());
    assert_eq!(sys.items("/rooms", "rooms").await.len(), 1);
}
