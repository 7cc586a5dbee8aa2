//! The HTTP API of rooms (managers only): register, read, list, find by payment. Handlers
//! check the caller, read typed requests, call the use cases and render HAL items.

use std::collections::HashMap;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
    routing::get,
};
use hifive_common::{
    AppError, BaseUrl, Body, Caller, JsonObject, PageParams, RequestId, Role,
    http::{path_id, query_id},
    idempotency::{IdempotencyKey, Render, Stored},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared_events::{PayId, RoomNumber, RoomState};

use crate::{
    app::{NewRoom, Registered, Rooms},
    domain::Room,
};

pub mod openapi;

pub fn routes(rooms: Rooms) -> Router {
    Router::new()
        .route("/rooms", get(list).post(register))
        .route("/rooms/search/findByPayId", get(find_by_pay_id))
        .route("/rooms/{number}", get(read))
        .with_state(rooms)
        .merge(hifive_openapi::route(openapi::document()))
}

/// `POST /rooms`: numbers may be sent as strings (`"roomNumber":"1"`, as httpie does).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRoom {
    #[schema(schema_with = hifive_openapi::lenient_id)]
    pub room_number: RoomNumber,
    /// A new room is `EMPTY`: only that (or nothing) may be sent.
    #[schema(schema_with = openapi::registration_status)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_status: Option<String>,
    #[schema(schema_with = hifive_openapi::lenient_count)]
    #[serde(
        default,
        deserialize_with = "shared_events::lenient::optional_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub used_count: Option<i64>,
}

impl From<RegisterRoom> for NewRoom {
    fn from(r: RegisterRoom) -> Self {
        NewRoom {
            number: r.room_number,
            used_count: r.used_count.unwrap_or(0),
            status: r.room_status,
        }
    }
}

/// A room as the API shows it (with `_links.self` added).
fn view(room: &Room) -> RoomState {
    RoomState {
        room_number: room.number,
        room_status: room.status(),
        used_count: room.used_count,
        conference_id: room.held_by.map(|b| b.conference_id),
        pay_id: room.held_by.map(|b| b.pay_id),
    }
}

fn item(base: &BaseUrl, room: &Room) -> Value {
    base.link(&view(room), &format!("/rooms/{}", room.number))
}

/// `POST /rooms {roomNumber, roomStatus?, usedCount?}` (managers): registers an `EMPTY`
/// room. With an `Idempotency-Key`, a retry replays the first answer. The body is read as
/// JSON before the role is checked, and as a [`RegisterRoom`] after.
#[utoipa::path(post, path = "/rooms", tag = "rooms", operation_id = "registerRoom",
    params(hifive_openapi::IdempotencyHeader),
    request_body(content = RegisterRoom, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered, `EMPTY`.", body = openapi::RoomItem, headers(
            ("Location" = String, description = "The room's address."),
            ("Idempotent-Replayed" = String, description = "`true` when this is the first answer to this `Idempotency-Key`, replayed."))),
        (status = 409, description = "The room exists, or a request with this `Idempotency-Key` is still being carried out.", body = hifive_openapi::Error),
        (status = 422, description = "A missing or invalid field, or an `Idempotency-Key` reused for another request.", body = hifive_openapi::Error),
    ),
    security(("bearer" = [])))]
async fn register(
    State(rooms): State<Rooms>,
    RequestId(request_id): RequestId,
    base: BaseUrl,
    caller: Caller,
    key: IdempotencyKey,
    JsonObject(body): JsonObject,
) -> Result<Response, AppError> {
    caller.require(Role::Manager)?;
    // The key's fingerprint is the body as sent (so a retry must send the same body).
    let sent = Value::Object(body.clone());
    let Body(request) = Body::<RegisterRoom>::from_object(body)?;
    let attempt = key.attempt(&caller.subject, "POST /rooms", &sent);
    let render = |room: &Room| Stored {
        status: StatusCode::CREATED.as_u16(),
        body: item(&base, room).to_string(),
        location: Some(format!("{}/rooms/{}", base.0, room.number)),
    };
    let idempotent = attempt.as_ref().map(|a| (a, &render as Render<'_, Room>));
    match rooms
        .register(request.into(), &request_id, idempotent)
        .await?
    {
        Registered::Created(room) => Ok(render(&room).response(false)),
        Registered::Replayed(prior) => Ok(prior.answer()),
    }
}

/// `GET /rooms` (managers).
#[utoipa::path(get, path = "/rooms", tag = "rooms", operation_id = "listRooms",
    params(hifive_openapi::PageQuery),
    responses((status = 200, description = "A page of rooms, by number.", body = openapi::RoomPage)),
    security(("bearer" = [])))]
