//! Rooms in the room database; each change and its event in one transaction.

use hifive_common::{
    AppError, DbConn, Outbox,
    db::{LockScope, PageQuery, lock, now},
    idempotency::{self, Attempt, Prior, Render},
};
use serde_json::{Value, json};
use shared_events::{
    AssignRejected, Assigned, Assignment, CancelAssigned, ConferenceId, Envelope, Event, PayId,
    RoomNumber, RoomRegistered, RoomStatus,
};
use sqlx::{AnyPool, Row, any::AnyRow};

use crate::domain::{self, OnPaid, OnRefund, Room};

fn from_row(row: &AnyRow) -> Result<Room, sqlx::Error> {
    let status: String = row.try_get("room_status")?;
    Ok(Room {
        room_number: row.try_get("room_number")?,
        full: status == RoomStatus::Full.as_str(),
        used_count: row.try_get("used_count")?,
        conference_id: row.try_get("conference_id")?,
        pay_id: row.try_get("pay_id")?,
        revision: row.try_get("revision")?,
    })
}

pub fn to_json(room: &Room) -> Value {
    json!({
        "roomNumber": room.room_number,
        "roomStatus": room.status().as_str(),
        "usedCount": room.used_count,
        "conferenceId": room.conference_id,
        "payId": room.pay_id,
    })
}

const COLUMNS: &str = "room_number, room_status, used_count, conference_id, pay_id, revision";

pub async fn find(conn: &mut DbConn, room_number: i64) -> Result<Option<Room>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM room WHERE room_number = $1"
    ))
    .bind(room_number)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(db: &AnyPool, limit: i64, offset: i64) -> Result<(Vec<Room>, i64), sqlx::Error> {
    PageQuery {
        table: "room",
        columns: COLUMNS,
        order_by: "room_number",
        filter: None,
    }
    .fetch(db, limit, offset, from_row)
    .await
}

pub async fn by_pay_id(db: &AnyPool, pay_id: i64) -> Result<Vec<Room>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM room WHERE pay_id = $1 ORDER BY room_number"
    ))
    .bind(pay_id)
    .fetch_all(db)
    .await?;
    rows.iter().map(from_row).collect()
}

async fn save(conn: &mut DbConn, room: &Room) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE room SET room_status = $1, used_count = $2, conference_id = $3, pay_id = $4,
         revision = $5, updated_at = $6 WHERE room_number = $7",
    )
    .bind(room.status().as_str())
    .bind(room.used_count)
    .bind(room.conference_id)
    .bind(room.pay_id)
    .bind(room.revision)
    .bind(now())
    .bind(room.room_number)
    .execute(conn)
    .await?;
    Ok(())
}

/// Registers an `EMPTY` room; 409 if the number is taken.
pub async fn register(
    db: &AnyPool,
    outbox: &Outbox,
    room_number: RoomNumber,
    used_count: i64,
    request_id: &str,
    idempotent: Option<(&Attempt, Render<'_, Room>)>,
) -> Result<Result<Room, Prior>, AppError> {
    let room = Room::registered(room_number.get(), used_count);
    let resource = format!("room:{room_number}");
    let mut tx = db.begin().await?;
    if let Some((attempt, _)) = idempotent
        && let Some(prior) = idempotency::claim(&mut tx, attempt, &resource).await?
    {
        tx.rollback().await?;
        return Ok(Err(prior));
    }
    let at = now();
    let inserted = sqlx::query(
        "INSERT INTO room (room_number, room_status, used_count, revision, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (room_number) DO NOTHING",
    )
    .bind(room_number)
    .bind(room.status().as_str())
    .bind(used_count)
    .bind(room.revision)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(AppError::conflict(
            "room_exists",
            format!("room {room_number} is already registered"),
        ));
    }
    let registered = Envelope::new(Event::RoomRegistered(RoomRegistered {
        room_number,
        room_status: RoomStatus::Empty,
        used_count,
        revision: Some(room.revision),
    }));
    outbox
        .enqueue(&mut tx, &registered, Some(request_id))
        .await?;
    if let Some((_, render)) = idempotent {
        idempotency::complete(&mut tx, &resource, &render(&room)).await?;
    }
    tx.commit().await?;
    outbox.wake();
    Ok(Ok(room))
}

/// A payment was made: assign the room or reject the booking.
pub async fn assign(
    conn: &mut DbConn,
    outbox: &Outbox,
    room_number: RoomNumber,
    conference_id: ConferenceId,
    pay_id: PayId,
    request_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    lock(conn, LockScope::Room, room_number.get()).await?;
    let room = find(conn, room_number.get()).await?;
    let refunded = sqlx::query("SELECT 1 AS x FROM refunded_booking WHERE conference_id = $1")
        .bind(conference_id.get())
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    let event = match domain::on_paid(room.as_ref(), conference_id.get(), pay_id.get(), refunded) {
        OnPaid::Assign(room) => {
            save(conn, &room).await?;
            tracing::info!(
                %conference_id,
                %room_number,
                used_count = room.used_count,
                "room assigned"
            );
            Event::Assigned(Assigned {
                room_number,
                room_status: Assignment::Assigned,
                conference_id,
                pay_id,
                used_count: room.used_count,
                revision: Some(room.revision),
            })
        }
        OnPaid::AlreadyHeld => return Ok(()),
        OnPaid::AlreadyRefunded => {
            tracing::info!(
                %conference_id,
                %room_number,
                "payment already refunded; the room is not taken"
            );
            return Ok(());
        }
        OnPaid::Reject(reason) => {
            tracing::info!(%conference_id, %room_number, reason, "booking rejected");
            Event::AssignRejected(AssignRejected {
                room_number,
                conference_id,
                pay_id,
                reason: reason.into(),
            })
        }
    };
    outbox
        .enqueue(conn, &Envelope::new(event), request_id)
        .await
}

/// A payment was refunded: release the room if that booking holds it.
pub async fn release(
    conn: &mut DbConn,
    outbox: &Outbox,
    room_number: RoomNumber,
    conference_id: ConferenceId,
    pay_id: PayId,
    request_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    lock(conn, LockScope::Room, room_number.get()).await?;
    sqlx::query(
        "INSERT INTO refunded_booking (conference_id, refunded_at) VALUES ($1, $2)
         ON CONFLICT (conference_id) DO NOTHING",
    )
    .bind(conference_id.get())
    .bind(now())
    .execute(&mut *conn)
    .await?;
    let room = find(conn, room_number.get()).await?;
    match domain::on_refund(room.as_ref(), conference_id.get()) {
        OnRefund::Release(room) => {
            save(conn, &room).await?;
            tracing::info!(%conference_id, %room_number, "room released");
            let released = Envelope::new(Event::CancelAssigned(CancelAssigned {
                room_number,
                room_status: Assignment::Canceled,
                conference_id,
                pay_id,
                used_count: room.used_count,
                revision: Some(room.revision),
            }));
            outbox.enqueue(conn, &released, request_id).await
        }
        OnRefund::NotHeld => Ok(()),
    }
}
