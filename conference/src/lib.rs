//! The conference service: bookings. `POST /conferences` pays synchronously through pay,
//! then the saga continues over Kafka (Paid → Assigned → `ASSIGNED`).

pub mod domain;
pub mod pay_client;
pub mod pay_guard;
pub mod saga_guard;
pub mod store;

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
    routing::get,
};
use hifive_common::{
    AppError, BaseUrl, Caller, CancellationToken, CommonConfig, Db, DbConn, EventContext,
    JsonObject, Outbox, PageParams, Policy, PolicyError, RequestId, Role, Server,
    config::{env_millis, env_or, env_parse},
    http::path_id,
    idempotency::{self, IdempotencyKey, Prior, Stored},
};
use shared_events::{ConferenceId, ConferenceStatus, Envelope, Event};
use tracing::Instrument;

use crate::{
    domain::OnPaid,
    pay_client::PayClient,
    pay_guard::{GuardConfig, GuardedPay, PayCallError, PayRequest},
    saga_guard::{SagaBusy, SagaGuard, SagaLimits},
};

/// The schema, for SQLite and for Postgres (chosen by `DATABASE_URL`).
pub static MIGRATIONS: hifive_common::db::Migrations = hifive_common::migrations!();

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `PAY_URL`: base URL of the pay service (default http://127.0.0.1:8082).
    pub pay_url: String,
    /// The timeout, bulkhead and circuit breaker around the pay call.
    pub pay_guard: GuardConfig,
    /// `PAY_RETRY_AFTER_SECS`: the `Retry-After` sent when pay is unavailable (default 5).
    pub retry_after_secs: u64,
    /// `STUCK_BOOKING_AFTER_MS`: a booking still `CREATED` this long after it was made lost
    /// its pay call (the service stopped mid-call); it is marked `FAILED` and any payment
    /// refunded (default 30000).
    pub stuck_after: Duration,
    /// Backpressure: the bounds within which the saga is said to keep up.
    pub saga: SagaLimits,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let common = CommonConfig::from_env("conference", 8081)?;
        common.auth.ensure_users()?;
        common.auth.ensure_service_secret()?;
        Ok(Self {
            common,
            pay_url: env_or("PAY_URL", "http://127.0.0.1:8082"),
            pay_guard: guard_config()?,
            retry_after_secs: env_parse("PAY_RETRY_AFTER_SECS", 5)?,
            stuck_after: env_millis("STUCK_BOOKING_AFTER_MS", 30_000)?,
            saga: saga_limits()?,
        })
    }
}

/// Reads the saga's bounds; the defaults are [`SagaLimits::default`].
fn saga_limits() -> anyhow::Result<SagaLimits> {
    let d = SagaLimits::default();
    Ok(SagaLimits {
        max_lag: env_millis("SAGA_MAX_LAG_MS", d.max_lag.as_millis() as u64)?,
        max_outbox: env_parse("SAGA_MAX_OUTBOX", d.max_outbox)?,
        max_outbox_age: env_millis(
            "SAGA_MAX_OUTBOX_AGE_MS",
            d.max_outbox_age.as_millis() as u64,
        )?,
        retry_after_secs: env_parse("SAGA_RETRY_AFTER_SECS", d.retry_after_secs)?.max(1),
    })
}

/// Reads the pay guard's settings; the defaults are [`GuardConfig::default`].
fn guard_config() -> anyhow::Result<GuardConfig> {
    let d = GuardConfig::default();
    Ok(GuardConfig {
        timeout: env_millis("PAY_TIMEOUT_MS", d.timeout.as_millis() as u64)?,
        max_concurrent: env_parse("PAY_MAX_CONCURRENT", d.max_concurrent)?,
        failure_rate: env_parse("BREAKER_FAILURE_RATE", d.failure_rate)?,
        slow_call: env_millis("BREAKER_SLOW_CALL_MS", d.slow_call.as_millis() as u64)?,
        slow_call_rate: env_parse("BREAKER_SLOW_CALL_RATE", d.slow_call_rate)?,
        window: env_parse("BREAKER_WINDOW", d.window)?,
        min_calls: env_parse("BREAKER_MIN_CALLS", d.min_calls)?,
        open_wait: env_millis("BREAKER_OPEN_MS", d.open_wait.as_millis() as u64)?,
        half_open_calls: env_parse("BREAKER_HALF_OPEN_CALLS", d.half_open_calls)?,
    })
}

