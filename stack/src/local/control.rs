//! The stack's control API on a local port (its address in `$DATA_DIR/stack.addr`):
//! `GET /processes` lists the processes, `POST /processes/{name}/{action}` stops, starts or
//! restarts one (what `script/service` calls).

use std::path::{Path, PathBuf};

use axum::{
    Json, Router,
    extract::{Path as UrlPath, State},
    http::StatusCode,
    routing::{get, post},
};

use super::say;
use crate::supervisor::Supervisor;

/// Serves the control API on a free local port, in the background; returns the file its
/// address was written to.
pub async fn serve(supervisor: &Supervisor, data_dir: &Path) -> anyhow::Result<PathBuf> {
    let control = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let control_addr = control.local_addr()?;
    let addr_file = data_dir.join("stack.addr");
    std::fs::write(&addr_file, format!("http://{control_addr}\n"))?;
    tokio::spawn({
        let supervisor = supervisor.clone();
        async move {
            let app = Router::new()
                .route("/processes", get(list))
                .route("/processes/{name}/{action}", post(act))
                .with_state(supervisor);
            if let Err(e) = axum::serve(control, app).await {
                say(&format!("control API stopped: {e}"));
            }
        }
    });
    Ok(addr_file)
}

async fn list(State(supervisor): State<Supervisor>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "processes": supervisor.status() }))
}

async fn act(
    State(supervisor): State<Supervisor>,
    UrlPath((name, action)): UrlPath<(String, String)>,
) -> (StatusCode, Json<serde_json::Value>) {
    if !supervisor.names().contains(&name) {
        return (
            StatusCode::NOT_FOUND,
            Json(
                serde_json::json!({ "error": "unknown_process", "detail": format!("no process {name}; known: {}", supervisor.names().join(", ")) }),
            ),
        );
    }
    let done = match action.as_str() {
        "stop" => {
            say(&format!("stopping {name} (asked by script/service)"));
            supervisor.stop(&name).await
        }
        "start" => {
            say(&format!("starting {name} (asked by script/service)"));
            supervisor.start(&name)
        }
        "restart" => {
            say(&format!("restarting {name} (asked by script/service)"));
            supervisor.restart(&name, "asked by script/service").await
        }
        other => {
            return (
                StatusCode::BAD_REQUEST,
                Json(
                    serde_json::json!({ "error": "unknown_action", "detail": format!("{other}: use stop, start or restart") }),
                ),
            );
        }
    };
    match done {
        Ok(()) => (
            StatusCode::OK,
            Json(serde_json::json!({ "processes": supervisor.status() })),
        ),
        Err(e) => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": "failed", "detail": e.to_string() })),
        ),
    }
}
