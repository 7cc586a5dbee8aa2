//! The web page (`web/`, built by Vite into `WEB_DIR`): `GET /` is its `index.html`, never
//! cached; `GET /assets/*` its hashed files, cached for good; a few top-level files (the
//! favicon); `GET /config.json` tells the page where to sign in, and in which claim of the token
//! its roles are (`AUTH_ROLES_CLAIM`, as the gateway reads them). The page routes with the
//! URL's fragment (`/#/book`), so no other path falls back to it: the API keeps its own.
//! Without `WEB_DIR` none of this is served (`/` is `404`).

use std::path::PathBuf;

use axum::{
    Json, Router,
    http::{HeaderName, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use hifive_common::{AppError, config::env_or};
use serde_json::{Value, json};
use tower_http::{
    services::{ServeDir, ServeFile},
    set_header::SetResponseHeaderLayer,
};

/// The files Vite copies from `web/public` to the top of `WEB_DIR` that are served.
pub const TOP_LEVEL_FILES: &[&str] = &[
    "favicon.ico",
    "favicon.svg",
    "favicon.png",
    "robots.txt",
    "manifest.webmanifest",
];

/// Where the page is and how it signs in.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// `WEB_DIR`: the built page (`web/dist`); unset, no page.
    pub dir: Option<PathBuf>,
    /// `WEB_OIDC_ISSUER`: the issuer's base URL (its discovery document is under it).
    pub oidc_issuer: Option<String>,
    /// `WEB_OIDC_CLIENT_ID` (default `hifive-web`).
    pub client_id: String,
    /// `WEB_OIDC_SCOPE` (default `openid`).
    pub scope: String,
}

impl WebConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let dir = Some(env_or("WEB_DIR", ""))
            .filter(|d| !d.trim().is_empty())
            .map(PathBuf::from);
        if let Some(dir) = &dir {
            anyhow::ensure!(
                dir.join("index.html").is_file(),
                "WEB_DIR={}: no index.html there (build the page: npm run build in web/)",
                dir.display()
            );
        }
        let oidc_issuer = Some(env_or("WEB_OIDC_ISSUER", ""))
            .map(|i| i.trim().trim_end_matches('/').to_owned())
            .filter(|i| !i.is_empty());
        if let Some(issuer) = &oidc_issuer {
            anyhow::ensure!(
                origin_of(issuer).is_some(),
                "WEB_OIDC_ISSUER={issuer}: not an http(s) URL"
            );
        }
        Ok(Self {
            dir,
            oidc_issuer,
            client_id: env_or("WEB_OIDC_CLIENT_ID", "hifive-web"),
            scope: env_or("WEB_OIDC_SCOPE", "openid"),
        })
    }

    /// What `GET /config.json` answers; `roles_claim` is where the roles are in a token
    /// (`AUTH_ROLES_CLAIM`, a dotted path such as `realm_access.roles`).
    pub fn client_config(&self, roles_claim: &str) -> Value {
        match &self.oidc_issuer {
            Some(issuer) => json!({"oidc": {
                "issuer": issuer,
                "clientId": self.client_id,
                "scope": self.scope,
                "rolesClaim": roles_claim,
            }}),
            None => json!({}),
        }
    }

    /// The page's `Content-Security-Policy`: its own origin, and the issuer's for the token
    /// call and the sign-in. No `'unsafe-inline'` styles: the built page has no `<style>`
    /// element and no `style="..."` markup (Vite extracts the components' CSS into
    /// `/assets/*.css`; Vue applies `:style` bindings through the CSSOM, which CSP does not
    /// restrict). A `style="..."` attribute in page markup would be blocked: use a class.
    pub fn content_security_policy(&self) -> String {
        let issuer = self
            .oidc_issuer
            .as_deref()
            .and_then(origin_of)
            .map(|o| format!(" {o}"))
            .unwrap_or_default();
        format!(
            "default-src 'self'; connect-src 'self'{issuer}; img-src 'self' data:; \
             style-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
             form-action 'self'{issuer}"
        )
    }

    /// The page's routes (none without `WEB_DIR`); `roles_claim` as for
    /// [`WebConfig::client_config`].
    pub fn routes(&self, roles_claim: &str) -> anyhow::Result<Router> {
        let Some(dir) = &self.dir else {
            return Ok(Router::new());
        };
        let immutable = SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        let no_cache = SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        );
        let assets = ServeDir::new(dir.join("assets"))
            .not_found_service(any(not_found))
            .append_index_html_on_directories(false);
        let config = self.client_config(roles_claim);
        let mut router = Router::new()
            .route_service("/", ServeFile::new(dir.join("index.html")))
            .route("/config.json", get(move || async move { Json(config) }))
            .layer(no_cache)
            .merge(
                Router::new()
                    .nest_service("/assets", assets)
                    .layer(immutable),
            );
        for file in TOP_LEVEL_FILES {
            let path = dir.join(file);
            if path.is_file() {
                router = router.route_service(&format!("/{file}"), ServeFile::new(path));
            }
        }
        let csp = HeaderValue::from_str(&self.content_security_policy())?;
        Ok(router
            .layer(set(header::CONTENT_SECURITY_POLICY, csp))
            .layer(set(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(set(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            )))
    }
}

fn set(name: HeaderName, value: HeaderValue) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, value)
}

async fn not_found() -> Response {
    AppError::not_found("no such file of the web page").into_response()
}

/// `scheme://host[:port]` of an http(s) URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains(['@', ' ', '\'', ';']) {
        return None;
    }
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_issuer_origin_only() {
        let config = WebConfig {
            oidc_issuer: Some("http://127.0.0.1:8089/realms/x".into()),
            ..WebConfig::default()
        };
        let csp = config.content_security_policy();
        assert!(
            csp.contains("connect-src 'self' http://127.0.0.1:8089;"),
            "{csp}"
        );
        assert!(
            csp.ends_with("form-action 'self' http://127.0.0.1:8089"),
            "{csp}"
        );
        assert_eq!(
            WebConfig::default().content_security_policy(),
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
             style-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
             form-action 'self'"
        );
        assert_eq!(origin_of("ftp://x"), None);
        assert_eq!(
            origin_of("https://id.example.org"),
            Some("https://id.example.org".into())
        );
    }
}
