//! Rooms in the room database: plain SQL over typed rows. The use cases (`app`) decide and
//! hold the transactions.

use hifive_common::{
    Db, DbConn,
    db::{LockScope, Table, now},
};
use shared_events::{ConferenceId, PayId, RoomNumber, RoomStatus};
use sqlx::{FromRow, any::AnyRow};

use crate::domain::{Booking, Room};

/// A `room` row as stored.
#[derive(Debug, FromRow)]
struct RoomRow {
    room_number: RoomNumber,
    #[sqlx(try_from = "String")]
    room_status: RoomStatus,
    used_count: i64,
    conference_id: Option<ConferenceId>,
    pay_id: Option<PayId>,
    revision: i64,
}

impl TryFrom<RoomRow> for Room {
    type Error = sqlx::Error;

    fn try_from(row: RoomRow) -> Result<Self, Self::Error> {
        let held_by = match (row.room_status, row.conference_id, row.pay_id) {
            (RoomStatus::Empty, _, _) => None,
            (RoomStatus::Full, Some(conference_id), Some(pay_id)) => Some(Booking {
                conference_id,
                pay_id,
            }),
            (RoomStatus::Full, _, _) => {
                return Err(sqlx::Error::Decode(
                    format!("room {} is FULL without its booking", row.room_number).into(),
                ));
            }
        };
        Ok(Room {
            number: row.room_number,
            used_count: row.used_count,
            held_by,
            revision: row.revision,
        })
    }
}

fn read(row: &AnyRow) -> Result<Room, sqlx::Error> {
    RoomRow::from_row(row)?.try_into()
}

const COLUMNS: &str = "room_number, room_status, used_count, conference_id, pay_id, revision";

/// Serialises changes of room `number` until the transaction ends.
pub async fn lock(conn: &mut DbConn, number: RoomNumber) -> Result<(), sqlx::Error> {
    hifive_common::db::lock(conn, LockScope::Room, number.get()).await
}

/// `SELECT` of whole rooms `WHERE` (and after) `tail`.
fn select_where(tail: &str) -> String {
    format!("SELECT {COLUMNS} FROM room WHERE {tail}")
}

pub async fn find(conn: &mut DbConn, number: RoomNumber) -> Result<Option<Room>, sqlx::Error> {
    let query = select_where("room_number = $1");
    let row = sqlx::query(&query)
        .bind(number)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(read).transpose()
}

/// One page of rooms by number, and how many there are.
pub async fn page(db: &Db, limit: i64, offset: i64) -> Result<(Vec<Room>, i64), sqlx::Error> {
    Table::new("room", COLUMNS, "room_number")
        .page_read(db, limit, offset, read)
        .await
}

/// The rooms held with payment `pay_id`.
pub async fn held_with(db: &Db, pay_id: PayId) -> Result<Vec<Room>, sqlx::Error> {
    let query = select_where("pay_id = $1 ORDER BY room_number");
    let rows = sqlx::query(&query).bind(pay_id).fetch_all(db).await?;
    rows.iter().map(read).collect()
}

/// Whether booking `conference_id`'s payment was refunded (a `PayCanceled` was handled).
pub async fn was_refunded(
    conn: &mut DbConn,
    conference_id: ConferenceId,
) -> Result<bool, sqlx::Error> {
    let refunds: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM refunded_booking WHERE conference_id = $1")
            .bind(conference_id)
            .fetch_one(conn)
            .await?;
    Ok(refunds > 0)
}

/// Remembers that booking `conference_id`'s payment was refunded (once).
pub async fn record_refund(
    conn: &mut DbConn,
    conference_id: ConferenceId,
) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO refunded_booking (conference_id, refunded_at)
        VALUES ($1, $2) ON CONFLICT (conference_id) DO NOTHING";
    let done = sqlx::query(SQL)
        .bind(conference_id)
        .bind(now())
        .execute(conn);
    done.await.map(drop)
}

/// Inserts a new room; `false` (and nothing written) if its number is taken.
pub async fn insert(conn: &mut DbConn, room: &Room) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO room (room_number, room_status, used_count, revision, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (room_number) DO NOTHING",
    )
    .bind(room.number)
    .bind(room.status().as_str())
    .bind(room.used_count)
    .bind(room.revision)
    .bind(now())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

pub async fn save(conn: &mut DbConn, room: &Room) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE room SET room_status = $1, used_count = $2, conference_id = $3, pay_id = $4,
         revision = $5, updated_at = $6 WHERE room_number = $7",
    )
    .bind(room.status().as_str())
    .bind(room.used_count)
    .bind(room.held_by.map(|b| b.conference_id))
    .bind(room.held_by.map(|b| b.pay_id))
    .bind(room.revision)
    .bind(now())
    .bind(room.number)
    .execute(conn)
    .await?;
    Ok(())
}
