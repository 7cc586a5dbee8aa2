//! Bookings in the conference database. Every state change and the event it causes are
//! written in one transaction (the outbox).

use hifive_common::{
    AppError, DbConn, Outbox,
    db::{LockScope, lock, now},
};
use serde_json::{Value, json};
use shared_events::{Applied, ApplyCanceled, Envelope, Event, conference_status};
use sqlx::{AnyPool, Row, any::AnyRow};

use crate::domain::{self, OnCancel, OnPaid, OnPayFailure, Status};

#[derive(Debug, Clone)]
pub struct Booking {
    pub conference_id: i64,
    pub status: Status,
    pub pay_id: Option<i64>,
    pub room_number: i64,
}

impl Booking {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let raw: String = row.try_get("status")?;
        Ok(Self {
            conference_id: row.try_get("conference_id")?,
            status: Status::parse(&raw)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown status {raw}").into()))?,
            pay_id: row.try_get("pay_id")?,
            room_number: row.try_get("room_number")?,
        })
    }

    /// The API shape (Spring Data REST fields plus the id).
    pub fn to_json(&self) -> Value {
        json!({
            "conferenceId": self.conference_id,
            "status": self.status.as_str(),
            "payId": self.pay_id,
            "roomNumber": self.room_number,
        })
    }

    fn apply_canceled(&self) -> Envelope {
        Envelope::new(Event::ApplyCanceled(ApplyCanceled {
            conference_id: self.conference_id,
            conference_status: conference_status::CANCELED.into(),
            pay_id: self.pay_id,
            room_number: self.room_number,
        }))
    }
}

const COLUMNS: &str = "conference_id, status, pay_id, room_number";

pub async fn create(db: &AnyPool, room_number: i64, request_id: &str) -> Result<i64, sqlx::Error> {
    let at = now();
    let row = sqlx::query(
        "INSERT INTO conference (status, room_number, request_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4) RETURNING conference_id",
    )
    .bind(Status::Created.as_str())
    .bind(room_number)
    .bind(request_id)
    .bind(at)
    .fetch_one(db)
    .await?;
    row.try_get("conference_id")
}

pub async fn find(conn: &mut DbConn, id: i64) -> Result<Option<Booking>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM conference WHERE conference_id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(Booking::from_row).transpose()
}

pub async fn list(
    db: &AnyPool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Booking>, i64), sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM conference ORDER BY conference_id LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await?;
    let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM conference")
        .fetch_one(db)
        .await?
        .try_get("n")?;
    Ok((
        rows.iter()
            .map(Booking::from_row)
            .collect::<Result<_, _>>()?,
        total,
    ))
}

async fn set_status(
    conn: &mut DbConn,
    id: i64,
    status: Status,
    pay_id: Option<i64>,
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

fn missing(id: i64) -> AppError {
    AppError::not_found(format!("conference {id} does not exist"))
}

/// Pay confirmed payment `pay_id`: `CREATED → PAID` and `Applied`, unless events got here first.
pub async fn record_payment(
    db: &AnyPool,
    outbox: &Outbox,
    id: i64,
    pay_id: i64,
    request_id: &str,
) -> Result<Booking, AppError> {
    let mut tx = db.begin().await?;
    lock(&mut tx, LockScope::Conference, id).await?;
    let mut booking = find(&mut tx, id).await?.ok_or_else(|| missing(id))?;
    match domain::on_paid(booking.status) {
        OnPaid::MarkPaid => {
            set_status(&mut tx, id, Status::Paid, Some(pay_id)).await?;
            booking.status = Status::Paid;
            booking.pay_id = Some(pay_id);
            let applied = Envelope::new(Event::Applied(Applied {
                conference_id: id,
                conference_status: Status::Paid.as_str().into(),
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
    tx.commit().await?;
    outbox.wake();
    Ok(booking)
}

/// The pay call failed. Returns the booking if the saga proceeded anyway (pay did charge).
pub async fn record_pay_failure(
    db: &AnyPool,
    outbox: &Outbox,
    id: i64,
    may_have_charged: bool,
    request_id: &str,
) -> Result<Option<Booking>, AppError> {
    let mut tx = db.begin().await?;
    lock(&mut tx, LockScope::Conference, id).await?;
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
    tx.commit().await?;
    outbox.wake();
    Ok(outcome)
}

/// `DELETE /conferences/{id}`.
pub async fn cancel(
    db: &AnyPool,
    outbox: &Outbox,
    id: i64,
    request_id: &str,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    lock(&mut tx, LockScope::Conference, id).await?;
    let booking = find(&mut tx, id).await?.ok_or_else(|| missing(id))?;
    match domain::on_cancel(booking.status) {
        OnCancel::Cancel => {
            set_status(&mut tx, id, Status::Canceled, None).await?;
            outbox
                .enqueue(&mut tx, &booking.apply_canceled(), Some(request_id))
                .await?;
            tx.commit().await?;
            outbox.wake();
            tracing::info!(
                conference_id = id,
                room_number = booking.room_number,
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
    id: i64,
    pay_id: i64,
    decide: fn(Status) -> Option<Status>,
) -> Result<(), sqlx::Error> {
    lock(conn, LockScope::Conference, id).await?;
    let Some(booking) = find(conn, id).await? else {
        tracing::warn!(conference_id = id, "event about an unknown booking ignored");
        return Ok(());
    };
    match decide(booking.status) {
        Some(next) => {
            set_status(conn, id, next, Some(pay_id)).await?;
            tracing::info!(
                conference_id = id,
                status = next.as_str(),
                "booking updated"
            );
        }
        None => tracing::info!(
            conference_id = id,
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
pub async fn fail_stuck(db: &AnyPool, outbox: &Outbox, cutoff: &str) -> Result<Vec<i64>, AppError> {
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
        let id: i64 = row.try_get("conference_id")?;
        let request_id: Option<String> = row.try_get("request_id")?;
        record_pay_failure(
            db,
            outbox,
            id,
            true,
            request_id.as_deref().unwrap_or_default(),
        )
        .await?;
        ended.push(id);
    }
    Ok(ended)
}

/// Removes a booking that never reached pay (the pay guard refused it at once): nothing was
/// announced or charged, so nothing is kept. Only a `CREATED` booking is removed.
pub async fn discard(db: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM conference WHERE conference_id = $1 AND status = $2")
        .bind(id)
        .bind(Status::Created.as_str())
        .execute(db)
        .await?;
    Ok(())
}
