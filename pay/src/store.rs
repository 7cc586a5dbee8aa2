//! Payments in the pay database: plain SQL over typed rows. Transactions and decisions are
//! the use cases' ([`crate::app`]).

use hifive_common::{
    Db, DbConn,
    db::{self, LockScope, Paged, Table, now},
};
use shared_events::{ConferenceId, PayId, PayStatus};
use sqlx::{FromRow, Row, any::AnyRow};

use crate::domain::{Booking, Payment};

/// A row of `pay` is a [`Payment`] (the domain stays free of SQL).
impl FromRow<'_, AnyRow> for Payment {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let status: String = row.try_get("status")?;
        Ok(Payment {
            pay_id: row.try_get("pay_id")?,
            status: status.parse().map_err(|e| sqlx::Error::ColumnDecode {
                index: "status".into(),
                source: Box::new(e),
            })?,
            conference_id: row.try_get("conference_id")?,
            room_number: row.try_get("room_number")?,
            customer: row.try_get("customer")?,
        })
    }
}

/// Serialises the transactions that read and then change booking `id`'s payment.
pub async fn lock(conn: &mut DbConn, id: ConferenceId) -> Result<(), sqlx::Error> {
    db::lock(conn, LockScope::Conference, id.get()).await
}

const COLUMNS: &str = "pay_id, status, conference_id, room_number, customer";
const PAYMENTS: Table = Table::new("pay", COLUMNS, "pay_id");

/// The payment `pay_id`, if it exists.
pub async fn find(db: &Db, pay_id: PayId) -> Result<Option<Payment>, sqlx::Error> {
    PAYMENTS.find(db, "pay_id", pay_id).await
}

/// The payment of booking `conference_id`, if it was charged.
pub async fn by_conference(
    conn: &mut DbConn,
    conference_id: ConferenceId,
) -> Result<Option<Payment>, sqlx::Error> {
    PAYMENTS.find(conn, "conference_id", conference_id).await
}

/// A page of the payments of `owner` (every payment: `None`), and how many there are.
pub async fn list(db: &Db, owner: Option<&str>, limit: i64, offset: i64) -> Paged<Payment> {
    PAYMENTS.of_customer(owner).page(db, limit, offset).await
}

/// Records a payment of `booking` with `status`; its new id.
pub async fn insert(
    conn: &mut DbConn,
    booking: &Booking,
    status: PayStatus,
) -> Result<PayId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO pay (conference_id, room_number, customer, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING pay_id",
    )
    .bind(booking.conference_id)
    .bind(booking.room_number)
    .bind(&booking.customer)
    .bind(status.as_str())
    .bind(now())
    .fetch_one(conn)
    .await
}

/// Sets the status of payment `pay_id`.
pub async fn set_status(
    conn: &mut DbConn,
    pay_id: PayId,
    status: PayStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE pay SET status = $1, updated_at = $2 WHERE pay_id = $3")
        .bind(status.as_str())
        .bind(now())
        .bind(pay_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether booking `conference_id` was voided (cancelled before it was charged).
pub async fn is_voided(
    conn: &mut DbConn,
    conference_id: ConferenceId,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT 1 AS v FROM voided_conference WHERE conference_id = $1")
        .bind(conference_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// Remembers that booking `conference_id` was cancelled before it was charged (once).
pub async fn void(conn: &mut DbConn, conference_id: ConferenceId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO voided_conference (conference_id, voided_at) VALUES ($1, $2)
         ON CONFLICT (conference_id) DO NOTHING",
    )
    .bind(conference_id)
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}
