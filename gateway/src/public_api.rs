//! What the gateway lets through: the public API of docs/contract.md and nothing else (deny by
//! default). The internal payment call (`/pays/room_applied`), admin paths and anything the
//! table does not name answer `404` here, a wrong method `405`, without reaching a service.
//! Every path reaches this check (what no proxy takes too: see [`refuse`]), and each answer
//! carries its public route template for the request metrics.

use axum::{
    Extension,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use hifive_common::{
    AppError,
    http::metrics::{RouteLabel, UNMATCHED},
};

/// A path pattern: literal segments, `*` for exactly one id segment.
type Pattern = &'static str;

/// The public API: each path pattern with the methods it takes.
pub const PUBLIC: &[(Pattern, &[Method])] = &[
    ("/conferences", &[Method::GET, Method::POST]),
    ("/conferences/*", &[Method::GET, Method::DELETE]),
    ("/pays", &[Method::GET]),
    ("/pays/*", &[Method::GET]),
    ("/rooms", &[Method::GET, Method::POST]),
    ("/rooms/search/findByPayId", &[Method::GET]),
    ("/rooms/*", &[Method::GET]),
    ("/roomStates", &[Method::GET]),
    ("/roomStates/search/findByRoomNumber", &[Method::GET]),
    ("/roomStates/search/findByConferenceId", &[Method::GET]),
    ("/roomStates/*", &[Method::GET]),
    ("/notifications", &[Method::GET]),
    ("/notifications/stream", &[Method::GET]),
    // The merged OpenAPI document (the gateway's own, [`crate::openapi`]).
    ("/openapi.json", &[Method::GET]),
    // Every service's readiness, for room managers (the gateway's own, [`crate::system`]).
    ("/system/health", &[Method::GET]),
];

/// The web page's paths ([`crate::web`]; `404` without `WEB_DIR`): let through and labelled
/// in the metrics like the API, but not part of it (not in the OpenAPI document).
pub const PAGE: &[(Pattern, &[Method])] = &[
    ("/", &[Method::GET]),
    ("/config.json", &[Method::GET]),
    ("/assets/*", &[Method::GET]),
    ("/favicon.ico", &[Method::GET]),
    ("/favicon.svg", &[Method::GET]),
    ("/favicon.png", &[Method::GET]),
    ("/robots.txt", &[Method::GET]),
    ("/manifest.webmanifest", &[Method::GET]),
];

/// Segments that are never routed, whatever the pattern (internal and operator paths).
const INTERNAL: &[&str] = &["room_applied", "admin", "actuator", "health", "metrics"];

/// What the table says about a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A public path: its pattern.
    Pass(Pattern),
    /// No such public path.
    Unknown,
    /// A public path, another method: the methods it takes.
    WrongMethod(Vec<Method>),
}

fn matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some("*"), Some(seg)) if !seg.is_empty() && !INTERNAL.contains(&seg) => {}
            (Some(w), Some(h)) if w == h => {}
            _ => return false,
        }
    }
}

/// Judges `method path` (the path as sent, not decoded: `%2F` or `..` tricks match nothing).
pub fn judge(method: &Method, path: &str) -> Verdict {
    let path = if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    let mut allowed: Vec<Method> = Vec::new();
    let mut pass = None;
    for (pattern, methods) in PUBLIC.iter().chain(PAGE) {
        if matches(pattern, path) {
            allowed.extend(methods.iter().cloned());
            if methods.contains(as_get(method)) {
                pass = pass.or(Some(*pattern));
            }
        }
    }
    match pass {
        Some(pattern) => Verdict::Pass(pattern),
        None if allowed.is_empty() => Verdict::Unknown,
        None => Verdict::WrongMethod(allowed),
    }
}

/// `HEAD` is answered as `GET`.
fn as_get(method: &Method) -> &Method {
    if method == Method::HEAD {
        &Method::GET
    } else {
        method
    }
}

/// The route template of a pattern, as the services name theirs: `/conferences/{id}`.
pub fn template(pattern: Pattern) -> String {
    pattern.replace('*', "{id}")
}

