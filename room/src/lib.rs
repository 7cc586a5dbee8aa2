//! The room service: registers rooms, assigns a paid booking its room (or rejects it), and
//! releases the room when the booking's payment is refunded.

pub mod domain;
pub mod store;

use std::collections::HashMap;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
    routing::get,
};
use hifive_common::{
    AppError, BaseUrl, Caller, CommonConfig, Db, DbConn, EventContext, JsonObject, Outbox,
    PageParams, Policy, PolicyError, RequestId, Role, Server,
    http::{path_id, query_id},
    idempotency::{self, IdempotencyKey, Render, Stored},
};
use serde_json::{Value, json};
use shared_events::{Envelope, Event, RoomNumber};

/// The schema, for SQLite and for Postgres (chosen by `DATABASE_URL`).
pub static MIGRATIONS: hifive_common::db::Migrations = hifive_common::migrations!();

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let common = CommonConfig::from_env("room", 8083)?;
        common.auth.ensure_users()?;
        Ok(Self { common })
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
        let mut wiring = Server::wire(&config.common, &MIGRATIONS, |outbox| AssignmentPolicy {
            outbox,
        })
        .await?;
        let state = AppState {
            db: wiring.db.clone(),
            outbox: wiring.outbox.clone(),
        };
        wiring.keep_idempotency_keys(config.common.idempotency_ttl);
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

/// `POST /rooms {roomNumber, roomStatus?, usedCount?}` (managers): registers an `EMPTY`
/// room. With an `Idempotency-Key`, a retry replays the first answer.
async fn register(
    State(app): State<AppState>,
    RequestId(request_id): RequestId,
    base: BaseUrl,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonObject,
) -> Result<Response, AppError> {
    caller.require(Role::Manager)?;
    let room_number = RoomNumber::try_from(body.id("roomNumber")?)
        .map_err(|e| AppError::unprocessable("invalid_field", e.to_string()))?;
    let used_count = body.count("usedCount")?.unwrap_or(0);
    domain::check_registration_status(body.text("roomStatus")?)
        .map_err(|why| AppError::unprocessable("invalid_field", why))?;
    let attempt = key.attempt(&caller.subject, "POST /rooms", &Value::Object(body.0));
    if let Some(attempt) = &attempt
        && let Some(prior) = idempotency::lookup(&app.db, attempt).await?
    {
        return Ok(prior.answer());
    }
    let render = |room: &domain::Room| Stored {
        status: StatusCode::CREATED.as_u16(),
        body: item(&base, room).to_string(),
        location: Some(format!("{}/rooms/{}", base.0, room.room_number)),
    };
    let idempotent = attempt
        .as_ref()
        .map(|a| (a, &render as Render<'_, domain::Room>));
    match store::register(
        &app.db,
        &app.outbox,
        room_number,
        used_count,
        &request_id,
        idempotent,
    )
    .await?
    {
        Ok(room) => {
            tracing::info!(%room_number, "room registered");
            Ok(render(&room).response(false))
        }
        Err(prior) => Ok(prior.answer()),
    }
}

/// `GET /rooms` (managers).
async fn list(
    State(app): State<AppState>,
    base: BaseUrl,
    caller: Caller,
    page: PageParams,
) -> Result<Json<Value>, AppError> {
    caller.require(Role::Manager)?;
    let (rooms, total) = store::list(&app.db, page.size, page.offset()).await?;
    let items = rooms.iter().map(|r| item(&base, r)).collect();
    Ok(Json(
        page.collection(&base, "/rooms", "rooms", items, total),
    ))
}

/// `GET /rooms/{number}` (managers).
async fn read(
    State(app): State<AppState>,
    base: BaseUrl,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    caller.require(Role::Manager)?;
    let number = path_id(&raw, "room number")?;
    let mut conn = app.db.acquire().await?;
    let room = store::find(&mut conn, number)
        .await?
        .ok_or_else(|| AppError::not_found(format!("room {number} is not registered")))?;
    Ok(Json(item(&base, &room)))
}

/// `GET /rooms/search/findByPayId?payId=` (as the original; managers).
async fn find_by_pay_id(
    State(app): State<AppState>,
    base: BaseUrl,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    caller.require(Role::Manager)?;
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
