//! Ends bookings that a stopped service left `CREATED` mid pay call: `FAILED`, and
//! `ApplyCanceled` so that pay refunds a payment it may have made (or refuses a late one).

use std::time::Duration;

use hifive_common::{CancellationToken, db::ago, next_round};

use crate::app::Bookings;

/// Sweeps every third of `stuck_after` (0.1 to 5 s) until `shutdown`.
pub async fn sweep_stuck(bookings: Bookings, stuck_after: Duration, shutdown: CancellationToken) {
    let every = (stuck_after / 3).clamp(Duration::from_millis(100), Duration::from_secs(5));
    while next_round(every, &shutdown).await {
        match bookings.fail_stuck(&ago(stuck_after)).await {
            Ok(ended) => {
                for id in ended {
                    tracing::warn!(
                        conference_id = id.get(),
                        "booking left CREATED by an interrupted pay call: FAILED, payment refunded if made"
                    );
                }
            }
            Err(e) => tracing::warn!(error = ?e, "cannot end stuck bookings"),
        }
    }
}
