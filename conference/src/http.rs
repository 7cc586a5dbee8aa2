//! The HTTP edge: `/conferences`. Handlers check who calls, read the typed request, call the
//! use case and render the answer (HAL items with `_links`, the HAL collection).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
    routing::get,
};
use hifive_common::{
    AppError, BaseUrl, Body, Caller, JsonObject, PageParams, RequestId, Role,
    http::{Detail, path_id, to_json},
    idempotency::{IdempotencyKey, Stored},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared_events::{ConferenceId, ConferenceStatus, PayId, RoomNumber};

use crate::{
    app::{Booked, Booker, BookingRequest, Bookings},
    store::Booking,
};

pub mod openapi;

/// `POST /conferences`: the room to book (other fields, such as the original's `status` and
/// `payId`, are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Apply {
    #[schema(schema_with = hifive_openapi::lenient_id)]
    pub room_number: RoomNumber,
}

/// A booking as the API shows it (Spring Data REST fields plus the id), before `_links`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingBody<'a> {
    conference_id: ConferenceId,
    status: ConferenceStatus,
    pay_id: Option<PayId>,
    room_number: RoomNumber,
    /// Who booked; `null` for bookings made before owners were recorded.
    customer: Option<&'a str>,
}

/// What the handlers work with.
#[derive(Clone)]
pub struct Api {
    pub bookings: Bookings,
    pub booker: Booker,
}

pub fn routes(api: Api) -> Router {
    Router::new()
        .route("/conferences", get(list).post(apply))
        .route("/conferences/{id}", get(read).delete(cancel))
        .with_state(api)
}

/// A `/health/ready` detail from a typed report.
pub fn detail<T: Serialize>(report: impl Fn() -> T + Send + Sync + 'static) -> Detail {
    Arc::new(move || to_json(&report()))
}

fn path(id: ConferenceId) -> String {
    format!("/conferences/{id}")
}

/// A booking with its `_links`.
fn resource(base: &BaseUrl, booking: &Booking) -> Value {
    let body = BookingBody {
        conference_id: booking.conference_id,
        status: booking.status,
        pay_id: booking.pay_id,
        room_number: booking.room_number,
        customer: booking.customer.as_deref(),
    };
    base.link(&body, &path(booking.conference_id))
}

/// The `201` answer for a booking (also what its `Idempotency-Key` replays).
fn created(base: &BaseUrl, booking: &Booking) -> Stored {
    Stored {
        status: StatusCode::CREATED.as_u16(),
        body: resource(base, booking).to_string(),
        location: Some(format!("{}{}", base.0, path(booking.conference_id))),
    }
}

/// A booking id in the path: not a positive whole number → `400 invalid_id`.
fn conference_id(raw: &str) -> Result<ConferenceId, AppError> {
    path_id(raw, "conference id")
}

/// `POST /conferences` (customers): create the booking, pay for it synchronously, answer
/// 201 `PAID`. With an `Idempotency-Key`, a retry replays the first answer.
#[utoipa::path(post, path = "/conferences", tag = "conferences", operation_id = "applyConference",
    params(hifive_openapi::IdempotencyHeader),
    request_body(content = Apply, content_type = "application/json"),
    responses(
        (status = 201, description = "Booked and paid: `PAID`; the saga assigns the room.",
            body = openapi::BookingItem, headers(
                ("Location" = String, description = "The booking's address."),
                ("Idempotent-Replayed" = String, description = "`true` when this is the first answer to this `Idempotency-Key`, replayed."))),
        (status = 409, description = "A request with this `Idempotency-Key` is still being carried out, or the booking ended while it was paid.", body = hifive_openapi::Error),
        (status = 422, description = "A missing or invalid field, or an `Idempotency-Key` reused for another request.", body = hifive_openapi::Error),
        (status = 503, description = "Payment unavailable or its breaker open, or the saga behind: nothing kept.", body = hifive_openapi::Error,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
    ),
    security(("bearer" = [])))]
async fn apply(
    caller: Caller,
    State(api): State<Api>,
    RequestId(request_id): RequestId,
    base: BaseUrl,
    key: IdempotencyKey,
    object: JsonObject,
) -> Result<Response, AppError> {
    // A body that is not JSON is refused first, then the caller, then the fields.
    caller.require(Role::Customer)?;
    // The key's fingerprint is the body as sent (so a retry must send the same body).
    let sent = Value::Object(object.0.clone());
    let Body(asked) = Body::<Apply>::from_object(object.0)?;
    let attempt = key.attempt(&caller.subject, "POST /conferences", &sent);
    let request = BookingRequest {
        room_number: asked.room_number,
        customer: caller.subject,
        request_id,
        attempt,
    };
    let render = base.clone();
    let booked = api
        .booker
        .book(request, move |booking| created(&render, booking))
        .await?;
    Ok(match booked {
        Booked::Now(booking) => created(&base, &booking).response(false),
        Booked::Earlier(prior) => prior.answer(),
    })
}

