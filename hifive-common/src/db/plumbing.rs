//! The tables the plumbing itself owns, beside each service's own: the outbox, the events
//! processed, and the `Idempotency-Key`s.

use super::{Backend, Db};

/// Creates the plumbing tables if they are missing.
pub(super) async fn create(pool: &Db, backend: Backend) -> anyhow::Result<()> {
    // Several instances may start at once against one Postgres database: concurrent
    // `CREATE TABLE IF NOT EXISTS` can collide there, so they take turns.
    let mut tx = pool.begin().await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(4849464956450001) IS NULL AS locked")
            .execute(&mut *tx)
            .await?;
    }
    for statement in tables(backend) {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `CREATE TABLE outbox` with the key column `id` of type `$id`: it differs between the
/// databases, the other columns do not.
macro_rules! create_outbox {
    ($id:literal) => {
        concat!(
            "CREATE TABLE IF NOT EXISTS outbox (
                id ",
            $id,
            ",
                event_id TEXT NOT NULL UNIQUE,
                event_type TEXT NOT NULL,
                msg_key TEXT NOT NULL,
                payload TEXT NOT NULL,
                request_id TEXT,
                created_at TEXT NOT NULL)"
        )
    };
}

fn tables(backend: Backend) -> [&'static str; 5] {
    let outbox = match backend {
        Backend::Sqlite => create_outbox!("INTEGER PRIMARY KEY AUTOINCREMENT"),
        Backend::Postgres => create_outbox!("BIGSERIAL PRIMARY KEY"),
    };
    [
        outbox,
        "CREATE TABLE IF NOT EXISTS processed_event (
            event_id TEXT PRIMARY KEY,
            event_type TEXT NOT NULL,
            processed_at TEXT NOT NULL)",
        // Idempotency-Key of requests that create something (see `idempotency`).
        "CREATE TABLE IF NOT EXISTS idempotency_key (
            owner TEXT NOT NULL,
            idem_key TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            resource TEXT NOT NULL,
            status INTEGER,
            body TEXT,
            location TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (owner, idem_key))",
        "CREATE INDEX IF NOT EXISTS idempotency_key_by_resource ON idempotency_key (resource)",
        "CREATE INDEX IF NOT EXISTS idempotency_key_by_age ON idempotency_key (created_at)",
    ]
}
