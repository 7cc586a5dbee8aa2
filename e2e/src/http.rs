//! Talking to a [`System`] over HTTP: who a request is sent as ([`Who`]), requests through
//! the gateway and to a service's own port, and what comes back ([`Reply`]).

use reqwest::{StatusCode, header::HeaderMap};
use serde_json::Value;

use crate::System;

/// Who a request is sent as.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    /// No `Authorization` header.
    Anonymous,
    /// A customer (`sub` = the name).
    Customer(&'a str),
    /// A room manager.
    Manager,
    /// This bearer token, as it is.
    Token(&'a str),
}

/// The customer the plain request helpers book and cancel as.
pub const CUSTOMER: &str = "e2e";

impl System {
    /// `GET path` on a service's own port (health, operator endpoints): status and JSON body.
    pub async fn health(&self, service: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.url_of(service)))
            .send()
            .await
            .expect("the service answers");
        (r.status().as_u16(), r.json().await.unwrap_or_default())
    }

    /// Pay's simulated processing time (`PAY_ADMIN_ENABLED=true`): `500`, `"400..620"` or
    /// `null` (off).
    pub async fn set_pay_latency(&self, latency: Value) {
        let r = self
            .http
            .put(format!("{}/admin/overload", self.url_of("pay")))
            .json(&serde_json::json!({ "latencyMs": latency }))
            .send()
            .await
            .expect("pay answers");
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }

    /// [`CUSTOMER`] books and cancels (`POST`/`DELETE /conferences`), a manager does the rest.
    pub async fn call(&self, method: &str, path: &str, body: Option<Body<'_>>) -> Reply {
        self.call_with(method, path, body, &[]).await
    }

    /// [`System::call`] with extra headers.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Body<'_>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let books = path.starts_with("/conferences") && matches!(method, "POST" | "DELETE");
        let who = if books {
            Who::Customer(CUSTOMER)
        } else {
            Who::Manager
        };
        self.call_as(who, method, path, body, headers).await
    }

    /// Sends a request through the gateway as `who`.
    pub async fn call_as(
        &self,
        who: Who<'_>,
        method: &str,
        path: &str,
        body: Option<Body<'_>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.gateway()));
        let token = match who {
            Who::Anonymous => None,
            Who::Customer(name) => Some(self.token("customer", name)),
            Who::Manager => Some(self.token("manager", "boss")),
            Who::Token(token) => Some(token.to_owned()),
        };
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req = match body {
            Some(Body::Json(v)) => req.json(&v),
            Some(Body::Raw { content_type, text }) => req
                .header("content-type", content_type)
                .body(text.to_owned()),
            None => req,
        };
        let response = req.send().await.expect("the gateway answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            json,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call("POST", path, Some(Body::Json(body))).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, None).await
    }

    /// Opens a streaming `GET` through the gateway (for Server-Sent Events).
    pub async fn open_stream(&self, path: &str) -> reqwest::Response {
        let response = self
            .http
            .get(format!("{}{path}", self.gateway()))
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status(), 200, "GET {path}");
        response
    }
}

/// A request body.
pub enum Body<'a> {
    Json(Value),
    Raw {
        content_type: &'a str,
        text: &'a str,
    },
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a request through the gateway as `who`, with an optional JSON body and no extra
/// headers.
pub async fn as_(
    sys: &System,
    who: Who<'_>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Reply {
    sys.call_as(who, method, path, body.map(Body::Json), &[])
        .await
}
