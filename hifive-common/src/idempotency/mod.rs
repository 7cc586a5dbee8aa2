//! Safe retries with `Idempotency-Key` (Stripe's semantics), kept in the service's own
//! database so that every replica sees the same keys.
//!
//! A key belongs to one caller. The first request with it is carried out and, when it
//! creates something, its answer (status, body, `Location`) is stored in the same
//! transaction as what it created. The same key with the same request again replays that
//! answer (with `Idempotent-Replayed: true`) and creates nothing; with a different request
//! it is `422`; while the first is still being carried out, `409`. A request that ends in a
//! refusal (`503` to retry later, `409`, ...) leaves the key free, so that the retry the
//! answer invites can succeed. Keys are purged after `IDEMPOTENCY_TTL_SECS` (24 h).
//!
//! Here the key a request sends and what identifies its request; `answer` holds what an
//! earlier request left and how it is answered, `store` the `idempotency_key` table.

mod answer;
mod store;

use std::collections::BTreeMap;

use axum::{extract::FromRequestParts, http::request::Parts};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use answer::{Prior, Render, Stored};
pub use store::{claim, complete, lookup, purge, purge_expired, release};

use crate::AppError;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";

/// The `Idempotency-Key` of a request, if it sent one: 1 to 255 visible ASCII characters
/// (else `400`).
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(raw) = parts.headers.get(HEADER) else {
            return Ok(Self(None));
        };
        let key = raw.to_str().unwrap_or_default();
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice)",
            ));
        }
        Ok(Self(Some(key.to_owned())))
    }
}

impl IdempotencyKey {
    /// The attempt this request makes with its key (none without a key).
    pub fn attempt(&self, owner: &str, route: &str, body: &Value) -> Option<Attempt> {
        self.0.as_ref().map(|key| Attempt {
            owner: owner.to_owned(),
            key: key.clone(),
            fingerprint: fingerprint(route, body),
        })
    }
}

/// One caller's request under one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub owner: String,
    pub key: String,
    /// What the request asked for: a hash of its route and its body (key order aside).
    pub fingerprint: String,
}

/// SHA-256 of the route and the body with object keys in a fixed order.
pub fn fingerprint(route: &str, body: &Value) -> String {
    fn canonical(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let sorted: BTreeMap<&String, Value> =
                    map.iter().map(|(k, v)| (k, canonical(v))).collect();
                serde_json::to_value(sorted).unwrap_or(Value::Null)
            }
            Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
            other => other.clone(),
        }
    }
    let mut hash = Sha256::new();
    hash.update(route.as_bytes());
    hash.update(b"\n");
    hash.update(canonical(body).to_string().as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_same_request_has_the_same_fingerprint_whatever_the_key_order() {
        let a = fingerprint(
            "POST /rooms",
            &json!({"roomNumber": 1, "roomStatus": "EMPTY"}),
        );
        let b = fingerprint(
            "POST /rooms",
            &json!({"roomStatus": "EMPTY", "roomNumber": 1}),
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            fingerprint(
                "POST /rooms",
                &json!({"roomNumber": 2, "roomStatus": "EMPTY"})
            )
        );
        assert_ne!(
            a,
            fingerprint(
                "POST /conferences",
                &json!({"roomNumber": 1, "roomStatus": "EMPTY"})
            )
        );
    }
}
