//! What the database tests share: a booking's stored answer and an `Idempotency-Key` attempt.

use conference::store::Booking;
use hifive_common::idempotency::{Attempt, Stored};

/// The `201` kept for a booking's key (its body is the id: the tests only compare it).
pub fn answer(booking: &Booking) -> Stored {
    Stored {
        status: 201,
        body: booking.conference_id.to_string(),
        location: None,
    }
}

/// Alice's request under `key`.
pub fn attempt(key: &str) -> Attempt {
    Attempt {
        owner: "alice".into(),
        key: key.into(),
        fingerprint: "f".into(),
    }
}
