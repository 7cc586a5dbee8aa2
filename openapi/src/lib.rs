//! The OpenAPI 3.1 pieces every HiFive API shares, so that each service's document says the
//! same thing the same way: the error shape ([`Error`]), HAL items and collections
//! ([`hal_item!`], [`hal_collection!`]), the lenient ids requests may send ([`lenient_id`]),
//! and what every public operation can be answered at the edge whatever its handler does
//! ([`document`]: the bearer scheme and `401`/`403` for secured operations, `400`/`413`/`422`
//! for bodies, `429`/`503`/`504` with `Retry-After`). [`merge`] is the gateway's: the
//! services' documents as one, public paths only.
//!
//! Lean on purpose (utoipa, serde, axum): the gateway links it without a database driver or
//! a Kafka client.

mod finish;
mod merge;

use axum::{Json, Router, routing::get};
use serde::Serialize;
use serde_json::Value;
use utoipa::{
    ToSchema,
    openapi::{
        KnownFormat, ObjectBuilder, OneOfBuilder, RefOr, Schema, SchemaFormat, Type,
        schema::SchemaType,
    },
};

pub use finish::{BEARER, document};
pub use merge::{merge, operations};
pub use utoipa;

/// Every refusal: `{"error": "<code>", "detail": "<what to do>"}` (hifive-common's `AppError`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(examples(json!({"error": "not_found", "detail": "no booking 7"})))]
pub struct Error {
    /// A stable code: `missing_field`, `invalid_id`, `saga_busy`, ...
    pub error: String,
    /// What went wrong and what to do, for people.
    pub detail: String,
}

/// A HAL link.
#[derive(Debug, Serialize, ToSchema)]
pub struct Link {
    pub href: String,
}

/// An item's `_links`: its own address.
#[derive(Debug, Serialize, ToSchema)]
pub struct SelfLinks {
    #[serde(rename = "self")]
    pub self_link: Link,
}

/// A collection's `_links`: this page, and the next and previous ones when there are.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageLinks {
    #[serde(rename = "self")]
    pub self_link: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev: Option<Link>,
}

/// A search's `_links` (not paged).
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchLinks {
    #[serde(rename = "self")]
    pub self_link: Link,
}

/// Spring Data REST's page block: `?page=` counts from 0, `?size=` is 20 by default.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub size: i64,
    pub total_elements: i64,
    pub total_pages: i64,
    pub number: i64,
}

/// `?page=&size=` of a collection (Spring Data REST's).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The page, from 0.
    #[param(required = false, minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub page: i64,
    /// Items per page (default 20; more than 1000 is read as 1000).
    #[param(required = false, minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub size: i64,
}

/// The `Idempotency-Key` request header (`POST /conferences`, `POST /rooms`).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyHeader {
    /// Stripe's semantics: the same key from the same user with the same body replays the
    /// first answer (`Idempotent-Replayed: true`) and creates nothing; another body `422`;
    /// while the first is carried out `409`. 1 to 255 visible ASCII characters (else `400`).
    #[param(
        rename = "Idempotency-Key",
        required = false,
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]+$"
    )]
    pub key: String,
}

/// A HAL item: the fields of a response type and `_links.self`.
/// `hal_item!(Booking, BookingBody<'static>);`
#[macro_export]
macro_rules! hal_item {
    ($(#[$doc:meta])* $name:ident, $fields:ty) => {
        $(#[$doc])*
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            #[serde(flatten)]
            pub fields: $fields,
            pub _links: $crate::SelfLinks,
        }
    };
}

/// A HAL collection: `_embedded.<rel>` (the items), `_links`, `page`.
/// `hal_collection!(BookingPage, BookingsEmbedded, conferences, Booking);` (the rel is the
/// field's name: a macro's literal would not reach utoipa's `rename`).
#[macro_export]
macro_rules! hal_collection {
    ($(#[$doc:meta])* $name:ident, $embedded:ident, $rel:ident, $item:ty) => {
        #[derive(serde::Serialize, utoipa::ToSchema)]
        #[allow(non_snake_case)]
        pub struct $embedded {
            pub $rel: Vec<$item>,
        }

        $(#[$doc])*
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub _embedded: $embedded,
            pub _links: $crate::PageLinks,
            pub page: $crate::Page,
        }
    };
}

/// A positive whole number as answers carry it (an id of `shared_events`).
pub fn id_schema(description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Integer))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(i64::MAX))
        .description(Some(description))
        .into()
}

/// A positive whole number as requests may send it: a number, or a string holding one
/// (`"roomNumber":"1"`, as httpie sends it). For `#[schema(schema_with = lenient_id)]`.
pub fn lenient_id() -> Schema {
    let digits = ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .pattern(Some(r"^\s*\+?0*[1-9][0-9]{0,17}\s*$"))
        .description(Some("the number written as a string"));
    OneOfBuilder::new()
        .item(id_schema("a positive whole number"))
        .item(digits)
        .into()
}

