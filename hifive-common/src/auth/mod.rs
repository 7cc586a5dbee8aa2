//! Who is calling, and what they may do.
//!
//! Users: OAuth2/OIDC bearer access tokens (JWTs), checked by every service that owns data
//! as a resource server: signature against the issuer's published keys (JWKS, fetched from
//! `AUTH_JWKS_URL` and refreshed when a token names a key not seen yet), issuer, audience,
//! expiry. The token's `sub` is the caller's identity; its role (`customer` or `manager`)
//! comes from the claim `AUTH_ROLES_CLAIM` (a dotted path, a string or a list of strings,
//! `role` by default; e.g. `realm_access.roles` for Keycloak).
//!
//! Services: conference's payment call to pay carries a short-lived token signed with the
//! shared `SERVICE_TOKEN_SECRET` (HS256) that names the one booking it pays for (see
//! [`ChargeGrant`]).
//!
//! `AUTH_MODE=off` turns the user checks off for demonstrations (every caller is `anonymous`
//! with both roles); it is never the default, and it is logged and shown in `/health`.

mod grant;
mod verify;

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, request::Parts},
};
use serde_json::Value;

pub use grant::ChargeGrant;
pub use verify::{Auth, TokenError};

use crate::{
    AppError,
    config::{env_or, env_parse},
};

/// `AUTH_MODE`: `jwt` (the default) or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Jwt,
    Off,
}

/// The authentication settings every service reads the same way.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub mode: Mode,
    /// `AUTH_JWKS_URL`: where the issuer publishes its signing keys (required with `jwt`).
    pub jwks_url: String,
    /// `AUTH_ISSUER`: the `iss` every token must carry (required with `jwt`).
    pub issuer: String,
    /// `AUTH_AUDIENCE`: the `aud` every token must carry (default `hifive`).
    pub audience: String,
    /// `AUTH_ROLES_CLAIM`: where the role is in the token (default `role`).
    pub roles_claim: String,
    /// `AUTH_LEEWAY_SECS`: clock skew allowed on `exp`/`nbf` (default 30).
    pub leeway_secs: u64,
    /// `SERVICE_TOKEN_SECRET`: the secret conference and pay share for the payment call (at
    /// least 32 characters; required by both with `jwt`).
    pub service_secret: Option<String>,
}

impl AuthConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let mode = match env_or("AUTH_MODE", "jwt").to_ascii_lowercase().as_str() {
            "jwt" => Mode::Jwt,
            "off" => Mode::Off,
            other => anyhow::bail!("AUTH_MODE={other:?}: use `jwt` (the default) or `off`"),
        };
        let config = Self {
            mode,
            jwks_url: env_or("AUTH_JWKS_URL", ""),
            issuer: env_or("AUTH_ISSUER", ""),
            audience: env_or("AUTH_AUDIENCE", "hifive"),
            roles_claim: env_or("AUTH_ROLES_CLAIM", "role"),
            leeway_secs: env_parse("AUTH_LEEWAY_SECS", 30)?,
            service_secret: Some(env_or("SERVICE_TOKEN_SECRET", "")).filter(|s| !s.is_empty()),
        };
        if let Some(secret) = &config.service_secret {
            anyhow::ensure!(
                secret.len() >= 32,
                "SERVICE_TOKEN_SECRET must be at least 32 characters"
            );
            // The examples in the deployment files: anyone could sign payment grants with them.
            anyhow::ensure!(
                !secret.contains("change-me"),
                "SERVICE_TOKEN_SECRET is the example value: set your own (openssl rand -hex 32)"
            );
        }
        Ok(config)
    }

    /// Checks that what `jwt` mode needs is there (services that verify users call this).
    pub fn ensure_users(&self) -> anyhow::Result<()> {
        if self.mode == Mode::Jwt {
            anyhow::ensure!(
                !self.jwks_url.is_empty() && !self.issuer.is_empty(),
                "AUTH_JWKS_URL and AUTH_ISSUER are required (or AUTH_MODE=off for a demo)"
            );
        }
        Ok(())
    }

    /// Checks that the service secret is there in `jwt` mode (conference and pay call this).
    pub fn ensure_service_secret(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.mode == Mode::Off || self.service_secret.is_some(),
            "SERVICE_TOKEN_SECRET is required: conference signs its payment calls with it and pay checks them"
        );
        Ok(())
    }

    /// For tests: no checks (`AUTH_MODE=off`).
    pub fn off() -> Self {
        Self {
            mode: Mode::Off,
            ..Self::jwt("", "")
        }
    }

    /// For tests and tools: users checked against `jwks_url` and `issuer`.
    pub fn jwt(jwks_url: &str, issuer: &str) -> Self {
        Self {
            mode: Mode::Jwt,
            jwks_url: jwks_url.into(),
            issuer: issuer.into(),
            audience: "hifive".into(),
            roles_claim: "role".into(),
            leeway_secs: 30,
            service_secret: None,
        }
    }
}

