//! Bookings in the conference database: plain SQL over typed rows. The use cases (`app`)
//! open the transactions and decide; these functions only read and write.

use hifive_common::{
    Db, DbConn,
    db::{self, LockScope, Paged, Table, now},
};
use shared_events::{ConferenceId, ConferenceStatus, PayId, RoomNumber};
use sqlx::{FromRow, Row};

/// A booking as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Booking {
    pub conference_id: ConferenceId,
    #[sqlx(try_from = "String")]
    pub status: ConferenceStatus,
    pub pay_id: Option<PayId>,
    pub room_number: RoomNumber,
    /// Who booked (`sub`); none for bookings made before owners were recorded.
    pub customer: Option<String>,
    /// When it was made (RFC 3339): the saga's steps are timed from it.
    pub created_at: String,
}

/// What a new booking records (it starts `CREATED`).
#[derive(Debug, Clone, Copy)]
pub struct NewBooking<'a> {
    pub room_number: RoomNumber,
    pub customer: &'a str,
    /// The request that made it: the events it causes carry the same id.
    pub request_id: &'a str,
}

/// A booking still `CREATED` (see [`created_before`]).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Unpaid {
    pub conference_id: ConferenceId,
    pub request_id: Option<String>,
}

const COLUMNS: &str = "conference_id, status, pay_id, room_number, customer, created_at";
const BOOKINGS: Table = Table::new("conference", COLUMNS, "conference_id");

/// Inserts a `CREATED` booking; returns its id.
pub async fn insert(conn: &mut DbConn, new: &NewBooking<'_>) -> Result<ConferenceId, sqlx::Error> {
    sqlx::query(
        "INSERT INTO conference (status, room_number, customer, request_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING conference_id",
    )
    .bind(ConferenceStatus::Created.as_str())
    .bind(new.room_number)
    .bind(new.customer)
    .bind(new.request_id)
    .bind(now())
    .fetch_one(conn)
    .await?
    .try_get("conference_id")
}

/// Serialises the transactions that read and then change booking `id` (see [`db::lock`]).
pub async fn lock(conn: &mut DbConn, id: ConferenceId) -> Result<(), sqlx::Error> {
    db::lock(conn, LockScope::Conference, id.get()).await
}

pub async fn find(conn: &mut DbConn, id: ConferenceId) -> Result<Option<Booking>, sqlx::Error> {
    BOOKINGS.find(conn, "conference_id", id).await
}

/// A page of the bookings of `owner` (of everyone: `None`), and how many there are.
pub async fn list(db: &Db, owner: Option<&str>, limit: i64, offset: i64) -> Paged<Booking> {
    BOOKINGS.of_customer(owner).page(db, limit, offset).await
}

/// Sets the status (and the payment id, when given).
pub async fn set_status(
    conn: &mut DbConn,
    id: ConferenceId,
    status: ConferenceStatus,
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

/// Records the payment id of a booking that has none yet, leaving its status alone.
pub async fn add_pay_id(
    conn: &mut DbConn,
    id: ConferenceId,
    pay_id: PayId,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE conference SET pay_id = COALESCE(pay_id, $1) WHERE conference_id = $2")
        .bind(pay_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Up to `limit` bookings still `CREATED` that were made before `cutoff` (RFC 3339), oldest
/// first.
pub async fn created_before(db: &Db, cutoff: &str, limit: i64) -> Result<Vec<Unpaid>, sqlx::Error> {
    sqlx::query_as(
        "SELECT conference_id, request_id FROM conference
         WHERE status = $1 AND created_at < $2 ORDER BY conference_id LIMIT $3",
    )
    .bind(ConferenceStatus::Created.as_str())
    .bind(cutoff)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Deletes booking `id` if it is still `CREATED`.
pub async fn delete_created(conn: &mut DbConn, id: ConferenceId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM conference WHERE conference_id = $1 AND status = $2")
        .bind(id)
        .bind(ConferenceStatus::Created.as_str())
        .execute(conn)
        .await?;
    Ok(())
}
