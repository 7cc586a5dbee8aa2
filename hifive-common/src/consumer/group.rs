//! The consumer's life in its group as librdkafka reports it: partitions assigned and
//! revoked (rebalances), broker connection up or down, and the high watermarks its fetcher
//! sees, all passed on to [`ConsumerStatus`].

use std::sync::Arc;

use rdkafka::{
    ClientContext,
    consumer::{ConsumerContext, Rebalance},
};

use super::ConsumerStatus;
use crate::kafka;

/// The client context of a group consumer.
pub(super) struct GroupContext {
    status: Arc<ConsumerStatus>,
    quiet: kafka::QuietContext,
}

impl GroupContext {
    pub(super) fn new(status: Arc<ConsumerStatus>) -> Self {
        Self {
            status,
            quiet: Default::default(),
        }
    }
}

impl ClientContext for GroupContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        self.quiet.log(level, fac, message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        match error.rdkafka_error_code() {
            Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown) => {
                self.status.set_broker_up(false);
            }
            // The end of a partition is news, not an error (it arrives as a message too).
            Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) => return,
            _ => {}
        }
        self.quiet.error(error, reason);
    }

    fn stats(&self, statistics: rdkafka::Statistics) {
        let highs: Vec<(i32, i64)> = statistics
            .topics
            .values()
            .flat_map(|t| t.partitions.values())
            .filter(|p| p.partition >= 0 && p.hi_offset >= 0 && p.fetch_state == "active")
            .map(|p| (p.partition, p.hi_offset))
            .collect();
        self.status.hinted(&highs);
        let up = statistics.brokers.values().any(|b| b.state == "UP");
        if up != self.status.set_broker_up(up) {
            if up {
                tracing::info!("broker connection up");
            } else {
                tracing::warn!(
                    "no broker connection: events wait (in the outbox and on the broker)"
                );
            }
        }
    }
}

impl ConsumerContext for GroupContext {
    fn post_rebalance(
        &self,
        _consumer: &rdkafka::consumer::BaseConsumer<Self>,
        rebalance: &Rebalance<'_>,
    ) {
        match rebalance {
            Rebalance::Assign(parts) => {
                let partitions: Vec<i32> = parts.elements().iter().map(|e| e.partition()).collect();
                tracing::info!(?partitions, "consumer joined its group");
                self.status.assigned(&partitions);
            }
            Rebalance::Revoke(_) => self.status.revoked(),
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
        }
    }
}
