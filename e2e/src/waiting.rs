//! Waiting until something holds: polling a probe or a gateway resource until it answers
//! what is expected, or panicking with what was last seen.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{SETTLE, System, status_of};

impl System {
    /// Polls `GET path` until `check` accepts the body; panics with the last body otherwise.
    pub async fn until(&self, what: &str, path: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SETTLE;
        loop {
            let reply = self.get(path).await;
            if reply.status.is_success() && check(&reply.json) {
                return reply.json;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting until {what}; last GET {path} → {} {}",
                    reply.status, reply.text
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls `/health/ready` of instance `name` (whatever its status code) until `check`
    /// accepts the report; panics after a minute. Returns the report.
    pub async fn until_ready_report(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let url = format!("{}/health/ready", self.url_of(name));
        let check = &check;
        eventually(&format!("{name}: {what}"), Duration::from_secs(60), || {
            let (http, url) = (self.http.clone(), url.clone());
            async move {
                let body: Value = http.get(&url).send().await.ok()?.json().await.ok()?;
                check(&body).then_some(body)
            }
        })
        .await
    }

    /// Polls a booking or payment (`path`) until its `status` is `status`.
    pub async fn until_status(&self, path: &str, status: &str) -> Value {
        self.until(&format!("{path} is {status}"), path, |v| {
            status_of(v) == status
        })
        .await
    }
}

/// Polls `probe` every 100 ms until it yields a value or `timeout` passes (then panics).
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
