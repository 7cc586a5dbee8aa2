//! The development token issuer of the local stack: an Ed25519 key kept in the data folder,
//! its public half published as a JWKS (what a real OIDC issuer publishes), and bearer
//! tokens signed with it for `script/token ROLE [USER]` and the tests. The services check
//! these tokens exactly as they check a production issuer's: JWKS over HTTP, issuer,
//! audience, expiry.
//!
//! Also the secret conference and pay share for the payment call (`SERVICE_TOKEN_SECRET`).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use axum::{Json, Router, routing::get};
use hifive_common::config::{env_or, env_parse};
use jsonwebtoken::{
    Algorithm, EncodingKey, Header,
    jwk::{Jwk, JwkSet},
};
use serde_json::{Value, json};

use crate::oauth::OAuth;

/// The `iss` of the development issuer's tokens (`AUTH_ISSUER` of the local services).
pub const ISSUER: &str = "hifive-dev";
/// The `aud` of its tokens (`AUTH_AUDIENCE`).
pub const AUDIENCE: &str = "hifive";
/// Where the JWKS is served.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

const KEY_FILE: &str = "dev-issuer.key";
const SECRET_FILE: &str = "service-token.secret";
/// PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410); the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The issuer's key.
#[derive(Clone)]
pub struct DevIssuer {
    key: EncodingKey,
    jwk: Jwk,
    kid: String,
}

impl DevIssuer {
    /// The key in `dir`, made (and kept there) on first use: tokens stay valid across
    /// restarts of the stack with the same data folder.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        let seed = read_or_make(&dir.join(KEY_FILE), || hex(&rand::random::<[u8; 32]>()))?;
        let seed = unhex(seed.trim()).context("the dev issuer's key file is damaged")?;
        anyhow::ensure!(seed.len() == 32, "the dev issuer's key file is damaged");
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        let key = EncodingKey::from_ed_der(&der);
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA)?;
        let kid = jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        Ok(Self { key, jwk, kid })
    }

    /// Whether an issuer's key is in `dir` (the stack made one).
    pub fn exists(dir: &Path) -> bool {
        dir.join(KEY_FILE).exists()
    }

    /// The published keys.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }

    /// A bearer token for `user` with `role` (`customer` or `manager`; anything else is
    /// signed too, for tests of roles the services do not know), valid for `ttl`.
    pub fn token(&self, role: &str, user: &str, ttl: Duration) -> String {
        self.sign(&self.claims(role, user, ttl))
    }

    /// The claims [`DevIssuer::token`] signs (tests change them to forge bad tokens).
    pub fn claims(&self, role: &str, user: &str, ttl: Duration) -> Value {
        let now = jsonwebtoken::get_current_timestamp();
        json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user,
            "role": role,
            "iat": now,
            "nbf": now,
            "exp": now + ttl.as_secs(),
        })
    }

    /// Signs any claims with the issuer's key.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap_or_default()
    }

    /// `GET /.well-known/jwks.json`, the OpenID discovery document, and, with `sign_in`
    /// (`ISSUER_SIGN_IN=on`), the authorization code flow with PKCE ([`crate::oauth`]) for
    /// pages on `redirect_origins`.
    pub fn router(&self, base_url: &str, redirect_origins: Vec<String>, sign_in: bool) -> Router {
        let oauth = OAuth::new(self.clone(), redirect_origins).with_sign_in(sign_in);
        self.router_with(base_url, oauth)
    }

    /// [`DevIssuer::router`] with the sign-in of `oauth` (its endpoints in the discovery
    /// document only when its sign-in is on).
    pub fn router_with(&self, base_url: &str, oauth: OAuth) -> Router {
        let jwks = serde_json::to_value(self.jwks()).unwrap_or_default();
        let mut discovery = json!({
            "issuer": ISSUER,
            "jwks_uri": format!("{base_url}{JWKS_PATH}"),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
        });
        if oauth.sign_in()
            && let Some(fields) = discovery.as_object_mut()
        {
            fields.extend([
                (
                    "authorization_endpoint".to_owned(),
                    json!(format!("{base_url}/authorize")),
                ),
                (
                    "token_endpoint".to_owned(),
                    json!(format!("{base_url}/token")),
                ),
                ("response_types_supported".to_owned(), json!(["code"])),
                (
                    "grant_types_supported".to_owned(),
                    json!(["authorization_code"]),
                ),
                (
                    "code_challenge_methods_supported".to_owned(),
                    json!(["S256"]),
                ),
                (
                    "token_endpoint_auth_methods_supported".to_owned(),
                    json!(["none"]),
                ),
                ("scopes_supported".to_owned(), json!(["openid"])),
            ]);
        }
        let published = Router::new()
            .route(JWKS_PATH, get(move || async move { Json(jwks) }))
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { Json(discovery) }),
            )
            .layer(oauth.cors());
        Router::new()
            .merge(published)
            .merge(oauth.router())
            .route(
                "/health/ready",
                get(|| async { Json(json!({"status": "UP"})) }),
            )
            .route(
                "/health/live",
                get(|| async { Json(json!({"status": "UP"})) }),
            )
    }
}

