//! The gateway's management listener (`MANAGEMENT_PORT`): `GET /metrics`, for the operator's
//! scraper, on a port of its own. The public port never serves it (the public API table
//! refuses `/metrics`), so what the gateway counts is not shown to the internet.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use hifive_common::Server;
use tokio::net::TcpListener;

/// Binds the management listener on `host:port` (port 0 picks a free one) and serves it
/// until the gateway stops; returns the bound address (also logged).
pub async fn start(server: &mut Server, host: IpAddr, port: u16) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind((host, port))
        .await
        .with_context(|| format!("cannot listen on {host}:{port} (MANAGEMENT_PORT)"))?;
    let addr = listener.local_addr()?;
    let app = hifive_common::metrics::routes(Vec::new());
    server.spawn(move |shutdown| async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "the management listener failed");
        }
    });
    tracing::info!(%addr, port = addr.port(), "management listening (GET /metrics)");
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use hifive_common::ServerConfig;

    use super::*;

    #[tokio::test]
    async fn metrics_are_served_on_the_management_port() {
        let config = ServerConfig {
            port: 0,
            ..ServerConfig::from_env("gateway", 0).unwrap()
        };
        let mut server = Server::bind(&config).await.unwrap();
        let addr = start(&mut server, config.host, 0).await.unwrap();
        ::metrics::counter!("hifive_gateway_test_total").increment(1);
        let page = get(addr, "/metrics").await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains("text/plain; version=0.0.4"), "{page}");
        assert!(
            page.contains("hifive_gateway_test_total{service="),
            "{page}"
        );
        server.shutdown_token().cancel();
    }

    /// A plain HTTP/1.1 GET (the gateway has no HTTP client).
    async fn get(addr: SocketAddr, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }
}
