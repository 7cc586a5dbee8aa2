//! Database pool, migrations and the plumbing tables (outbox, processed events).
//!
//! Services talk SQL through `sqlx::Any`, so the same queries (with `$1` placeholders) run
//! on SQLite, the embedded default, and on Postgres.

mod page;
mod plumbing;

use std::{path::Path, time::Duration};

use anyhow::Context;
use sqlx::{any::AnyPoolOptions, migrate::Migrator};

pub type Db = sqlx::AnyPool;
pub type DbConn = sqlx::AnyConnection;

pub use page::{Match, Paged, Table};

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://")
        }
    }
}

/// A service's migrations for each database it runs on.
#[derive(Clone, Copy)]
pub struct Migrations {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

/// Declares a service's `MIGRATIONS` from its `migrations/sqlite` and `migrations/postgres`.
#[macro_export]
macro_rules! migrations {
    () => {
        $crate::db::Migrations {
            sqlite: {
                static M: ::sqlx::migrate::Migrator = ::sqlx::migrate!("migrations/sqlite");
                &M
            },
            postgres: {
                static M: ::sqlx::migrate::Migrator = ::sqlx::migrate!("migrations/postgres");
                &M
            },
        }
    };
}

/// Opens the pool, applies the service's migrations for its database and creates the
/// plumbing tables.
pub async fn connect(url: &str, migrations: &Migrations) -> anyhow::Result<Db> {
    connect_with(url, 10, migrations).await
}

/// [`connect`] with a Postgres pool of `max_connections` (SQLite always uses one).
pub async fn connect_with(
    url: &str,
    max_connections: u32,
    migrations: &Migrations,
) -> anyhow::Result<Db> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of(url)?;
    if backend == Backend::Sqlite {
        ensure_sqlite_dir(url)?;
    }
    let pool = open_pool(url, backend, max_connections).await?;
    // Several processes may share one SQLite file (local replicas): they migrate one at a
    // time under a lock file next to it (Postgres migrations take an advisory lock already).
    let _migrating = match backend {
        Backend::Sqlite => {
            migration_lock(url).context("cannot lock the database for migrations")?
        }
        Backend::Postgres => None,
    };
    let migrator = match backend {
        Backend::Sqlite => migrations.sqlite,
        Backend::Postgres => migrations.postgres,
    };
    migrator
        .run(&pool)
        .await
        .context("database migrations failed")?;
    plumbing::create(&pool, backend).await?;
    Ok(pool)
}

/// Opens the pool: `max_connections` on Postgres; on SQLite one connection, in write-ahead
/// log mode.
async fn open_pool(url: &str, backend: Backend, max_connections: u32) -> anyhow::Result<Db> {
    // SQLite serialises writers anyway; one connection avoids SQLITE_BUSY on lock upgrades
    // and keeps every transaction strictly ordered.
    let max = match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => max_connections,
    };
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // Write-ahead log, synced at checkpoints: a commit costs no fsync of its
                    // own and readers do not block the writer. A committed transaction survives
                    // the process being killed (the log is in the OS's hands); only a power cut
                    // can lose the last ones before a checkpoint.
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .with_context(|| format!("cannot open database {}", redact(url)))
}

/// Takes the lock file next to a SQLite database file (none for an in-memory database),
/// held until it is dropped.
fn migration_lock(url: &str) -> std::io::Result<Option<std::fs::File>> {
    sqlite_path(url)
        .map(|path| {
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(format!("{path}.migrate-lock"))?;
            lock.lock()?;
            Ok::<_, std::io::Error>(lock)
        })
        .transpose()
}

/// The file of a `sqlite:` URL (none for an in-memory database).
fn sqlite_path(url: &str) -> Option<&str> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then_some(path)
}

fn ensure_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(())
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// What a row lock protects: one booking, or one room.
#[derive(Debug, Clone, Copy)]
pub enum LockScope {
    Conference = 1,
    Room = 2,
}

/// Serialises read-modify-write transactions on one booking or room until the transaction
/// ends. On Postgres (several connections, READ COMMITTED) this takes a transaction-level
/// advisory lock, so two transactions cannot both decide on a stale read (e.g. a charge and a
/// void of the same booking). On SQLite the single connection serialises transactions already.
pub async fn lock(conn: &mut DbConn, scope: LockScope, id: i64) -> Result<(), sqlx::Error> {
    if conn.backend_name().eq_ignore_ascii_case("postgresql") {
        sqlx::query("SELECT pg_advisory_xact_lock($1) IS NULL AS locked")
            .bind(id.wrapping_mul(8).wrapping_add(scope as i64))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Now, as stored in timestamp columns (RFC 3339, UTC, milliseconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The timestamp `age` ago, in the same format as [`now`] (so the two compare as text).
pub fn ago(age: std::time::Duration) -> String {
    let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
    (chrono::Utc::now() - age).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Cheap liveness check of the pool.
pub async fn ping(db: &Db) -> bool {
    sqlx::query("SELECT 1").execute(db).await.is_ok()
}

/// Whether `e` means the database is unavailable or busy right now (worth retrying as is),
/// rather than that the statement itself is wrong.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_code(&code)),
        _ => false,
    }
}

/// Postgres SQLSTATEs have five characters: connection exceptions (08), serialization
/// failure and deadlock (40001, 40P01), insufficient resources (53), operator intervention
/// such as a restart (57P0x). SQLite codes are numbers of up to four digits: BUSY (5) and
/// LOCKED (6), with their extended codes.
fn transient_code(code: &str) -> bool {
    if code.len() == 5 {
        code.starts_with("08")
            || code.starts_with("53")
            || code.starts_with("57P0")
            || code == "40001"
            || code == "40P01"
    } else {
        code.parse::<i32>()
            .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_unavailable_are_transient_constraint_errors_are_not() {
        for code in [
            "5", "6", "517", "262", "08006", "40001", "40P01", "57P01", "53300",
        ] {
            assert!(transient_code(code), "{code}");
        }
        for code in ["19", "2067", "1", "23505", "42P01", "22P02"] {
            assert!(!transient_code(code), "{code}");
        }
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
    }

    #[test]
    fn backend_is_chosen_by_url() {
        assert_eq!(Backend::of("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert!(Backend::of("mysql://h").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://***@h/db");
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
