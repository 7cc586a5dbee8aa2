//! The HTTP edge of the view: room states (every room, one room, by room, by booking),
//! notifications, and their live stream. Anyone may read; ids in paths and queries are
//! checked here, the rest is the use cases' (`app`).

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    time::Duration,
};

use axum::{
    Json,
    extract::{Path, Query, State},
    response::sse::{Event as SseEvent, KeepAlive, Sse},
    routing::{MethodRouter, get},
};
use futures::{Stream, StreamExt};
use hifive_common::{
    AppError, BaseUrl, CancellationToken, Db, PageParams,
    http::{path_id, query_id, to_json},
};
use serde::Serialize;
use serde_json::Value;
use shared_events::{ConferenceId, RoomNumber, RoomState};

use crate::{
    app,
    domain::NoticeKind,
    store::{NotificationRow, StateFilter, StateRow},
};

pub mod openapi;

/// A room state as the API shows it (with `_links.self` added): the room's state and when
/// the view last changed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomStateBody {
    #[serde(flatten)]
    pub state: RoomState,
    pub updated_at: String,
}

impl From<StateRow> for RoomStateBody {
    fn from(row: StateRow) -> Self {
        Self {
            state: RoomState {
                room_number: row.room_number,
                room_status: row.room_status,
                used_count: row.used_count,
                conference_id: row.conference_id,
                pay_id: row.pay_id,
            },
            updated_at: row.updated_at,
        }
    }
}

impl RoomStateBody {
    /// The body with its `_links.self`, `/roomStates/{roomNumber}`.
    fn linked(&self, base: &BaseUrl) -> Value {
        base.link(self, &format!("/roomStates/{}", self.state.room_number))
    }
}

/// A notification as the API (and the stream) shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationBody {
    pub notification_id: i64,
    pub kind: NoticeKind,
    pub room_number: RoomNumber,
    pub conference_id: ConferenceId,
    pub message: String,
    pub created_at: String,
}

impl From<NotificationRow> for NotificationBody {
    fn from(row: NotificationRow) -> Self {
        Self {
            notification_id: row.notification_id,
            kind: row.kind,
            room_number: row.room_number,
            conference_id: row.conference_id,
            message: row.message,
            created_at: row.created_at,
        }
    }
}

/// The HAL collections of room states: every room, one room's, one booking's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    EveryRoom,
    ByRoomNumber,
    ByConferenceId,
}

impl Listing {
    pub const ALL: [Listing; 3] = [
        Listing::EveryRoom,
        Listing::ByRoomNumber,
        Listing::ByConferenceId,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Listing::EveryRoom => "/roomStates",
            Listing::ByRoomNumber => "/roomStates/search/findByRoomNumber",
            Listing::ByConferenceId => "/roomStates/search/findByConferenceId",
        }
    }

    /// The states the query asks for: a search's parameter is required.
    fn filter(self, query: &HashMap<String, String>) -> Result<StateFilter, AppError> {
        Ok(match self {
            Listing::EveryRoom => StateFilter::All,
            Listing::ByRoomNumber => StateFilter::Room(query_id(query, "roomNumber")?),
            Listing::ByConferenceId => StateFilter::Conference(query_id(query, "conferenceId")?),
        })
    }

    /// `GET` of this listing.
    pub fn route(self) -> MethodRouter<Db> {
        match self {
            Listing::EveryRoom => get(room_states),
            Listing::ByRoomNumber => get(room_states_by_room_number),
            Listing::ByConferenceId => get(room_states_by_conference_id),
        }
    }
}

type Params = Query<HashMap<String, String>>;

/// `GET /roomStates`: every room's state.
#[utoipa::path(get, path = "/roomStates", tag = "roomStates", operation_id = "listRoomStates",
    params(hifive_openapi::PageQuery),
    responses((status = 200, description = "A page of room states, by number.", body = openapi::RoomStatePage)))]
async fn room_states(
    State(db): State<Db>,
    base: BaseUrl,
    page: PageParams,
    Query(query): Params,
) -> Result<Json<Value>, AppError> {
    list(Listing::EveryRoom, db, base, page, query).await
}

/// `GET /roomStates/search/findByRoomNumber?roomNumber=`: one room's state.
#[utoipa::path(get, path = "/roomStates/search/findByRoomNumber", tag = "roomStates",
    operation_id = "findRoomStatesByRoomNumber",
    params(("roomNumber" = RoomNumber, Query, description = "The room."), hifive_openapi::PageQuery),
    responses((status = 200, description = "The room's state (none if unknown).", body = openapi::RoomStatePage)))]
