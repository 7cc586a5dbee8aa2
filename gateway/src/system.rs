//! `GET /system/health`, for room managers: every service instance behind the gateway, its
//! readiness and what its own `/health/ready` shows (consumer lag and stall, outbox backlog,
//! conference's breaker and saga admission). The gateway asks them all at once, each with a
//! short timeout, when asked. The bearer token is checked here as the services check theirs
//! (the same `AUTH_*` settings): no token `401`, a customer `403`.

use std::time::Duration;

use axum::{Extension, Json, Router, extract::State, routing::get};
use hifive_common::{AppError, Auth, Caller, Role};
use serde_json::{Value, json};

use crate::Route;

/// How long one service's `/health/ready` may take.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// The instances asked, in the order of the route table.
#[derive(Clone)]
pub struct SystemHealth {
    client: reqwest::Client,
    /// `(service, base URL)` of every instance.
    instances: Vec<(&'static str, String)>,
}

impl SystemHealth {
    pub fn new(routes: &[Route]) -> anyhow::Result<Self> {
        let mut instances: Vec<(&'static str, String)> = Vec::new();
        for route in routes {
            for upstream in &route.upstreams {
                let instance = (route.service, upstream.clone());
                if !instances.contains(&instance) {
                    instances.push(instance);
                }
            }
        }
        let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        Ok(Self { client, instances })
    }

    /// `GET /system/health`, checking tokens with `auth`.
    pub fn routes(self, auth: Auth) -> Router {
        Router::new()
            .route("/system/health", get(serve))
            .with_state(self)
            .layer(Extension(auth))
    }

    /// Every instance's readiness.
    pub async fn report(&self) -> Value {
        let asks = self
            .instances
            .iter()
            .map(|(service, base)| self.ask(service, base));
        let services: Vec<Value> = futures::future::join_all(asks).await;
        json!({ "services": services })
    }

    async fn ask(&self, service: &str, base: &str) -> Value {
        let url = format!("{base}/health/ready");
        let (ready, health, error) = match self.client.get(&url).send().await {
            Ok(response) => {
                let status = response.status();
                let health = response.json::<Value>().await.ok();
                let error = (!status.is_success()).then(|| format!("answered {status}"));
                (status.is_success(), health, error)
            }
            Err(e) if e.is_timeout() => {
                (false, None, Some(format!("no answer within {TIMEOUT:?}")))
            }
            Err(_) => (false, None, Some("unreachable".to_owned())),
        };
        json!({
            "name": service,
            "url": base,
            "ready": ready,
            "health": health,
            "error": error,
        })
    }
}

async fn serve(
    State(health): State<SystemHealth>,
    caller: Caller,
) -> Result<Json<Value>, AppError> {
    caller.require(Role::Manager)?;
    Ok(Json(health.report().await))
}
