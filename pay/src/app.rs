//! The use cases of pay: charge a booking, refund it, read payments. Each change and the
//! event that announces it are written in one transaction (the outbox).

use hifive_common::{Db, DbConn, Outbox, PageParams, Scope};
use shared_events::{ConferenceId, Envelope, Event, Paid, PayCanceled, PayId, PayStatus};

use crate::{
    domain::{self, Booking, OnRefund, OnRequest, Payment, Refusal},
    error::Error,
    metrics,
    overload::Overload,
    store,
};

/// What a payment request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charged {
    /// Charged now.
    New(PayId),
    /// Charged before (a retry): the same payment.
    Again(PayId),
}

/// What the use cases work with: the database, the outbox and the overload simulation.
#[derive(Clone)]
pub struct Payments {
    db: Db,
    outbox: Outbox,
    overload: Overload,
}

impl Payments {
    pub fn new(db: Db, outbox: Outbox, overload: Overload) -> Self {
        Self {
            db,
            outbox,
            overload,
        }
    }

    /// Charges `booking` once; `Paid` is announced with the payment. Waits for a capacity
    /// slot first, and takes the simulated processing time once the decision is stored.
    pub async fn charge(&self, booking: &Booking, request_id: &str) -> Result<Charged, Error> {
        let slot = self.overload.enter().await;
        let decided = self.record(booking, request_id).await?;
        slot.work().await;
        decided.map_err(|refusal| Error::Refused {
            conference_id: booking.conference_id,
            refusal,
        })
    }

    /// Decides on `booking`'s request and stores the decision.
    #[tracing::instrument(
        name = "db",
        target = "hifive::db",
        skip_all,
        fields(op = "record_payment")
    )]
    async fn record(
        &self,
        booking: &Booking,
        request_id: &str,
    ) -> Result<Result<Charged, Refusal>, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        store::lock(&mut tx, booking.conference_id).await?;
        let existing = store::by_conference(&mut tx, booking.conference_id).await?;
        let voided = store::is_voided(&mut tx, booking.conference_id).await?;
        let decided = match domain::on_request(existing.as_ref(), voided) {
            OnRequest::Charge => {
                let pay_id = store::insert(&mut tx, booking, PayStatus::Paid).await?;
                let paid = Envelope::new(Event::Paid(Paid {
                    pay_id,
                    pay_status: PayStatus::Paid,
                    conference_id: booking.conference_id,
                    room_number: booking.room_number,
                }));
                self.outbox
                    .enqueue(&mut tx, &paid, Some(request_id))
                    .await?;
                Ok(Charged::New(pay_id))
            }
            OnRequest::AlreadyPaid(pay_id) => Ok(Charged::Again(pay_id)),
            OnRequest::Refuse(refusal) => Err(refusal),
        };
        tx.commit().await?;
        self.outbox.wake();
        if let Ok(Charged::New(pay_id)) = decided {
            metrics::payment_reached(PayStatus::Paid);
            tracing::info!(
                conference_id = booking.conference_id.get(),
                pay_id = pay_id.get(),
                room_number = booking.room_number.get(),
                "payment made"
            );
        }
        Ok(decided)
    }

    /// Payment `pay_id`, if `scope` sees it (another customer's is not found).
    pub async fn payment(&self, scope: Scope<'_>, pay_id: PayId) -> Result<Payment, Error> {
        store::find(&self.db, pay_id)
            .await?
            .filter(|p| scope.sees(p.customer.as_deref()))
            .ok_or(Error::NotFound(pay_id))
    }

    /// A page of the payments `scope` sees, and how many there are.
    pub async fn payments(
        &self,
        scope: Scope<'_>,
        page: PageParams,
    ) -> Result<(Vec<Payment>, i64), Error> {
        Ok(store::list(&self.db, scope.owner(), page.size, page.offset()).await?)
    }
}

/// Refunds booking `conference_id` if it was charged (announcing `PayCanceled`), or voids it
/// so that a late payment request is refused; inside the consumer's transaction `conn`.
pub async fn refund(
    conn: &mut DbConn,
    outbox: &Outbox,
    conference_id: ConferenceId,
    reason: &str,
    request_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    store::lock(conn, conference_id).await?;
    let payment = store::by_conference(conn, conference_id).await?;
    match domain::on_refund(payment) {
        OnRefund::Refund(payment) => {
            store::set_status(conn, payment.pay_id, PayStatus::Canceled).await?;
            let canceled = Envelope::new(Event::PayCanceled(PayCanceled {
                pay_id: payment.pay_id,
                pay_status: PayStatus::Canceled,
                conference_id,
                room_number: payment.room_number,
            }));
            outbox.enqueue(conn, &canceled, request_id).await?;
            metrics::payment_reached(PayStatus::Canceled);
            tracing::info!(
                conference_id = conference_id.get(),
                pay_id = payment.pay_id.get(),
                reason,
                "payment refunded"
            );
        }
        OnRefund::AlreadyRefunded => {}
        OnRefund::Void => {
            store::void(conn, conference_id).await?;
            tracing::info!(
                conference_id = conference_id.get(),
                reason,
                "nothing was charged; booking voided"
            );
        }
    }
    Ok(())
}
