//! Who is calling, and what they may do.
//!
//! Users: OAuth2/OIDC bearer access tokens (JWTs), checked by every service that owns data
//! as a resource server: signature against the issuer's published keys (JWKS, fetched from
//! `AUTH_JWKS_URL` and refreshed when a token names a key not seen yet), issuer, audience,
//! expiry. The token's `sub` is the caller's identity; its role (`customer` or `manager`)
//! comes from the claim `AUTH_ROLES_CLAIM` (a dotted path, a string or a list of strings,
//! `role` by default; e.g. `realm_access.roles` for Keycloak).
//!
//! Services: conference's payment call to pay carries a short-lived token signed with the
//! shared `SERVICE_TOKEN_SECRET` (HS256) that names the one booking it pays for (see
//! [`ChargeGrant`]).
//!
//! `AUTH_MODE=off` turns the user checks off for demonstrations (every caller is `anonymous`
//! with both roles); it is never the default, and it is logged and shown in `/health`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, request::Parts},
};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{
    AppError,
    config::{env_or, env_parse},
};

/// `AUTH_MODE`: `jwt` (the default) or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Jwt,
    Off,
}

/// The authentication settings every service reads the same way.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub mode: Mode,
    /// `AUTH_JWKS_URL`: where the issuer publishes its signing keys (required with `jwt`).
    pub jwks_url: String,
    /// `AUTH_ISSUER`: the `iss` every token must carry (required with `jwt`).
    pub issuer: String,
    /// `AUTH_AUDIENCE`: the `aud` every token must carry (default `hifive`).
    pub audience: String,
    /// `AUTH_ROLES_CLAIM`: where the role is in the token (default `role`).
    pub roles_claim: String,
    /// `AUTH_LEEWAY_SECS`: clock skew allowed on `exp`/`nbf` (default 30).
    pub leeway_secs: u64,
    /// `SERVICE_TOKEN_SECRET`: the secret conference and pay share for the payment call (at
    /// least 32 characters; required by both with `jwt`).
    pub service_secret: Option<String>,
}

impl AuthConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let mode = match env_or("AUTH_MODE", "jwt").to_ascii_lowercase().as_str() {
            "jwt" => Mode::Jwt,
            "off" => Mode::Off,
            other => anyhow::bail!("AUTH_MODE={other:?}: use `jwt` (the default) or `off`"),
        };
        let config = Self {
            mode,
            jwks_url: env_or("AUTH_JWKS_URL", ""),
            issuer: env_or("AUTH_ISSUER", ""),
            audience: env_or("AUTH_AUDIENCE", "hifive"),
            roles_claim: env_or("AUTH_ROLES_CLAIM", "role"),
            leeway_secs: env_parse("AUTH_LEEWAY_SECS", 30)?,
            service_secret: Some(env_or("SERVICE_TOKEN_SECRET", "")).filter(|s| !s.is_empty()),
        };
        if let Some(secret) = &config.service_secret {
            anyhow::ensure!(
                secret.len() >= 32,
                "SERVICE_TOKEN_SECRET must be at least 32 characters"
            );
            // The examples in the deployment files: anyone could sign payment grants with them.
            anyhow::ensure!(
                !secret.contains("change-me"),
                "SERVICE_TOKEN_SECRET is the example value: set your own (openssl rand -hex 32)"
            );
        }
        Ok(config)
    }

    /// Checks that what `jwt` mode needs is there (services that verify users call this).
    pub fn ensure_users(&self) -> anyhow::Result<()> {
        if self.mode == Mode::Jwt {
            anyhow::ensure!(
                !self.jwks_url.is_empty() && !self.issuer.is_empty(),
                "AUTH_JWKS_URL and AUTH_ISSUER are required (or AUTH_MODE=off for a demo)"
            );
        }
        Ok(())
    }

    /// Checks that the service secret is there in `jwt` mode (conference and pay call this).
    pub fn ensure_service_secret(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.mode == Mode::Off || self.service_secret.is_some(),
            "SERVICE_TOKEN_SECRET is required: conference signs its payment calls with it and pay checks them"
        );
        Ok(())
    }

    /// For tests: no checks (`AUTH_MODE=off`).
    pub fn off() -> Self {
        Self {
            mode: Mode::Off,
            ..Self::jwt("", "")
        }
    }

    /// For tests and tools: users checked against `jwks_url` and `issuer`.
    pub fn jwt(jwks_url: &str, issuer: &str) -> Self {
        Self {
            mode: Mode::Jwt,
            jwks_url: jwks_url.into(),
            issuer: issuer.into(),
            audience: "hifive".into(),
            roles_claim: "role".into(),
            leeway_secs: 30,
            service_secret: None,
        }
    }
}

