//! What pay records for `/metrics` (docs/observability.md, "Pay, room, customer-center"):
//! payments made and refunded, once each, where the use case decides them. Without a
//! recorder installed these do nothing.

use shared_events::PayStatus;

/// A payment reached `status`: `PAID` when it is made, `CANCELED` when it is refunded.
pub fn payment_reached(status: PayStatus) {
    ::metrics::counter!("hifive_payments_total", "status" => status.as_str()).increment(1);
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    #[test]
    fn payments_are_counted_by_status() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        ::metrics::with_local_recorder(&recorder, || {
            payment_reached(PayStatus::Paid);
            payment_reached(PayStatus::Paid);
            payment_reached(PayStatus::Canceled);
        });
        let mut got: Vec<(String, DebugValue)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels: Vec<String> = key.labels().map(|l| l.value().to_owned()).collect();
                (format!("{}{labels:?}", key.name()), value)
            })
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            [
                (
                    r#"hifive_payments_total["CANCELED"]"#.to_owned(),
                    DebugValue::Counter(1)
                ),
                (
                    r#"hifive_payments_total["PAID"]"#.to_owned(),
                    DebugValue::Counter(2)
                ),
            ]
        );
    }
}
