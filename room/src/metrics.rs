//! What room records for `/metrics` (docs/observability.md, "Pay, room, customer-center"):
//! its decisions on bookings, once each, where the use case makes them (a repeated `Paid`
//! for a booking that holds its room already decides nothing). Without a recorder installed
//! these do nothing.

/// What room decided about a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The booking got its room.
    Assigned,
    /// The room is unknown or taken.
    Rejected,
    /// The refunded booking gave its room back.
    Released,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Assigned => "assigned",
            Decision::Rejected => "rejected",
            Decision::Released => "released",
        }
    }
}

pub fn decided(decision: Decision) {
    ::metrics::counter!("hifive_room_assignments_total", "outcome" => decision.as_str())
        .increment(1);
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    #[test]
    fn decisions_are_counted_by_outcome() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        ::metrics::with_local_recorder(&recorder, || {
            decided(Decision::Assigned);
            decided(Decision::Assigned);
            decided(Decision::Rejected);
            decided(Decision::Released);
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
        let counted = |outcome: &str, n| {
            (
                format!("hifive_room_assignments_total[{outcome:?}]"),
                DebugValue::Counter(n),
            )
        };
        assert_eq!(
            got,
            [
                counted("assigned", 2),
                counted("rejected", 1),
                counted("released", 1)
            ]
        );
    }
}
