//! The services' documents as one (the gateway's `GET /openapi.json`).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

/// The HTTP methods an OpenAPI path item may hold.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation of a document, as `(METHOD, path)`: `("GET", "/conferences/{id}")`.
pub fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                if item.get(*method).is_some() {
                    found.insert((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
    }
    found
}

/// One document from `docs`: `base`'s `openapi` and `info`, every operation that
/// `keep(METHOD, path)` lets through, and the components and tags of all (the first of a
/// name wins: the shared ones are equal).
pub fn merge(base: Value, docs: &[Value], keep: impl Fn(&str, &str) -> bool) -> Value {
    let mut paths = Map::new();
    let mut components: Map<String, Value> = Map::new();
    let mut tags: Vec<Value> = Vec::new();
    for doc in docs {
        for (path, item) in doc
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let Some(item) = item.as_object() else {
                continue;
            };
            let kept: Map<String, Value> = item
                .iter()
                .filter(|(key, _)| {
                    !METHODS.contains(&key.as_str()) || keep(&key.to_ascii_uppercase(), path)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if kept.keys().any(|k| METHODS.contains(&k.as_str())) {
                let into = paths.entry(path.clone()).or_insert_with(|| json!({}));
                if let Value::Object(into) = into {
                    for (k, v) in kept {
                        into.entry(k).or_insert(v);
                    }
                }
            }
        }
        for (kind, named) in doc
            .get("components")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let into = components.entry(kind.clone()).or_insert_with(|| json!({}));
            if let (Value::Object(into), Some(named)) = (into, named.as_object()) {
                for (name, value) in named {
                    into.entry(name.clone()).or_insert_with(|| value.clone());
                }
            }
        }
        for tag in doc
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !tags.iter().any(|t| t.get("name") == tag.get("name")) {
                tags.push(tag.clone());
            }
        }
    }
    let mut merged = base;
    if let Value::Object(merged) = &mut merged {
        merged.insert("paths".into(), Value::Object(paths));
        merged.insert("components".into(), Value::Object(components));
        merged.insert("tags".into(), Value::Array(tags));
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_paths_and_components_keeping_what_is_public() {
        let a = json!({"paths": {
            "/rooms": {"get": {"x": 1}, "parameters": []},
            "/pays/room_applied": {"post": {}},
        }, "components": {"schemas": {"Error": {"a": 1}, "Room": {}}}, "tags": [{"name": "rooms"}]});
        let b = json!({"paths": {"/pays": {"get": {}}},
            "components": {"schemas": {"Error": {"b": 2}}}, "tags": [{"name": "pays"}]});
        let merged = merge(
            json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}}),
            &[a, b],
            |_, path| !path.contains("room_applied"),
        );
        let found: Vec<_> = operations(&merged).into_iter().collect();
        assert_eq!(
            found,
            vec![
                ("GET".to_owned(), "/pays".to_owned()),
                ("GET".to_owned(), "/rooms".to_owned())
            ]
        );
        assert_eq!(merged["components"]["schemas"]["Error"], json!({"a": 1}));
        assert_eq!(merged["tags"].as_array().unwrap().len(), 2);
        assert_eq!(merged["openapi"], "3.1.0");
    }
}