/// What a caller may be: the roles of the contract's "Who may do what" (docs/contract.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Customer,
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Manager => "manager",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "customer" => Some(Role::Customer),
            "manager" => Some(Role::Manager),
            _ => None,
        }
    }
}

/// The authenticated caller of a request: its identity (`sub`) and roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub roles: Vec<Role>,
}

/// Which records a caller may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every record (a manager).
    All,
    /// Only those of this owner (a customer).
    Own(&'a str),
}

impl Caller {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// `403` unless the caller has `role`.
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.has(role) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "this needs the {} role",
                role.as_str()
            )))
        }
    }

    /// What the caller may read of bookings and payments: a manager everything, a customer
    /// their own; anyone else nothing (`403`).
    pub fn scope(&self) -> Result<Scope<'_>, AppError> {
        if self.has(Role::Manager) {
            Ok(Scope::All)
        } else if self.has(Role::Customer) {
            Ok(Scope::Own(&self.subject))
        } else {
            Err(AppError::forbidden(
                "this needs the customer or manager role",
            ))
        }
    }
}

impl Scope<'_> {
    /// The owner to filter on (`None`: everything).
    pub fn owner(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Own(owner) => Some(owner),
        }
    }

    /// Whether a record owned by `owner` is visible (records of nobody only to managers).
    pub fn sees(&self, owner: Option<&str>) -> bool {
        match self {
            Scope::All => true,
            Scope::Own(me) => owner == Some(*me),
        }
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The roles at `path` (dotted) in the claims: a string or a list of strings; unknown role
/// names are ignored.
fn roles_in(claims: &serde_json::Map<String, Value>, path: &str) -> Vec<Role> {
    let mut parts = path.split('.');
    let first = parts.next().unwrap_or_default();
    let mut at = claims.get(first);
    for part in parts {
        at = at.and_then(|v| v.get(part));
    }
    let names: Vec<&str> = match at {
        Some(Value::String(s)) => s.split_whitespace().collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut roles: Vec<Role> = names.into_iter().filter_map(Role::parse).collect();
    roles.dedup();
    roles
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let auth = parts.extensions.get::<Auth>().cloned().ok_or_else(|| {
            tracing::error!(
                "no Auth in the request extensions: the service's wiring is missing it"
            );
            AppError::internal("authentication is not set up")
        })?;
        auth.caller(&parts.headers).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn roles_come_from_a_string_or_a_list_at_a_path() {
        assert_eq!(
            roles_in(&claims(json!({"role": "manager"})), "role"),
            vec![Role::Manager]
        );
        assert_eq!(
            roles_in(
                &claims(json!({"realm_access": {"roles": ["offline", "customer", "manager"]}})),
                "realm_access.roles"
            ),
            vec![Role::Customer, Role::Manager]
        );
        assert!(roles_in(&claims(json!({"role": "admin"})), "role").is_empty());
        assert!(roles_in(&claims(json!({})), "role").is_empty());
    }

    #[test]
    fn a_customer_sees_only_their_own_and_a_manager_everything() {
        let alice = Caller {
            subject: "alice".into(),
            roles: vec![Role::Customer],
        };
        let scope = alice.scope().unwrap();
        assert!(scope.sees(Some("alice")));
        assert!(!scope.sees(Some("bob")));
        assert!(!scope.sees(None));
        assert_eq!(scope.owner(), Some("alice"));
        assert_eq!(
            alice.require(Role::Manager).unwrap_err().status,
            axum::http::StatusCode::FORBIDDEN
        );
        let boss = Caller {
            subject: "boss".into(),
            roles: vec![Role::Manager],
        };
        assert_eq!(boss.scope().unwrap(), Scope::All);
        let nobody = Caller {
            subject: "x".into(),
            roles: vec![],
        };
        assert!(nobody.scope().is_err());
    }
}
