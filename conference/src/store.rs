//! Bookings in the conference database. Every state change and the event it causes are
//! written in one transaction (the outbox).

use hifive_common::{
    AppError, DbConn, Outbox, Scope,
    db::{LockScope, Match, PageQuery, lock, now},
    idempotency::{self, Attempt, Prior, Render, Stored},
};
use serde_json::{Value, json};
use shared_events::{
    Applied, ApplyCanceled, ConferenceId, ConferenceStatus as Status, Envelope, Event, PayId,
    RoomNumber,
};
use sqlx::{AnyPool, FromRow, Row};

use crate::domain::{self, OnCancel, OnPaid, OnPayFailure};

#[derive(Debug, Clone, FromRow)]
pub struct Booking {
    pub conference_id: ConferenceId,
    #[sqlx(try_from = "String")]
    pub status: Status,
    pub pay_id: Option<PayId>,
    pub room_number: RoomNumber,
    /// Who booked (`sub`); none for bookings made before owners were recorded.
    pub customer: Option<String>,
}

/// The key of a booking's `Idempotency-Key` record.
pub fn resource(id: ConferenceId) -> String {
    format!("conference:{id}")
}

impl Booking {
    /// The API shape (Spring Data REST fields plus the id).
    pub fn to_json(&self) -> Value {
        json!({
            "conferenceId": self.conference_id,
            "status": self.status.as_str(),
            "payId": self.pay_id,
            "roomNumber": self.room_number,
            "customer": self.customer,
        })
    }

    fn apply_canceled(&self) -> Envelope {
        Envelope::new(Event::ApplyCanceled(ApplyCanceled {
            conference_id: self.conference_id,
            conference_status: Status::Canceled,
            pay_id: self.pay_id,
            room_number: self.room_number,
        }))
    }
}

const COLUMNS: &str = "conference_id, status, pay_id, room_number, customer";

/// A new `CREATED` booking of `customer`; with an `Idempotency-Key`, the key is taken in the
/// same transaction (`Err(prior)`, and nothing is created, when it is taken already).
pub async fn create(
    db: &AnyPool,
    room_number: RoomNumber,
    customer: &str,
    request_id: &str,
    attempt: Option<&Attempt>,
) -> Result<Result<ConferenceId, Prior>, sqlx::Error> {
    let at = now();
    let mut tx = db.begin().await?;
    let row = sqlx::query(
        "INSERT INTO conference (status, room_number, customer, request_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING conference_id",
    )
    .bind(Status::Created.as_str())
    .bind(room_number)
    .bind(customer)
    .bind(request_id)
    .bind(at)
    .fetch_one(&mut *tx)
    .await?;
    let id: ConferenceId = row.try_get("conference_id")?;
    if let Some(attempt) = attempt
        && let Some(prior) = idempotency::claim(&mut tx, attempt, &resource(id)).await?
    {
        tx.rollback().await?;
        return Ok(Err(prior));
    }
    tx.commit().await?;
    Ok(Ok(id))
}

pub async fn find(conn: &mut DbConn, id: ConferenceId) -> Result<Option<Booking>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM conference WHERE conference_id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(Booking::from_row).transpose()
}

/// A page of the bookings `scope` may see.
pub async fn list(
    db: &AnyPool,
    scope: Scope<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Booking>, i64), sqlx::Error> {
    PageQuery {
        table: "conference",
        columns: COLUMNS,
        order_by: "conference_id",
        filter: scope.owner().map(|owner| ("customer", Match::Text(owner))),
    }
    .fetch(db, limit, offset, |row| Booking::from_row(row))
    .await
}

async fn set_status(
    conn: &mut DbConn,
    id: ConferenceId,
    status: Status,
    pay_id: Option<PayId>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE conference SET status = $1, pay_id = COALESCE($2, pay_id), updated_at = $3
         WHERE conference_id = $4",
    )
    .bind(status.as_str())
    .bind(pay_id)
    .bind(now())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