#[derive(Clone)]
struct AppState {
    db: Db,
    outbox: Outbox,
    pay: GuardedPay,
    saga: SagaGuard,
    retry_after_secs: u64,
    /// A request holding an `Idempotency-Key` this long ago was cut short.
    stuck_after: Duration,
}

/// The conference service; `App::build(config)` gives a [`Server`] to `run` (port 0 works).
pub struct App;

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Server> {
        let mut wiring = Server::wire(&config.common, &MIGRATIONS, |_| BookingPolicy).await?;
        let pay_timeout = config.pay_guard.timeout;
        // Built once: every request shares the breaker and the bulkhead.
        let pay = GuardedPay::new(
            PayClient::new(
                &config.pay_url,
                pay_timeout + Duration::from_secs(1),
                config.common.auth.service_secret.clone(),
            )?,
            config.pay_guard.clone(),
        )?;
        let report = pay.clone();
        wiring.report("payCircuitBreaker", Arc::new(move || report.report()));
        let saga = SagaGuard::new(
            config.saga,
            wiring.db.clone(),
            wiring.outbox.clone(),
            wiring.consumer(),
        );
        let report = saga.clone();
        wiring.report("sagaAdmission", Arc::new(move || report.report()));
        let state = AppState {
            db: wiring.db.clone(),
            outbox: wiring.outbox.clone(),
            pay,
            saga,
            retry_after_secs: config.retry_after_secs,
            stuck_after: config.stuck_after.max(pay_timeout * 2),
        };
        wiring.keep_idempotency_keys(config.common.idempotency_ttl);
        let (db, outbox) = (wiring.db.clone(), wiring.outbox.clone());
        let mut server = wiring.serve(
            Router::new()
                .route("/conferences", get(list).post(apply))
                .route("/conferences/{id}", get(read).delete(cancel))
                .with_state(state),
        );
        let stuck_after = config.stuck_after.max(pay_timeout * 2);
        server.spawn(move |shutdown| sweep_stuck(db, outbox, stuck_after, shutdown));
        Ok(server)
    }
}

/// Ends bookings that a stopped service left `CREATED` mid pay call: `FAILED`, and
/// `ApplyCanceled` so that pay refunds a payment it may have made (or refuses a late one).
async fn sweep_stuck(db: Db, outbox: Outbox, stuck_after: Duration, shutdown: CancellationToken) {
    let every = (stuck_after / 3).clamp(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
        match store::fail_stuck(&db, &outbox, &hifive_common::db::ago(stuck_after)).await {
            Ok(ended) => {
                for id in ended {
                    tracing::warn!(
                        conference_id = id.get(),
                        "booking left CREATED by an interrupted pay call: FAILED, payment refunded if made"
                    );
                }
            }
            Err(e) => tracing::warn!(error = ?e, "cannot end stuck bookings"),
        }
    }
}

impl AppState {
    /// Backpressure: `503 saga_busy` with `Retry-After`, for a booking that was not started.
    fn saga_busy(&self, e: &SagaBusy) -> AppError {
        let retry_after = self.saga.limits().retry_after_secs;
        tracing::debug!(reason = e.reason(), detail = %e, "booking refused at once: the saga is behind");
        AppError::unavailable(
            "saga_busy",
            format!("{e}; nothing was booked or charged; retry in {retry_after} s"),
            retry_after,
        )
    }

    /// The fallback: `503 payment_busy` with `Retry-After`, for a booking pay was not asked for.
    fn busy(&self, e: &PayCallError) -> AppError {
        let retry_after = match e {
            PayCallError::Busy(_) => 1,
            _ => self.pay.retry_after_secs(),
        };
        tracing::debug!(reason = %e, "booking refused at once: payment is busy");
        AppError::unavailable(
            "payment_busy",
            format!("{e}; nothing was booked or charged; retry in {retry_after} s"),
            retry_after,
        )
    }
}

/// The `201` answer for a booking (also what an `Idempotency-Key` replays).
fn created(base: &BaseUrl, booking: &store::Booking) -> Stored {
    let path = format!("/conferences/{}", booking.conference_id);
    Stored {
        status: StatusCode::CREATED.as_u16(),
        body: base.with_self_link(booking.to_json(), &path).to_string(),
        location: Some(format!("{}{path}", base.0)),
    }
}

