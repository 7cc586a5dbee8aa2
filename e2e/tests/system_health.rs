//! `GET /system/health` through the gateway: a room manager sees every service ready with its
//! own health (consumer, outbox, conference's breaker), and a stopped one as not ready; a
//! customer is refused (`403`), no token or a bad one is `401` with `WWW-Authenticate`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::time::Duration;

use e2e::{System, http::Who, waiting::eventually};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_see_every_service_and_others_are_refused() {
    let mut sys = System::start().await;

    let report = eventually("every service is ready", Duration::from_secs(60), || {
        let sys = &sys;
        async move {
            let reply = sys
                .call_as(Who::Manager, "GET", "/system/health", None, &[])
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            let services = reply.json["services"].as_array()?.clone();
            services
                .iter()
                .all(|s| s["ready"] == true)
                .then_some(services)
        }
    })
    .await;
    let names: Vec<&str> = report.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["conference", "pay", "room", "customer-center"]);
    for service in &report {
        assert_eq!(service["health"]["status"], "UP", "{service}");
        assert!(
            service["health"]["components"]["kafka"].is_object(),
            "{service}"
        );
        assert_eq!(
            service["health"]["components"]["db"]["status"], "UP",
            "{service}"
        );
        assert_eq!(service["error"], Value::Null);
        assert!(
            service["url"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
    }
    let conference = &report[0]["health"]["components"];
    assert!(conference["payCircuitBreaker"].is_object(), "{conference}");

    let customer = sys
        .call_as(Who::Customer("alice"), "GET", "/system/health", None, &[])
        .await;
    assert_eq!(customer.status, 403, "{}", customer.text);
    assert_eq!(customer.json["error"], "forbidden");
    for who in [Who::Anonymous, Who::Token("not-a-token")] {
        let reply = sys.call_as(who, "GET", "/system/health", None, &[]).await;
        assert_eq!(reply.status, 401, "{}", reply.text);
        assert_eq!(reply.json["error"], "unauthorized");
        assert!(
            reply
                .header("www-authenticate")
                .unwrap()
                .starts_with("Bearer")
        );
    }

    // A stopped service is shown as not ready, with why; the others still are.
    sys.kill("pay").await;
    let reply = sys
        .call_as(Who::Manager, "GET", "/system/health", None, &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    for service in reply.json["services"].as_array().unwrap() {
        let down = service["name"] == "pay";
        assert_eq!(service["ready"], !down, "{service}");
        assert_eq!(service["error"].is_string(), down, "{service}");
    }
}
