//! The gateway: one entry point that routes the public API by path to the services (as the
//! original's Spring Cloud Gateway did), and nothing else: internal and admin paths are not
//! routed. Per-client rate limit, body size limit, CORS for configured origins, the
//! correlation id set for every request, and JSON answers when a service cannot be reached.
//! Bearer tokens pass through to the services, which check them. Its metrics are served on a
//! separate management port ([`management`]).

pub mod limits;
pub mod management;
pub mod openapi;
pub mod public_api;
pub mod system;
pub mod web;

use std::time::Duration;

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use axum_reverse_proxy::{BalancedProxy, ProxyError, ProxyPolicy};
use hifive_common::{
    AppError, Auth, Server, ServerConfig,
    auth::AuthConfig,
    config::{env_millis, env_or, env_parse},
    http::process_health_routes,
};

use crate::{
    limits::{Limits, RateLimit},
    system::SystemHealth,
    web::WebConfig,
};

/// Where one path prefix goes: one or more instances of a service (round robin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub prefix: &'static str,
    pub service: &'static str,
    pub upstreams: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub routes: Vec<Route>,
    /// `UPSTREAM_TIMEOUT_MS`: how long to wait for a service's answer (default 30000).
    pub upstream_timeout: Duration,
    pub limits: Limits,
    /// `MANAGEMENT_PORT`: where `GET /metrics` is served (default 9088; 0 picks a free one).
    pub management_port: u16,
    /// The services' `AUTH_*` settings: `GET /system/health` is for room managers.
    pub auth: AuthConfig,
    /// `WEB_DIR`, `WEB_OIDC_*`: the web page.
    pub web: WebConfig,
}

impl Config {
    /// `CONFERENCE_URL`, `PAY_URL`, `ROOM_URL`, `CUSTOMER_CENTER_URL` (local ports by default).
    pub fn from_env() -> anyhow::Result<Self> {
        let conference = env_or("CONFERENCE_URL", "http://127.0.0.1:8081");
        let pay = env_or("PAY_URL", "http://127.0.0.1:8082");
        let room = env_or("ROOM_URL", "http://127.0.0.1:8083");
        let customer_center = env_or("CUSTOMER_CENTER_URL", "http://127.0.0.1:8084");
        Ok(Self {
            server: ServerConfig::from_env("gateway", 8088)?,
            routes: routes(&conference, &pay, &room, &customer_center),
            upstream_timeout: env_millis("UPSTREAM_TIMEOUT_MS", 30_000)?,
            limits: Limits::from_env()?,
            management_port: env_parse("MANAGEMENT_PORT", 9088)?,
            auth: {
                let auth = AuthConfig::from_env()?;
                auth.ensure_users()?;
                auth
            },
            web: WebConfig::from_env()?,
        })
    }
}

/// The route table of docs/contract.md.
pub fn routes(conference: &str, pay: &str, room: &str, customer_center: &str) -> Vec<Route> {
    let route = |prefix, service, upstreams: &str| Route {
        prefix,
        service,
        upstreams: upstreams
            .split(',')
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
            .collect(),
    };
    vec![
        route("/conferences", "conference", conference),
        route("/pays", "pay", pay),
        route("/rooms", "room", room),
        route("/roomStates", "customer-center", customer_center),
        route("/notifications", "customer-center", customer_center),
    ]
}

/// The gateway; `App::build(config)` gives a [`Server`] to `run` (port 0 works).
pub struct App;

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Server> {
        Ok(Self::build_with_management(config).await?.0)
    }

    /// Like [`App::build`], and where the management listener (`GET /metrics`) is bound.
    pub async fn build_with_management(
        config: Config,
    ) -> anyhow::Result<(Server, std::net::SocketAddr)> {
        let mut server = Server::bind(&config.server).await?;
        let management =
            management::start(&mut server, config.server.host, config.management_port).await?;
        let auth = Auth::new(config.auth.clone());
        server.spawn({
            let auth = auth.clone();
            move |shutdown| auth.refresh_keys(shutdown)
        });
        let router = proxies(&config)?
            .merge(SystemHealth::new(&config.routes)?.routes(auth))
            .merge(config.web.routes(&config.auth.roles_claim)?);
        let limits = &config.limits;
        let max_body = limits.max_body_bytes;
        let docs = openapi::Docs::new(&config.routes, config.upstream_timeout)?;
        let mut router = router
            .merge(process_health_routes())
            .merge(docs.routes())
            .fallback(public_api::refuse)
            .layer(axum::middleware::from_fn(public_api::only_public))
            .layer(axum::middleware::from_fn(move |req, next| {
                limits::body_limit(max_body, req, next)
            }));
        match limits.rate {
            Some(rate) => {
                let limit = RateLimit::new(rate, limits.client_ip_header.clone());
                server.spawn({
                    let limit = limit.clone();
                    move |shutdown| limit.forget_idle(shutdown)
                });
                router = router.layer(axum::middleware::from_fn(move |req, next| {
                    limits::rate_limit(limit.clone(), req, next)
                }));
            }
            None => tracing::warn!("GATEWAY_RATE_LIMIT=0: no rate limit per client"),
        }
        if let Some(cors) = limits.cors()? {
            router = router.layer(cors);
        }
        server.edge_routes(router);
        tracing::info!(routes = ?config.routes, limits = ?config.limits, web = ?config.web, "gateway routes");
        Ok((server, management))
    }
}

