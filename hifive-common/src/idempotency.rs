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

use std::{collections::BTreeMap, time::Duration};

use axum::{
    extract::FromRequestParts,
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;
use tokio_util::sync::CancellationToken;

use crate::{AppError, Db, DbConn, db::now};

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

/// What an earlier request with the same key left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// It finished: answer the same again.
    Done(Stored),
    /// It is still being carried out (or was cut short: `since` tells when it began).
    InFlight { resource: String, since: String },
    /// The key was used for a different request.
    Mismatch,
}

/// Renders the answer stored for what a request made (`T`: a booking, a room).
pub type Render<'a, T> = &'a (dyn Fn(&T) -> Stored + Sync);

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

impl Prior {
    /// The answer to a request that found this prior.
    pub fn answer(self) -> Response {
        match self {
            Prior::Done(stored) => stored.into_response(),
            Prior::InFlight { .. } => AppError {
                retry_after_secs: Some(1),
                ..AppError::conflict(
                    "idempotency_key_in_flight",
                    "a request with this Idempotency-Key is still being carried out; retry shortly",
                )
            }
            .into_response(),
            Prior::Mismatch => AppError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request; use a new key",
            )
            .into_response(),
        }
    }
}

impl IntoResponse for Stored {
    /// The answer replayed (`Idempotent-Replayed: true`).
    fn into_response(self) -> Response {
        self.response(true)
    }
}

impl Stored {
    /// The answer, first given (`replayed` false) or replayed.
    pub fn response(self, replayed: bool) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body,
        )
            .into_response();
        let headers = response.headers_mut();
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, location);
        }
        if replayed {
            headers.insert(REPLAYED, HeaderValue::from_static("true"));
        }
        response
    }
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

async fn prior(conn: &mut DbConn, attempt: &Attempt) -> Result<Option<Prior>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT fingerprint, resource, created_at, status, body, location FROM idempotency_key
         WHERE owner = $1 AND idem_key = $2",
    )
    .bind(&attempt.owner)
    .bind(&attempt.key)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let fingerprint: String = row.try_get("fingerprint")?;
    if fingerprint != attempt.fingerprint {
        return Ok(Some(Prior::Mismatch));
    }
    let status: Option<i64> = row.try_get("status")?;
    Ok(Some(match status {
        None => Prior::InFlight {
            resource: row.try_get("resource")?,
            since: row.try_get("created_at")?,
        },
        Some(status) => Prior::Done(Stored {
            status: status as u16,
            body: row
                .try_get::<Option<String>, _>("body")?
                .unwrap_or_default(),
            location: row.try_get("location")?,
        }),
    }))
}

/// What an earlier request with this key left, if any (before doing any work).
pub async fn lookup(db: &Db, attempt: &Attempt) -> Result<Option<Prior>, sqlx::Error> {
    let mut conn = db.acquire().await?;
    prior(&mut conn, attempt).await
}

/// Takes the key for this attempt inside the transaction that does the work (`resource`
/// names what it makes, e.g. `conference:17`). `Some(prior)` when another request holds it
/// already: the caller rolls back and answers [`Prior::answer`].
pub async fn claim(
    tx: &mut DbConn,
    attempt: &Attempt,
    resource: &str,
) -> Result<Option<Prior>, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_key (owner, idem_key, fingerprint, resource, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner, idem_key) DO NOTHING",
    )
    .bind(&attempt.owner)
    .bind(&attempt.key)
    .bind(&attempt.fingerprint)
    .bind(resource)
    .bind(now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    // The other request's row is there (the insert waited for its transaction to commit).
    Ok(Some(prior(tx, attempt).await?.unwrap_or(Prior::InFlight {
        resource: resource.to_owned(),
        since: now(),
    })))
}

/// Stores the answer of the request that holds the key for `resource` (in the transaction
/// that finishes its work). Does nothing when no key was given.
pub async fn complete(tx: &mut DbConn, resource: &str, answer: &Stored) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_key SET status = $1, body = $2, location = $3
         WHERE resource = $4 AND status IS NULL",
    )
    .bind(i64::from(answer.status))
    .bind(&answer.body)
    .bind(&answer.location)
    .bind(resource)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Frees the key of a request for `resource` that ended in a refusal, so it can be retried.
