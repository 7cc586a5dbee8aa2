//! What the harness takes from this machine: free ports, the workspace's built binaries, and
//! a temp dir per system.

use std::{
    fs,
    net::TcpListener,
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
};

/// A port nothing listens on, below the kernel's ephemeral range (32768 and up on Linux), so
/// that no outgoing connection of a client can take it between now and the moment the
/// process that is given it binds it. Each test process walks its own stretch of the range.
pub fn free_port() -> u16 {
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id() * 397) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {LOW} and {}", LOW + SPAN)
}

/// Folder of the workspace's built binaries: next to this test's `deps/`, or this
/// program's own folder (a binary such as `hifive-soak`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    let dir = exe.parent().expect("executable folder");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("target/<profile>").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

pub(crate) fn service_bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (script/test does)",
        path.display()
    );
    path
}

/// A temp dir removed on drop (kept when the test failed, for its logs).
pub(crate) struct TempDir(pub(crate) PathBuf, pub(crate) bool);

impl TempDir {
    pub(crate) fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "hifive-e2e-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        fs::create_dir_all(&path).expect("temp dir");
        Self(path, false)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() || self.1 {
            eprintln!("test data and logs kept in {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}