/// An optional count (a whole number ≥ 0, or a string holding one; `null` is absent).
/// For `#[schema(schema_with = lenient_count)]`.
pub fn lenient_count() -> Schema {
    let number = ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Integer))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(0))
        .maximum(Some(i64::MAX));
    let digits = ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .pattern(Some(r"^\s*\+?[0-9]{1,18}\s*$"));
    let null = ObjectBuilder::new().schema_type(SchemaType::new(Type::Null));
    OneOfBuilder::new()
        .item(number)
        .item(digits)
        .item(null)
        .into()
}

/// `GET /openapi.json`: `document` as built at start.
pub fn route(document: Value) -> Router {
    let document = std::sync::Arc::new(document);
    Router::new().route(
        "/openapi.json",
        get(move || {
            let document = document.clone();
            async move { Json(document.as_ref().clone()) }
        }),
    )
}

/// An OpenAPI link on `method path`'s `status` answer to `operation_id`, with `parameters`
/// read from the answer (`{"id": "$response.body#/conferenceId"}`): what stateful testing
/// follows (create, then read or cancel what was created).
pub fn link(
    doc: &mut Value,
    (method, path, status): (&str, &str, &str),
    name: &str,
    operation_id: &str,
    parameters: Value,
) {
    let response = doc
        .pointer_mut(&format!(
            "/paths/{}/{method}/responses/{status}",
            path.replace('~', "~0").replace('/', "~1")
        ))
        .and_then(Value::as_object_mut);
    if let Some(response) = response {
        let links = response
            .entry("links")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Value::Object(links) = links {
            links.insert(
                name.to_owned(),
                serde_json::json!({"operationId": operation_id, "parameters": parameters}),
            );
        }
    }
}

/// The operations of a public API table (`("/rooms/*", [GET])`, `*` one id segment) under
/// `prefixes`, as `(METHOD, path)` with `{}` for an id: to compare with [`normalized`].
pub fn table_operations(
    table: &[(&str, &[axum::http::Method])],
    prefixes: &[&str],
) -> std::collections::BTreeSet<(String, String)> {
    table
        .iter()
        .filter(|(pattern, _)| {
            prefixes
                .iter()
                .any(|p| *pattern == *p || pattern.starts_with(&format!("{p}/")))
        })
        .flat_map(|(pattern, methods)| {
            methods
                .iter()
                .map(move |m| (m.as_str().to_owned(), pattern.replace('*', "{}")))
        })
        .collect()
}

/// A document's operations with path parameters written `{}` (`/rooms/{number}` →
/// `/rooms/{}`), to compare with [`table_operations`].
pub fn normalized(doc: &Value) -> std::collections::BTreeSet<(String, String)> {
    operations(doc)
        .into_iter()
        .map(|(method, path)| {
            let segments: Vec<&str> = path
                .split('/')
                .map(|s| if s.starts_with('{') { "{}" } else { s })
                .collect();
            (method, segments.join("/"))
        })
        .collect()
}

/// Every `$ref` of `doc` that names nothing in it (none in a valid document).
pub fn dangling_refs(doc: &Value) -> Vec<String> {
    fn walk(doc: &Value, at: &Value, out: &mut Vec<String>) {
        match at {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    let found = target
                        .strip_prefix('#')
                        .and_then(|pointer| doc.pointer(pointer));
                    if found.is_none() {
                        out.push(target.clone());
                    }
                }
                map.values().for_each(|v| walk(doc, v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(doc, v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, doc, &mut out);
    out
}

/// Checks that `doc` is an OpenAPI 3.1 document whose `$ref`s all resolve and whose
/// operations are exactly those of the public `table` under `prefixes`: each service's test
/// calls it, so its document and the gateway's public API cannot drift apart.
///
/// # Panics
/// When any of that does not hold (it is a test's check).
pub fn assert_serves_exactly(
    doc: &Value,
    table: &[(&str, &[axum::http::Method])],
    prefixes: &[&str],
) {
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(dangling_refs(doc), Vec::<String>::new());
    assert_eq!(normalized(doc), table_operations(table, prefixes));
}

/// Checks that `operation` documents an answer for each of `statuses`.
///
/// # Panics
/// When one is missing (it is a test's check).
pub fn assert_answers(operation: &Value, statuses: &[&str]) {
    for status in statuses {
        assert!(
            operation["responses"][status].is_object(),
            "no {status} in {operation}"
        );
    }
}

/// A schema by name, for hand-written responses.
pub fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_ids_take_numbers_and_numeric_strings() {
        let schema = serde_json::to_value(lenient_id()).unwrap();
        assert_eq!(schema["oneOf"][0]["type"], "integer");
        assert_eq!(schema["oneOf"][0]["minimum"], 1);
        assert_eq!(schema["oneOf"][1]["type"], "string");
    }
}
