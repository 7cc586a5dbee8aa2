//! `GET /openapi.json` of conference: its public operations, from the handlers' annotations.

use serde_json::{Value, json};
use utoipa::OpenApi;

use super::BookingBody;

hifive_openapi::hal_item!(
    /// A booking with its `_links.self`.
    BookingItem,
    BookingBody<'static>
);
hifive_openapi::hal_collection!(
    /// A page of bookings.
    BookingPage,
    BookingsEmbedded,
    conferences,
    BookingItem
);

#[derive(OpenApi)]
#[openapi(
    info(title = "HiFive conference", description = "Bookings: apply for a room (paying synchronously), read and cancel."),
    paths(super::apply, super::list, super::read, super::cancel),
    tags((name = "conferences", description = "Bookings"))
)]
struct Doc;

/// The document, as served (built once at start).
pub fn document() -> Value {
    let mut doc = hifive_openapi::document(Doc::openapi());
    let created = ("post", "/conferences", "201");
    let id = json!({"id": "$response.body#/conferenceId"});
    hifive_openapi::link(
        &mut doc,
        created,
        "GetConference",
        "getConference",
        id.clone(),
    );
    hifive_openapi::link(
        &mut doc,
        created,
        "CancelConference",
        "cancelConference",
        id,
    );
    doc
}
