//! `AUTH_MODE=off`, loud: the original's scenario without tokens, and the warning in the log
//! and in `/health`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use e2e::{Body, System, Who, conference_id};
use serde_json::json;

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
