//! The system's invariants (docs/contract.md), read through the gateway by the operator's
//! checker: a snapshot, and waiting until every invariant holds.

use std::time::{Duration, Instant};

use crate::{SETTLE, System};

impl System {
    /// Everything the checker reads (all pages of bookings, payments, rooms, room states).
    pub async fn snapshot(&self) -> checker::Snapshot {
        self.fetch_snapshot()
            .await
            .expect("the system can be read through the gateway")
    }

    /// Polls the consistency checker until every invariant of docs/contract.md holds (the system went
    /// quiet); panics with the violations otherwise. Returns the final snapshot.
    pub async fn assert_consistent(&self, accepted: &[i64]) -> checker::Snapshot {
        let deadline = Instant::now() + SETTLE * 2;
        loop {
            let snapshot = self.fetch_snapshot().await;
            if let Ok(s) = &snapshot
                && checker::check(s, accepted).is_empty()
            {
                return snapshot.expect("checked");
            }
            if Instant::now() > deadline {
                let s = snapshot.expect("the system can be read through the gateway");
                let violations: Vec<String> = checker::check(&s, accepted)
                    .iter()
                    .map(|v| v.to_string())
                    .collect();
                panic!(
                    "invariants still broken after {:?}:\n{}\n{}",
                    SETTLE * 2,
                    checker::summary(&s),
                    violations.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Reads the snapshot through the gateway as a manager.
    async fn fetch_snapshot(&self) -> anyhow::Result<checker::Snapshot> {
        checker::Snapshot::fetch(
            &self.http,
            &self.gateway(),
            &self.token("manager", "checker"),
        )
        .await
    }
}
