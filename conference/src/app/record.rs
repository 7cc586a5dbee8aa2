//! The booking's own transactions around the pay call: create it (taking its
//! `Idempotency-Key`), then record what pay answered (storing the key's answer), or remove it
//! when pay was never asked; and the sweep of bookings whose pay call was cut short.

use hifive_common::idempotency::{self, Attempt, Prior, Render, Stored};
use shared_events::{
    Applied, ApplyCanceled, ConferenceId, ConferenceStatus, Envelope, Event, PayId,
};

use super::{Bookings, resource};
use crate::{
    domain::{self, Payment},
    error::Error,
    metrics,
    store::{self, Booking, NewBooking},
};

/// How many stuck bookings one sweep ends at most.
const SWEEP_BATCH: i64 = 100;

/// The event that asks pay to refund a booking (and room to release its room).
pub(super) fn apply_canceled(booking: &Booking) -> Envelope {
    Envelope::new(Event::ApplyCanceled(ApplyCanceled {
        conference_id: booking.conference_id,
        conference_status: ConferenceStatus::Canceled,
        pay_id: booking.pay_id,
        room_number: booking.room_number,
    }))
}

impl Bookings {
    /// A new `CREATED` booking; with an `Idempotency-Key`, the key is taken in the same
    /// transaction (`Err(prior)`, and nothing is created, when it is taken already).
    #[tracing::instrument(
        name = "db",
        target = "hifive::db",
        skip_all,
        fields(op = "create_booking")
    )]
    pub async fn create(
        &self,
        new: &NewBooking<'_>,
        attempt: Option<&Attempt>,
    ) -> Result<Result<ConferenceId, Prior>, Error> {
        let mut tx = self.db.begin().await?;
        let id = store::insert(&mut tx, new).await?;
        if let Some(attempt) = attempt
            && let Some(prior) = idempotency::claim(&mut tx, attempt, &resource(id)).await?
        {
            tx.rollback().await?;
            return Ok(Err(prior));
        }
        tx.commit().await?;
        Ok(Ok(id))
    }

    /// Pay confirmed payment `pay_id`: `CREATED → PAID` and `Applied`, unless events got here
    /// first. The answer `render`ed for the booking is stored for its `Idempotency-Key`, if
    /// any, in the same transaction. A booking that ended meanwhile is
    /// [`Error::EndedWhilePaying`] (its key freed).
    #[tracing::instrument(
        name = "db",
        target = "hifive::db",
        skip_all,
        fields(op = "record_payment")
    )]
    pub async fn record_payment(
        &self,
        id: ConferenceId,
        pay_id: PayId,
        request_id: &str,
        render: Render<'_, Booking>,
    ) -> Result<Booking, Error> {
        let mut tx = self.db.begin().await?;
        store::lock(&mut tx, id).await?;
        let mut booking = store::find(&mut tx, id).await?.ok_or(Error::NotFound(id))?;
        match domain::payment(booking.status) {
            Payment::Awaited => {
                store::set_status(&mut tx, id, ConferenceStatus::Paid, Some(pay_id)).await?;
                booking.status = ConferenceStatus::Paid;
                booking.pay_id = Some(pay_id);
                let applied = Envelope::new(Event::Applied(Applied {
                    conference_id: id,
                    conference_status: ConferenceStatus::Paid,
                    room_number: booking.room_number,
                    pay_id,
                }));
                self.outbox
                    .enqueue(&mut tx, &applied, Some(request_id))
                    .await?;
            }
            // Events got here first: the status stands, the payment id is recorded.
            Payment::Made => {
                store::add_pay_id(&mut tx, id, pay_id).await?;
                booking.pay_id = booking.pay_id.or(Some(pay_id));
            }
            Payment::Ended => {
                store::add_pay_id(&mut tx, id, pay_id).await?;
                idempotency::release(&mut tx, &resource(id)).await?;
                tx.commit().await?;
                return Err(Error::EndedWhilePaying {
                    id,
                    status: booking.status,
                });
            }
        }
        idempotency::complete(&mut tx, &resource(id), &render(&booking)).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(booking)
    }

    /// The pay call failed. Returns the booking if the saga proceeded anyway (pay did
    /// charge), storing its key's answer when there is a `render`er (the sweeper has none:
    /// that answer is rendered when the key is used again); otherwise the booking's
    /// `Idempotency-Key` is freed for a retry.
    #[tracing::instrument(
        name = "db",
        target = "hifive::db",
        skip_all,
        fields(op = "record_pay_failure")
    )]
    pub async fn record_pay_failure(
        &self,
        id: ConferenceId,
        may_have_charged: bool,
        request_id: &str,
        render: Option<Render<'_, Booking>>,
    ) -> Result<Option<Booking>, Error> {
        let mut tx = self.db.begin().await?;
        store::lock(&mut tx, id).await?;
        let booking = store::find(&mut tx, id).await?.ok_or(Error::NotFound(id))?;
        let stage = domain::payment(booking.status);
        let stands = match stage {
            Payment::Awaited => {
                store::set_status(&mut tx, id, ConferenceStatus::Failed, None).await?;
                if may_have_charged {
                    let event = apply_canceled(&booking);
                    self.outbox
                        .enqueue(&mut tx, &event, Some(request_id))
                        .await?;
                }
                None
            }
            // Pay did charge and the saga moved on through events: the booking stands.
            Payment::Made => Some(booking),
            Payment::Ended => None,
        };
        match (&stands, render) {
            (None, _) => idempotency::release(&mut tx, &resource(id)).await?,
            (Some(booking), Some(render)) => {
                idempotency::complete(&mut tx, &resource(id), &render(booking)).await?
            }
            (Some(_), None) => {}
        }
        tx.commit().await?;
        self.outbox.wake();
        if stage == Payment::Awaited {
            // It was CREATED and is FAILED now.
            metrics::booking_reached(ConferenceStatus::Failed);
        }
        Ok(stands)
    }

    /// Removes a booking that never reached pay (the pay guard refused it at once): nothing
    /// was announced or charged, so nothing is kept, and its key is freed. Only a `CREATED`
    /// booking is removed.
    #[tracing::instrument(
        name = "db",
        target = "hifive::db",
        skip_all,
        fields(op = "discard_booking")
    )]
    pub async fn discard(&self, id: ConferenceId) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        store::delete_created(&mut tx, id).await?;
        idempotency::release(&mut tx, &resource(id)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends the bookings left `CREATED` since before `cutoff` (RFC 3339): their pay call
    /// ended long ago without an answer being recorded (the service stopped mid-call). Each
    /// becomes `FAILED` and asks pay to refund what it may have charged, as a timed-out call
    /// does. Returns their ids.
    pub async fn fail_stuck(&self, cutoff: &str) -> Result<Vec<ConferenceId>, Error> {
        let stuck = store::created_before(&self.db, cutoff, SWEEP_BATCH).await?;
        let mut ended = Vec::with_capacity(stuck.len());
        for booking in stuck {
            let id = booking.conference_id;
            let request_id = booking.request_id.unwrap_or_default();
            self.record_pay_failure(id, true, &request_id, None).await?;
            ended.push(id);
        }
        Ok(ended)
    }

    /// Answers the `Idempotency-Key` of booking `id`, whose request was cut short, now that
    /// the booking has moved on (`Some(answer)`), or frees it (`None`).
    pub(super) async fn settle_key(
        &self,
        id: ConferenceId,
        answer: Option<&Stored>,
    ) -> Result<(), Error> {
        let mut conn = self.db.acquire().await?;
        match answer {
            Some(answer) => idempotency::complete(&mut conn, &resource(id), answer).await?,
            None => idempotency::release(&mut conn, &resource(id)).await?,
        }
        Ok(())
    }
}