async fn room_states_by_room_number(
    State(db): State<Db>,
    base: BaseUrl,
    page: PageParams,
    Query(query): Params,
) -> Result<Json<Value>, AppError> {
    list(Listing::ByRoomNumber, db, base, page, query).await
}

/// `GET /roomStates/search/findByConferenceId?conferenceId=`: the room a booking holds.
#[utoipa::path(get, path = "/roomStates/search/findByConferenceId", tag = "roomStates",
    operation_id = "findRoomStatesByConferenceId",
    params(("conferenceId" = ConferenceId, Query, description = "The booking."), hifive_openapi::PageQuery),
    responses((status = 200, description = "The state of the room the booking holds (none if it holds none).", body = openapi::RoomStatePage)))]
async fn room_states_by_conference_id(
    State(db): State<Db>,
    base: BaseUrl,
    page: PageParams,
    Query(query): Params,
) -> Result<Json<Value>, AppError> {
    list(Listing::ByConferenceId, db, base, page, query).await
}

/// A listing's page of room states, as a HAL collection.
async fn list(
    listing: Listing,
    db: Db,
    base: BaseUrl,
    page: PageParams,
    query: HashMap<String, String>,
) -> Result<Json<Value>, AppError> {
    let filter = listing.filter(&query)?;
    let (rows, total) = app::states(&db, filter, page.size, page.offset()).await?;
    let items = rows
        .into_iter()
        .map(|row| RoomStateBody::from(row).linked(&base))
        .collect();
    let body = page.collection(&base, listing.path(), "roomStates", items, total);
    Ok(Json(body))
}

/// `GET /roomStates/{number}`.
#[utoipa::path(get, path = "/roomStates/{number}", tag = "roomStates", operation_id = "getRoomState",
    params(("number" = RoomNumber, Path, description = "The room's number.")),
    responses(
        (status = 200, description = "The room's state.", body = openapi::RoomStateItem),
        (status = 404, description = "No state for this room.", body = hifive_openapi::Error),
    ))]
pub async fn state(
    State(db): State<Db>,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let number = path_id(&raw, "room number")?;
    let row = app::state(&db, number).await?;
    Ok(Json(RoomStateBody::from(row).linked(&base)))
}

/// `GET /notifications`: newest first.
#[utoipa::path(get, path = "/notifications", tag = "notifications", operation_id = "listNotifications",
    params(hifive_openapi::PageQuery),
    responses((status = 200, description = "A page of notifications, newest first.", body = openapi::NotificationPage)))]
pub async fn notifications(
    State(db): State<Db>,
    base: BaseUrl,
    page: PageParams,
) -> Result<Json<Value>, AppError> {
    let (rows, total) = app::notifications(&db, page.size, page.offset()).await?;
    let items = rows
        .into_iter()
        .map(|row| to_json(&NotificationBody::from(row)))
        .collect();
    let body = page.collection(&base, "/notifications", "notifications", items, total);
    Ok(Json(body))
}

/// `GET /notifications/stream`: Server-Sent Events, one `notification` event per new
/// notification from the moment of connection. Streams end when the service stops, so that a
/// connected client never holds up a shutdown (clients reconnect, as EventSource does).
#[utoipa::path(get, path = "/notifications/stream", tag = "notifications", operation_id = "streamNotifications",
    responses((status = 200, description = "Server-Sent Events: one `notification` event (its data a `Notification` as JSON, its id the notification's) per new notification, from the moment of connection; keep-alive comments between.",
        content_type = "text/event-stream", body = String)))]
pub async fn stream(
    State((db, shutdown)): State<(Db, CancellationToken)>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, AppError> {
    let start = app::newest_notification(&db).await?;
    let events = futures::stream::unfold((db, start, VecDeque::new()), next_event)
        .take_until(shutdown.cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Where a stream is: the newest notification seen, and those not sent yet.
type Cursor = (Db, i64, VecDeque<NotificationRow>);

/// The next event of a stream: looks for new notifications every 250 ms until there is one.
async fn next_event(
    (db, mut last, mut queue): Cursor,
) -> Option<(Result<SseEvent, Infallible>, Cursor)> {
    loop {
        if let Some(row) = queue.pop_front() {
            let id = row.notification_id;
            match SseEvent::default()
                .event("notification")
                .id(id.to_string())
                .json_data(NotificationBody::from(row))
            {
                Ok(event) => return Some((Ok(event), (db, last, queue))),
                Err(e) => tracing::error!(notification_id = id, error = %e, "cannot render"),
            }
            continue;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Ok(fresh) = app::notifications_after(&db, last).await {
            if let Some(row) = fresh.last() {
                last = row.notification_id;
            }
            queue.extend(fresh);
        }
    }
}
