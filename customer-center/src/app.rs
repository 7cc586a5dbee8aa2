//! The view's use cases: reading room states and notifications, and applying a change an
//! event makes (in the consumer's transaction).

use chrono::{DateTime, Utc};
use hifive_common::{Db, DbConn};
use shared_events::RoomNumber;

use crate::{
    domain::{self, Change, NoticeKind},
    error::Error,
    metrics,
    store::{self, IfKnown, NotificationRow, StateFilter, StateRow},
};

/// A page of the room states `filter` selects, and how many it selects in all.
pub async fn states(
    db: &Db,
    filter: StateFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StateRow>, i64), Error> {
    Ok(store::states(db, filter, limit, offset).await?)
}

/// One room's state.
pub async fn state(db: &Db, room: RoomNumber) -> Result<StateRow, Error> {
    let (rows, _) = store::states(db, StateFilter::Room(room), 1, 0).await?;
    rows.into_iter().next().ok_or(Error::UnknownRoom(room))
}

/// A page of notifications, newest first, and how many there are.
pub async fn notifications(
    db: &Db,
    limit: i64,
    offset: i64,
) -> Result<(Vec<NotificationRow>, i64), Error> {
    Ok(store::notifications(db, limit, offset).await?)
}

/// Where a live stream starts: the newest notification so far.
pub async fn newest_notification(db: &Db) -> Result<i64, Error> {
    Ok(store::last_notification_id(db).await?)
}

/// The notifications after `after`, oldest first, a batch at a time.
pub async fn notifications_after(db: &Db, after: i64) -> Result<Vec<NotificationRow>, Error> {
    Ok(store::notifications_after(db, after).await?)
}

/// Applies `change` in `conn`'s transaction. An update older than what the view holds of
/// the room changes nothing (and tells nobody).
/// `occurred_at`: when the room service made the change (an assignment's time from the room
/// to the view is the saga's last step).
pub async fn apply(
    conn: &mut DbConn,
    change: Change,
    occurred_at: Option<DateTime<Utc>>,
) -> Result<(), Error> {
    match change {
        Change::Register(state) => store::save_state(conn, &state, IfKnown::Keep).await?,
        Change::Update(state, notice) => {
            store::lock(conn, state.room_number).await?;
            let stored = store::revision(conn, state.room_number).await?;
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
            store::save_state(conn, &state, IfKnown::Replace).await?;
            store::insert_notice(conn, &notice).await?;
            tracing::info!(
                conference_id = notice.conference_id.get(),
                room_number = notice.room_number.get(),
                kind = notice.kind.as_str(),
                "notification sent"
            );
            if notice.kind == NoticeKind::Assigned
                && let Some(at) = occurred_at
            {
                metrics::view_caught_up(Utc::now() - at);
            }
        }
    }
    Ok(())
}
