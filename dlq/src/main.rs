//! `hifive-dlq`: list, show, replay and purge dead letters (`hifive-dlq --help`).
//!
//! Exit status: 0 done, 1 failed (the reason on stderr).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = std::io::stdout().lock();
    match hifive_dlq::run(&args, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hifive-dlq: {e:#}");
            ExitCode::FAILURE
        }
    }
}