/// What a caller may be: the roles of the contract's "Who may do what" (docs/contract.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Customer,
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Manager => "manager",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "customer" => Some(Role::Customer),
            "manager" => Some(Role::Manager),
            _ => None,
        }
    }
}

/// The authenticated caller of a request: its identity (`sub`) and roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub roles: Vec<Role>,
}

/// Which records a caller may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every record (a manager).
    All,
    /// Only those of this owner (a customer).
    Own(&'a str),
}

impl Caller {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// `403` unless the caller has `role`.
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.has(role) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "this needs the {} role",
                role.as_str()
            )))
        }
    }

    /// What the caller may read of bookings and payments: a manager everything, a customer
    /// their own; anyone else nothing (`403`).
    pub fn scope(&self) -> Result<Scope<'_>, AppError> {
        if self.has(Role::Manager) {
            Ok(Scope::All)
        } else if self.has(Role::Customer) {
            Ok(Scope::Own(&self.subject))
        } else {
            Err(AppError::forbidden(
                "this needs the customer or manager role",
            ))
        }
    }
}

impl Scope<'_> {
    /// The owner to filter on (`None`: everything).
    pub fn owner(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Own(owner) => Some(owner),
        }
    }

    /// Whether a record owned by `owner` is visible (records of nobody only to managers).
    pub fn sees(&self, owner: Option<&str>) -> bool {
        match self {
            Scope::All => true,
            Scope::Own(me) => owner == Some(*me),
        }
    }
}

/// Checks callers; cheap to clone. Put into every request's extensions by the service's
/// wiring, read by the [`Caller`] extractor.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthConfig,
    keys: RwLock<Keys>,
    http: reqwest::Client,
    /// When the keys were last asked for (refreshes on unknown keys are rate limited).
    last_fetch: Mutex<Option<Instant>>,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, (DecodingKey, Algorithm)>,
    fetched: Option<chrono::DateTime<chrono::Utc>>,
    error: Option<String>,
}

/// Keys are fetched again at most this often when a token names an unknown key.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(10);
/// And routinely this often (key rotation).
const REFRESH_EVERY: Duration = Duration::from_secs(300);

/// Why a token was not accepted (answered `401`).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the token is not valid: {0}")]
    Invalid(String),
    /// The issuer's keys could not be fetched yet (answered `503`).
    #[error("the issuer's keys are not available yet: {0}")]
    KeysUnavailable(String),
}

