//! Operating-system processes: spawning one as its [`Spec`] says (own process group, output
//! to a file or prefixed on ours, dying with the supervisor), signalling it, describing how
//! it ended.

use std::process::Stdio;

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
};

use super::{Output, Spec};

/// Starts process `name` as `spec` says; its output is on its way (to a file, or prefixed
/// with `[name] ` on our standard output).
pub(super) fn spawn(name: &str, spec: &Spec) -> anyhow::Result<Child> {
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(false);
    if let Some(dir) = &spec.cwd {
        command.current_dir(dir);
    }
    // If the supervisor itself is killed (SIGKILL, a crashed test), its children go with it
    // instead of running on unsupervised.
    die_with_parent(command.as_std_mut());
    match &spec.output {
        Output::File(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            command.stdout(file.try_clone()?).stderr(file);
        }
        Output::Prefixed => {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
    }
    let mut child = command
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {name} ({}): {e}", spec.program.display()))?;
    if let Output::Prefixed = spec.output {
        if let Some(out) = child.stdout.take() {
            tokio::spawn(prefix(name.to_owned(), out));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(prefix(name.to_owned(), err));
        }
    }
    Ok(child)
}

pub(super) fn signal(pid: u32, signal: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), signal);
}

pub(super) fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => Signal::try_from(sig)
            .map(|s| format!("killed by {s}"))
            .unwrap_or_else(|_| format!("killed by signal {sig}")),
        _ => status.to_string(),
    }
}

async fn prefix(name: String, stream: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        println!("[{name}] {line}");
    }
}

/// The child started by `command` is killed when the thread that spawned it ends (the
/// supervisor's process dies): `PR_SET_PDEATHSIG`.
#[expect(
    unsafe_code,
    reason = "pre_exec runs in the forked child before exec; it makes one async-signal-safe call (prctl)"
)]
pub fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only makes one
    // async-signal-safe system call (prctl).
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}