async fn list(
    State(rooms): State<Rooms>,
    base: BaseUrl,
    caller: Caller,
    page: PageParams,
) -> Result<Json<Value>, AppError> {
    caller.require(Role::Manager)?;
    let (found, total) = rooms.list(page.size, page.offset()).await?;
    let items = found.iter().map(|r| item(&base, r)).collect();
    Ok(Json(
        page.collection(&base, "/rooms", "rooms", items, total),
    ))
}

/// `GET /rooms/{number}` (managers).
#[utoipa::path(get, path = "/rooms/{number}", tag = "rooms", operation_id = "getRoom",
    params(("number" = RoomNumber, Path, description = "The room's number.")),
    responses(
        (status = 200, description = "The room.", body = openapi::RoomItem),
        (status = 404, description = "No such room.", body = hifive_openapi::Error),
    ),
    security(("bearer" = [])))]
async fn read(
    State(rooms): State<Rooms>,
    base: BaseUrl,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    caller.require(Role::Manager)?;
    let number = path_id(&raw, "room number")?;
    Ok(Json(item(&base, &rooms.read(number).await?)))
}

/// `GET /rooms/search/findByPayId?payId=` (as the original; managers).
#[utoipa::path(get, path = "/rooms/search/findByPayId", tag = "rooms", operation_id = "findRoomsByPayId",
    params(("payId" = PayId, Query, description = "The payment of the booking holding the room.")),
    responses((status = 200, description = "The room held with this payment, if any.", body = openapi::RoomSearch)),
    security(("bearer" = [])))]
async fn find_by_pay_id(
    State(rooms): State<Rooms>,
    base: BaseUrl,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    caller.require(Role::Manager)?;
    let pay_id: PayId = query_id(&params, "payId")?;
    let found = rooms.held_with(pay_id).await?;
    let items: Vec<Value> = found.iter().map(|r| item(&base, r)).collect();
    Ok(Json(json!({
        "_embedded": { "rooms": items },
        "_links": { "self": { "href": format!("{}/rooms/search/findByPayId?payId={pay_id}", base.0) } },
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> Result<RegisterRoom, AppError> {
        let Value::Object(object) = body else {
            panic!("not an object")
        };
        Body::<RegisterRoom>::from_object(object).map(|b| b.0)
    }

    #[test]
    fn a_registration_reads_lenient_numbers_and_optional_fields() {
        let r =
            request(json!({"roomNumber": "4", "usedCount": "2", "roomStatus": "EMPTY"})).unwrap();
        assert_eq!(r.room_number.get(), 4);
        assert_eq!(r.used_count, Some(2));
        assert_eq!(r.room_status.as_deref(), Some("EMPTY"));
        let r = request(json!({"roomNumber": 5, "usedCount": null, "extra": [1]})).unwrap();
        assert_eq!((r.used_count, r.room_status.as_deref()), (None, None));
        let new = NewRoom::from(r);
        assert_eq!(new.used_count, 0);
    }

    #[test]
    fn a_bad_registration_says_which_field() {
        for (body, code) in [
            (json!({}), "missing_field"),
            (json!({"roomNumber": "x"}), "invalid_field"),
            (json!({"roomNumber": 0}), "invalid_field"),
            (json!({"roomNumber": 3, "usedCount": -2}), "invalid_field"),
            (json!({"roomNumber": 3, "roomStatus": 1}), "invalid_field"),
        ] {
            let err = request(body.clone()).unwrap_err();
            assert_eq!(
                (err.status, err.error),
                (StatusCode::UNPROCESSABLE_ENTITY, code),
                "{body}"
            );
        }
    }

    #[test]
    fn a_room_shows_its_state_and_its_booking() {
        let room = Room::registered(RoomNumber::new(2).unwrap(), 1);
        let shown = item(&BaseUrl("http://h".into()), &room);
        assert_eq!(
            shown,
            json!({
                "roomNumber": 2, "roomStatus": "EMPTY", "usedCount": 1,
                "conferenceId": null, "payId": null,
                "_links": { "self": { "href": "http://h/rooms/2" } },
            })
        );
    }
}
