//! The `idempotency_key` table: a key claimed in the transaction that does the work,
//! completed with its answer, released after a refusal, purged after its TTL.

use std::time::Duration;

use sqlx::Row;
use tokio_util::sync::CancellationToken;

use super::{Attempt, Prior, Stored};
use crate::{Db, DbConn, db::now};

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
    while crate::next_round(every, &shutdown).await {
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
    use serde_json::{Value, json};

    use super::*;
    use crate::idempotency::IdempotencyKey;

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
