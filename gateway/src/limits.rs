//! Abuse limits at the edge: a request rate per client (`429` + `Retry-After`), a body size
//! (`413`), and CORS for configured origins only.

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, Request},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use hifive_common::{AppError, config::env_or, config::env_parse};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// `GATEWAY_RATE_LIMIT` requests per second per client, with bursts of `GATEWAY_RATE_BURST`
/// (defaults 20 and 40; `GATEWAY_RATE_LIMIT=0` turns it off, e.g. for load tests from one
/// address). The client is the peer address, or with `GATEWAY_CLIENT_IP_HEADER` (e.g.
/// `X-Forwarded-For` behind an ingress that sets it) the last address of that header.
#[derive(Debug, Clone)]
pub struct Limits {
    pub rate: Option<Rate>,
    pub client_ip_header: Option<HeaderName>,
    /// `GATEWAY_MAX_BODY_BYTES`: larger bodies get `413` (default 65536).
    pub max_body_bytes: u64,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins (e.g. `https://hifive.example`), or
    /// `*` for any origin (never with credentials); empty (default): no cross-origin access.
    pub cors_origins: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Limits {
    pub fn from_env() -> anyhow::Result<Self> {
        let per_second: u32 = env_parse("GATEWAY_RATE_LIMIT", 20)?;
        let burst: u32 = env_parse("GATEWAY_RATE_BURST", per_second.saturating_mul(2))?;
        let header = env_or("GATEWAY_CLIENT_IP_HEADER", "");
        Ok(Self {
            rate: NonZeroU32::new(per_second).map(|per_second| Rate {
                per_second,
                burst: NonZeroU32::new(burst).unwrap_or(per_second),
            }),
            client_ip_header: (!header.is_empty())
                .then(|| HeaderName::try_from(header.to_ascii_lowercase()))
                .transpose()
                .map_err(|e| anyhow::anyhow!("GATEWAY_CLIENT_IP_HEADER: {e}"))?,
            max_body_bytes: env_parse("GATEWAY_MAX_BODY_BYTES", 65_536)?,
            cors_origins: env_or("CORS_ALLOWED_ORIGINS", "")
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
        })
    }

    /// The CORS layer: only the configured origins, no credentials (bearer tokens are sent
    /// explicitly, not as cookies).
    pub fn cors(&self) -> anyhow::Result<Option<CorsLayer>> {
        if self.cors_origins.is_empty() {
            return Ok(None);
        }
        let origin = if self.cors_origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            let origins = self
                .cors_origins
                .iter()
                .map(|o| HeaderValue::from_str(o))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("CORS_ALLOWED_ORIGINS: {e}"))?;
            AllowOrigin::list(origins)
        };
        Ok(Some(
            CorsLayer::new()
                .allow_origin(origin)
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static("idempotency-key"),
                    HeaderName::from_static("x-request-id"),
                ])
                .expose_headers([
                    header::LOCATION,
                    header::RETRY_AFTER,
                    HeaderName::from_static("x-request-id"),
                    HeaderName::from_static("idempotent-replayed"),
                ])
                .max_age(Duration::from_secs(600)),
        ))
    }
}

/// The per-client limiter, shared by every request.
#[derive(Clone)]
pub struct RateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    client_ip_header: Option<HeaderName>,
}

impl RateLimit {
    pub fn new(rate: Rate, client_ip_header: Option<HeaderName>) -> Self {
        let quota = Quota::per_second(rate.per_second).allow_burst(rate.burst);
        Self {
            limiter: Arc::new(RateLimiter::keyed(quota)),
            client_ip_header,
        }
    }

    /// Forgets clients that are back to a full allowance (keeps memory bounded).
    pub async fn forget_idle(self, shutdown: hifive_common::CancellationToken) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => self.limiter.retain_recent(),
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Who the client is: its address, an IPv6 address by its /64 (one subscriber's
    /// network), so that rotating addresses within it does not escape the limit.
    fn client(&self, req: &Request) -> Option<IpAddr> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let forwarded = self
            .client_ip_header
            .as_ref()
            .and_then(|name| last_forwarded(req.headers().get_all(name).iter()));
        forwarded.or(peer).map(network_of)
    }

    /// `Err(wait)` when the client has used its allowance.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.limiter.check_key(&client).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::DefaultClock::default().now())
        })
    }
}

/// The address the trusted proxy in front appended: the last entry of the header only (the
/// ones before it are whatever the client sent), without a port; none if it is not an
/// address (then the peer address counts).
fn last_forwarded<'a>(values: impl Iterator<Item = &'a HeaderValue>) -> Option<IpAddr> {
    let last = values.last()?.to_str().ok()?.rsplit(',').next()?.trim();
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::from(segments)
        }
        IpAddr::V6(v6) => IpAddr::V4(
            v6.to_ipv4_mapped()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        ),
        v4 => v4,
    }
}

/// The middleware: `429` + `Retry-After` (whole seconds, at least 1) over the allowance.
pub async fn rate_limit(limit: RateLimit, req: Request, next: Next) -> Response {
    // The gateway's own probes are not the public's requests.
    let path = req.uri().path();
    if req.method() == Method::GET && (path == "/health/live" || path == "/health/ready") {
        return next.run(req).await;
    }
    if let Some(client) = limit.client(&req)
        && let Err(wait) = limit.check(client)
    {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        tracing::debug!(%client, retry_after = secs, "rate limited");
        crate::refused("rate_limited");
        return AppError {
            retry_after_secs: Some(secs),
            ..AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests from {client}; retry in {secs} s"),
            )
        }
        .into_response();
    }
    next.run(req).await
}

/// The middleware: `413` for a body whose declared length is over `max` (the services check
/// bodies sent without a length themselves, with the same kind of answer).
pub async fn body_limit(max: u64, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared.filter(|l| *l > max) {
        crate::refused("body_too_large");
        return AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is {length} bytes; at most {max} are accepted"),
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_burst_waits_and_others_do_not() {
        let limit = RateLimit::new(
            Rate {
                per_second: NonZeroU32::new(1).unwrap(),
                burst: NonZeroU32::new(3).unwrap(),
            },
            None,
        );
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limit.check(a).is_ok());
        }
        let wait = limit.check(a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(limit.check(b).is_ok());
    }

    #[test]
    fn only_the_last_forwarded_address_counts_and_ipv6_by_its_network() {
        let values = |vs: &[&'static str]| -> Vec<HeaderValue> {
            vs.iter().map(|v| HeaderValue::from_static(v)).collect()
        };
        let last = |vs: &[&'static str]| last_forwarded(values(vs).iter());
        assert_eq!(
            last(&["1.1.1.1, 10.0.0.7"]),
            Some("10.0.0.7".parse().unwrap())
        );
        assert_eq!(
            last(&["1.1.1.1", "10.0.0.7:5123"]),
            Some("10.0.0.7".parse().unwrap())
        );
        // A spoofed first entry is never used, even when the last one is not an address.
        assert_eq!(last(&["1.1.1.1, unknown"]), None);
        assert_eq!(last(&[]), None);
        assert_eq!(
            network_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            network_of("::ffff:10.0.0.1".parse().unwrap()),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }
}
