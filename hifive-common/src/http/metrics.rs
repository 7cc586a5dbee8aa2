//! HTTP server metrics: `http_server_requests_total` and
//! `http_server_request_duration_seconds` by `method`, `route` and `status`.
//!
//! `route` is the route template, never the path (ids would make a series per booking): axum's
//! [`MatchedPath`], which exists only once the router matched a route — so [`record`] must run
//! inside the router (`Router::layer`, as [`super::layers`] does), not around it. A layer that
//! knows the template better (the gateway's proxies are nested routers, which axum gives no
//! `MatchedPath`) puts a [`RouteLabel`] in the response. Anything else is `unmatched`.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    http::Method,
    middleware::Next,
    response::Response,
};

/// The route template of an answer (a response extension), preferred to [`MatchedPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteLabel(pub String);

/// The `route` of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// The middleware: counts and times every answer.
pub async fn record(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let response = next.run(req).await;
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map(|r| r.0.clone())
        .or(matched)
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", response.status().as_str().to_owned()),
    ];
    ::metrics::counter!("http_server_requests_total", &labels).increment(1);
    ::metrics::histogram!("http_server_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The standard methods by name; anything else is `other` (one series, whatever is sent).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use axum::{
        Router,
        body::Body,
        middleware::from_fn,
        response::IntoResponse,
        routing::{get, post},
    };
    use tower::ServiceExt;

    use super::*;

    /// The value of `http_server_requests_total` with these labels (0 when absent).
    fn requests(method: &str, route: &str, status: &str) -> f64 {
        let text = crate::metrics::install("test").render();
        let want = [
            format!(r#"method="{method}""#),
            format!(r#"route="{route}""#),
            format!(r#"status="{status}""#),
        ];
        text.lines()
            .filter(|l| l.starts_with("http_server_requests_total{"))
            .filter(|l| want.iter().all(|w| l.contains(w.as_str())))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    async fn call<S>(app: S, method: Method, uri: &str) -> u16
    where
        S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
    {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        app.oneshot(req).await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn the_route_is_the_template_inside_the_router_and_unmatched_outside() {
        crate::metrics::install("test");
        let app = || {
            Router::new()
                .route("/widgets/{id}", get(|| async { "w" }))
                .route(
                    "/widgets",
                    post(|| async { (axum::http::StatusCode::CREATED, "") }),
                )
        };
        let inside = super::super::layers(app());
        assert_eq!(call(inside.clone(), Method::GET, "/widgets/7").await, 200);
        assert_eq!(call(inside.clone(), Method::GET, "/widgets/8").await, 200);
        assert_eq!(call(inside.clone(), Method::POST, "/widgets").await, 201);
        assert_eq!(call(inside, Method::GET, "/elsewhere/1").await, 404);
        assert_eq!(requests("GET", "/widgets/{id}", "200"), 2.0);
        assert_eq!(requests("POST", "/widgets", "201"), 1.0);
        assert_eq!(requests("GET", "/widgets/7", "200"), 0.0, "never the path");
        assert!(requests("GET", UNMATCHED, "404") >= 1.0);

        // Around the router (not how `layers` does it), the route is not known yet.
        let outside = tower::ServiceBuilder::new()
            .layer(from_fn(record))
            .service(app());
        assert_eq!(call(outside, Method::DELETE, "/widgets/9").await, 405);
        assert_eq!(requests("DELETE", "/widgets/{id}", "405"), 0.0);
        assert!(requests("DELETE", UNMATCHED, "405") >= 1.0);
    }

    #[tokio::test]
    async fn a_route_label_in_the_answer_wins() {
        crate::metrics::install("test");
        let labelled = |req: Request, next: Next| async move {
            let mut response = next.run(req).await;
            response
                .extensions_mut()
                .insert(RouteLabel("/gadgets/{id}".into()));
            response
        };
        let nested = Router::new().nest_service(
            "/gadgets",
            tower::service_fn(|_: Request| async {
                Ok::<_, std::convert::Infallible>("g".into_response())
            }),
        );
        let app = super::super::layers(nested.layer(from_fn(labelled)));
        assert_eq!(call(app, Method::GET, "/gadgets/3").await, 200);
        assert_eq!(requests("GET", "/gadgets/{id}", "200"), 1.0);
    }

    #[test]
    fn odd_methods_share_one_series() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
