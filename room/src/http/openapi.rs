//! `GET /openapi.json` of room: its public operations, from the handlers' annotations.

use serde_json::{Value, json};
use shared_events::RoomState;
use utoipa::OpenApi;

hifive_openapi::hal_item!(
    /// A room with its `_links.self`.
    RoomItem,
    RoomState
);
hifive_openapi::hal_collection!(
    /// A page of rooms.
    RoomPage,
    RoomsEmbedded,
    rooms,
    RoomItem
);

/// `roomStatus` of a registration: `EMPTY`, `""` or `null` (anything else is `422`).
pub fn registration_status() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::Type::String,
            utoipa::openapi::Type::Null,
        ]))
        .enum_values(Some([json!("EMPTY"), json!(""), Value::Null]))
        .into()
}

/// The answer of a search: the rooms found and the search's own link (not paged).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RoomSearch {
    pub _embedded: RoomsEmbedded,
    pub _links: hifive_openapi::SearchLinks,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "HiFive room", description = "Rooms (managers): register, read, find by payment."),
    paths(super::register, super::list, super::read, super::find_by_pay_id),
    tags((name = "rooms", description = "Rooms"))
)]
struct Doc;

/// The document, as served (built once at start).
pub fn document() -> Value {
    let mut doc = hifive_openapi::document(Doc::openapi());
    let number = json!({"number": "$response.body#/roomNumber"});
    hifive_openapi::link(
        &mut doc,
        ("post", "/rooms", "201"),
        "GetRoom",
        "getRoom",
        number,
    );
    doc
}
