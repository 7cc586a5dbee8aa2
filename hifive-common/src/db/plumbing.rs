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
    add_traceparent(&mut tx, backend).await?;
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
                created_at TEXT NOT NULL,
                traceparent TEXT)"
        )
    };
}

/// `outbox.traceparent` (the W3C trace context of the span that wrote the event, handed on in
/// the record's header) in a database created before it. The columns are looked at first, so
/// the `ALTER` (which locks the table against every insert while it waits) runs only once, on
/// the first start after the upgrade.
async fn add_traceparent(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
) -> Result<(), sqlx::Error> {
    let columns = match backend {
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'outbox' \
             AND column_name = 'traceparent'"
        }
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM pragma_table_info('outbox') WHERE name = 'traceparent'"
        }
    };
    let present: i64 = sqlx::query_scalar(columns).fetch_one(&mut **tx).await?;
    if present == 0 {
        sqlx::query("ALTER TABLE outbox ADD COLUMN traceparent TEXT")
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use sqlx::any::AnyPoolOptions;

    use super::*;

    #[tokio::test]
    async fn an_outbox_from_before_traces_gets_its_traceparent_column() {
        sqlx::any::install_default_drivers();
        let db = AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,
                event_id TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL, msg_key TEXT NOT NULL,
                payload TEXT NOT NULL, request_id TEXT, created_at TEXT NOT NULL)",
        )
        .execute(&db)
        .await
        .unwrap();
        create(&db, Backend::Sqlite).await.unwrap();
        create(&db, Backend::Sqlite).await.unwrap();
        let present: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pragma_table_info('outbox') WHERE name = 'traceparent'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(present, 1);
    }
}