/// `ISSUER_REDIRECT_ORIGINS` (comma-separated), or the local gateway's origins
/// (`http://127.0.0.1:$GATEWAY_PORT`, `http://localhost:$GATEWAY_PORT`).
pub fn redirect_origins_from_env() -> anyhow::Result<Vec<String>> {
    let listed = env_or("ISSUER_REDIRECT_ORIGINS", "");
    if !listed.trim().is_empty() {
        return Ok(listed.split(',').map(|o| o.trim().to_owned()).collect());
    }
    let gateway: u16 = env_parse("GATEWAY_PORT", 8088)?;
    Ok(vec![
        format!("http://127.0.0.1:{gateway}"),
        format!("http://localhost:{gateway}"),
    ])
}

/// `ISSUER_SIGN_IN`: `on` serves the sign-in (`/authorize`, `/token`), `off` (the default)
/// does not. There is no password: anyone who reaches a signing-in issuer gets any role, so
/// only the local stack and compose (published on loopback) turn it on.
pub fn sign_in_from_env() -> anyhow::Result<bool> {
    match env_or("ISSUER_SIGN_IN", "off")
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "on" => Ok(true),
        "off" | "" => Ok(false),
        other => anyhow::bail!("ISSUER_SIGN_IN={other:?}: use `on` or `off` (the default)"),
    }
}

/// The service secret in `dir`, made on first use.
pub fn service_secret(dir: &Path) -> anyhow::Result<String> {
    read_or_make(&dir.join(SECRET_FILE), || hex(&rand::random::<[u8; 32]>()))
        .map(|s| s.trim().to_owned())
}

/// Serves the issuer on `host:port` until the process is stopped (`hifive-stack issuer`).
pub async fn serve(dir: PathBuf, host: std::net::IpAddr, port: u16) -> anyhow::Result<()> {
    let issuer = DevIssuer::load_or_create(&dir)?;
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .with_context(|| format!("cannot listen on {host}:{port}"))?;
    let origins = redirect_origins_from_env()?;
    let sign_in = sign_in_from_env()?;
    // Where browsers reach it (its discovery document names its pages by it), e.g. a published
    // port in compose; by default where it listens.
    let base_url = env_or("ISSUER_PUBLIC_URL", &format!("http://{host}:{port}"));
    // Said once in the stack's log (this process has no log subscriber).
    if sign_in {
        eprintln!(
            "sign-in page on {base_url}/authorize (ISSUER_SIGN_IN=on: no password, development \
             only); redirect URIs allowed on {}",
            origins.join(", ")
        );
    } else {
        eprintln!("sign-in off (ISSUER_SIGN_IN=on turns it on): keys only, {base_url}{JWKS_PATH}");
    }
    let app = issuer.router(&base_url, origins, sign_in);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        })
        .await?;
    Ok(())
}

/// The environment that makes a service check users against the issuer on `port`.
pub fn service_env(port: u16, secret: &str) -> Vec<(String, String)> {
    vec![
        (
            "AUTH_JWKS_URL".into(),
            format!("http://127.0.0.1:{port}{JWKS_PATH}"),
        ),
        ("AUTH_ISSUER".into(), ISSUER.into()),
        ("AUTH_AUDIENCE".into(), AUDIENCE.into()),
        ("SERVICE_TOKEN_SECRET".into(), secret.into()),
    ]
}

