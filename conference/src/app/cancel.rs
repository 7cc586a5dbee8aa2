//! Cancelling a booking: its customer's decision, announced so that pay refunds and room
//! releases.

use shared_events::{ConferenceId, ConferenceStatus};

use super::{Bookings, record::apply_canceled};
use crate::{
    domain::{self, OnCancel},
    error::Error,
    metrics, store,
};

impl Bookings {
    /// Cancels booking `id` of `customer` (another customer's booking does not exist to
    /// them): `CANCELED` and `ApplyCanceled`. Cancelling twice is harmless.
    #[tracing::instrument(
        name = "db",
        target = "hifive::db",
        skip_all,
        fields(op = "cancel_booking")
    )]
    pub async fn cancel(
        &self,
        id: ConferenceId,
        customer: &str,
        request_id: &str,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        store::lock(&mut tx, id).await?;
        let booking = store::find(&mut tx, id)
            .await?
            .filter(|b| b.customer.as_deref() == Some(customer))
            .ok_or(Error::NotFound(id))?;
        match domain::on_cancel(booking.status) {
            OnCancel::Cancel => {
                store::set_status(&mut tx, id, ConferenceStatus::Canceled, None).await?;
                self.outbox
                    .enqueue(&mut tx, &apply_canceled(&booking), Some(request_id))
                    .await?;
                tx.commit().await?;
                self.outbox.wake();
                metrics::booking_reached(ConferenceStatus::Canceled);
                tracing::info!(
                    conference_id = id.get(),
                    room_number = booking.room_number.get(),
                    "booking cancelled"
                );
                Ok(())
            }
            OnCancel::AlreadyCanceled => Ok(()),
            OnCancel::NotCancelable => Err(Error::NotCancelable {
                id,
                status: booking.status,
            }),
        }
    }
}