impl From<TokenError> for AppError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Missing => AppError::unauthorized(e.to_string(), None),
            TokenError::Invalid(_) => AppError::unauthorized(e.to_string(), Some("invalid_token")),
            TokenError::KeysUnavailable(_) => {
                tracing::warn!(error = %e, "cannot check a token");
                AppError::unavailable("auth_unavailable", e.to_string(), 2)
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

impl Auth {
    pub fn new(config: AuthConfig) -> Self {
        if config.mode == Mode::Off {
            tracing::warn!(
                "AUTH_MODE=off: every caller is `anonymous` with every role; anyone can book, cancel and read everything (demonstrations only)"
            );
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                config,
                keys: RwLock::new(Keys::default()),
                http,
                last_fetch: Mutex::new(None),
            }),
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// Keeps the issuer's keys fresh until `shutdown`: at once, every few seconds until the
    /// first fetch works, then every 5 minutes.
    pub async fn refresh_keys(self, shutdown: CancellationToken) {
        if self.inner.config.mode == Mode::Off || self.inner.config.jwks_url.is_empty() {
            return;
        }
        let mut attempt = 0;
        loop {
            let wait = match self.fetch_keys().await {
                Ok(()) => {
                    attempt = 0;
                    REFRESH_EVERY
                }
                Err(e) => {
                    attempt += 1;
                    tracing::warn!(error = %e, url = %self.inner.config.jwks_url, "cannot fetch the issuer's keys; retrying");
                    crate::backoff(attempt).max(Duration::from_millis(500))
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    async fn fetch_keys(&self) -> Result<(), String> {
        if let Ok(mut last) = self.inner.last_fetch.lock() {
            *last = Some(Instant::now());
        }
        let result = async {
            let response = self
                .inner
                .http
                .get(&self.inner.config.jwks_url)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("the issuer answered {}", response.status()));
            }
            let set: JwkSet = response.json().await.map_err(|e| e.to_string())?;
            Ok(usable_keys(&set))
        }
        .await;
        let mut keys = self.inner.keys.write().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(by_kid) => {
                if by_kid.is_empty() {
                    keys.error = Some("the issuer publishes no usable signing key".into());
                } else {
                    keys.error = None;
                }
                keys.by_kid = by_kid;
                keys.fetched = Some(chrono::Utc::now());
                Ok(())
            }
            Err(e) => {
                keys.error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn key_for(&self, kid: Option<&str>) -> Option<(DecodingKey, Algorithm)> {
        let keys = self.inner.keys.read().unwrap_or_else(|e| e.into_inner());
        match kid {
            Some(kid) => keys.by_kid.get(kid).cloned(),
            // A token without `kid` is accepted only when the issuer has a single key.
            None if keys.by_kid.len() == 1 => keys.by_kid.values().next().cloned(),
            None => None,
        }
    }

    /// Whether an unknown key may be looked for at the issuer now (rate limited, so that
    /// forged tokens cannot make a service hammer its issuer).
    fn may_refetch(&self) -> bool {
        // Checked and taken under one lock: of many requests naming an unknown key at once,
        // one fetches.
        let Ok(mut last) = self.inner.last_fetch.lock() else {
            return false;
        };
        if last.is_none_or(|at| at.elapsed() >= REFETCH_AT_MOST_EVERY) {
            *last = Some(Instant::now());
            true
        } else {
            false
        }
    }

    /// Checks a user's bearer token; returns who it is.
    pub async fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        let config = &self.inner.config;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| TokenError::Invalid(format!("unreadable header: {e}")))?;
        let mut key = self.key_for(header.kid.as_deref());
        if key.is_none() && self.may_refetch() {
            // A new key (rotation) or the first request before the keys came.
            let _ = self.fetch_keys().await;
            key = self.key_for(header.kid.as_deref());
        }
        let Some((key, alg)) = key else {
            let keys = self.inner.keys.read().unwrap_or_else(|e| e.into_inner());
            return Err(match (&keys.error, keys.by_kid.is_empty()) {
                (Some(e), true) => TokenError::KeysUnavailable(e.clone()),
                _ => TokenError::Invalid("signed with a key the issuer does not publish".into()),
            });
        };
        if header.alg != alg {
            return Err(TokenError::Invalid(format!(
                "algorithm {:?} does not match the key's {alg:?}",
                header.alg
            )));
        }
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = config.leeway_secs;
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claims = data.claims;
        if claims.sub.is_empty() {
            return Err(TokenError::Invalid("empty `sub`".into()));
        }
        Ok(Caller {
            roles: roles_in(&claims.rest, &config.roles_claim),
            subject: claims.sub,
        })
    }

    /// The caller of a request, from its `Authorization` header.
    pub async fn caller(&self, headers: &HeaderMap) -> Result<Caller, AppError> {
        if self.inner.config.mode == Mode::Off {
            return Ok(Caller {
                subject: "anonymous".into(),
                roles: vec![Role::Customer, Role::Manager],
            });
        }
        let token = bearer(headers).ok_or(TokenError::Missing)?;
        Ok(self.verify(token).await?)
    }

    /// For `/health`: the mode and the state of the keys.
    pub fn report(&self) -> Value {
        let config = &self.inner.config;
        if config.mode == Mode::Off {
            return json!({
                "status": "UP",
                "mode": "off",
                "warning": "AUTH_MODE=off: anyone may do anything (demonstrations only)",
            });
        }
        if config.jwks_url.is_empty() {
            return json!({ "status": "UP", "mode": "jwt", "users": "no AUTH_JWKS_URL: this service takes no user tokens" });
        }
        let keys = self.inner.keys.read().unwrap_or_else(|e| e.into_inner());
        json!({
            "status": if keys.by_kid.is_empty() { "DOWN" } else { "UP" },
            "mode": "jwt",
            "issuer": config.issuer,
            "audience": config.audience,
            "keys": keys.by_kid.len(),
            "keysFetchedAt": keys.fetched.map(|t| t.to_rfc3339()),
            "error": keys.error,
        })
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The signing keys of a JWKS this service can check tokens with, by key id. Symmetric keys
/// are never taken from a JWKS, and each key is used only with its own algorithm (so a
/// token cannot choose `none` or HMAC with a public key as the secret).
fn usable_keys(set: &JwkSet) -> HashMap<String, (DecodingKey, Algorithm)> {
    let mut keys = HashMap::new();
    for (i, jwk) in set.keys.iter().enumerate() {
        let uses_sig = jwk
            .common
            .public_key_use
            .as_ref()
            .is_none_or(|u| *u == jsonwebtoken::jwk::PublicKeyUse::Signature);
        let alg = match (&jwk.common.key_algorithm, &jwk.algorithm) {
            (_, AlgorithmParameters::OctetKey(_)) => None,
            (Some(alg), _) => key_algorithm(*alg),
            (None, AlgorithmParameters::RSA(_)) => Some(Algorithm::RS256),
            (None, AlgorithmParameters::EllipticCurve(ec)) => match ec.curve {
                EllipticCurve::P256 => Some(Algorithm::ES256),
                EllipticCurve::P384 => Some(Algorithm::ES384),
                _ => None,
            },
            (None, AlgorithmParameters::OctetKeyPair(_)) => Some(Algorithm::EdDSA),
            (None, _) => None,
        };
        let (Some(alg), true) = (alg, uses_sig) else {
            continue;
        };
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => {
                let kid = jwk.common.key_id.clone().unwrap_or_else(|| i.to_string());
                keys.insert(kid, (key, alg));
            }
            Err(e) => {
                tracing::warn!(error = %e, kid = ?jwk.common.key_id, "unusable key in the JWKS")
            }
        }
    }
    keys
}

fn key_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    match alg {
        KeyAlgorithm::RS256 => Some(Algorithm::RS256),
        KeyAlgorithm::RS384 => Some(Algorithm::RS384),
        KeyAlgorithm::RS512 => Some(Algorithm::RS512),
        KeyAlgorithm::PS256 => Some(Algorithm::PS256),
        KeyAlgorithm::PS384 => Some(Algorithm::PS384),
        KeyAlgorithm::PS512 => Some(Algorithm::PS512),
        KeyAlgorithm::ES256 => Some(Algorithm::ES256),
        KeyAlgorithm::ES384 => Some(Algorithm::ES384),
        KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
        _ => None,
    }
}

/// The roles at `path` (dotted) in the claims: a string or a list of strings; unknown role
/// names are ignored.
fn roles_in(claims: &serde_json::Map<String, Value>, path: &str) -> Vec<Role> {
    let mut parts = path.split('.');
    let first = parts.next().unwrap_or_default();
    let mut at = claims.get(first);
    for part in parts {
        at = at.and_then(|v| v.get(part));
    }
    let names: Vec<&str> = match at {
        Some(Value::String(s)) => s.split_whitespace().collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut roles: Vec<Role> = names.into_iter().filter_map(Role::parse).collect();
    roles.dedup();
    roles
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let auth = parts.extensions.get::<Auth>().cloned().ok_or_else(|| {
            tracing::error!(
                "no Auth in the request extensions: the service's wiring is missing it"
            );
            AppError::internal("authentication is not set up")
        })?;
        auth.caller(&parts.headers).await
    }
}

/// What conference's payment call is allowed to charge: one booking, for one room and one
/// customer. Signed by conference with the shared secret for one minute; pay charges only
/// what the grant names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeGrant {
    pub conference_id: i64,
    pub room_number: i64,
    pub customer: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct GrantClaims {
    iss: String,
    aud: String,
    sub: String,
    iat: u64,
    exp: u64,
    #[serde(flatten)]
    grant: ChargeGrant,
}

const GRANT_ISSUER: &str = "conference";
const GRANT_AUDIENCE: &str = "pay";
const GRANT_TTL_SECS: u64 = 60;

impl ChargeGrant {
    /// The bearer token conference sends with its payment call.
    pub fn sign(&self, secret: &str) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = GrantClaims {
            iss: GRANT_ISSUER.into(),
            aud: GRANT_AUDIENCE.into(),
            sub: GRANT_ISSUER.into(),
            iat: now,
            exp: now + GRANT_TTL_SECS,
            grant: self.clone(),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap_or_default()
    }

    /// Checks a payment call's token: signed with `secret` by conference, for pay, not expired.
    pub fn verify(token: &str, secret: &str) -> Result<Self, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[GRANT_ISSUER]);
        validation.set_audience(&[GRANT_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        jsonwebtoken::decode::<GrantClaims>(
            token,
            &DecodingKey::from_secret(secret.as_bytes()),
            &validation,
        )
        .map(|data| data.claims.grant)
        .map_err(|e| TokenError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn roles_come_from_a_string_or_a_list_at_a_path() {
        assert_eq!(
            roles_in(&claims(json!({"role": "manager"})), "role"),
            vec![Role::Manager]
        );
        assert_eq!(
            roles_in(
                &claims(json!({"realm_access": {"roles": ["offline", "customer", "manager"]}})),
                "realm_access.roles"
            ),
            vec![Role::Customer, Role::Manager]
        );
        assert!(roles_in(&claims(json!({"role": "admin"})), "role").is_empty());
        assert!(roles_in(&claims(json!({})), "role").is_empty());
    }

    #[test]
    fn a_customer_sees_only_their_own_and_a_manager_everything() {
        let alice = Caller {
            subject: "alice".into(),
            roles: vec![Role::Customer],
        };
        let scope = alice.scope().unwrap();
        assert!(scope.sees(Some("alice")));
        assert!(!scope.sees(Some("bob")));
        assert!(!scope.sees(None));
        assert_eq!(scope.owner(), Some("alice"));
        assert_eq!(
            alice.require(Role::Manager).unwrap_err().status,
            axum::http::StatusCode::FORBIDDEN
        );
        let boss = Caller {
            subject: "boss".into(),
            roles: vec![Role::Manager],
        };
        assert_eq!(boss.scope().unwrap(), Scope::All);
        let nobody = Caller {
            subject: "x".into(),
            roles: vec![],
        };
        assert!(nobody.scope().is_err());
    }

    #[test]
    fn a_charge_grant_is_checked_against_its_secret_and_audience() {
        let secret = "0123456789abcdef0123456789abcdef";
        let grant = ChargeGrant {
            conference_id: 7,
            room_number: 3,
            customer: "alice".into(),
        };
        let token = grant.sign(secret);
        assert_eq!(ChargeGrant::verify(&token, secret).unwrap(), grant);
        assert!(ChargeGrant::verify(&token, "another secret of 32 characters!!").is_err());
        assert!(ChargeGrant::verify("not.a.token", secret).is_err());
    }

    #[test]
    fn symmetric_keys_are_never_taken_from_a_jwks() {
        let set: JwkSet = serde_json::from_value(json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "h"}
        ]}))
        .unwrap();
        assert!(usable_keys(&set).is_empty());
    }
}