/// `GET /conferences`: a manager sees every booking, a customer their own.
#[utoipa::path(get, path = "/conferences", tag = "conferences", operation_id = "listConferences",
    params(hifive_openapi::PageQuery),
    responses((status = 200, description = "A page of bookings, oldest first.", body = openapi::BookingPage)),
    security(("bearer" = [])))]
async fn list(
    caller: Caller,
    State(api): State<Api>,
    base: BaseUrl,
    page: PageParams,
) -> Result<Json<Value>, AppError> {
    let scope = caller.scope()?;
    let (bookings, total) = api.bookings.list(scope, page.size, page.offset()).await?;
    let items = bookings.iter().map(|b| resource(&base, b)).collect();
    Ok(Json(page.collection(
        &base,
        "/conferences",
        "conferences",
        items,
        total,
    )))
}

/// `GET /conferences/{id}`: another customer's booking is `404`, as if it did not exist.
#[utoipa::path(get, path = "/conferences/{id}", tag = "conferences", operation_id = "getConference",
    params(("id" = ConferenceId, Path, description = "The booking's id.")),
    responses(
        (status = 200, description = "The booking.", body = openapi::BookingItem),
        (status = 404, description = "No such booking (or another customer's).", body = hifive_openapi::Error),
    ),
    security(("bearer" = [])))]
async fn read(
    caller: Caller,
    State(api): State<Api>,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let scope = caller.scope()?;
    let id = conference_id(&raw)?;
    let booking = api.bookings.read(id, scope).await?;
    Ok(Json(resource(&base, &booking)))
}

/// `DELETE /conferences/{id}` (the customer who booked): 204; the booking stays readable as
/// `CANCELED`.
#[utoipa::path(delete, path = "/conferences/{id}", tag = "conferences", operation_id = "cancelConference",
    params(("id" = ConferenceId, Path, description = "The booking's id.")),
    responses(
        (status = 204, description = "Cancelled (again: still `204`); the booking stays readable as `CANCELED`."),
        (status = 404, description = "No such booking (or another customer's).", body = hifive_openapi::Error),
        (status = 409, description = "The booking holds nothing to cancel.", body = hifive_openapi::Error),
    ),
    security(("bearer" = [])))]
async fn cancel(
    caller: Caller,
    State(api): State<Api>,
    RequestId(request_id): RequestId,
    Path(raw): Path<String>,
) -> Result<StatusCode, AppError> {
    caller.require(Role::Customer)?;
    let id = conference_id(&raw)?;
    tracing::Span::current().record("conference_id", id.get());
    api.bookings
        .cancel(id, &caller.subject, &request_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn booking() -> Booking {
        Booking {
            conference_id: ConferenceId::new(7).unwrap(),
            status: ConferenceStatus::Paid,
            pay_id: None,
            room_number: RoomNumber::new(3).unwrap(),
            customer: Some("alice".into()),
            created_at: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn a_booking_renders_as_before() {
        let base = BaseUrl("http://h".into());
        assert_eq!(
            resource(&base, &booking()),
            json!({
                "conferenceId": 7,
                "status": "PAID",
                "payId": null,
                "roomNumber": 3,
                "customer": "alice",
                "_links": {"self": {"href": "http://h/conferences/7"}},
            })
        );
        let answer = created(&base, &booking());
        assert_eq!(answer.status, 201);
        assert_eq!(answer.location.as_deref(), Some("http://h/conferences/7"));
    }

    #[test]
    fn the_request_reads_the_room_number_leniently() {
        for body in [json!({"roomNumber": 3}), json!({"roomNumber": "3"})] {
            let Body(asked) =
                Body::<Apply>::from_object(body.as_object().unwrap().clone()).unwrap();
            assert_eq!(asked.room_number.get(), 3);
        }
        let err = Body::<Apply>::from_object(json!({"status": ""}).as_object().unwrap().clone())
            .unwrap_err();
        assert_eq!(err.error, "missing_field");
    }

    #[test]
    fn path_ids_are_positive_numbers() {
        assert_eq!(conference_id("7").unwrap().get(), 7);
        assert_eq!(conference_id("0").unwrap_err().error, "invalid_id");
        assert_eq!(conference_id("abc").unwrap_err().error, "invalid_id");
    }
}
