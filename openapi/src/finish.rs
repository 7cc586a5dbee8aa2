//! What every public operation can be answered besides what its handler says: written once
//! here, so that no service's document forgets the edge (the gateway's limits, the bearer
//! check, a busy database).

use serde_json::{Map, Value, json};
use utoipa::openapi::OpenApi;

/// The name of the bearer security scheme operations refer to.
pub const BEARER: &str = "bearer";

/// The document as served: `api` with the bearer scheme, the error schema, and on every
/// operation the answers the edge may give (only where the handler did not say them):
/// `401`/`403` when it is secured; `400`/`413`/`422` when it takes a body; `400` when it has
/// parameters; `429` (rate limit), `503` (a service, its database or the saga unavailable)
/// and `504` (a service too slow) always, with `Retry-After` where the server sends it.
pub fn document(api: OpenApi) -> Value {
    let mut doc = match serde_json::to_value(api) {
        Ok(Value::Object(doc)) => doc,
        _ => Map::new(),
    };
    let components = object_at(&mut doc, "components");
    object_at(components, "securitySchemes").insert(
        BEARER.into(),
        json!({
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "An OAuth2/OIDC access token of the issuer (locally: `script/token manager`)."
        }),
    );
    let schemas = object_at(components, "schemas");
    if !schemas.contains_key("Error") {
        schemas.insert("Error".into(), error_schema());
    }
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for item in paths.values_mut() {
            if let Value::Object(item) = item {
                for operation in item.values_mut() {
                    if let Value::Object(operation) = operation {
                        complete(operation);
                    }
                }
            }
        }
    }
    Value::Object(doc)
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error", "detail"],
        "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}
    })
}

/// The object at `key` of `map` (made an object if it was not one).
fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(inner) => inner,
        _ => unreachable!("made an object above"),
    }
}

fn complete(operation: &mut Map<String, Value>) {
    let secured = operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|r| r.get(BEARER).is_some()));
    let has_body = operation.get("requestBody").is_some();
    let has_parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let responses = object_at(operation, "responses");
    let mut add = |status: &str, description: &str, headers: Value| {
        let response = responses
            .entry(status.to_owned())
            .or_insert_with(|| json!({ "description": description }));
        if let Value::Object(response) = response {
            response.entry("content").or_insert_with(
                || json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}),
            );
            if let (Value::Object(extra), false) = (&headers, headers.is_null()) {
                let have = response.entry("headers").or_insert_with(|| json!({}));
                if let Value::Object(have) = have {
                    for (name, header) in extra {
                        have.entry(name.clone()).or_insert_with(|| header.clone());
                    }
                }
            }
        }
    };
    if secured {
        add(
            "401",
            "No token, or a bad one.",
            json!({"WWW-Authenticate": header("`Bearer realm=\"hifive\"`, and what was wrong with a token sent.")}),
        );
        add("403", "The caller's role may not do this.", Value::Null);
    }
    if has_body {
        add(
            "400",
            "Malformed JSON or not `Content-Type: application/json`.",
            Value::Null,
        );
        add("413", "The body is too large.", Value::Null);
        add(
            "422",
            "A field is missing or invalid, or the body is not an object.",
            Value::Null,
        );
    }
    if has_parameters {
        add("400", "A bad id or query parameter.", Value::Null);
    }
    add("429", "Over the rate limit of this client.", retry_after());
    add(
        "503",
        "A service, its database or the saga is unavailable; nothing was done.",
        retry_after(),
    );
    add("504", "A service did not answer in time.", Value::Null);
}

fn header(description: &str) -> Value {
    json!({"description": description, "schema": {"type": "string"}})
}

fn retry_after() -> Value {
    json!({"Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0}
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secured_operations_with_bodies_get_the_edge_answers() {
        let mut op = json!({"security": [{"bearer": []}], "requestBody": {}, "responses": {
            "201": {"description": "made"},
            "422": {"description": "mine", "content": {"text/plain": {}}},
        }});
        complete(op.as_object_mut().unwrap());
        let responses = op["responses"].as_object().unwrap();
        for status in [
            "201", "400", "401", "403", "413", "422", "429", "503", "504",
        ] {
            assert!(responses.contains_key(status), "{status}");
        }
        assert_eq!(op["responses"]["422"]["description"], "mine");
        assert!(op["responses"]["201"].get("content").is_none());
        assert!(op["responses"]["503"]["headers"]["Retry-After"].is_object());
        assert!(op["responses"]["401"]["headers"]["WWW-Authenticate"].is_object());
    }

    #[test]
    fn public_reads_are_not_told_about_tokens() {
        let mut op = json!({"responses": {"200": {"description": "ok"}}});
        complete(op.as_object_mut().unwrap());
        assert!(op["responses"].get("401").is_none());
        assert!(op["responses"].get("400").is_none());
    }
}
