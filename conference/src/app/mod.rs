//! The use cases of bookings: book (create and pay), record what pay answered, cancel, read
//! and list, follow the room service's verdicts, end bookings a stopped service left behind.
//! Each opens its transaction, asks `domain` what to do and has `store` do it; the events a
//! change causes go to the outbox in the same transaction.

mod book;
mod cancel;
mod record;

use hifive_common::{Db, DbConn, Outbox, Scope};
use shared_events::{ConferenceId, ConferenceStatus, PayId};

pub use book::{Booked, Booker, BookingRequest};

use crate::{
    domain::{self, Verdict},
    error::Error,
    metrics::{self, Step},
    store::{self, Booking},
};

/// The bookings as stored, with the outbox for the events their changes cause.
#[derive(Clone)]
pub struct Bookings {
    db: Db,
    outbox: Outbox,
}

impl Bookings {
    pub fn new(db: Db, outbox: Outbox) -> Self {
        Self { db, outbox }
    }

    /// Booking `id`, if `scope` sees it (another customer's booking does not exist to them).
    pub async fn read(&self, id: ConferenceId, scope: Scope<'_>) -> Result<Booking, Error> {
        self.find(id)
            .await?
            .filter(|b| scope.sees(b.customer.as_deref()))
            .ok_or(Error::NotFound(id))
    }

    async fn find(&self, id: ConferenceId) -> Result<Option<Booking>, Error> {
        let mut conn = self.db.acquire().await?;
        Ok(store::find(&mut conn, id).await?)
    }

    /// A page of the bookings `scope` sees, and how many it sees in all.
    pub async fn list(
        &self,
        scope: Scope<'_>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Booking>, i64), Error> {
        Ok(store::list(&self.db, scope.owner(), limit, offset).await?)
    }
}

/// Moves a booking as the room service's verdict dictates (in the consumer's transaction).
pub async fn follow_verdict(
    conn: &mut DbConn,
    id: ConferenceId,
    pay_id: PayId,
    verdict: Verdict,
) -> Result<(), sqlx::Error> {
    store::lock(conn, id).await?;
    let Some(booking) = store::find(conn, id).await? else {
        tracing::warn!(
            conference_id = id.get(),
            "event about an unknown booking ignored"
        );
        return Ok(());
    };
    match domain::on_verdict(verdict, booking.status) {
        Some(next) => {
            store::set_status(conn, id, next, Some(pay_id)).await?;
            tracing::info!(conference_id = id.get(), status = %next, "booking updated");
            reached_verdict(verdict, next, &booking.created_at);
        }
        None => tracing::info!(
            conference_id = id.get(),
            status = %booking.status,
            "booking already ended; event changes nothing"
        ),
    }
    Ok(())
}

/// The booking made at `created_at` took the room service's `verdict`: it is now `status`.
fn reached_verdict(verdict: Verdict, status: ConferenceStatus, created_at: &str) {
    metrics::booking_reached(status);
    let step = match verdict {
        Verdict::Assigned => Step::Assigned,
        Verdict::Rejected => Step::Rejected,
    };
    metrics::saga_step(step, created_at);
}

/// What a booking's `Idempotency-Key` record names: `conference:ID`.
fn resource(id: ConferenceId) -> String {
    format!("conference:{id}")
}

/// The booking a key record names.
fn booking_of(resource: &str) -> Option<ConferenceId> {
    resource.strip_prefix("conference:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_record_names_its_booking() {
        let id = ConferenceId::new(17).unwrap();
        assert_eq!(resource(id), "conference:17");
        assert_eq!(booking_of(&resource(id)), Some(id));
        assert_eq!(booking_of("room:17"), None);
        assert_eq!(booking_of("conference:x"), None);
    }
}