fn missing(id: ConferenceId) -> AppError {
    AppError::not_found(format!("conference {id} does not exist"))
}

/// Pay confirmed payment `pay_id`: `CREATED → PAID` and `Applied`, unless events got here
/// first. The answer `render`ed for the booking is stored for its `Idempotency-Key`, if any,
/// in the same transaction.
pub async fn record_payment(
    db: &AnyPool,
    outbox: &Outbox,
    id: ConferenceId,
    pay_id: PayId,
    request_id: &str,
    render: impl Fn(&Booking) -> Stored,
) -> Result<Booking, AppError> {
    let mut tx = db.begin().await?;
    lock(&mut tx, LockScope::Conference, id.get()).await?;
    let mut booking = find(&mut tx, id).await?.ok_or_else(|| missing(id))?;
    let decision = domain::on_paid(booking.status);
    match decision {
        OnPaid::MarkPaid => {
            set_status(&mut tx, id, Status::Paid, Some(pay_id)).await?;
            booking.status = Status::Paid;
            booking.pay_id = Some(pay_id);
            let applied = Envelope::new(Event::Applied(Applied {
                conference_id: id,
                conference_status: Status::Paid,
                room_number: booking.room_number,
                pay_id,
            }));
            outbox.enqueue(&mut tx, &applied, Some(request_id)).await?;
        }
        OnPaid::KeepStatus | OnPaid::Ended => {
            sqlx::query(
                "UPDATE conference SET pay_id = COALESCE(pay_id, $1) WHERE conference_id = $2",
            )
            .bind(pay_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            booking.pay_id = booking.pay_id.or(Some(pay_id));
        }
    }
    match decision {
        OnPaid::Ended => idempotency::release(&mut tx, &resource(id)).await?,
        _ => idempotency::complete(&mut tx, &resource(id), &render(&booking)).await?,
    }
    tx.commit().await?;
    outbox.wake();
    Ok(booking)
}

/// The pay call failed. Returns the booking if the saga proceeded anyway (pay did charge);
/// otherwise the booking's `Idempotency-Key` is freed for a retry.
pub async fn record_pay_failure(
    db: &AnyPool,
    outbox: &Outbox,
    id: ConferenceId,
    may_have_charged: bool,
    request_id: &str,
    render: Option<Render<'_, Booking>>,
) -> Result<Option<Booking>, AppError> {
    let mut tx = db.begin().await?;
    lock(&mut tx, LockScope::Conference, id.get()).await?;
    let booking = find(&mut tx, id).await?.ok_or_else(|| missing(id))?;
    let outcome = match domain::on_pay_failure(booking.status, may_have_charged) {
        OnPayFailure::MarkFailed { refund } => {
            set_status(&mut tx, id, Status::Failed, None).await?;
            if refund {
                outbox
                    .enqueue(&mut tx, &booking.apply_canceled(), Some(request_id))
                    .await?;
            }
            None
        }
        OnPayFailure::Proceeded => Some(booking),
        OnPayFailure::Ended => None,
    };
    match (&outcome, render) {
        (None, _) => idempotency::release(&mut tx, &resource(id)).await?,
        (Some(booking), Some(render)) => {
            idempotency::complete(&mut tx, &resource(id), &render(booking)).await?
        }
        // The sweeper: the answer is rendered when the key is used again.
        (Some(_), None) => {}
    }
    tx.commit().await?;
    outbox.wake();
    Ok(outcome)
}

/// `DELETE /conferences/{id}` by `customer`: another customer's booking is missing to them.
pub async fn cancel(
    db: &AnyPool,
    outbox: &Outbox,
    id: ConferenceId,
    customer: &str,
    request_id: &str,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    lock(&mut tx, LockScope::Conference, id.get()).await?;
    let booking = find(&mut tx, id)
        .await?
        .filter(|b| b.customer.as_deref() == Some(customer))
        .ok_or_else(|| missing(id))?;
    match domain::on_cancel(booking.status) {
        OnCancel::Cancel => {
            set_status(&mut tx, id, Status::Canceled, None).await?;
            outbox
                .enqueue(&mut tx, &booking.apply_canceled(), Some(request_id))
                .await?;
            tx.commit().await?;
            outbox.wake();
            tracing::info!(
                conference_id = id.get(),
                room_number = booking.room_number.get(),
                "booking cancelled"
            );
            Ok(())
        }
        OnCancel::AlreadyCanceled => Ok(()),
        OnCancel::NotCancelable => Err(AppError::conflict(
            "not_cancelable",
            format!(
                "conference {id} is {}: it holds no room or payment to cancel",
                booking.status.as_str()
            ),
        )),
    }
}

/// Moves a booking as an event dictates (`decide` maps the current status to the next one).
pub async fn follow_event(
    conn: &mut DbConn,
    id: ConferenceId,
    pay_id: PayId,
    decide: fn(Status) -> Option<Status>,
) -> Result<(), sqlx::Error> {
    lock(conn, LockScope::Conference, id.get()).await?;
    let Some(booking) = find(conn, id).await? else {
        tracing::warn!(
            conference_id = id.get(),
            "event about an unknown booking ignored"
        );
        return Ok(());
    };
    match decide(booking.status) {
        Some(next) => {
            set_status(conn, id, next, Some(pay_id)).await?;
            tracing::info!(
                conference_id = id.get(),
                status = next.as_str(),
                "booking updated"
            );
        }
        None => tracing::info!(
            conference_id = id.get(),
            status = booking.status.as_str(),
            "booking already ended; event changes nothing"
        ),
    }
    Ok(())
}

/// Ends the bookings left `CREATED` since before `cutoff` (RFC 3339): their pay call ended
/// long ago without an answer being recorded (the service stopped mid-call). Each becomes
/// `FAILED` and asks pay to refund what it may have charged, as a timed-out call does.
/// Returns their ids.
pub async fn fail_stuck(
    db: &AnyPool,
    outbox: &Outbox,
    cutoff: &str,
) -> Result<Vec<ConferenceId>, AppError> {
    let rows = sqlx::query(
        "SELECT conference_id, request_id FROM conference
         WHERE status = $1 AND created_at < $2 ORDER BY conference_id LIMIT 100",
    )
    .bind(Status::Created.as_str())
    .bind(cutoff)
    .fetch_all(db)
    .await?;
    let mut ended = Vec::with_capacity(rows.len());
    for row in rows {
        let id: ConferenceId = row.try_get("conference_id")?;
        let request_id: Option<String> = row.try_get("request_id")?;
        record_pay_failure(
            db,
            outbox,
            id,
            true,
            request_id.as_deref().unwrap_or_default(),
            None,
        )
        .await?;
        ended.push(id);
    }
    Ok(ended)
}

/// Removes a booking that never reached pay (the pay guard refused it at once): nothing was
/// announced or charged, so nothing is kept. Only a `CREATED` booking is removed.
pub async fn discard(db: &AnyPool, id: ConferenceId) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM conference WHERE conference_id = $1 AND status = $2")
        .bind(id)
        .bind(Status::Created.as_str())
        .execute(&mut *tx)
        .await?;
    idempotency::release(&mut tx, &resource(id)).await?;
    tx.commit().await?;
    Ok(())
}

/// Stores the answer for a booking's `Idempotency-Key` whose request was cut short (the
/// service stopped before it answered) once the booking has moved on.
pub async fn complete_key(
    db: &AnyPool,
    id: ConferenceId,
    answer: &Stored,
) -> Result<(), sqlx::Error> {
    let mut conn = db.acquire().await?;
    idempotency::complete(&mut conn, &resource(id), answer).await
}

/// Frees a booking's `Idempotency-Key` whose request was cut short and whose booking ended
/// unpaid (or is gone): a retry books anew.
pub async fn release_key(db: &AnyPool, id: ConferenceId) -> Result<(), sqlx::Error> {
    let mut conn = db.acquire().await?;
    idempotency::release(&mut conn, &resource(id)).await
}
