//! The customer-center service: the room-state view (CQRS) and notifications, both built
//! from events, readable whatever the other services are doing.

pub mod domain;
pub mod store;

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    response::sse::{Event as SseEvent, KeepAlive, Sse},
    routing::get,
};
use futures::{Stream, StreamExt};
use hifive_common::{
    AppError, BaseUrl, CancellationToken, CommonConfig, Db, DbConn, EventContext, PageParams,
    Policy, PolicyError, Server,
    http::{path_id, query_id},
};
use serde_json::Value;
use shared_events::{Envelope, Event};

use crate::store::StateFilter;

/// The schema, for SQLite and for Postgres (chosen by `DATABASE_URL`).
pub static MIGRATIONS: hifive_common::db::Migrations = hifive_common::migrations!();

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            common: CommonConfig::from_env("customer-center", 8084)?,
        })
    }
}

/// The customer-center service; `App::build(config)` gives a [`Server`] to `run` (port 0 works).
pub struct App;

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Server> {
        let wiring = Server::wire(&config.common, &MIGRATIONS, |_| ViewPolicy).await?;
        let db = wiring.db.clone();
        let streams = Router::new()
            .route("/notifications/stream", get(stream))
            .with_state((db.clone(), wiring.shutdown_token()));
        Ok(wiring.serve(
            Router::new()
                .route("/roomStates", get(states))
                .route(
                    "/roomStates/search/findByRoomNumber",
                    get(find_by_room_number),
                )
                .route(
                    "/roomStates/search/findByConferenceId",
                    get(find_by_conference_id),
                )
                .route("/roomStates/{number}", get(state))
                .route("/notifications", get(notifications))
                .with_state(db)
                .merge(streams),
        ))
    }
}

fn with_links(base: &BaseUrl, items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .map(|v| {
            let path = format!("/roomStates/{}", v["roomNumber"]);
            base.with_self_link(v, &path)
        })
        .collect()
}

async fn list_states(
    db: &Db,
    base: &BaseUrl,
    page: PageParams,
    filter: StateFilter,
    path: &str,
) -> Result<Json<Value>, AppError> {
    let (items, total) = store::states(db, filter, page.size, page.offset()).await?;
    Ok(Json(page.collection(
        base,
        path,
        "roomStates",
        with_links(base, items),
        total,
    )))
}

async fn states(
    State(db): State<Db>,
    base: BaseUrl,
    page: PageParams,
) -> Result<Json<Value>, AppError> {
    list_states(&db, &base, page, StateFilter::All, "/roomStates").await
}

async fn find_by_room_number(
    State(db): State<Db>,
    base: BaseUrl,
    page: PageParams,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    let number = query_id(&params, "roomNumber")?;
    list_states(
        &db,
        &base,
        page,
        StateFilter::Room(number),
        "/roomStates/search/findByRoomNumber",
    )
    .await
}

async fn find_by_conference_id(
    State(db): State<Db>,
    base: BaseUrl,
    page: PageParams,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    let id = query_id(&params, "conferenceId")?;
    list_states(
        &db,
        &base,
        page,
        StateFilter::Conference(id),
        "/roomStates/search/findByConferenceId",
    )
    .await
}

async fn state(
    State(db): State<Db>,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let number = path_id(&raw, "room number")?;
    let (items, _) = store::states(&db, StateFilter::Room(number), 1, 0).await?;
    with_links(&base, items)
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no state for room {number}")))
}

async fn notifications(
    State(db): State<Db>,
    base: BaseUrl,
    page: PageParams,
) -> Result<Json<Value>, AppError> {
    let (items, total) = store::notifications(&db, page.size, page.offset()).await?;
    Ok(Json(page.collection(
        &base,
        "/notifications",
        "notifications",
        items,
        total,
    )))
}

/// `GET /notifications/stream`: Server-Sent Events, one `notification` event per new
/// notification from the moment of connection. Streams end when the service stops, so that a
/// connected client never holds up a shutdown (clients reconnect, as EventSource does).
async fn stream(
    State((db, shutdown)): State<(Db, CancellationToken)>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, AppError> {
    let start = store::last_notification_id(&db).await?;
    let events = futures::stream::unfold(
        (db, start, VecDeque::<(i64, Value)>::new()),
        |(db, mut last, mut queue)| async move {
            loop {
                if let Some((id, value)) = queue.pop_front() {
                    let event = SseEvent::default()
                        .event("notification")
                        .id(id.to_string())
                        .data(value.to_string());
                    return Some((Ok(event), (db, last, queue)));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                if let Ok(fresh) = store::notifications_after(&db, last).await {
                    if let Some((id, _)) = fresh.last() {
                        last = *id;
                    }
                    queue.extend(fresh);
                }
            }
        },
    );
    let events = events.take_until(shutdown.cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// customer-center keeps the view equal to the room service's state and notifies on
/// every assignment and release.
pub struct ViewPolicy;

impl Policy for ViewPolicy {
    fn handles(&self, event: &Event) -> bool {
        domain::on_event(event).is_some()
    }

    async fn apply(
        &self,
        tx: &mut DbConn,
        envelope: &Envelope,
        _ctx: &EventContext,
    ) -> Result<(), PolicyError> {
        if let Some(change) = domain::on_event(&envelope.event) {
            store::apply(tx, change).await?;
        }
        Ok(())
    }
}