impl AppState {
    /// The answer to a request whose `Idempotency-Key` an earlier request holds, or `None`
    /// when the key is free again and the request goes ahead. An earlier request that was cut
    /// short (the service stopped before it answered) is answered from its booking once the
    /// booking has moved on; one whose booking ended unpaid frees the key.
    async fn answer_prior(
        &self,
        prior: Prior,
        base: &BaseUrl,
    ) -> Result<Option<Response>, AppError> {
        let Prior::InFlight { resource, since } = &prior else {
            return Ok(Some(prior.answer()));
        };
        let stale = since.as_str() < hifive_common::db::ago(self.stuck_after).as_str();
        let id = resource
            .strip_prefix("conference:")
            .and_then(|id| id.parse::<ConferenceId>().ok());
        let (true, Some(id)) = (stale, id) else {
            return Ok(Some(prior.answer()));
        };
        let mut conn = self.db.acquire().await?;
        let booking = store::find(&mut conn, id).await?;
        drop(conn);
        match booking.map(|b| (b.status, b)) {
            Some((ConferenceStatus::Created, _)) => Ok(Some(prior.answer())),
            Some((
                ConferenceStatus::Paid | ConferenceStatus::Assigned | ConferenceStatus::Rejected,
                booking,
            )) => {
                let answer = created(base, &booking);
                store::complete_key(&self.db, id, &answer).await?;
                Ok(Some(Prior::Done(answer).answer()))
            }
            // Never paid, or no longer there: the retry books anew.
            _ => {
                store::release_key(&self.db, id).await?;
                Ok(None)
            }
        }
    }
}

/// `POST /conferences` (customers): create the booking, pay for it synchronously, answer
/// 201 `PAID`. With an `Idempotency-Key`, a retry replays the first answer.
async fn apply(
    State(app): State<AppState>,
    RequestId(request_id): RequestId,
    base: BaseUrl,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonObject,
) -> Result<Response, AppError> {
    caller.require(Role::Customer)?;
    let room_number = shared_events::RoomNumber::try_from(body.id("roomNumber")?)
        .map_err(|e| AppError::unprocessable("invalid_field", e.to_string()))?;
    let attempt = key.attempt(
        &caller.subject,
        "POST /conferences",
        &serde_json::Value::Object(body.0),
    );
    if let Some(attempt) = &attempt
        && let Some(prior) = idempotency::lookup(&app.db, attempt).await?
        && let Some(answer) = app.answer_prior(prior, &base).await?
    {
        return Ok(answer);
    }
    // Refused at once (nothing stored) while the saga is behind, the breaker open or the
    // bulkhead full.
    app.saga.admit().await.map_err(|e| app.saga_busy(&e))?;
    let admission = app.pay.admit().map_err(|e| app.busy(&e))?;
    let booking = Booking {
        room_number,
        customer: caller.subject,
        request_id,
        attempt,
    };
    // Once started, a booking is carried to its end even if the client goes away meanwhile:
    // its answer is then kept for its Idempotency-Key.
    tokio::spawn(book(app, base, booking, admission).instrument(tracing::Span::current()))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "booking task failed");
            Err(AppError::internal("the booking could not be finished"))
        })
}

/// What a customer asked to book.
struct Booking {
    room_number: shared_events::RoomNumber,
    customer: String,
    request_id: String,
    attempt: Option<idempotency::Attempt>,
}

