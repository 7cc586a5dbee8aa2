//! `POST /token`: a code and its PKCE verifier exchanged for an access token (RFC 6749 4.1.3,
//! RFC 7636 4.6). Errors are RFC 6749 5.2's JSON.

use std::time::Instant;

use axum::{
    Form, Json,
    extract::{State, rejection::FormRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{OAuth, Params, TOKEN_TTL};

pub(super) async fn exchange(
    State(oauth): State<OAuth>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let Ok(Form(params)) = form else {
        return refuse(
            "invalid_request",
            "send the parameters as application/x-www-form-urlencoded",
        );
    };
    let field = |name: &str| params.get(name).map(String::as_str).unwrap_or("");
    if field("grant_type") != "authorization_code" {
        return refuse(
            "unsupported_grant_type",
            "only grant_type=authorization_code",
        );
    }
    let verifier = field("code_verifier");
    if !(43..=128).contains(&verifier.len())
        || !verifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
    {
        return refuse(
            "invalid_request",
            "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
        );
    }
    let Some(grant) = oauth.take_code(field("code")) else {
        return refuse("invalid_grant", "the code is unknown or was used already");
    };
    if grant.expires <= Instant::now() {
        return refuse("invalid_grant", "the code has expired: sign in again");
    }
    if grant.client_id != field("client_id") || grant.redirect_uri != field("redirect_uri") {
        return refuse(
            "invalid_grant",
            "the code was given to another client_id or redirect_uri",
        );
    }
    if challenge_of(verifier) != grant.challenge {
        return refuse(
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        );
    }
    let token = oauth.issuer.token(&grant.role, &grant.user, TOKEN_TTL);
    no_store(
        Json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL.as_secs(),
        }))
        .into_response(),
    )
}

/// `BASE64URL(SHA256(verifier))`, the `S256` challenge.
pub fn challenge_of(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `400` with RFC 6749's error JSON.
fn refuse(error: &str, description: &str) -> Response {
    let body = Json(json!({"error": error, "error_description": description}));
    no_store((StatusCode::BAD_REQUEST, body).into_response())
}

/// Token answers are never cached (RFC 6749 5.1).
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
