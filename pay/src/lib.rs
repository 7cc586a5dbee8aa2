//! The pay service: charges bookings (synchronously, for conference) and refunds them when
//! they are cancelled or rejected.

pub mod domain;
pub mod overload;
pub mod store;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use hifive_common::{
    AppError, Auth, BaseUrl, Caller, CommonConfig, Db, DbConn, EventContext, JsonObject, Outbox,
    PageParams, Policy, PolicyError, RequestId, Server,
    auth::{ChargeGrant, Mode, TokenError, bearer},
    config::{env_or, env_parse},
    http::{path_id, unreadable_body},
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
        let common = CommonConfig::from_env("pay", 8082)?;
        common.auth.ensure_users()?;
        common.auth.ensure_service_secret()?;
        Ok(Self {
            common,
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
    auth: Auth,
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
            auth: wiring.auth(),
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

/// Only conference may charge, and only the booking its grant names: the call carries a
/// [`ChargeGrant`] signed with the shared secret. No token or a bad one: `401`; a user's
/// token: `403` (checked before the body is read). `None`: no secret (only with
/// `AUTH_MODE=off`), no check, as the original.
async fn caller_grant(auth: &Auth, headers: &HeaderMap) -> Result<Option<ChargeGrant>, AppError> {
    let Some(secret) = auth.config().service_secret.as_deref() else {
        return Ok(None);
    };
    let token = bearer(headers).ok_or(TokenError::Missing)?;
    match ChargeGrant::verify(token, secret) {
        Ok(grant) => Ok(Some(grant)),
        Err(_) if auth.config().mode == Mode::Jwt && auth.verify(token).await.is_ok() => Err(
            AppError::forbidden("only the conference service may charge a payment"),
        ),
        Err(e) => Err(e.into()),
    }
}

/// `POST /pays/room_applied` `{conferenceId, roomNumber, conferenceStatus}` (conference only)
/// → `{"status":"Req_complete","payid":"<id>"}` (201 when charged now, 200 for a repeat).
/// A charge other than the granted one: `403`.
async fn room_applied(
    State(app): State<AppState>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let grant = caller_grant(&app.auth, &headers).await?;
    let body = JsonObject::from_bytes(&headers, &body.map_err(unreadable_body)?)?;
    let conference_id = body.id("conferenceId")?;
    let room_number = body.id("roomNumber")?;
    body.text("conferenceStatus")?;
    if let Some(grant) = &grant
        && (grant.conference_id != conference_id || grant.room_number != room_number)
    {
        tracing::warn!(conference_id, room_number, granted = ?grant, "charge refused: not the booking conference is paying for");
        return Err(AppError::forbidden(format!(
            "this call may charge conference {} for room {}, not conference {conference_id} for room {room_number}",
            grant.conference_id, grant.room_number
        )));
    }
    let customer = grant
        .map(|g| g.customer)
        .or_else(|| body.text("customer").ok().flatten().map(str::to_owned))
        .unwrap_or_else(|| "anonymous".to_owned());
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
        &customer,
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

/// `GET /pays`: a manager sees every payment, a customer their own.
async fn list(
    State(app): State<AppState>,
    base: BaseUrl,
    caller: Caller,
    page: PageParams,
) -> Result<Json<Value>, AppError> {
    let scope = caller.scope()?;
    let (payments, total) = store::list(&app.db, scope.owner(), page.size, page.offset()).await?;
    let items = payments
        .iter()
        .map(|p| base.with_self_link(p.to_json(), &format!("/pays/{}", p.pay_id)))
        .collect();
    Ok(Json(page.collection(&base, "/pays", "pays", items, total)))
}

/// `GET /pays/{id}`: another customer's payment is `404`, as if it did not exist.
async fn read(
    State(app): State<AppState>,
    base: BaseUrl,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let scope = caller.scope()?;
    let id = path_id(&raw, "pay id")?;
    let payment = store::find(&app.db, id)
        .await?
        .filter(|p| scope.sees(p.customer.as_deref()))
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
                store::refund(
                    tx,
                    &self.outbox,
                    e.conference_id.get(),
                    "booking cancelled",
                    rid,
                )
                .await?
            }
            Event::AssignRejected(e) => {
                store::refund(tx, &self.outbox, e.conference_id.get(), &e.reason, rid).await?
            }
            _ => {}
        }
        Ok(())
    }
}