/// Creates the booking, pays for it and records the payment (or the failure).
async fn book(
    app: AppState,
    base: BaseUrl,
    asked: Booking,
    admission: pay_guard::Admission,
) -> Result<Response, AppError> {
    let Booking {
        room_number,
        customer,
        request_id,
        attempt,
    } = asked;
    let id = match store::create(
        &app.db,
        room_number,
        &customer,
        &request_id,
        attempt.as_ref(),
    )
    .await?
    {
        Ok(id) => id,
        // Another request with the key got there first.
        Err(prior) => return Ok(prior.answer()),
    };
    tracing::Span::current().record("conference_id", id.get());
    tracing::info!(
        conference_id = id.get(),
        room_number = room_number.get(),
        "booking created; paying"
    );
    let request = PayRequest {
        conference_id: id,
        room_number,
        customer,
        request_id: request_id.clone(),
    };
    let render = |booking: &store::Booking| created(&base, booking);
    match admission.pay(request).await {
        Ok(pay_id) => {
            let booking =
                store::record_payment(&app.db, &app.outbox, id, pay_id, &request_id, render)
                    .await?;
            if let OnPaid::Ended = domain::on_paid(booking.status) {
                // Cancelled (or swept as stuck) while pay was answering: its ApplyCanceled
                // makes pay refund this payment.
                return Err(AppError::conflict(
                    "booking_ended",
                    format!(
                        "conference {id} became {} while it was being paid; its payment is refunded",
                        booking.status.as_str()
                    ),
                ));
            }
            tracing::info!(
                conference_id = id.get(),
                pay_id = pay_id.get(),
                status = booking.status.as_str(),
                "booking paid"
            );
            Ok(render(&booking).response(false))
        }
        Err(PayCallError::Pay(e)) => {
            let refund = e.may_have_charged();
            match store::record_pay_failure(
                &app.db,
                &app.outbox,
                id,
                refund,
                &request_id,
                Some(&render),
            )
            .await?
            {
                Some(booking) => Ok(render(&booking).response(false)),
                None => {
                    tracing::warn!(conference_id = id.get(), error = %e, refund, "payment failed; booking FAILED");
                    Err(AppError::unavailable(
                        "payment_unavailable",
                        format!(
                            "payment could not be made, so conference {id} was not booked: {e}; retry later"
                        ),
                        app.retry_after_secs,
                    ))
                }
            }
        }
        Err(e) => {
            // The half-open breaker refused it: pay was not called, nothing was charged, and
            // the booking is removed.
            store::discard(&app.db, id).await?;
            Err(app.busy(&e))
        }
    }
}

/// `GET /conferences`: a manager sees every booking, a customer their own.
async fn list(
    State(app): State<AppState>,
    base: BaseUrl,
    caller: Caller,
    page: PageParams,
) -> Result<Json<serde_json::Value>, AppError> {
    let scope = caller.scope()?;
    let (bookings, total) = store::list(&app.db, scope, page.size, page.offset()).await?;
    let items = bookings
        .iter()
        .map(|b| base.with_self_link(b.to_json(), &format!("/conferences/{}", b.conference_id)))
        .collect();
    Ok(Json(page.collection(
        &base,
        "/conferences",
        "conferences",
        items,
        total,
    )))
}

/// `GET /conferences/{id}`: another customer's booking is `404`, as if it did not exist.
async fn read(
    State(app): State<AppState>,
    base: BaseUrl,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let scope = caller.scope()?;
    let id = ConferenceId::try_from(path_id(&raw, "conference id")?)
        .map_err(|e| AppError::bad_request("invalid_id", e.to_string()))?;
    let mut conn = app.db.acquire().await?;
    let booking = store::find(&mut conn, id)
        .await?
        .filter(|b| scope.sees(b.customer.as_deref()))
        .ok_or_else(|| AppError::not_found(format!("conference {id} does not exist")))?;
    Ok(Json(base.with_self_link(
        booking.to_json(),
        &format!("/conferences/{id}"),
    )))
}

/// `DELETE /conferences/{id}` (the customer who booked): 204; the booking stays readable as
/// `CANCELED`.
async fn cancel(
    State(app): State<AppState>,
    RequestId(request_id): RequestId,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, AppError> {
    caller.require(Role::Customer)?;
    let id = ConferenceId::try_from(path_id(&raw, "conference id")?)
        .map_err(|e| AppError::bad_request("invalid_id", e.to_string()))?;
    tracing::Span::current().record("conference_id", id.get());
    store::cancel(&app.db, &app.outbox, id, &caller.subject, &request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Conference follows the room service's verdict on each booking.
pub struct BookingPolicy;

impl Policy for BookingPolicy {
    fn handles(&self, event: &Event) -> bool {
        matches!(event, Event::Assigned(_) | Event::AssignRejected(_))
    }

    async fn apply(
        &self,
        tx: &mut DbConn,
        envelope: &Envelope,
        _ctx: &EventContext,
    ) -> Result<(), PolicyError> {
        match &envelope.event {
            Event::Assigned(e) => {
                store::follow_event(tx, e.conference_id, e.pay_id, domain::on_assigned).await?
            }
            Event::AssignRejected(e) => {
                store::follow_event(tx, e.conference_id, e.pay_id, domain::on_assign_rejected)
                    .await?
            }
            _ => {}
        }
        Ok(())
    }
}