fn read_or_make(path: &Path, make: impl FnOnce() -> String) -> anyhow::Result<String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(text);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Written aside and renamed: a reader never sees half a key; the first writer wins.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, make())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    if std::fs::hard_link(&tmp, path).is_err() && !path.exists() {
        std::fs::rename(&tmp, path)?;
    }
    let _ = std::fs::remove_file(&tmp);
    Ok(std::fs::read_to_string(path)?)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hifive_common::auth::{Auth, AuthConfig};

    #[test]
    fn the_key_is_kept_and_reused() {
        let dir = std::env::temp_dir().join(format!("issuer-test-{}", uuid::Uuid::new_v4()));
        let a = DevIssuer::load_or_create(&dir).unwrap();
        let b = DevIssuer::load_or_create(&dir).unwrap();
        assert_eq!(a.kid, b.kid);
        assert_eq!(service_secret(&dir).unwrap(), service_secret(&dir).unwrap());
        assert_eq!(service_secret(&dir).unwrap().len(), 64);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The services' verifier against this issuer, over real HTTP: good tokens pass, forged
    /// ones do not.
    #[tokio::test]
    #[allow(clippy::too_many_lines, reason = "one scenario: each forgery in turn")]
    async fn services_accept_its_tokens_and_refuse_forgeries() {
        let dir = std::env::temp_dir().join(format!("issuer-test-{}", uuid::Uuid::new_v4()));
        let issuer = DevIssuer::load_or_create(&dir).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = issuer.router(&base, Vec::new(), false);
        tokio::spawn(async move { axum::serve(listener, app).await });
        let auth = Auth::new(AuthConfig::jwt(&format!("{base}{JWKS_PATH}"), ISSUER));

        let hour = Duration::from_secs(3600);
        let alice = auth
            .verify(&issuer.token("customer", "alice", hour))
            .await
            .unwrap();
        assert_eq!(alice.subject, "alice");
        assert_eq!(alice.roles, vec![hifive_common::Role::Customer]);

        let forged = |change: &dyn Fn(&mut Value)| {
            let mut claims = issuer.claims("manager", "mallory", hour);
            change(&mut claims);
            issuer.sign(&claims)
        };
        let expired = forged(&|c| c["exp"] = json!(jsonwebtoken::get_current_timestamp() - 120));
        let wrong_issuer = forged(&|c| c["iss"] = json!("https://evil.example"));
        let wrong_audience = forged(&|c| c["aud"] = json!("someone-else"));
        let no_sub = forged(&|c| {
            c.as_object_mut().unwrap().remove("sub");
        });
        let other_key = DevIssuer::load_or_create(&dir.join("other"))
            .unwrap()
            .token("manager", "mallory", hour);
        let good = issuer.token("manager", "mallory", hour);
        let (head, rest) = good.split_once('.').unwrap();
        let payload = rest.split('.').next().unwrap();
        let alg_none = format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
        let hs256_with_public_key = {
            let jwk = serde_json::to_value(issuer.jwks().keys[0].clone()).unwrap();
            let x = jwk["x"].as_str().unwrap().to_owned();
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(issuer.kid.clone());
            jsonwebtoken::encode(
                &header,
                &issuer.claims("manager", "mallory", hour),
                &EncodingKey::from_secret(x.as_bytes()),
            )
            .unwrap()
        };
        let tampered = {
            let mut claims = issuer.claims("manager", "mallory", hour);
            claims["sub"] = json!("alice");
            format!(
                "{head}.{}.{}",
                b64(claims.to_string().as_bytes()),
                good.rsplit('.').next().unwrap()
            )
        };
        for (what, token) in [
            ("expired", expired),
            ("wrong issuer", wrong_issuer),
            ("wrong audience", wrong_audience),
            ("no subject", no_sub),
            ("another key", other_key),
            ("alg none", alg_none),
            ("HS256 keyed with the public key", hs256_with_public_key),
            ("tampered payload", tampered),
            ("garbage", "not-a-token".into()),
        ] {
            assert!(auth.verify(&token).await.is_err(), "{what} was accepted");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}
