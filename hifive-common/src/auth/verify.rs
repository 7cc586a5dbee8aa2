//! Checking users' bearer tokens against the issuer's published keys (JWKS).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use axum::http::HeaderMap;
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm},
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{AuthConfig, Caller, Mode, Role, bearer, roles_in};
use crate::AppError;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_keys_are_never_taken_from_a_jwks() {
        let set: JwkSet = serde_json::from_value(json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "h"}
        ]}))
        .unwrap();
        assert!(usable_keys(&set).is_empty());
    }
}
