//! The view tables: room states and notifications.

use hifive_common::{
    DbConn,
    db::{LockScope, Match, PageQuery, lock, now},
};
use serde_json::{Value, json};
use sqlx::{AnyPool, Row, any::AnyRow};

use crate::domain::{self, Change, Notice, RoomState};

const STATE_COLUMNS: &str =
    "room_number, room_status, used_count, conference_id, pay_id, updated_at";

pub fn state_json(row: &AnyRow) -> Result<Value, sqlx::Error> {
    Ok(json!({
        "roomNumber": row.try_get::<i64, _>("room_number")?,
        "roomStatus": row.try_get::<String, _>("room_status")?,
        "usedCount": row.try_get::<i64, _>("used_count")?,
        "conferenceId": row.try_get::<Option<i64>, _>("conference_id")?,
        "payId": row.try_get::<Option<i64>, _>("pay_id")?,
        "updatedAt": row.try_get::<String, _>("updated_at")?,
    }))
}

pub fn notification_json(row: &AnyRow) -> Result<Value, sqlx::Error> {
    Ok(json!({
        "notificationId": row.try_get::<i64, _>("notification_id")?,
        "kind": row.try_get::<String, _>("kind")?,
        "roomNumber": row.try_get::<i64, _>("room_number")?,
        "conferenceId": row.try_get::<i64, _>("conference_id")?,
        "message": row.try_get::<String, _>("message")?,
        "createdAt": row.try_get::<String, _>("created_at")?,
    }))
}

/// Which room states to list.
pub enum StateFilter {
    All,
    Room(i64),
    Conference(i64),
}

pub async fn states(
    db: &AnyPool,
    filter: StateFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64), sqlx::Error> {
    let filter = match filter {
        StateFilter::All => None,
        StateFilter::Room(n) => Some(("room_number", Match::Id(n))),
        StateFilter::Conference(id) => Some(("conference_id", Match::Id(id))),
    };
    PageQuery {
        table: "room_state",
        columns: STATE_COLUMNS,
        order_by: "room_number",
        filter,
    }
    .fetch(db, limit, offset, state_json)
    .await
}

pub async fn notifications(
    db: &AnyPool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64), sqlx::Error> {
    PageQuery {
        table: "notification",
        columns: "notification_id, kind, room_number, conference_id, message, created_at",
        order_by: "notification_id DESC",
        filter: None,
    }
    .fetch(db, limit, offset, notification_json)
    .await
}

/// Notifications newer than `after`, oldest first (for the live stream).
pub async fn notifications_after(
    db: &AnyPool,
    after: i64,
) -> Result<Vec<(i64, Value)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT notification_id, kind, room_number, conference_id, message, created_at FROM notification
         WHERE notification_id > $1 ORDER BY notification_id LIMIT 100",
    )
    .bind(after)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("notification_id")?, notification_json(r)?)))
        .collect()
}

pub async fn last_notification_id(db: &AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COALESCE(MAX(notification_id), 0) AS n FROM notification")
        .fetch_one(db)
        .await?
        .try_get("n")
}

pub async fn apply(conn: &mut DbConn, change: Change) -> Result<(), sqlx::Error> {
    match change {
        Change::Register(state) => {
            upsert(conn, &state, "DO NOTHING").await?;
        }
        Change::Update(state, notice) => {
            lock(conn, LockScope::Room, state.room_number.get()).await?;
            let stored: Option<i64> =
                sqlx::query("SELECT revision FROM room_state WHERE room_number = $1")
                    .bind(state.room_number)
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(|row| row.try_get("revision"))
                    .transpose()?;
            if !domain::supersedes(stored, state.revision) {
                tracing::info!(
                    room_number = state.room_number.get(),
                    conference_id = notice.conference_id.get(),
                    stored,
                    incoming = state.revision,
                    "stale event ignored; the view has a newer state of the room"
                );
                return Ok(());
            }
            upsert(
                conn,
                &state,
                "DO UPDATE SET room_status = excluded.room_status, used_count = excluded.used_count,
                 conference_id = excluded.conference_id, pay_id = excluded.pay_id,
                 revision = excluded.revision, updated_at = excluded.updated_at",
            )
            .await?;
            notify(conn, &notice).await?;
        }
    }
    Ok(())
}

async fn upsert(conn: &mut DbConn, s: &RoomState, on_conflict: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO room_state (room_number, room_status, used_count, conference_id, pay_id, revision, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (room_number) {on_conflict}"
    ))
    .bind(s.room_number)
    .bind(s.room_status.as_str())
    .bind(s.used_count)
    .bind(s.conference_id)
    .bind(s.pay_id)
    .bind(s.revision.unwrap_or(0))
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}

async fn notify(conn: &mut DbConn, n: &Notice) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notification (kind, room_number, conference_id, message, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(n.kind)
    .bind(n.room_number)
    .bind(n.conference_id)
    .bind(&n.message)
    .bind(now())
    .execute(conn)
    .await?;
    tracing::info!(
        conference_id = n.conference_id.get(),
        room_number = n.room_number.get(),
        kind = n.kind,
        "notification sent"
    );
    Ok(())
}
