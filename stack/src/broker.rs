//! Running the local broker, Tansu 0.6.0 on `sqlite://` storage, the way it holds up under
//! load: `hifive-stack broker --port P` prepares its storage, then becomes Tansu (exec), so
//! that the supervisor's signals reach Tansu itself.
//!
//! Preparing means one index Tansu's schema lacks: its fetch reads each record's headers with
//! a query that scans the whole `header` table, so every fetch gets slower as events
//! accumulate, and under ~200 bookings/s the broker's single storage task saturates within
//! seconds (docs/broker.md). The index is created with the broker stopped (Tansu's SQLite
//! connections have no busy timeout); on a new data dir Tansu is started once to create its
//! schema, stopped, and the index added.

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::Context;
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use sqlx::{Connection, Row, sqlite::SqliteConnection};

/// The index on `header (topition, offset_id)`.
pub const HEADER_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS header_topition_offset_id ON header (topition, offset_id)";

/// Tansu's program: `TANSU_BIN`, else the one `script/bootstrap` installed, else `tansu` on
/// the PATH.
pub fn tansu_bin() -> PathBuf {
    if let Ok(p) = std::env::var("TANSU_BIN") {
        return p.into();
    }
    let cached = Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cargo/bin/tansu");
    if cached.exists() {
        cached
    } else {
        "tansu".into()
    }
}

/// Tansu's command line for `port`, run in the data dir (Tansu reads `sqlite:///abs/path` as
/// a relative path, so the storage is named relative to it).
fn tansu(port: u16, dir: &Path) -> Command {
    let url = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new(tansu_bin());
    command
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "sqlite://tansu.db"])
        .current_dir(dir);
    command
}

/// Prepares the storage in `dir`, then replaces this process with Tansu on `port`.
pub fn exec(port: u16, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(prepare(port, dir))?;
    drop(runtime);
    let error = tansu(port, dir).exec();
    Err(error).context("cannot start tansu: run script/bootstrap to install it")
}

/// Makes sure the storage in `dir` has the header index, creating the schema first if needed.
pub async fn prepare(port: u16, dir: &Path) -> anyhow::Result<()> {
    let db = dir.join("tansu.db");
    if !has_table(&db, "header").await? {
        // A new data dir: let Tansu create its schema, then stop it.
        let mut command = tansu(port, dir);
        command.stdin(std::process::Stdio::null());
        // It must not outlive this process if it is killed meanwhile (it would hold the port).
        crate::supervisor::die_with_parent(&mut command);
        let mut first = command
            .spawn()
            .context("cannot start tansu: run script/bootstrap to install it")?;
        let started = Instant::now();
        let ready = loop {
            // Tansu listens once its storage is set up.
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
                && has_table(&db, "header").await.unwrap_or(false)
            {
                break true;
            }
            if first.try_wait()?.is_some() || started.elapsed() > Duration::from_secs(30) {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let _ = kill(Pid::from_raw(first.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while first.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = first.kill();
                let _ = first.wait();
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        anyhow::ensure!(
            ready,
            "tansu did not create its storage in {}",
            db.display()
        );
    }
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display())).await?;
    sqlx::query(HEADER_INDEX).execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

async fn has_table(db: &Path, table: &str) -> anyhow::Result<bool> {
    if !db.exists() {
        return Ok(false);
    }
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display())).await?;
    let found =
        sqlx::query("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = $1")
            .bind(table)
            .fetch_one(&mut conn)
            .await?
            .try_get::<i64, _>("n")?
            > 0;
    conn.close().await?;
    Ok(found)
}
