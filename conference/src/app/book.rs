//! Booking a room. Admitted only while the saga keeps up and pay may be called (otherwise
//! refused at once, storing nothing); then the booking is created, paid for synchronously and
//! carried to its end even if the client goes away meanwhile. With an `Idempotency-Key`, a
//! retry gets the first request's answer.

use std::time::Duration;

use hifive_common::idempotency::{self, Attempt, Prior, Render, Stored};
use shared_events::{ConferenceId, ConferenceStatus, PayId, RoomNumber};
use tracing::Instrument;

use super::{Bookings, booking_of};
use crate::{
    domain::{self, Payment},
    error::Error,
    metrics::{self, Refusal, Step},
    pay_guard::{Admission, GuardedPay, PayCallError, PayRequest},
    saga_guard::{SagaBusy, SagaGuard},
    store::{Booking, NewBooking},
};

/// What a customer asked to book.
#[derive(Debug, Clone)]
pub struct BookingRequest {
    pub room_number: RoomNumber,
    /// Who books (the token's `sub`).
    pub customer: String,
    pub request_id: String,
    /// The request under its `Idempotency-Key`, if it sent one.
    pub attempt: Option<Attempt>,
}

/// How a booking request ended well.
#[derive(Debug)]
pub enum Booked {
    /// Booked and paid now (or the saga went on without pay's answer): the `201`.
    Now(Booking),
    /// An earlier request with the same `Idempotency-Key` answers this one.
    Earlier(Prior),
}

/// Books rooms: the bookings, and the guarded ways to pay and to the saga.
#[derive(Clone)]
pub struct Booker {
    bookings: Bookings,
    pay: GuardedPay,
    saga: SagaGuard,
    /// The `Retry-After` when pay did not confirm a payment.
    retry_after_secs: u64,
    /// A request holding an `Idempotency-Key` this long ago was cut short.
    stuck_after: Duration,
}

impl Booker {
    pub fn new(
        bookings: Bookings,
        pay: GuardedPay,
        saga: SagaGuard,
        retry_after_secs: u64,
        stuck_after: Duration,
    ) -> Self {
        Self {
            bookings,
            pay,
            saga,
            retry_after_secs,
            stuck_after,
        }
    }

