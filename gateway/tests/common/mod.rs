//! What the gateway's integration tests share: a configuration whose upstreams are all
//! unreachable, and a request sent byte for byte.

#![allow(dead_code, reason = "each test crate uses what it needs")]

use std::time::Duration;

use gateway::{Config, limits::Limits, routes, web::WebConfig};
use hifive_common::{ServerConfig, auth::AuthConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The gateway on free ports, every upstream unreachable (nothing listens on port 9 here), no
/// rate limit.
pub fn unreachable_upstreams(web: WebConfig, auth: AuthConfig) -> Config {
    let dead = "http://127.0.0.1:9";
    Config {
        server: ServerConfig {
            port: 0,
            ..ServerConfig::from_env("gateway", 0).unwrap()
        },
        routes: routes(dead, dead, dead, dead),
        upstream_timeout: Duration::from_secs(5),
        limits: Limits {
            rate: None,
            ..Limits::from_env().unwrap()
        },
        management_port: 0,
        auth,
        web,
    }
}

/// `METHOD target` over a plain HTTP/1.1 connection to `addr` (`host:port`), sent as is
/// (reqwest would normalise `..` and `%2e%2e` away): the status and the whole answer.
pub async fn send(addr: &str, method: &str, target: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}