/// A reverse proxy for each route of the table (round robin over its instances).
fn proxies(config: &Config) -> anyhow::Result<Router> {
    let policy = ProxyPolicy::new().with_upstream_timeout(config.upstream_timeout);
    let mut router = Router::new();
    for route in &config.routes {
        let targets: Vec<String> = route
            .upstreams
            .iter()
            .map(|u| format!("{u}{}", route.prefix))
            .collect();
        anyhow::ensure!(!targets.is_empty(), "no upstream for {}", route.prefix);
        let proxy =
            BalancedProxy::new(route.prefix.to_owned(), targets).with_policy(policy.clone());
        let service = route.service;
        let proxied: Router = Router::from(proxy).layer(axum::middleware::from_fn(
            move |req: Request, next: Next| observe(service, req, next),
        ));
        router = router.merge(proxied);
    }
    Ok(router)
}

/// Logs every routed request with its request id and, for bookings, its conference id (from
/// the path, or from the `Location` of a new booking), so one booking can be followed in the
/// gateway's log too; hands the upstream the gateway's `traceparent`; counts it by upstream and status (`503`/`504` when the service could
/// not be reached or did not answer in time).
async fn observe(service: &'static str, mut req: Request, next: Next) -> Response {
    continue_trace_upstream(&mut req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = explain_failure(service, next.run(req).await);
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok());
    if let Some(id) = conference_id_in(&path).or_else(|| location.and_then(conference_id_in)) {
        tracing::Span::current().record("conference_id", id);
    }
    let status = response.status();
    tracing::info!(service, %method, status = status.as_u16(), "routed");
    ::metrics::counter!(
        "hifive_gateway_upstream_requests_total",
        "upstream" => service,
        "status" => status.as_str().to_owned()
    )
    .increment(1);
    response
}

/// The upstream's request span becomes a child of the gateway's (`traceparent`). A client's own
/// trace headers never get this far ([`hifive_common::Server::edge_routes`]); without traces
/// kept, the upstream gets none.
fn continue_trace_upstream(req: &mut Request) {
    let Some(traceparent) = hifive_common::telemetry::traceparent() else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&traceparent) {
        req.headers_mut()
            .insert(hifive_common::telemetry::TRACEPARENT, value);
    }
}

/// Counts a request the gateway answered itself (`hifive_gateway_refusals_total{reason}`).
pub(crate) fn refused(reason: &'static str) {
    ::metrics::counter!("hifive_gateway_refusals_total", "reason" => reason).increment(1);
}

/// The booking id in `/conferences/{id}` (or a URL ending so).
fn conference_id_in(path: &str) -> Option<i64> {
    let (_, rest) = path.split_once("/conferences/")?;
    rest.split(['/', '?']).next()?.parse().ok()
}

/// A service that could not be reached or did not answer in time gets a JSON error instead
/// of the proxy's plain-text one; answers from the service pass through untouched.
fn explain_failure(service: &'static str, response: Response) -> Response {
    let Some(failure) = response.extensions().get::<ProxyError>() else {
        return response;
    };
    tracing::warn!(service, error = ?failure, "upstream failed");
    let error = if response.status() == StatusCode::GATEWAY_TIMEOUT {
        AppError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            format!("the {service} service did not answer in time"),
        )
    } else {
        AppError::unavailable(
            "upstream_unavailable",
            format!("the {service} service is unreachable; retry shortly"),
            2,
        )
    };
    error.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_booking_ids_in_paths_and_locations() {
        assert_eq!(conference_id_in("/conferences/12"), Some(12));
        assert_eq!(conference_id_in("http://gw:8088/conferences/7"), Some(7));
        assert_eq!(conference_id_in("/conferences"), None);
        assert_eq!(conference_id_in("/rooms/3"), None);
    }

    #[test]
    fn every_path_of_the_spec_has_a_route() {
        let table = routes("http://c/", "http://p", "http://r", "http://cc");
        let find = |p: &str| {
            table
                .iter()
                .find(|r| r.prefix == p)
                .map(|r| r.upstreams.join(","))
        };
        assert_eq!(find("/conferences").as_deref(), Some("http://c"));
        assert_eq!(find("/pays").as_deref(), Some("http://p"));
        assert_eq!(find("/rooms").as_deref(), Some("http://r"));
        assert_eq!(find("/roomStates").as_deref(), Some("http://cc"));
        assert_eq!(find("/notifications").as_deref(), Some("http://cc"));
    }

    #[test]
    fn several_instances_are_listed_with_commas() {
        let table = routes(
            "http://c1/, http://c2,http://c3",
            "http://p",
            "http://r",
            "http://cc",
        );
        assert_eq!(
            table[0].upstreams,
            vec!["http://c1", "http://c2", "http://c3"]
        );
    }
}
