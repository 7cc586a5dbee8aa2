//! OAuth 2.0 authorization code with PKCE (RFC 6749, RFC 7636; `S256` only) for a public
//! client, on the development issuer: the web page signs in here the way it would against a
//! real OIDC provider. `GET /authorize` shows a small sign-in form (a user name and a role,
//! nothing checked: it is the local development issuer), `POST /authorize` sends the browser
//! back to the client's `redirect_uri` with a one-time code, and `POST /token` exchanges the
//! code and its PKCE verifier for the same kind of access token `script/token` prints.
//!
//! Sign-in is opt-in (`ISSUER_SIGN_IN=on`; the local stack and compose turn it on): with no
//! password, anyone who reaches the issuer could get a manager's token. Off, `/authorize` and
//! `/token` answer `404` and the discovery document lists neither.
//!
//! Only redirect URIs on an allowed origin are accepted (`ISSUER_REDIRECT_ORIGINS`; by default
//! the local gateway's): a bad one gets an error page, never a redirect. Codes are single
//! use, expire after [`CODE_TTL`] and are bound to the client, the redirect URI and the
//! challenge. At most [`MAX_CODES`] wait at once: beyond that the sign-in answers `503`.

mod page;
mod token;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Form, Router,
    extract::{Query, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{any, get, post},
};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::issuer::DevIssuer;

/// How long a code may wait for its exchange.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// How many unexchanged, unexpired codes may wait at once (a flood of sign-ins cannot grow
/// the issuer's memory without bound).
pub const MAX_CODES: usize = 1000;
/// How long the access tokens it gives are valid.
pub const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// What a code stands for until it is exchanged.
#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    role: String,
    user: String,
    expires: Instant,
}

/// The authorization server: the issuer's key, the allowed redirect origins, the codes given.
#[derive(Clone)]
pub struct OAuth {
    issuer: DevIssuer,
    origins: Arc<Vec<String>>,
    codes: Arc<Mutex<HashMap<String, Grant>>>,
    code_ttl: Duration,
    max_codes: usize,
    sign_in: bool,
}

/// The parameters of an authorization request, as sent (validated by [`OAuth::check`]).
type Params = HashMap<String, String>;

/// What a refused authorization request gets: an error page, or a redirect with the error.
type Refusal = Box<Response>;

impl OAuth {
    /// `origins`: where the browser may be sent back to (`http://127.0.0.1:8088`, ...).
    pub fn new(issuer: DevIssuer, origins: Vec<String>) -> Self {
        let origins = origins
            .into_iter()
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        Self {
            issuer,
            origins: Arc::new(origins),
            codes: Arc::default(),
            code_ttl: CODE_TTL,
            max_codes: MAX_CODES,
            sign_in: false,
        }
    }

    /// Sign-in on (`/authorize`, `/token`) or off (both `404`): `ISSUER_SIGN_IN`.
    pub fn with_sign_in(mut self, on: bool) -> Self {
        self.sign_in = on;
        self
    }

    /// Whether the sign-in routes are served.
    pub fn sign_in(&self) -> bool {
        self.sign_in
    }

    /// At most `max` codes waiting instead of [`MAX_CODES`] (tests).
    pub fn with_max_codes(mut self, max: usize) -> Self {
        self.max_codes = max;
        self
    }

    /// Codes that expire after `ttl` instead of [`CODE_TTL`] (tests).
    pub fn with_code_ttl(mut self, ttl: Duration) -> Self {
        self.code_ttl = ttl;
        self
    }

    /// The origins the redirect URIs may have (also the ones CORS lets call `/token`).
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// `GET/POST /authorize` and `POST /token`; with sign-in off, both a `404`.
    pub fn router(&self) -> Router {
        if !self.sign_in {
            return Router::new()
                .route("/authorize", any(sign_in_off))
                .route("/token", any(sign_in_off));
        }
        Router::new()
            .route("/authorize", get(show_form).post(sign_in))
            .route("/token", post(token::exchange).layer(self.cors()))
            .with_state(self.clone())
    }

