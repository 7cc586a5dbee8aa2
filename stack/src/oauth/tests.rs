//! The authorization code flow with PKCE over real HTTP, as a browser and a page would drive
//! it; the token it gives checked by the services' verifier.

#![allow(
    clippy::too_many_lines,
    reason = "test code: a scenario reads top to bottom"
)]

use std::time::Duration;

use hifive_common::auth::{Auth, AuthConfig};
use reqwest::{StatusCode, redirect::Policy};
use serde_json::Value;

use super::{CODE_TTL, Grant, OAuth, token::challenge_of};
use crate::issuer::{DevIssuer, ISSUER, JWKS_PATH};

const PAGE: &str = "http://127.0.0.1:28088";
const REDIRECT: &str = "http://127.0.0.1:28088/";
const VERIFIER: &str = "a-verifier-of-more-than-forty-three-characters-0123456789";

struct Issuer {
    base: String,
    client: reqwest::Client,
    auth: Auth,
    dir: std::path::PathBuf,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A signing-in issuer on a free port whose codes last `code_ttl`, and a client that does not
/// follow redirects (the test reads them).
async fn start(code_ttl: Duration) -> Issuer {
    start_with(|oauth| oauth.with_sign_in(true).with_code_ttl(code_ttl)).await
}

/// An issuer on a free port with its sign-in set up by `setup`.
async fn start_with(setup: impl FnOnce(OAuth) -> OAuth) -> Issuer {
    let dir = std::env::temp_dir().join(format!("oauth-test-{}", uuid::Uuid::new_v4()));
    let issuer = DevIssuer::load_or_create(&dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let oauth = setup(OAuth::new(issuer.clone(), vec![PAGE.into()]));
    let app = issuer.router_with(&base, oauth);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let auth = Auth::new(AuthConfig::jwt(&format!("{base}{JWKS_PATH}"), ISSUER));
    Issuer {
        base,
        client,
        auth,
        dir,
    }
}

fn authorize_params(redirect_uri: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", "hifive-web".into()),
        ("redirect_uri", redirect_uri.into()),
        ("state", "s t&a=te".into()),
        ("code_challenge", challenge_of(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ]
}

/// The sign-in form as a browser sends it back: the authorization request, user name and role.
fn sign_in_form(redirect_uri: &str, user: &str, role: &str) -> Vec<(&'static str, String)> {
    let mut form = authorize_params(redirect_uri);
    form.extend([("username", user.into()), ("role", role.into())]);
    form
}

impl Issuer {
    /// The discovery document, asked for by the page's origin.
    async fn discovery(&self) -> Value {
        self.client
            .get(format!("{}/.well-known/openid-configuration", self.base))
            .header("Origin", PAGE)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `GET /authorize` with `query`: the sign-in form, or an error page.
    async fn authorize_page(&self, query: &[(&'static str, String)]) -> reqwest::Response {
        self.client
            .get(format!("{}/authorize", self.base))
            .query(query)
            .send()
            .await
            .unwrap()
    }

    /// `POST /authorize` with `form`.
    async fn submit(&self, form: &[(&'static str, String)]) -> reqwest::Response {
        self.client
            .post(format!("{}/authorize", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Signs in through the form; the `Location` it sends the browser to.
    async fn sign_in(&self, user: &str, role: &str) -> (StatusCode, String) {
        let reply = self.submit(&sign_in_form(REDIRECT, user, role)).await;
        let location = reply
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (reply.status(), location)
    }

    async fn code_for(&self, user: &str, role: &str) -> String {
        let (status, location) = self.sign_in(user, role).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        assert!(
            location.starts_with(&format!("{REDIRECT}?code=")),
            "{location}"
        );
        assert!(location.ends_with("&state=s%20t%26a%3Dte"), "{location}");
        let code = location.split("code=").nth(1).unwrap();
        code.split('&').next().unwrap().to_owned()
    }

    async fn exchange(&self, code: &str, redirect_uri: &str, verifier: &str) -> (u16, Value) {
        let reply = self
            .client
            .post(format!("{}/token", self.base))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("client_id", "hifive-web"),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap();
        (reply.status().as_u16(), reply.json().await.unwrap())
    }
}

#[tokio::test]
async fn a_signed_in_user_gets_a_token_the_services_accept() {
    let issuer = start(CODE_TTL).await;
    let discovery = issuer.discovery().await;
    assert_eq!(
        discovery["token_endpoint"],
        format!("{}/token", issuer.base)
    );
    assert_eq!(discovery["code_challenge_methods_supported"][0], "S256");

    let page = issuer.authorize_page(&authorize_params(REDIRECT)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for part in [
        "User name",
        "Room manager",
        "Customer",
        "Sign in",
        "development issuer",
    ] {
        assert!(html.contains(part), "{part} missing from the form");
    }
    assert!(!html.contains("<script"));

    let code = issuer.code_for("alice", "customer").await;
    let (status, body) = issuer.exchange(&code, REDIRECT, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let caller = issuer
        .auth
        .verify(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(caller.subject, "alice");
    assert_eq!(caller.roles, vec![hifive_common::Role::Customer]);

    // A code is single use.
    let (status, body) = issuer.exchange(&code, REDIRECT, VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let code = issuer.code_for("boss", "manager").await;
    let (_, body) = issuer.exchange(&code, REDIRECT, VERIFIER).await;
    let boss = issuer
        .auth
        .verify(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(boss.roles, vec![hifive_common::Role::Manager]);
}

#[tokio::test]
async fn a_code_needs_its_verifier_and_redirect_uri_and_is_gone_once_tried() {
    let issuer = start(CODE_TTL).await;
    let other = "another-verifier-of-more-than-forty-three-characters-xyz";
    let code = issuer.code_for("alice", "customer").await;
    let (status, body) = issuer.exchange(&code, REDIRECT, other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Tried once: not even the right verifier takes it now.
    let (status, _) = issuer.exchange(&code, REDIRECT, VERIFIER).await;
    assert_eq!(status, 400);

    let code = issuer.code_for("alice", "customer").await;
    let elsewhere = format!("{PAGE}/elsewhere");
    let (status, body) = issuer.exchange(&code, &elsewhere, VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let (status, body) = issuer.exchange("made-up", REDIRECT, VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = issuer.exchange("made-up", REDIRECT, "short").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let reply = issuer
        .client
        .post(format!("{}/token", issuer.base))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let issuer = start(Duration::ZERO).await;
    let code = issuer.code_for("alice", "customer").await;
    let (status, body) = issuer.exchange(&code, REDIRECT, VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[tokio::test]
async fn foreign_or_missing_redirect_uris_get_an_error_page_never_a_redirect() {
    let issuer = start(CODE_TTL).await;
    for redirect_uri in [
        "https://evil.example/",
        "http://127.0.0.1:28088.evil.example/",
        "http://127.0.0.1:280880/",
        "http://127.0.0.1:28088/#fragment",
        "",
    ] {
        let page = issuer.authorize_page(&authorize_params(redirect_uri)).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{redirect_uri}");
        assert!(page.headers().get("location").is_none());
        let reply = issuer
            .submit(&sign_in_form(redirect_uri, "alice", "customer"))
            .await;
        assert_eq!(reply.status(), StatusCode::BAD_REQUEST, "{redirect_uri}");
        assert!(reply.headers().get("location").is_none());
    }
    // CORS only for the allowed origin.
    let preflight = |origin: &'static str| {
        issuer
            .client
            .request(reqwest::Method::OPTIONS, format!("{}/token", issuer.base))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
    };
    let ok = preflight(PAGE).await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], PAGE);
    let foreign = preflight("https://evil.example").await.unwrap();
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn bad_user_names_and_roles_show_the_form_again() {
    let issuer = start(CODE_TTL).await;
    for (user, role) in [
        ("", "customer"),
        ("al ice", "customer"),
        ("<script>", "customer"),
        (&*"x".repeat(65), "customer"),
        ("alice", "admin"),
        ("alice", ""),
    ] {
        let (status, location) = issuer.sign_in(user, role).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{user:?} {role:?}");
        assert!(location.is_empty());
    }
    let (status, _) = issuer.sign_in("a.b-c_d@example.org", "manager").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn without_issuer_sign_in_there_is_no_sign_in() {
    let issuer = start_with(|oauth| oauth).await;
    let discovery = issuer.discovery().await;
    assert_eq!(discovery["issuer"], ISSUER);
    assert!(discovery["jwks_uri"].is_string());
    for field in [
        "authorization_endpoint",
        "token_endpoint",
        "response_types_supported",
        "code_challenge_methods_supported",
    ] {
        assert!(discovery.get(field).is_none(), "{field} in {discovery}");
    }

    let form = sign_in_form(REDIRECT, "boss", "manager");
    let get = issuer
        .client
        .get(format!("{}/authorize", issuer.base))
        .query(&authorize_params(REDIRECT));
    let post = issuer
        .client
        .post(format!("{}/authorize", issuer.base))
        .form(&form);
    let token = issuer.client.post(format!("{}/token", issuer.base)).form(&[
        ("grant_type", "authorization_code"),
        ("code", "any"),
        ("redirect_uri", REDIRECT),
        ("client_id", "hifive-web"),
        ("code_verifier", VERIFIER),
    ]);
    for (what, request) in [
        ("GET /authorize", get),
        ("POST /authorize", post),
        ("POST /token", token),
    ] {
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::NOT_FOUND, "{what}");
        assert!(reply.headers().get("location").is_none(), "{what}");
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["error"], "not_found", "{what}");
        assert!(
            body.to_string().contains("ISSUER_SIGN_IN"),
            "{what}: {body}"
        );
    }
    // The keys are still published: the services check tokens with them.
    let jwks = issuer
        .client
        .get(format!("{}{JWKS_PATH}", issuer.base))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_form_escapes_what_it_is_sent() {
    let issuer = start(CODE_TTL).await;
    let attack = "\"><script>alert(1)</script>";
    let escaped = "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;";
    let mut form = authorize_params(REDIRECT);
    for (name, value) in &mut form {
        if *name == "state" {
            *value = attack.into();
        }
    }
    // A user name the form refuses comes back in it, with the state.
    form.extend([("username", attack.into()), ("role", "customer".into())]);
    let reply = issuer.submit(&form).await;
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let html = reply.text().await.unwrap();
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains(attack), "{html}");
    assert_eq!(
        html.matches(escaped).count(),
        2,
        "state and user name: {html}"
    );
    assert!(
        html.contains(&format!("name=\"state\" value=\"{escaped}\"")),
        "{html}"
    );
    assert!(
        html.contains(&format!("name=\"username\" value=\"{escaped}\"")),
        "{html}"
    );

    // The state on the first showing of the form too.
    let reply = issuer.authorize_page(&form[..6]).await;
    assert_eq!(reply.status(), StatusCode::OK);
    let html = reply.text().await.unwrap();
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains(escaped), "{html}");
}

fn grant(ttl: Duration) -> Grant {
    Grant {
        client_id: "hifive-web".into(),
        redirect_uri: REDIRECT.into(),
        challenge: challenge_of(VERIFIER),
        role: "customer".into(),
        user: "alice".into(),
        expires: std::time::Instant::now() + ttl,
    }
}

#[test]
fn pending_codes_are_capped_and_expired_ones_make_room() {
    let dir = std::env::temp_dir().join(format!("oauth-test-{}", uuid::Uuid::new_v4()));
    let issuer = DevIssuer::load_or_create(&dir).unwrap();
    let oauth = OAuth::new(issuer, vec![PAGE.into()]).with_max_codes(3);
    let hour = Duration::from_secs(3600);
    assert!(oauth.issue_code(grant(Duration::ZERO)).is_some());
    assert!(oauth.issue_code(grant(hour)).is_some());
    assert!(oauth.issue_code(grant(hour)).is_some());
    // Full: the expired one is dropped to make room.
    let fourth = oauth.issue_code(grant(hour));
    assert!(fourth.is_some());
    // Full of live codes: refused.
    assert!(oauth.issue_code(grant(hour)).is_none());
    // An exchanged code frees its place.
    assert!(oauth.take_code(&fourth.unwrap()).is_some());
    assert!(oauth.issue_code(grant(hour)).is_some());
    assert!(oauth.issue_code(grant(hour)).is_none());
    assert_eq!(super::MAX_CODES, 1000);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_full_issuer_answers_the_sign_in_with_503() {
    let issuer = start_with(|oauth| oauth.with_sign_in(true).with_max_codes(1)).await;
    let _code = issuer.code_for("alice", "customer").await;
    let reply = issuer
        .submit(&sign_in_form(REDIRECT, "bob", "customer"))
        .await;
    assert_eq!(reply.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.headers().get("location").is_none());
    assert_eq!(reply.headers()["retry-after"], "60");
    assert!(reply.text().await.unwrap().contains("Try again"));
}
