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
    use hifive_common::metrics::testing::{count, recorded};

    use super::*;

    #[test]
    fn decisions_are_counted_by_outcome() {
        let got = recorded(|| {
            decided(Decision::Assigned);
            decided(Decision::Assigned);
            decided(Decision::Rejected);
            decided(Decision::Released);
        });
        let counted = |outcome: &str| {
            count(
                &got,
                &format!("hifive_room_assignments_total{{outcome={outcome}}}"),
            )
        };
        assert_eq!(
            (
                counted("assigned"),
                counted("rejected"),
                counted("released")
            ),
            (2, 1, 1)
        );
        assert_eq!(got.len(), 3, "{got:?}");
    }
}