    /// Books and pays; `render` gives the `201` answer kept for the request's key.
    pub async fn book<R>(&self, request: BookingRequest, render: R) -> Result<Booked, Error>
    where
        R: Fn(&Booking) -> Stored + Send + Sync + 'static,
    {
        if let Some(attempt) = &request.attempt
            && let Some(prior) = idempotency::lookup(&self.bookings.db, attempt).await?
            && let Some(prior) = self.earlier(prior, &render).await?
        {
            return Ok(Booked::Earlier(prior));
        }
        self.saga.admit().await.map_err(|e| self.saga_busy(e))?;
        let admission = self.pay.admit().map_err(|e| self.payment_busy(e))?;
        // Once started, a booking is carried to its end even if the client goes away
        // meanwhile: its answer is then kept for its Idempotency-Key.
        let booker = self.clone();
        let work = async move { booker.create_and_pay(request, admission, &render).await };
        tokio::spawn(work.instrument(tracing::Span::current()))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "booking task failed");
                Err(Error::Unfinished)
            })
    }

    /// What answers a request whose key an earlier request holds (`None`: the key is free
    /// again and the request goes ahead). An earlier request that was cut short (the service
    /// stopped before it answered) is answered from its booking once the booking moved on.
    async fn earlier(
        &self,
        prior: Prior,
        render: Render<'_, Booking>,
    ) -> Result<Option<Prior>, Error> {
        let Prior::InFlight { resource, since } = &prior else {
            return Ok(Some(prior));
        };
        let cut_short = since.as_str() < hifive_common::db::ago(self.stuck_after).as_str();
        let (true, Some(id)) = (cut_short, booking_of(resource)) else {
            return Ok(Some(prior));
        };
        let Some(booking) = self.bookings.find(id).await? else {
            // No longer there: the retry books anew.
            self.bookings.settle_key(id, None).await?;
            return Ok(None);
        };
        match domain::payment(booking.status) {
            Payment::Awaited => Ok(Some(prior)),
            Payment::Made => {
                let answer = render(&booking);
                self.bookings.settle_key(id, Some(&answer)).await?;
                Ok(Some(Prior::Done(answer)))
            }
            Payment::Ended => {
                self.bookings.settle_key(id, None).await?;
                Ok(None)
            }
        }
    }

    /// Creates the booking, pays for it and records the payment (or the failure).
    async fn create_and_pay(
        &self,
        request: BookingRequest,
        admission: Admission,
        render: Render<'_, Booking>,
    ) -> Result<Booked, Error> {
        let BookingRequest {
            room_number,
            customer,
            request_id,
            attempt,
        } = request;
        let new = NewBooking {
            room_number,
            customer: &customer,
            request_id: &request_id,
        };
        let id = match self.bookings.create(&new, attempt.as_ref()).await? {
            Ok(id) => id,
            // Another request with the key got there first.
            Err(prior) => return Ok(Booked::Earlier(prior)),
        };
        tracing::Span::current().record("conference_id", id.get());
        tracing::info!(
            conference_id = id.get(),
            room_number = room_number.get(),
            "booking created; paying"
        );
        let payment = admission
            .pay(PayRequest {
                conference_id: id,
                room_number,
                customer,
                request_id: request_id.clone(),
            })
            .await;
        self.record(id, &request_id, payment, render).await
    }

    /// Records what the pay call gave.
    async fn record(
        &self,
        id: ConferenceId,
        request_id: &str,
        payment: Result<PayId, PayCallError>,
        render: Render<'_, Booking>,
    ) -> Result<Booked, Error> {
        let reason = match payment {
            Ok(pay_id) => {
                let booking = (self.bookings)
                    .record_payment(id, pay_id, request_id, render)
                    .await?;
                tracing::info!(
                    conference_id = id.get(),
                    pay_id = pay_id.get(),
                    status = %booking.status,
                    "booking paid"
                );
                return Ok(Booked::Now(paid(booking)));
            }
            Err(PayCallError::Pay(reason)) => reason,
            Err(refused) => {
                // The half-open breaker refused it: pay was not called, nothing was charged,
                // and the booking is removed.
                self.bookings.discard(id).await?;
                return Err(self.payment_busy(refused));
            }
        };
        let refund = reason.may_have_charged();
        let stands = (self.bookings)
            .record_pay_failure(id, refund, request_id, Some(render))
            .await?;
        if let Some(booking) = stands {
            return Ok(Booked::Now(paid(booking)));
        }
        tracing::warn!(conference_id = id.get(), error = %reason, refund, "payment failed; booking FAILED");
        metrics::refused(Refusal::PaymentUnavailable);
        Err(Error::PaymentUnavailable {
            id,
            reason,
            retry_after: self.retry_after_secs,
        })
    }

    /// Backpressure: the saga is behind.
    fn saga_busy(&self, reason: SagaBusy) -> Error {
        tracing::debug!(reason = reason.reason(), detail = %reason, "booking refused at once: the saga is behind");
        metrics::refused(Refusal::SagaBusy);
        Error::SagaBusy {
            reason,
            retry_after: self.saga.limits().retry_after_secs,
        }
    }

    /// The fallback: pay was not asked (breaker open, bulkhead full).
    fn payment_busy(&self, reason: PayCallError) -> Error {
        let retry_after = match reason {
            PayCallError::Busy(_) => 1,
            _ => self.pay.retry_after_secs(),
        };
        tracing::debug!(reason = %reason, "booking refused at once: payment is busy");
        metrics::refused(Refusal::PaymentBusy);
        Error::PaymentBusy {
            reason,
            retry_after,
        }
    }
}

/// The `201`: booking `booking` is made and paid (`PAID`, or further when the saga's events
/// overtook pay's answer), once per booking.
fn paid(booking: Booking) -> Booking {
    metrics::booking_reached(ConferenceStatus::Paid);
    metrics::saga_step(Step::Paid, &booking.created_at);
    booking
}
