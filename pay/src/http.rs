//! Pay's HTTP API: who may call, the requests and answers, and the use case each calls.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
};
use hifive_common::{
    AppError, Auth, BaseUrl, Body, Caller, PageParams, RequestId,
    auth::{ChargeGrant, Mode, TokenError, bearer},
    http::{path_id, unreadable_body},
};
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};
use serde_json::Value;
use shared_events::{ConferenceId, PayId, PayStatus, RoomNumber};

use crate::{
    app::{Charged, Payments},
    domain::{Booking, Payment},
    error::Error,
    overload::{Latency, Overload, Report},
};

/// What the handlers work with.
#[derive(Clone)]
pub struct AppState {
    pub payments: Payments,
    pub overload: Overload,
    pub auth: Auth,
}

/// `POST /pays/room_applied`: the booking conference asks to be charged.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeRequest {
    pub conference_id: ConferenceId,
    pub room_number: RoomNumber,
    /// The booking's state at conference (`CREATED`), as the original sent it; not used.
    #[serde(default)]
    pub conference_status: Option<String>,
    /// Whose booking, when no grant names it (`AUTH_MODE=off`); a non-text value is ignored.
    #[serde(default, deserialize_with = "text_or_none")]
    pub customer: Option<String>,
}

fn text_or_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

impl ChargeRequest {
    /// The booking to charge: the one `grant` names (another: `403`), for the grant's
    /// customer. Without a grant (no check), the customer the body names, or `anonymous`.
    pub fn booking(self, grant: Option<ChargeGrant>) -> Result<Booking, Error> {
        let Self {
            conference_id,
            room_number,
            customer,
            ..
        } = self;
        let customer = match grant {
            Some(granted)
                if granted.conference_id != conference_id || granted.room_number != room_number =>
            {
                tracing::warn!(
                    conference_id = conference_id.get(),
                    room_number = room_number.get(),
                    ?granted,
                    "charge refused: not the booking conference is paying for"
                );
                return Err(Error::NotGranted {
                    granted,
                    conference_id,
                    room_number,
                });
            }
            Some(granted) => granted.customer,
            None => customer.unwrap_or_else(|| "anonymous".to_owned()),
        };
        Ok(Booking {
            conference_id,
            room_number,
            customer,
        })
    }
}

/// The answer to a payment request, the original's: `{"status":"Req_complete","payid":"<id>"}`
/// (conference's `pay_client::parse_pay_id` reads it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChargeAnswer {
    pub status: &'static str,
    pub payid: String,
}

impl ChargeAnswer {
    pub fn complete(pay_id: PayId) -> Self {
        Self {
            status: "Req_complete",
            payid: pay_id.to_string(),
        }
    }
}

pub mod openapi;

/// A payment as the API shows it (with `_links.self`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView<'a> {
    pub pay_id: PayId,
    pub status: PayStatus,
    pub conference_id: ConferenceId,
    pub room_number: RoomNumber,
    pub customer: Option<&'a str>,
}

/// Every field of a payment is shown (a new one must be placed here to compile).
impl<'a> From<&'a Payment> for PaymentView<'a> {
    fn from(payment: &'a Payment) -> Self {
        let Payment {
            pay_id,
            status,
            conference_id,
            room_number,
            ref customer,
        } = *payment;
        Self {
            pay_id,
            status,
            conference_id,
            room_number,
            customer: customer.as_deref(),
        }
    }
}

impl PaymentView<'_> {
    /// The JSON of `payment` with its self link.
    fn linked(payment: &Payment, base: &BaseUrl) -> Value {
        base.link(
            &PaymentView::from(payment),
            &format!("/pays/{}", payment.pay_id),
        )
    }
}

/// `PUT /admin/overload {"latencyMs": "400..620" | 500 | "" | null, "capacity": 10 | null}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverloadRequest {
    #[serde(default, deserialize_with = "latency")]
    pub latency_ms: Option<Latency>,
    #[serde(default, deserialize_with = "shared_events::lenient::optional_count")]
    pub capacity: Option<i64>,
}

/// A number of ms or a range like `"400..620"`; `""` is off.
fn latency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Latency>, D::Error> {
    let raw = match Value::deserialize(d)? {
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.is_empty() => return Ok(None),
        Value::String(s) => s,
        other => {
            return Err(D::Error::custom(format!(
                "latencyMs must be a number of ms or a range like \"400..620\", not {other}"
            )));
        }
    };
    Latency::parse(&raw).map(Some).map_err(D::Error::custom)
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

/// `POST /pays/room_applied` (conference only) → [`ChargeAnswer`]: `201` when charged now,
/// `200` for a repeat; `409 payment_refused` for a booking cancelled or refunded already.
pub async fn charge(
    State(app): State<AppState>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ChargeAnswer>), AppError> {
    let grant = caller_grant(&app.auth, &headers).await?;
    let Body(request) =
        Body::<ChargeRequest>::from_bytes(&headers, &body.map_err(unreadable_body)?)?;
    let booking = request.booking(grant)?;
    tracing::Span::current().record("conference_id", booking.conference_id.get());
    let (status, pay_id) = match app.payments.charge(&booking, &request_id).await? {
        Charged::New(pay_id) => (StatusCode::CREATED, pay_id),
        Charged::Again(pay_id) => (StatusCode::OK, pay_id),
    };
    Ok((status, Json(ChargeAnswer::complete(pay_id))))
}

/// `GET /admin/overload`: the current simulation settings.
pub async fn overload(State(app): State<AppState>) -> Json<Report> {
    Json(app.overload.report())
}

/// `PUT /admin/overload` ([`OverloadRequest`]): both settings at once; the new ones.
pub async fn set_overload(
    State(app): State<AppState>,
    Body(request): Body<OverloadRequest>,
) -> Json<Report> {
    let capacity = request.capacity.map(|n| n as usize);
    app.overload.set(request.latency_ms, capacity);
    Json(app.overload.report())
}

/// `GET /pays`: a manager sees every payment, a customer their own.
#[utoipa::path(get, path = "/pays", tag = "pays", operation_id = "listPays",
    params(hifive_openapi::PageQuery),
    responses((status = 200, description = "A page of payments, oldest first.", body = openapi::PaymentPage)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    base: BaseUrl,
    caller: Caller,
    page: PageParams,
) -> Result<Json<Value>, AppError> {
    let (payments, total) = app.payments.payments(caller.scope()?, page).await?;
    let items = payments
        .iter()
        .map(|p| PaymentView::linked(p, &base))
        .collect();
    Ok(Json(page.collection(&base, "/pays", "pays", items, total)))
}

/// `GET /pays/{id}`: another customer's payment is `404`, as if it did not exist.
#[utoipa::path(get, path = "/pays/{id}", tag = "pays", operation_id = "getPay",
    params(("id" = PayId, Path, description = "The payment's id.")),
    responses(
        (status = 200, description = "The payment.", body = openapi::PaymentItem),
        (status = 404, description = "No such payment (or another customer's).", body = hifive_openapi::Error),
    ),
    security(("bearer" = [])))]
pub async fn read(
    State(app): State<AppState>,
    base: BaseUrl,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let scope = caller.scope()?;
    let pay_id: PayId = path_id(&raw, "pay id")?;
    let payment = app.payments.payment(scope, pay_id).await?;
    Ok(Json(PaymentView::linked(&payment, &base)))
}

#[cfg(test)]
mod tests;
