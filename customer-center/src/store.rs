//! The view tables, in plain SQL: `room_state` (one row per room) and `notification`.

use hifive_common::{
    Db, DbConn,
    db::{Match, Table, now},
};
use shared_events::{ConferenceId, PayId, RoomNumber, RoomStatus};
use sqlx::{FromRow, Row};

use crate::domain::{Notice, NoticeKind, RoomState};

/// A row of `room_state`: a room as the view shows it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct StateRow {
    pub room_number: RoomNumber,
    #[sqlx(try_from = "String")]
    pub room_status: RoomStatus,
    pub used_count: i64,
    pub conference_id: Option<ConferenceId>,
    pub pay_id: Option<PayId>,
    pub updated_at: String,
}

/// A row of `notification`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct NotificationRow {
    pub notification_id: i64,
    #[sqlx(try_from = "String")]
    pub kind: NoticeKind,
    pub room_number: RoomNumber,
    pub conference_id: ConferenceId,
    pub message: String,
    pub created_at: String,
}

const STATE_COLUMNS: &str =
    "room_number, room_status, used_count, conference_id, pay_id, updated_at";
const NOTIFICATION_COLUMNS: &str =
    "notification_id, kind, room_number, conference_id, message, created_at";

/// Which room states to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    All,
    Room(RoomNumber),
    Conference(ConferenceId),
}

/// A page of room states, by room number, and how many match in all.
pub async fn states(
    db: &Db,
    filter: StateFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StateRow>, i64), sqlx::Error> {
    let filter = match filter {
        StateFilter::All => None,
        StateFilter::Room(n) => Some(("room_number", Match::Id(n.get()))),
        StateFilter::Conference(id) => Some(("conference_id", Match::Id(id.get()))),
    };
    Table {
        filter,
        ..Table::new("room_state", STATE_COLUMNS, "room_number")
    }
    .page(db, limit, offset)
    .await
}

/// A page of notifications, newest first, and how many there are.
pub async fn notifications(
    db: &Db,
    limit: i64,
    offset: i64,
) -> Result<(Vec<NotificationRow>, i64), sqlx::Error> {
    Table::new("notification", NOTIFICATION_COLUMNS, "notification_id DESC")
        .page(db, limit, offset)
        .await
}

/// Up to 100 notifications newer than `after`, oldest first.
pub async fn notifications_after(db: &Db, after: i64) -> Result<Vec<NotificationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notification
         WHERE notification_id > $1 ORDER BY notification_id LIMIT 100"
    ))
    .bind(after)
    .fetch_all(db)
    .await
}

/// The id of the newest notification (0 when there is none).
pub async fn last_notification_id(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COALESCE(MAX(notification_id), 0) AS n FROM notification")
        .fetch_one(db)
        .await?
        .try_get("n")
}

/// Serialises the updates of room `room`'s state (see [`hifive_common::db::lock`]).
pub async fn lock(conn: &mut DbConn, room: RoomNumber) -> Result<(), sqlx::Error> {
    hifive_common::db::lock(conn, hifive_common::db::LockScope::Room, room.get()).await
}

/// The revision of the room's state as last applied, if the view knows the room.
pub async fn revision(conn: &mut DbConn, room: RoomNumber) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT revision FROM room_state WHERE room_number = $1")
        .bind(room)
        .fetch_optional(conn)
        .await
}

/// What to do when the room is in the view already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfKnown {
    /// Leave the stored state as it is.
    Keep,
    /// Overwrite it.
    Replace,
}

/// Writes a room's state (a revision of 0 when the event had none).
pub async fn save_state(
    conn: &mut DbConn,
    s: &RoomState,
    if_known: IfKnown,
) -> Result<(), sqlx::Error> {
    let on_conflict = match if_known {
        IfKnown::Keep => "DO NOTHING",
        IfKnown::Replace => {
            "DO UPDATE SET room_status = excluded.room_status, used_count = excluded.used_count,
             conference_id = excluded.conference_id, pay_id = excluded.pay_id,
             revision = excluded.revision, updated_at = excluded.updated_at"
        }
    };
    sqlx::query(&format!(
        "INSERT INTO room_state (room_number, room_status, used_count, conference_id, pay_id, revision, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (room_number) {on_conflict}"
    ))
    .bind(s.room_number)
    .bind(s.status().as_str())
    .bind(s.used_count)
    .bind(s.holder.map(|b| b.conference_id))
    .bind(s.holder.map(|b| b.pay_id))
    .bind(s.revision.unwrap_or(0))
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a notification.
pub async fn insert_notice(conn: &mut DbConn, n: &Notice) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notification (kind, room_number, conference_id, message, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(n.kind.as_str())
    .bind(n.room_number)
    .bind(n.conference_id)
    .bind(n.message())
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}
