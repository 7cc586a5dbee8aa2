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
