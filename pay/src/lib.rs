//! The pay service: charges bookings (synchronously, for conference) and refunds them when
//! they are cancelled or rejected.

pub mod domain;
pub mod overload;
pub mod store;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use hifive_common::{
    AppError, BaseUrl, CommonConfig, Db, DbConn, EventContext, JsonObject, Outbox, PageParams,
    Policy, PolicyError, RequestId, Server,
    config::{env_or, env_parse},
    http::path_id,
};
use serde_json::{Value, json};
use shared_events::{Envelope, Event};

use crate::{
    overload::{Latency, Overload},
    store::Charged,
};

/// The schema, for SQLite and for Postgres (chosen by `DATABASE_URL`).
pub static MIGRATIONS: hifive_common::db::Migrations = hifive_common::migrations!();

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `PAY_LATENCY_MS`: simulated processing time per payment, `500` or `400..620` (off).
    pub latency: Option<Latency>,
    /// `PAY_CAPACITY`: payments processed at once; the rest queue (unlimited).
    pub capacity: Option<usize>,
    /// `PAY_ADMIN_ENABLED`: serve `GET/PUT /admin/overload` to change both at run time (false).
    pub admin: bool,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let latency = env_or("PAY_LATENCY_MS", "");
        Ok(Self {
            common: CommonConfig::from_env("pay", 8082)?,
            latency: (!latency.is_empty())
                .then(|| {
                    Latency::parse(&latency).map_err(|e| anyhow::anyhow!("PAY_LATENCY_MS: {e}"))
                })
                .transpose()?,
            capacity: Some(env_parse("PAY_CAPACITY", 0usize)?).filter(|n| *n > 0),
            admin: env_parse("PAY_ADMIN_ENABLED", false)?,
        })
    }
}

#[derive(Clone)]
struct AppState {
    db: Db,
    outbox: Outbox,
    overload: Overload,
}

/// The pay service; `App::build(config)` gives a [`Server`] to `run` (port 0 works).
pub struct App;

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Server> {
        let wiring = Server::wire(&config.common, &MIGRATIONS, |outbox| RefundPolicy {
            outbox,
        })
        .await?;
        let state = AppState {
            db: wiring.db.clone(),
            outbox: wiring.outbox.clone(),
            overload: Overload::new(config.latency, config.capacity),
        };
        let mut routes = Router::new()
            .route("/pays/room_applied", post(room_applied))
            .route("/pays", get(list))
            .route("/pays/{id}", get(read));
        if config.admin {
            routes = routes.route("/admin/overload", get(overload).put(set_overload));
        }
        Ok(wiring.serve(routes.with_state(state)))
    }
}

/// `POST /pays/room_applied` `{conferenceId, roomNumber, conferenceStatus}` →
/// `{"status":"Req_complete","payid":"<id>"}` (201 when charged now, 200 for a repeat).
async fn room_applied(
    State(app): State<AppState>,
    RequestId(request_id): RequestId,
    body: JsonObject,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let conference_id = body.id("conferenceId")?;
    let room_number = body.id("roomNumber")?;
    body.text("conferenceStatus")?;
    tracing::Span::current().record("conference_id", conference_id);
    let slot = app.overload.enter().await;
    let answer = |status, pay_id: i64| {
        (
            status,
            Json(json!({ "status": "Req_complete", "payid": pay_id.to_string() })),
        )
    };
    let charged = store::charge(
        &app.db,
        &app.outbox,
        conference_id,
        room_number,
        &request_id,
    )
    .await?;
    slot.work().await;
    match charged {
        Charged::New(pay_id) => {
            tracing::info!(conference_id, pay_id, room_number, "payment made");
            Ok(answer(StatusCode::CREATED, pay_id))
        }
        Charged::Again(pay_id) => Ok(answer(StatusCode::OK, pay_id)),
        Charged::Refused(why) => Err(AppError::conflict(
            "payment_refused",
            format!("conference {conference_id}: {why}"),
        )),
    }
}

/// `GET /admin/overload`: the current simulation settings.
async fn overload(State(app): State<AppState>) -> Json<Value> {
    Json(app.overload.report())
}

/// `PUT /admin/overload {"latencyMs": "400..620" | 500 | null, "capacity": 10 | null}`.
async fn set_overload(
    State(app): State<AppState>,
    body: JsonObject,
) -> Result<Json<Value>, AppError> {
    let latency = match body.0.get("latencyMs") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(AppError::unprocessable(
                "invalid_field",
                format!(
                    "latencyMs must be a number of ms or a range like \"400..620\", not {other}"
                ),
            ));
        }
    }
    .map(|raw| Latency::parse(&raw).map_err(|e| AppError::unprocessable("invalid_field", e)))
    .transpose()?;
    let capacity = body.count("capacity")?.map(|n| n as usize);
    app.overload.set(latency, capacity);
    Ok(Json(app.overload.report()))
}

async fn list(
    State(app): State<AppState>,
    base: BaseUrl,
    page: PageParams,
) -> Result<Json<Value>, AppError> {
    let (payments, total) = store::list(&app.db, page.size, page.offset()).await?;
    let items = payments
        .iter()
        .map(|p| base.with_self_link(p.to_json(), &format!("/pays/{}", p.pay_id)))
        .collect();
    Ok(Json(page.collection(&base, "/pays", "pays", items, total)))
}

async fn read(
    State(app): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let id = path_id(&raw, "pay id")?;
    let payment = store::find(&app.db, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("payment {id} does not exist")))?;
    Ok(Json(
        base.with_self_link(payment.to_json(), &format!("/pays/{id}")),
    ))
}

/// Pay refunds a booking that was cancelled (ApplyCanceled) or could not get its room
/// (AssignRejected).
pub struct RefundPolicy {
    outbox: Outbox,
}

impl Policy for RefundPolicy {
    fn handles(&self, event: &Event) -> bool {
        matches!(event, Event::ApplyCanceled(_) | Event::AssignRejected(_))
    }

    async fn apply(
        &self,
        tx: &mut DbConn,
        envelope: &Envelope,
        ctx: &EventContext,
    ) -> Result<(), PolicyError> {
        let rid = ctx.request_id.as_deref();
        match &envelope.event {
            Event::ApplyCanceled(e) => {
                store::refund(tx, &self.outbox, e.conference_id, "booking cancelled", rid).await?
            }
            Event::AssignRejected(e) => {
                store::refund(tx, &self.outbox, e.conference_id, &e.reason, rid).await?
            }
            _ => {}
        }
        Ok(())
    }
}
