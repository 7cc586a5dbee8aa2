//! The gateway's limits, end to end: rate and body limits, and CORS.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::time::Duration;

use e2e::{Body, System, Who};
use serde_json::{Value, json};

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
    // Twenty at once: one after another, a slow machine would stay within 5/s.
    let burst =
        futures::future::join_all((0..20).map(|_| http.get(format!("{gw}/roomStates")).send()))
            .await;
    let limited = burst
        .into_iter()
        .map(Result::unwrap)
        .find(|r| r.status() == 429)
        .expect("no 429 among 20 requests at once at 5/s");
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