/// The fallback: what no proxy takes. [`only_public`] refuses it before (so that rate and
/// body limits and the refusal count apply to any path, not only to the proxied prefixes);
/// this answers what it lets through (an unknown `/health/...`).
pub async fn refuse(req: Request) -> Response {
    let error = AppError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ));
    (Extension(RouteLabel(UNMATCHED.to_owned())), error).into_response()
}

/// The middleware: passes the public API to the proxies, answers everything else.
pub async fn only_public(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with("/health/") && req.method() == Method::GET {
        // The gateway's own probes.
        return next.run(req).await;
    }
    let (mut response, route) = match judge(req.method(), path) {
        // A page path with no page (no `WEB_DIR`) keeps the fallback's label.
        Verdict::Pass(pattern) if PAGE.iter().any(|(p, _)| *p == pattern) => {
            let response = next.run(req).await;
            if response.extensions().get::<RouteLabel>().is_some() {
                return response;
            }
            (response, template(pattern))
        }
        Verdict::Pass(pattern) => (next.run(req).await, template(pattern)),
        Verdict::Unknown => {
            crate::refused("not_public");
            let error = AppError::not_found(format!("no route for {} {path}", req.method()));
            (error.into_response(), UNMATCHED.to_owned())
        }
        Verdict::WrongMethod(allowed) => {
            crate::refused("method_not_allowed");
            (wrong_method(path, &allowed), UNMATCHED.to_owned())
        }
    };
    response.extensions_mut().insert(RouteLabel(route));
    response
}

/// `405` with the methods `path` takes (also in `Allow`).
fn wrong_method(path: &str, allowed: &[Method]) -> Response {
    let allow = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut response = AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{path} takes {allow}"),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_api_passes() {
        for (method, path) in [
            (Method::GET, "/conferences"),
            (Method::POST, "/conferences"),
            (Method::GET, "/conferences/12"),
            (Method::DELETE, "/conferences/12"),
            (Method::GET, "/conferences?page=1"),
            (Method::GET, "/pays/3"),
            (Method::POST, "/rooms"),
            (Method::GET, "/rooms/search/findByPayId"),
            (Method::GET, "/roomStates/search/findByConferenceId"),
            (Method::GET, "/notifications/stream"),
            (Method::HEAD, "/roomStates"),
            (Method::GET, "/rooms/"),
        ] {
            let path = path.split('?').next().unwrap();
            assert!(
                matches!(judge(&method, path), Verdict::Pass(_)),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn internal_and_unknown_paths_are_not_routed() {
        for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
            for path in [
                "/pays/room_applied",
                "/pays/room_applied/",
                "/pays//room_applied",
                "/pays/%72oom_applied/x",
                "/admin/consumer",
                "/pays/admin",
                "/conferences/1/admin",
                "/rooms/health",
                "/conferences/../pays/room_applied",
                "/PAYS/room_applied",
                "/elsewhere",
                "/assets",
                "/assets/a/b.js",
                "/assets/admin",
                "/index.html",
            ] {
                assert!(
                    !matches!(judge(&method, path), Verdict::Pass(_)),
                    "{method} {path}"
                );
            }
        }
        assert_eq!(judge(&Method::POST, "/pays/room_applied"), Verdict::Unknown);
    }

    #[test]
    fn the_page_is_read_only_and_not_in_the_api_table() {
        assert_eq!(judge(&Method::GET, "/"), Verdict::Pass("/"));
        assert_eq!(
            judge(&Method::GET, "/assets/index-Ab12.js"),
            Verdict::Pass("/assets/*")
        );
        assert_eq!(
            judge(&Method::HEAD, "/config.json"),
            Verdict::Pass("/config.json")
        );
        assert_eq!(
            judge(&Method::POST, "/"),
            Verdict::WrongMethod(vec![Method::GET])
        );
        assert!(PAGE.iter().all(|(p, _)| PUBLIC.iter().all(|(q, _)| p != q)));
    }

    #[test]
    fn a_wrong_method_on_a_public_path_is_405_with_the_allowed_ones() {
        assert_eq!(
            judge(&Method::PUT, "/conferences/1"),
            Verdict::WrongMethod(vec![Method::GET, Method::DELETE])
        );
        assert_eq!(
            judge(&Method::POST, "/pays"),
            Verdict::WrongMethod(vec![Method::GET])
        );
    }
}