pub async fn release(tx: &mut DbConn, resource: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM idempotency_key WHERE resource = $1 AND status IS NULL")
        .bind(resource)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Deletes keys older than `ttl`, every few minutes, until `shutdown`.
pub async fn purge_expired(db: Db, ttl: Duration, shutdown: CancellationToken) {
    let every = (ttl / 24).clamp(Duration::from_secs(1), Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
        match purge(&db, ttl).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired idempotency keys purged"),
            Err(e) => tracing::warn!(error = %e, "cannot purge idempotency keys"),
        }
    }
}

/// Deletes the keys taken more than `ttl` ago; returns how many.
pub async fn purge(db: &Db, ttl: Duration) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM idempotency_key WHERE created_at < $1")
        .bind(crate::db::ago(ttl))
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn a_replay_says_so_and_keeps_status_body_and_location() {
        let response = Stored {
            status: 201,
            body: "{\"a\":1}".into(),
            location: Some("http://h/conferences/1".into()),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[REPLAYED], "true");
        assert_eq!(
            response.headers()[header::LOCATION],
            "http://h/conferences/1"
        );
    }

    #[test]
    fn priors_answer_409_and_422() {
        let in_flight = Prior::InFlight {
            resource: "conference:1".into(),
            since: now(),
        };
        assert_eq!(in_flight.answer().status(), StatusCode::CONFLICT);
        assert_eq!(
            Prior::Mismatch.answer().status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    async fn db() -> Db {
        static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
        let none = crate::db::Migrations {
            sqlite: &NONE,
            postgres: &NONE,
        };
        crate::db::connect("sqlite::memory:", &none).await.unwrap()
    }

    fn attempt(owner: &str, body: Value) -> Attempt {
        IdempotencyKey(Some("k".into()))
            .attempt(owner, "POST /rooms", &body)
            .unwrap()
    }

    /// A key's life on a real database: taken (in flight to others), answered (replayed),
    /// another body (mismatch), another owner (free), released, and purged when expired.
    #[tokio::test]
    async fn a_key_is_claimed_answered_released_and_purged() {
        let db = db().await;
        let alice = attempt("alice", json!({"roomNumber": 1}));
        let mut tx = db.begin().await.unwrap();
        assert_eq!(claim(&mut tx, &alice, "room:1").await.unwrap(), None);
        tx.commit().await.unwrap();
        assert!(matches!(
            lookup(&db, &alice).await.unwrap(),
            Some(Prior::InFlight { resource, .. }) if resource == "room:1"
        ));
        let mut tx = db.begin().await.unwrap();
        assert!(matches!(
            claim(&mut tx, &alice, "room:1").await.unwrap(),
            Some(Prior::InFlight { .. })
        ));
        tx.rollback().await.unwrap();
        let answer = Stored {
            status: 201,
            body: "{}".into(),
            location: None,
        };
        let mut conn = db.acquire().await.unwrap();
        complete(&mut conn, "room:1", &answer).await.unwrap();
        drop(conn);
        assert_eq!(
            lookup(&db, &alice).await.unwrap(),
            Some(Prior::Done(answer))
        );
        let other_body = attempt("alice", json!({"roomNumber": 2}));
        assert_eq!(
            lookup(&db, &other_body).await.unwrap(),
            Some(Prior::Mismatch)
        );
        let bob = attempt("bob", json!({"roomNumber": 1}));
        assert_eq!(lookup(&db, &bob).await.unwrap(), None, "keys are per owner");

        // A released (refused) request leaves its key free.
        let mut tx = db.begin().await.unwrap();
        claim(&mut tx, &bob, "room:9").await.unwrap();
        release(&mut tx, "room:9").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(lookup(&db, &bob).await.unwrap(), None);

        // Kept for the TTL, then purged.
        assert_eq!(purge(&db, Duration::from_secs(3600)).await.unwrap(), 0);
        sqlx::query("UPDATE idempotency_key SET created_at = '2000-01-01T00:00:00.000Z'")
            .execute(&db)
            .await
            .unwrap();
        assert_eq!(purge(&db, Duration::from_secs(3600)).await.unwrap(), 1);
        assert_eq!(lookup(&db, &alice).await.unwrap(), None);
    }
}
