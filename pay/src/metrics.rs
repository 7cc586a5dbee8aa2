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
    use hifive_common::metrics::testing::{count, recorded};

    use super::*;

    #[test]
    fn payments_are_counted_by_status() {
        let got = recorded(|| {
            payment_reached(PayStatus::Paid);
            payment_reached(PayStatus::Paid);
            payment_reached(PayStatus::Canceled);
        });
        assert_eq!(count(&got, "hifive_payments_total{status=PAID}"), 2);
        assert_eq!(count(&got, "hifive_payments_total{status=CANCELED}"), 1);
        assert_eq!(got.len(), 2, "{got:?}");
    }
}
