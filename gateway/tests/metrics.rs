//! The gateway's metrics: served on the management port only, counting what it routed by
//! upstream and what it refused by reason, with route templates (never paths) as labels.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

mod common;

use std::net::SocketAddr;

use gateway::App;

/// A plain HTTP/1.1 request; the answer's status and whole text.
async fn send(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    common::send(&addr.to_string(), method, path).await
}

/// The value of the sample of `name` whose labels include all of `labels` (0 when absent).
fn sample(page: &str, name: &str, labels: &[&str]) -> f64 {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_are_on_the_management_port_only_and_count_routes_upstreams_and_refusals() {
    let config = common::unreachable_upstreams(
        gateway::web::WebConfig::default(),
        hifive_common::auth::AuthConfig::off(),
    );
    let (server, management) = App::build_with_management(config).await.unwrap();
    let public = server.local_addr();
    let stop = server.shutdown_token();
    let running = tokio::spawn(server.run());

    assert_eq!(send(public, "GET", "/metrics").await.0, 404, "not public");
    assert_eq!(send(public, "GET", "/pays/room_applied").await.0, 404);
    assert_eq!(send(public, "PUT", "/conferences/7").await.0, 405);
    assert_eq!(
        send(public, "GET", "/conferences/7").await.0,
        503,
        "upstream down"
    );
    assert_eq!(send(public, "GET", "/conferences").await.0, 503);

    let (status, page) = send(management, "GET", "/metrics").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("text/plain; version=0.0.4"), "{page}");
    let gw = r#"service="gateway""#;
    let count = |name, labels: &[&str]| sample(&page, name, labels);
    assert!(
        count(
            "hifive_gateway_refusals_total",
            &[gw, r#"reason="not_public""#]
        ) >= 2.0
    );
    assert!(
        count(
            "hifive_gateway_refusals_total",
            &[r#"reason="method_not_allowed""#]
        ) >= 1.0
    );
    let upstream = [gw, r#"upstream="conference""#, r#"status="503""#];
    assert!(
        count("hifive_gateway_upstream_requests_total", &upstream) >= 2.0,
        "{page}"
    );
    let requests = "http_server_requests_total";
    let by_id = [
        r#"method="GET""#,
        r#"route="/conferences/{id}""#,
        r#"status="503""#,
    ];
    assert!(count(requests, &by_id) >= 1.0, "{page}");
    assert!(count(requests, &[r#"route="/conferences""#, r#"status="503""#]) >= 1.0);
    assert!(count(requests, &[r#"route="unmatched""#, r#"status="404""#]) >= 2.0);
    assert!(
        !page.contains("/conferences/7"),
        "never a path as a label: {page}"
    );

    stop.cancel();
    running.await.unwrap().unwrap();
}