    /// CORS for what a page on an allowed origin calls: the discovery document, the keys and
    /// `/token` (no credentials: the code and verifier are the proof).
    pub fn cors(&self) -> CorsLayer {
        let origins: Vec<HeaderValue> = self
            .origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE])
    }

    /// Whether `uri` is an absolute URI on an allowed origin (no fragment, no blanks).
    fn allowed_redirect(&self, uri: &str) -> bool {
        if uri.len() > 2000 || uri.contains('#') || uri.chars().any(|c| c.is_ascii_control()) {
            return false;
        }
        if uri.contains(' ') {
            return false;
        }
        self.origins.iter().any(|origin| {
            uri.strip_prefix(origin.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
        })
    }

    /// The request's client and redirect URI, if both are acceptable (else: an error page).
    fn check_client<'a>(&self, params: &'a Params) -> Result<(&'a str, &'a str), Refusal> {
        let client_id = params.get("client_id").map(String::as_str).unwrap_or("");
        if client_id.is_empty() || client_id.len() > 128 || !client_id.chars().all(safe_char) {
            return Err(Box::new(page::error(
                "The sign-in request names no valid client_id.",
            )));
        }
        let redirect_uri = params.get("redirect_uri").map(String::as_str).unwrap_or("");
        if !self.allowed_redirect(redirect_uri) {
            return Err(Box::new(page::error(
                "The sign-in request's redirect_uri is missing or not allowed by this issuer.",
            )));
        }
        Ok((client_id, redirect_uri))
    }

    /// The authorization request checked: `Ok(())`, or where to send the browser with an
    /// error (client and redirect URI are valid), or an error page (they are not).
    fn check(&self, params: &Params) -> Result<(), Refusal> {
        let (_, redirect_uri) = self.check_client(params)?;
        let state = params.get("state").map(String::as_str);
        let fail = |error: &str, why: &str| {
            Err(Box::new(back_to(
                redirect_uri,
                &[("error", error), ("error_description", why)],
                state,
            )))
        };
        if params.get("response_type").map(String::as_str) != Some("code") {
            return fail("unsupported_response_type", "only response_type=code");
        }
        if params.get("code_challenge_method").map(String::as_str) != Some("S256") {
            return fail(
                "invalid_request",
                "PKCE with code_challenge_method=S256 is required",
            );
        }
        let challenge = params
            .get("code_challenge")
            .map(String::as_str)
            .unwrap_or("");
        if challenge.len() != 43 || !challenge.chars().all(base64url_char) {
            return fail(
                "invalid_request",
                "code_challenge must be BASE64URL(SHA256(verifier))",
            );
        }
        if state.is_some_and(|s| s.len() > 1024) {
            return fail("invalid_request", "state is too long");
        }
        Ok(())
    }

    /// Stores a new code for `grant`; `None` when [`MAX_CODES`] unexpired ones are waiting
    /// (expired ones are forgotten first).
    fn issue_code(&self, grant: Grant) -> Option<String> {
        use base64::Engine;
        let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        if codes.len() >= self.max_codes {
            let now = Instant::now();
            codes.retain(|_, g| g.expires > now);
            if codes.len() >= self.max_codes {
                return None;
            }
        }
        let code =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        codes.insert(code.clone(), grant);
        Some(code)
    }

    /// Takes a code out (it is single use, whether or not the exchange then succeeds).
    fn take_code(&self, code: &str) -> Option<Grant> {
        let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        codes.remove(code)
    }
}

/// `GET /authorize`: the sign-in form.
async fn show_form(State(oauth): State<OAuth>, Query(params): Query<Params>) -> Response {
    match oauth.check(&params) {
        Ok(()) => page::form(&params, None, StatusCode::OK),
        Err(refusal) => *refusal,
    }
}

/// `POST /authorize`: the form sent; back to the client with a code.
async fn sign_in(State(oauth): State<OAuth>, Form(params): Form<Params>) -> Response {
    if let Err(refusal) = oauth.check(&params) {
        return *refusal;
    }
    let user = params.get("username").map(|u| u.trim()).unwrap_or("");
    if user.is_empty() || user.chars().count() > 64 || !user.chars().all(user_char) {
        let why = "Enter a user name of 1 to 64 letters, digits or . - _ @";
        return page::form(&params, Some(why), StatusCode::BAD_REQUEST);
    }
    let role = params.get("role").map(String::as_str).unwrap_or("");
    if hifive_common::Role::parse(role).is_none() {
        return page::form(&params, Some("Choose a role."), StatusCode::BAD_REQUEST);
    }
    let field = |name: &str| params.get(name).cloned().unwrap_or_default();
    let grant = Grant {
        client_id: field("client_id"),
        redirect_uri: field("redirect_uri"),
        challenge: field("code_challenge"),
        role: role.to_owned(),
        user: user.to_owned(),
        expires: Instant::now() + oauth.code_ttl,
    };
    let redirect_uri = grant.redirect_uri.clone();
    let Some(code) = oauth.issue_code(grant) else {
        return page::unavailable(
            "Too many sign-ins are waiting to finish. Try again in a minute.",
        );
    };
    let state = params.get("state").map(String::as_str);
    back_to(&redirect_uri, &[("code", &code)], state)
}

/// `/authorize` and `/token` with `ISSUER_SIGN_IN` off.
async fn sign_in_off() -> Response {
    hifive_common::AppError::not_found(
        "sign-in is off on this issuer (ISSUER_SIGN_IN=on turns it on, for development only)",
    )
    .into_response()
}

/// `303` to `redirect_uri` with `pairs` and `state` added to its query.
fn back_to(redirect_uri: &str, pairs: &[(&str, &str)], state: Option<&str>) -> Response {
    let mut url = redirect_uri.to_owned();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (name, value) in pairs.iter().copied().chain(state.map(|s| ("state", s))) {
        url.push(sep);
        url.push_str(name);
        url.push('=');
        url.push_str(&percent_encode(value));
        sep = '&';
    }
    Redirect::to(&url).into_response()
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn base64url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:".contains(c)
}

fn user_char(c: char) -> bool {
    c.is_alphanumeric() || ".-_@".contains(c)
}

#[cfg(test)]
mod tests;
