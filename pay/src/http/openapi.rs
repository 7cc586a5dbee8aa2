//! `GET /openapi.json` of pay: its public operations, from the handlers' annotations (not
//! the payment call, `/pays/room_applied`, which only conference makes).

use serde_json::Value;
use utoipa::OpenApi;

use super::PaymentView;

hifive_openapi::hal_item!(
    /// A payment with its `_links.self`.
    PaymentItem,
    PaymentView<'static>
);
hifive_openapi::hal_collection!(
    /// A page of payments.
    PaymentPage,
    PaymentsEmbedded,
    pays,
    PaymentItem
);

#[derive(OpenApi)]
#[openapi(
    info(title = "HiFive pay", description = "Payments: `PAID`, or `CANCELED` once refunded."),
    paths(super::list, super::read),
    tags((name = "pays", description = "Payments"))
)]
struct Doc;

/// The document, as served (built once at start).
pub fn document() -> Value {
    hifive_openapi::document(Doc::openapi())
}
