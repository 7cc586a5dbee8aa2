//! The room service: registers rooms, assigns a paid booking its room (or rejects it), and
//! releases the room when the booking's payment is refunded.

pub mod domain;
pub mod store;

use std::collections::HashMap;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use hifive_common::{
    AppError, BaseUrl, CommonConfig, Db, DbConn, EventContext, JsonObject, Outbox, PageParams,
    Policy, PolicyError, RequestId, Server,
    http::{path_id, query_id},
};
use serde_json::{Value, json};
use shared_events::{Envelope, Event};

/// The schema, for SQLite and for Postgres (chosen by `DATABASE_URL`).
pub static MIGRATIONS: hifive_common::db::Migrations = hifive_common::migrations!();

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            common: CommonConfig::from_env("room", 8083)?,
        })
    }
}

#[derive(Clone)]
struct AppState {
    db: Db,
    outbox: Outbox,
}

/// The room service; `App::build(config)` gives a [`Server`] to `run` (port 0 works).
pub struct App;

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Server> {
        let wiring = Server::wire(&config.common, &MIGRATIONS, |outbox| AssignmentPolicy {
            outbox,
        })
        .await?;
        let state = AppState {
            db: wiring.db.clone(),
            outbox: wiring.outbox.clone(),
        };
        Ok(wiring.serve(
            Router::new()
                .route("/rooms", get(list).post(register))
                .route("/rooms/search/findByPayId", get(find_by_pay_id))
                .route("/rooms/{number}", get(read))
                .with_state(state),
        ))
    }
}

fn item(base: &BaseUrl, room: &domain::Room) -> Value {
    base.with_self_link(
        store::to_json(room),
        &format!("/rooms/{}", room.room_number),
    )
}

/// `POST /rooms {roomNumber, roomStatus?, usedCount?}`: registers an `EMPTY` room.
async fn register(
    State(app): State<AppState>,
    RequestId(request_id): RequestId,
    base: BaseUrl,
    body: JsonObject,
) -> Result<Response, AppError> {
    let room_number = body.id("roomNumber")?;
    let used_count = body.count("usedCount")?.unwrap_or(0);
    domain::check_registration_status(body.text("roomStatus")?)
        .map_err(|why| AppError::unprocessable("invalid_field", why))?;
    let room = store::register(&app.db, &app.outbox, room_number, used_count, &request_id).await?;
    tracing::info!(room_number, "room registered");
    let location = format!("{}/rooms/{room_number}", base.0);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(item(&base, &room)),
    )
        .into_response())
}

async fn list(
    State(app): State<AppState>,
    base: BaseUrl,
    page: PageParams,
) -> Result<Json<Value>, AppError> {
    let (rooms, total) = store::list(&app.db, page.size, page.offset()).await?;
    let items = rooms.iter().map(|r| item(&base, r)).collect();
    Ok(Json(
        page.collection(&base, "/rooms", "rooms", items, total),
    ))
}

async fn read(
    State(app): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let number = path_id(&raw, "room number")?;
    let mut conn = app.db.acquire().await?;
    let room = store::find(&mut conn, number)
        .await?
        .ok_or_else(|| AppError::not_found(format!("room {number} is not registered")))?;
    Ok(Json(item(&base, &room)))
}

/// `GET /rooms/search/findByPayId?payId=` (as the original).
async fn find_by_pay_id(
    State(app): State<AppState>,
    base: BaseUrl,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    let pay_id = query_id(&params, "payId")?;
    let rooms = store::by_pay_id(&app.db, pay_id).await?;
    let items: Vec<Value> = rooms.iter().map(|r| item(&base, r)).collect();
    Ok(Json(json!({
        "_embedded": { "rooms": items },
        "_links": { "self": { "href": format!("{}/rooms/search/findByPayId?payId={pay_id}", base.0) } },
    })))
}

/// Room assigns paid bookings and releases refunded ones.
pub struct AssignmentPolicy {
    outbox: Outbox,
}

impl Policy for AssignmentPolicy {
    fn handles(&self, event: &Event) -> bool {
        matches!(event, Event::Paid(_) | Event::PayCanceled(_))
    }

    async fn apply(
        &self,
        tx: &mut DbConn,
        envelope: &Envelope,
        ctx: &EventContext,
    ) -> Result<(), PolicyError> {
        let rid = ctx.request_id.as_deref();
        match &envelope.event {
            Event::Paid(e) => {
                store::assign(
                    tx,
                    &self.outbox,
                    e.room_number,
                    e.conference_id,
                    e.pay_id,
                    rid,
                )
                .await?
            }
            Event::PayCanceled(e) => {
                store::release(
                    tx,
                    &self.outbox,
                    e.room_number,
                    e.conference_id,
                    e.pay_id,
                    rid,
                )
                .await?
            }
            _ => {}
        }
        Ok(())
    }
}
