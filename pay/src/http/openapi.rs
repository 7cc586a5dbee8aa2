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
            hifive_openapi::table_operations(gateway::public_api::PUBLIC, &["/pays"])
        );
        let read = &doc["paths"]["/pays/{id}"]["get"];
        for status in ["200", "400", "401", "403", "404", "429", "503"] {
            assert!(read["responses"][status].is_object(), "{status}");
        }
        let page = &doc["components"]["schemas"]["PaymentsEmbedded"]["properties"]["pays"];
        assert_eq!(page["type"], "array");
    }
}
