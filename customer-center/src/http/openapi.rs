//! `GET /openapi.json` of customer-center: the view and the notifications, from the
//! handlers' annotations. Anyone may read them: no operation asks for a token.

use serde_json::Value;
use utoipa::OpenApi;

use super::{NotificationBody, RoomStateBody};

hifive_openapi::hal_item!(
    /// A room's state with its `_links.self`.
    RoomStateItem,
    RoomStateBody
);
hifive_openapi::hal_collection!(
    /// A page of room states.
    RoomStatePage,
    RoomStatesEmbedded,
    roomStates,
    RoomStateItem
);
hifive_openapi::hal_collection!(
    /// A page of notifications.
    NotificationPage,
    NotificationsEmbedded,
    notifications,
    NotificationBody
);

#[derive(OpenApi)]
#[openapi(
    info(title = "HiFive customer-center", description = "The room-state view (CQRS) and notifications, for anyone."),
    paths(
        super::room_states,
        super::room_states_by_room_number,
        super::room_states_by_conference_id,
        super::state,
        super::notifications,
        super::stream
    ),
    tags(
        (name = "roomStates", description = "The state of every room"),
        (name = "notifications", description = "A notification on every assignment and release")
    )
)]
struct Doc;

/// The document, as served (built once at start).
pub fn document() -> Value {
    hifive_openapi::document(Doc::openapi())
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
            hifive_openapi::table_operations(
                gateway::public_api::PUBLIC,
                &["/roomStates", "/notifications"]
            )
        );
        let stream = &doc["paths"]["/notifications/stream"]["get"];
        assert!(stream["responses"]["200"]["content"]["text/event-stream"].is_object());
        assert!(stream.get("security").is_none(), "anyone may read");
        assert!(stream["responses"].get("401").is_none());
    }
}
