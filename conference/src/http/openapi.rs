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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_exactly_the_public_routes() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(hifive_openapi::dangling_refs(&doc), Vec::<String>::new());
        assert_eq!(
            hifive_openapi::normalized(&doc),
            hifive_openapi::table_operations(gateway::public_api::PUBLIC, &["/conferences"])
        );
        let apply = &doc["paths"]["/conferences"]["post"];
        assert_eq!(apply["parameters"][0]["name"], "Idempotency-Key");
        for status in [
            "201", "400", "401", "403", "409", "413", "422", "429", "503",
        ] {
            assert!(apply["responses"][status].is_object(), "{status}");
        }
        assert!(apply["responses"]["503"]["headers"]["Retry-After"].is_object());
        assert!(apply["responses"]["201"]["headers"]["Location"].is_object());
        assert_eq!(apply["security"], json!([{"bearer": []}]));
        if let Ok(path) = std::env::var("DUMP_OPENAPI") {
            std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        }
    }
}
