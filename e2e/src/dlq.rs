//! The operator's dead-letter tool, `hifive-dlq`, run as a process against this system's
//! broker (as an operator runs it against `script/server`'s).

use serde_json::Value;

use crate::System;

/// What one run of `hifive-dlq` printed.
#[derive(Debug)]
pub struct DlqRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl System {
    /// Runs `hifive-dlq --brokers <this broker> ARGS` and returns what it printed.
    pub async fn dlq_run(&self, args: &[&str]) -> DlqRun {
        let output = tokio::process::Command::new(self.binary("hifive-dlq"))
            .arg("--brokers")
            .arg(self.brokers())
            .args(args)
            .env_remove("KAFKA_TOPIC")
            .env_remove("KAFKA_DLQ_TOPIC")
            .kill_on_drop(true)
            .output()
            .await
            .expect("hifive-dlq runs");
        DlqRun {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `hifive-dlq ARGS`, asserts that it succeeded and returns its standard output.
    pub async fn dlq(&self, args: &[&str]) -> String {
        let run = self.dlq_run(args).await;
        assert!(run.success, "hifive-dlq {args:?} failed: {run:#?}");
        run.stdout
    }

    /// `hifive-dlq --json ARGS` (`list` or `show`), read as JSON.
    pub async fn dlq_json(&self, args: &[&str]) -> Value {
        let out = self.dlq(&[&["--json"], args].concat()).await;
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("hifive-dlq {args:?}: {e}: {out}"))
    }
}
