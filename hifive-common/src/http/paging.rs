//! `?page=&size=` and the HAL collection shape the original's clients read.

use std::collections::HashMap;

use axum::{
    extract::{FromRequestParts, Query},
    http::request::Parts,
};
use serde_json::{Map, Value, json};

use super::{AppError, BaseUrl};

/// `?page=&size=` as Spring Data REST reads them (page from 0, size 20 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageParams {
    pub page: i64,
    pub size: i64,
}

impl PageParams {
    pub const MAX_SIZE: i64 = 1000;

    /// Rows to skip (saturating: a page far past the end is empty, not an overflow).
    pub fn offset(&self) -> i64 {
        self.page.saturating_mul(self.size)
    }

    fn parse(params: &HashMap<String, String>) -> Result<Self, AppError> {
        let read = |name: &str, default: i64, min: i64| -> Result<i64, AppError> {
            match params.get(name) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| {
                        AppError::bad_request(
                            "invalid_parameter",
                            format!("`{name}` must be a whole number ≥ {min}, got {raw:?}"),
                        )
                    }),
            }
        };
        Ok(Self {
            page: read("page", 0, 0)?,
            size: read("size", 20, 1)?.min(Self::MAX_SIZE),
        })
    }

    /// The HAL collection body: `_embedded.<rel>`, `_links`, `page`.
    pub fn collection(
        &self,
        base: &BaseUrl,
        path: &str,
        rel: &str,
        items: Vec<Value>,
        total: i64,
    ) -> Value {
        let total_pages = (total + self.size - 1) / self.size;
        let href = |page: i64| format!("{}{path}?page={page}&size={}", base.0, self.size);
        let mut links = Map::new();
        links.insert("self".into(), json!({ "href": href(self.page) }));
        if self.page.saturating_add(1) < total_pages {
            links.insert("next".into(), json!({ "href": href(self.page + 1) }));
        }
        if self.page > 0 {
            links.insert("prev".into(), json!({ "href": href(self.page - 1) }));
        }
        json!({
            "_embedded": { rel: items },
            "_links": links,
            "page": { "size": self.size, "totalElements": total, "totalPages": total_pages, "number": self.page },
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageParams {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(params) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| AppError::bad_request("invalid_query", e.body_text()))?;
        Self::parse(&params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_default_and_clamp() {
        let p = PageParams::parse(&HashMap::new()).unwrap();
        assert_eq!(p, PageParams { page: 0, size: 20 });
        let big: HashMap<_, _> = [("size".to_string(), "5000".to_string())].into();
        assert_eq!(PageParams::parse(&big).unwrap().size, PageParams::MAX_SIZE);
        let bad: HashMap<_, _> = [("page".to_string(), "-1".to_string())].into();
        assert!(PageParams::parse(&bad).is_err());
        let far = PageParams {
            page: i64::MAX,
            size: 1000,
        };
        assert_eq!(far.offset(), i64::MAX);
        let body = far.collection(&BaseUrl("http://h".into()), "/rooms", "rooms", vec![], 3);
        assert_eq!(body["page"]["number"], i64::MAX);
    }

    #[test]
    fn collection_has_hal_shape() {
        let p = PageParams { page: 0, size: 2 };
        let body = p.collection(
            &BaseUrl("http://h".into()),
            "/rooms",
            "rooms",
            vec![json!({"a":1})],
            3,
        );
        assert_eq!(body["page"]["totalPages"], 2);
        assert_eq!(body["_embedded"]["rooms"][0]["a"], 1);
        assert_eq!(
            body["_links"]["next"]["href"],
            "http://h/rooms?page=1&size=2"
        );
    }
}
