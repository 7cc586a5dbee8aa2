//! Payments in the pay database; each change and its event in one transaction.

use hifive_common::{
    DbConn, Outbox,
    db::{LockScope, Match, PageQuery, lock, now},
};
use serde_json::{Value, json};
use shared_events::{Envelope, Event, Paid, PayCanceled, PayStatus, UnknownStatus};
use sqlx::{AnyPool, Row, any::AnyRow};

use crate::domain::{self, Existing, OnRefund, OnRequest};

#[derive(Debug, Clone)]
pub struct Payment {
    pub pay_id: i64,
    pub status: PayStatus,
    pub conference_id: i64,
    pub room_number: i64,
    /// Whose payment it is (the booking customer's `sub`).
    pub customer: Option<String>,
}

impl Payment {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let raw: String = row.try_get("status")?;
        Ok(Self {
            pay_id: row.try_get("pay_id")?,
            status: raw
                .parse()
                .map_err(|e: UnknownStatus| sqlx::Error::Decode(e.into()))?,
            conference_id: row.try_get("conference_id")?,
            room_number: row.try_get("room_number")?,
            customer: row.try_get("customer")?,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "payId": self.pay_id,
            "status": self.status.as_str(),
            "conferenceId": self.conference_id,
            "roomNumber": self.room_number,
            "customer": self.customer,
        })
    }

    fn existing(&self) -> Existing {
        Existing {
            pay_id: self.pay_id,
            status: self.status,
        }
    }
}

/// A stored number as an id (ids in the table are positive).
fn id<T: TryFrom<i64, Error = shared_events::InvalidId>>(n: i64) -> Result<T, sqlx::Error> {
    T::try_from(n).map_err(|e| sqlx::Error::Decode(e.into()))
}

const COLUMNS: &str = "pay_id, status, conference_id, room_number, customer";

async fn by_conference(
    conn: &mut DbConn,
    conference_id: i64,
) -> Result<Option<Payment>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM pay WHERE conference_id = $1"
    ))
    .bind(conference_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(Payment::from_row).transpose()
}

pub async fn find(db: &AnyPool, pay_id: i64) -> Result<Option<Payment>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM pay WHERE pay_id = $1"))
        .bind(pay_id)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(Payment::from_row).transpose()
}

/// A page of the payments of `owner` (every payment: `None`).
pub async fn list(
    db: &AnyPool,
    owner: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Payment>, i64), sqlx::Error> {
    PageQuery {
        table: "pay",
        columns: COLUMNS,
        order_by: "pay_id",
        filter: owner.map(|owner| ("customer", Match::Text(owner))),
    }
    .fetch(db, limit, offset, Payment::from_row)
    .await
}

/// The result of a payment request.
pub enum Charged {
    New(i64),
    Again(i64),
    Refused(&'static str),
}

/// Charges booking `conference_id` once; `Paid` is announced in the same transaction.
pub async fn charge(
    db: &AnyPool,
    outbox: &Outbox,
    conference_id: i64,
    room_number: i64,
    customer: &str,
    request_id: &str,
) -> Result<Charged, sqlx::Error> {
    let mut tx = db.begin().await?;
    lock(&mut tx, LockScope::Conference, conference_id).await?;
    let existing = by_conference(&mut tx, conference_id)
        .await?
        .map(|p| p.existing());
    let voided = sqlx::query("SELECT 1 AS v FROM voided_conference WHERE conference_id = $1")
        .bind(conference_id)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
    let outcome = match domain::on_request(existing, voided) {
        OnRequest::Charge => {
            let at = now();
            let pay_id: i64 = sqlx::query(
                "INSERT INTO pay (conference_id, room_number, customer, status, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING pay_id",
            )
            .bind(conference_id)
            .bind(room_number)
            .bind(customer)
            .bind(PayStatus::Paid.as_str())
            .bind(at)
            .fetch_one(&mut *tx)
            .await?
            .try_get("pay_id")?;
            let paid = Envelope::new(Event::Paid(Paid {
                pay_id: id(pay_id)?,
                pay_status: PayStatus::Paid,
                conference_id: id(conference_id)?,
                room_number: id(room_number)?,
            }));
            outbox.enqueue(&mut tx, &paid, Some(request_id)).await?;
            Charged::New(pay_id)
        }
        OnRequest::AlreadyPaid(pay_id) => Charged::Again(pay_id),
        OnRequest::Refuse(why) => Charged::Refused(why),
    };
    tx.commit().await?;
    outbox.wake();
    Ok(outcome)
}

/// Refunds booking `conference_id` if it was charged (announcing `PayCanceled`), or voids it.
pub async fn refund(
    conn: &mut DbConn,
    outbox: &Outbox,
    conference_id: i64,
    reason: &str,
    request_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    lock(conn, LockScope::Conference, conference_id).await?;
    let payment = by_conference(conn, conference_id).await?;
    let decision = domain::on_refund(payment.as_ref().map(Payment::existing));
    match (decision, payment) {
        (OnRefund::Refund(pay_id), Some(payment)) => {
            sqlx::query("UPDATE pay SET status = $1, updated_at = $2 WHERE pay_id = $3")
                .bind(PayStatus::Canceled.as_str())
                .bind(now())
                .bind(pay_id)
                .execute(&mut *conn)
                .await?;
            let canceled = Envelope::new(Event::PayCanceled(PayCanceled {
                pay_id: id(pay_id)?,
                pay_status: PayStatus::Canceled,
                conference_id: id(conference_id)?,
                room_number: id(payment.room_number)?,
            }));
            outbox.enqueue(conn, &canceled, request_id).await?;
            tracing::info!(conference_id, pay_id, reason, "payment refunded");
        }
        (OnRefund::AlreadyRefunded, _) => {}
        // (A refund is decided only on a payment that exists: nothing to refund otherwise.)
        (OnRefund::Void | OnRefund::Refund(_), _) => {
            sqlx::query(
                "INSERT INTO voided_conference (conference_id, voided_at) VALUES ($1, $2)
                 ON CONFLICT (conference_id) DO NOTHING",
            )
            .bind(conference_id)
            .bind(now())
            .execute(conn)
            .await?;
            tracing::info!(conference_id, reason, "nothing was charged; booking voided");
        }
    }
    Ok(())
}
