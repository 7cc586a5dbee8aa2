//! Applying one event exactly once: its `eventId` is recorded as processed in the same
//! transaction as the policy's effect (a duplicate delivery changes nothing); a failed effect
//! is retried, and one that keeps failing ends in the dead-letter topic.

use shared_events::Envelope;

use super::{
    EventContext, Policy, PolicyError,
    worker::{Handler, Outcome},
};
use crate::db::now;

impl<P: Policy> Handler<P> {
    /// Applies one event: transient failures are retried until they pass, other failures up
    /// to `max_attempts` times before the event is dead-lettered.
    pub(super) async fn apply_with_retry(
        &self,
        envelope: &Envelope,
        ctx: &EventContext,
    ) -> Outcome {
        let mut attempt = 0u32;
        let mut failures = 0u32;
        let outcome = loop {
            attempt += 1;
            match self.apply_once(envelope, ctx).await {
                Ok(true) => {
                    self.status.applied(true);
                    super::metrics::applied(envelope);
                    self.outbox.wake();
                    break Outcome::Done;
                }
                Ok(false) => {
                    self.status.applied(false);
                    super::metrics::duplicate(envelope);
                    tracing::debug!("duplicate delivery ignored");
                    break Outcome::Done;
                }
                Err(PolicyError::Permanent(reason)) => {
                    break Outcome::DeadLetter {
                        stage: "apply",
                        reason,
                    };
                }
                Err(PolicyError::Failed(reason)) => {
                    failures += 1;
                    if failures >= self.config.max_attempts {
                        break Outcome::DeadLetter {
                            stage: "apply",
                            reason: format!("failed {failures} times: {reason}"),
                        };
                    }
                    tracing::warn!(%reason, attempt, "applying event failed; retrying");
                }
                Err(PolicyError::Transient(e)) => {
                    self.status.waiting_for_database(true);
                    tracing::warn!(error = %e, attempt, "database unavailable; retrying the event");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(crate::backoff(attempt)) => {}
                _ = self.shutdown.cancelled() => break Outcome::Stopped,
            }
        };
        self.status.waiting_for_database(false);
        outcome
    }

    /// One transaction: mark processed (or detect a duplicate), apply, commit.
    #[tracing::instrument(
        name = "db",
        target = "hifive::db",
        skip_all,
        fields(op = "apply_event")
    )]
    async fn apply_once(
        &self,
        envelope: &Envelope,
        ctx: &EventContext,
    ) -> Result<bool, PolicyError> {
        let mut tx = self.db.begin().await?;
        let fresh = sqlx::query(
            "INSERT INTO processed_event (event_id, event_type, processed_at) VALUES ($1, $2, $3)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(envelope.event_id.to_string())
        .bind(envelope.event.event_type())
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            return Ok(false);
        }
        if let Some(command) = self.policy.command(&envelope.event) {
            self.policy.apply(&mut tx, command, ctx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    };

    use shared_events::{Event, Paid};
    use sqlx::Row;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::{
        config::KafkaConfig,
        consumer::{ConsumerStatus, Handled},
        db::{Db, DbConn},
        outbox::Outbox,
    };

    /// A policy whose first `failures` attempts fail with `error()`, then succeed.
    struct Flaky {
        failures: u32,
        error: fn() -> PolicyError,
        attempts: AtomicU32,
    }

    impl Policy for Flaky {
        type Command = ();

        fn command(&self, _: &Event) -> Option<()> {
            Some(())
        }

        async fn apply(&self, _tx: &mut DbConn, _: (), _ctx: &EventContext) -> Handled {
            let n = self.attempts.fetch_add(1, Ordering::Relaxed) + 1;
            if n <= self.failures {
                Err((self.error)())
            } else {
                Ok(())
            }
        }
    }

    fn flaky(failures: u32, error: fn() -> PolicyError) -> Flaky {
        Flaky {
            failures,
            error,
            attempts: AtomicU32::new(0),
        }
    }

    fn config(max_attempts: u32) -> KafkaConfig {
        KafkaConfig {
            max_attempts,
            ..KafkaConfig::local("127.0.0.1:1", "test")
        }
    }

    fn paid() -> Envelope {
        Envelope::new(Event::Paid(Paid {
            pay_id: shared_events::PayId::new(1).unwrap(),
            pay_status: shared_events::PayStatus::Paid,
            conference_id: shared_events::ConferenceId::new(1).unwrap(),
            room_number: shared_events::RoomNumber::new(1).unwrap(),
        }))
    }

    async fn db() -> Db {
        static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
        let none = crate::db::Migrations {
            sqlite: &NONE,
            postgres: &NONE,
        };
        crate::db::connect("sqlite::memory:", &none)
            .await
            .expect("in-memory database")
    }

    async fn processed(db: &Db) -> i64 {
        sqlx::query("SELECT COUNT(*) AS n FROM processed_event")
            .fetch_one(db)
            .await
            .unwrap()
            .try_get("n")
            .unwrap()
    }

    fn handler(
        db: &Db,
        policy: Flaky,
        max_attempts: u32,
        stop: CancellationToken,
    ) -> Handler<Flaky> {
        Handler {
            db: db.clone(),
            outbox: Outbox::default(),
            policy,
            config: config(max_attempts),
            status: Arc::new(ConsumerStatus::default()),
            shutdown: stop,
        }
    }

    /// Applies `envelope` with `policy`; returns the outcome and how often the policy ran.
    async fn run(db: &Db, policy: Flaky, envelope: &Envelope, max_attempts: u32) -> (Outcome, u32) {
        let h = handler(db, policy, max_attempts, CancellationToken::new());
        let outcome = h.apply_with_retry(envelope, &EventContext::default()).await;
        (outcome, h.policy.attempts.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn an_effect_that_keeps_failing_is_dead_lettered_after_max_attempts() {
        let db = db().await;
        let policy = flaky(u32::MAX, || PolicyError::Failed("constraint".into()));
        let (outcome, attempts) = run(&db, policy, &paid(), 3).await;
        let Outcome::DeadLetter { stage, reason } = outcome else {
            panic!("not dead-lettered")
        };
        assert_eq!(stage, "apply");
        assert!(reason.contains("failed 3 times"), "{reason}");
        assert_eq!(attempts, 3);
        assert_eq!(
            processed(&db).await,
            0,
            "nothing of a failed attempt is kept"
        );
    }

    #[tokio::test]
    async fn a_contract_violation_is_dead_lettered_at_once() {
        let db = db().await;
        let policy = flaky(u32::MAX, || PolicyError::Permanent("nonsense".into()));
        let (outcome, attempts) = run(&db, policy, &paid(), 5).await;
        assert!(matches!(outcome, Outcome::DeadLetter { .. }));
        assert_eq!(attempts, 1);
    }

    #[tokio::test]
    async fn an_unavailable_database_is_retried_past_max_attempts_until_it_works() {
        let db = db().await;
        let policy = flaky(2, || PolicyError::Transient(sqlx::Error::PoolTimedOut));
        let h = handler(&db, policy, 1, CancellationToken::new());
        let outcome = h.apply_with_retry(&paid(), &EventContext::default()).await;
        assert!(matches!(outcome, Outcome::Done));
        assert_eq!(h.policy.attempts.load(Ordering::Relaxed), 3);
        assert_eq!(processed(&db).await, 1);
        assert_eq!(
            h.status.report()["waitingForDatabase"],
            false,
            "no longer waiting once it applied"
        );
    }

    #[tokio::test]
    async fn a_duplicate_delivery_is_applied_once() {
        let db = db().await;
        let h = handler(
            &db,
            flaky(0, || unreachable!()),
            5,
            CancellationToken::new(),
        );
        let event = paid();
        let ctx = EventContext::default();
        assert!(matches!(
            h.apply_with_retry(&event, &ctx).await,
            Outcome::Done
        ));
        assert!(matches!(
            h.apply_with_retry(&event, &ctx).await,
            Outcome::Done
        ));
        assert_eq!(h.policy.attempts.load(Ordering::Relaxed), 1);
        assert_eq!(processed(&db).await, 1);
    }

    #[tokio::test]
    async fn stopping_while_retrying_leaves_the_event_for_the_next_start() {
        let db = db().await;
        let policy = flaky(u32::MAX, || {
            PolicyError::Transient(sqlx::Error::PoolTimedOut)
        });
        let stop = CancellationToken::new();
        stop.cancel();
        let h = handler(&db, policy, 5, stop);
        let outcome = h.apply_with_retry(&paid(), &EventContext::default()).await;
        assert!(matches!(outcome, Outcome::Stopped));
        assert_eq!(processed(&db).await, 0);
    }
}
