//! The web page served by the gateway from `WEB_DIR` (a hand-made directory here), its
//! headers and `config.json`; nothing of it without `WEB_DIR`; and `GET /system/health`
//! refusing callers without a token, and listing unreachable services as not ready.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::path::PathBuf;

mod common;

use gateway::{App, web::WebConfig};
use hifive_common::auth::AuthConfig;
use serde_json::Value;

/// A gateway with every upstream unreachable; its base URL, stopped when dropped.
struct Gateway {
    url: String,
    stop: hifive_common::CancellationToken,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn start(web: WebConfig, auth: AuthConfig) -> Gateway {
    let config = common::unreachable_upstreams(web, auth);
    let server = App::build(config).await.unwrap();
    let url = format!("http://{}", server.local_addr());
    let stop = server.shutdown_token();
    tokio::spawn(server.run());
    Gateway { url, stop }
}

/// The page in `dir`, signing in at a local issuer.
fn page_config(dir: &std::path::Path) -> WebConfig {
    WebConfig {
        dir: Some(dir.to_owned()),
        oidc_issuer: Some("http://127.0.0.1:8089".into()),
        client_id: "hifive-web".into(),
        scope: "openid".into(),
    }
}

/// A built page as Vite lays it out.
fn page_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("web-test-{}", uuid_like()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>HiFive</title>",
    )
    .unwrap();
    std::fs::write(dir.join("assets/index-Ab12Cd.js"), "console.log(1)").unwrap();
    std::fs::write(dir.join("favicon.svg"), "<svg/>").unwrap();
    // Beside the page, outside assets/: never served.
    std::fs::write(dir.join("outside.txt"), "not for browsers").unwrap();
    dir
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

/// `GET target` sent as is (reqwest would normalise `..` and `%2e%2e` away): the status and
/// the body.
async fn raw_get(base: &str, target: &str) -> (u16, String) {
    let (status, answer) = common::send(base.trim_start_matches("http://"), "GET", target).await;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_page_is_served_with_its_headers_and_sign_in_settings() {
    let dir = page_dir();
    let web = page_config(&dir);
    let auth = AuthConfig {
        roles_claim: "realm_access.roles".into(),
        ..AuthConfig::off()
    };
    let gw = start(web, auth).await;

    let index = get(&format!("{}/", gw.url)).await;
    assert_eq!(index.status(), 200);
    assert_eq!(header(&index, "cache-control"), "no-cache");
    assert!(header(&index, "content-type").starts_with("text/html"));
    let csp = header(&index, "content-security-policy");
    assert!(
        csp.contains("connect-src 'self' http://127.0.0.1:8089;"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(&index, "x-content-type-options"), "nosniff");
    assert_eq!(header(&index, "referrer-policy"), "no-referrer");
    assert!(index.text().await.unwrap().contains("<title>HiFive"));

    let asset = get(&format!("{}/assets/index-Ab12Cd.js", gw.url)).await;
    assert_eq!(asset.status(), 200);
    assert_eq!(
        header(&asset, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(header(&asset, "content-type").contains("javascript"));
    assert_eq!(get(&format!("{}/favicon.svg", gw.url)).await.status(), 200);

    let missing = get(&format!("{}/assets/gone-1234.js", gw.url)).await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    for refused in ["/index.html", "/outside.txt", "/book", "/favicon.ico"] {
        let reply = get(&format!("{}{refused}", gw.url)).await;
        assert_eq!(reply.status(), 404, "{refused}");
    }
    // Out of assets/ by `..`, written in every way: sent as is, over a bare connection.
    for traversal in [
        "/assets/../index.html",
        "/assets/%2e%2e/index.html",
        "/assets/%2E%2E/outside.txt",
        "/assets/..%2findex.html",
        "/assets/%2e%2e%2foutside.txt",
        "/assets/..%5coutside.txt",
        "/assets/../../outside.txt",
        "/assets//../index.html",
    ] {
        let (status, body) = raw_get(&gw.url, traversal).await;
        assert_eq!(status, 404, "{traversal}: {body}");
        assert!(!body.contains("<title>HiFive"), "{traversal}: {body}");
        assert!(!body.contains("not for browsers"), "{traversal}: {body}");
        let body: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{traversal}: not JSON ({e}): {body}"));
        assert_eq!(body["error"], "not_found", "{traversal}");
    }
    // The bare connection itself works: the same request for a real asset is served.
    let (status, body) = raw_get(&gw.url, "/assets/index-Ab12Cd.js").await;
    assert_eq!((status, body.as_str()), (200, "console.log(1)"));
    let post = reqwest::Client::new()
        .post(format!("{}/", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);

    let config: Value = get(&format!("{}/config.json", gw.url))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config["oidc"]["issuer"], "http://127.0.0.1:8089");
    assert_eq!(config["oidc"]["clientId"], "hifive-web");
    assert_eq!(config["oidc"]["scope"], "openid");
    // Where the roles are in a token: AUTH_ROLES_CLAIM, as the gateway itself reads them.
    assert_eq!(config["oidc"]["rolesClaim"], "realm_access.roles");

    // The API is still the API, and the page is not part of its document.
    let api = get(&format!("{}/conferences", gw.url)).await;
    assert_eq!(api.status(), 503, "the upstream is down");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn without_web_dir_there_is_no_page() {
    let gw = start(WebConfig::default(), AuthConfig::off()).await;
    for path in ["/", "/config.json", "/assets/index-Ab12Cd.js"] {
        let reply = get(&format!("{}{path}", gw.url)).await;
        assert_eq!(reply.status(), 404, "{path}");
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["error"], "not_found");
    }
}

#[tokio::test]
async fn system_health_needs_a_token_and_shows_unreachable_services() {
    // Tokens checked against an issuer that is not there: no token is 401.
    let jwt = AuthConfig::jwt("http://127.0.0.1:9/.well-known/jwks.json", "hifive-dev");
    let gw = start(WebConfig::default(), jwt).await;
    let reply = get(&format!("{}/system/health", gw.url)).await;
    assert_eq!(reply.status(), 401);
    assert!(header(&reply, "www-authenticate").starts_with("Bearer"));
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");

    // With AUTH_MODE=off everyone is a manager: every instance listed, none ready.
    let open = start(WebConfig::default(), AuthConfig::off()).await;
    let reply = get(&format!("{}/system/health", open.url)).await;
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    let services = body["services"].as_array().unwrap();
    let names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["conference", "pay", "room", "customer-center"]);
    for service in services {
        assert_eq!(service["ready"], false);
        assert_eq!(service["health"], Value::Null);
        assert!(service["error"].is_string());
    }
}

#[tokio::test]
async fn the_page_reads_roles_from_the_default_claim() {
    let dir = page_dir();
    let web = page_config(&dir);
    let gw = start(
        web,
        AuthConfig::jwt("http://127.0.0.1:9/jwks.json", "hifive-dev"),
    )
    .await;
    let config: Value = get(&format!("{}/config.json", gw.url))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config["oidc"]["rolesClaim"], "role");
    let _ = std::fs::remove_dir_all(dir);
}
