//! The supervisor with real processes (`sh`, `sleep`) and a real HTTP liveness endpoint that
//! the test switches between healthy and failing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, http::StatusCode, routing::get};
use hifive_stack::supervisor::{Check, Checks, Happening, Output, Spec, Supervisor};

fn quick() -> Checks {
    Checks {
        every: Duration::from_millis(100),
        timeout: Duration::from_secs(1),
        failures: 2,
        startup: Duration::from_millis(200),
        escalate_within: Duration::from_secs(60),
    }
}

fn shell(name: &str, script: &str, dir: &std::path::Path) -> Spec {
    Spec {
        name: name.into(),
        program: "sh".into(),
        args: vec!["-c".into(), script.into()],
        env: Vec::new(),
        cwd: None,
        output: Output::File(dir.join(format!("{name}.log"))),
        check: Check::None,
        restart_on_exit: false,
        stop_grace: Duration::from_secs(5),
        escalate_to: None,
    }
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hifive-stack-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn restarts(supervisor: &Supervisor) -> Vec<(String, String)> {
    supervisor
        .happenings()
        .into_iter()
        .filter_map(|h| match h {
            Happening::Restarted { name, reason } => Some((name, reason)),
            Happening::Exited { .. } => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_is_reported_and_restarted_only_when_the_spec_says_so() {
    let dir = temp_dir("exit");
    let supervisor = Supervisor::new(quick(), |_| {});
    supervisor.add(shell("once", "exit 3", &dir));
    supervisor.add(Spec {
        restart_on_exit: true,
        ..shell("again", "sleep 0.2; exit 4", &dir)
    });
    supervisor.start("once").unwrap();
    supervisor.start("again").unwrap();
    until("`again` was restarted twice", || {
        restarts(&supervisor)
            .iter()
            .filter(|(n, _)| n == "again")
            .count()
            >= 2
    })
    .await;
    let once = supervisor
        .status()
        .into_iter()
        .find(|p| p.name == "once")
        .unwrap();
    assert_eq!(once.state, "exited");
    assert_eq!(
        once.last_event.as_deref(),
        Some("exited by itself (exit code 3)")
    );
    assert!(restarts(&supervisor).iter().all(|(n, _)| n != "once"));
    supervisor.kill_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_sends_sigterm_then_sigkill_after_the_grace() {
    let dir = temp_dir("stop");
    let supervisor = Supervisor::new(quick(), |_| {});
    supervisor.add(shell("polite", "exec sleep 100", &dir));
    let ready = dir.join("stubborn.ready");
    let _ = std::fs::remove_file(&ready);
    supervisor.add(Spec {
        stop_grace: Duration::from_millis(300),
        ..shell(
            "stubborn",
            &format!(
                "trap '' TERM; touch {}; while true; do sleep 0.05; done",
                ready.display()
            ),
            &dir,
        )
    });
    supervisor.start("polite").unwrap();
    supervisor.start("stubborn").unwrap();
    until("stubborn ignores SIGTERM", || ready.exists()).await;
    supervisor.stop("polite").await.unwrap();
    supervisor.stop("stubborn").await.unwrap();
    let status: Vec<_> = supervisor.status();
    let event = |name: &str| {
        status
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.last_event.clone())
            .unwrap_or_default()
    };
    assert_eq!(event("polite"), "stopped (killed by SIGTERM)");
    assert_eq!(event("stubborn"), "stopped (killed by SIGKILL)");
    assert!(status.iter().all(|p| p.state == "stopped"));
}

/// A liveness endpoint the test turns on and off.
async fn liveness(healthy: Arc<AtomicBool>) -> String {
    let app = Router::new().route(
        "/health/live",
        get(move || {
            let healthy = healthy.clone();
            async move {
                if healthy.load(Ordering::Relaxed) {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health/live", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_liveness_restarts_and_failing_again_restarts_the_dependency_first() {
    let dir = temp_dir("live");
    let healthy = Arc::new(AtomicBool::new(true));
    let url = liveness(healthy.clone()).await;
    let supervisor = Supervisor::new(quick(), |_| {});
    supervisor.add(shell("broker", "exec sleep 100", &dir));
    supervisor.add(Spec {
        check: Check::Live { url },
        escalate_to: Some("broker".into()),
        ..shell("service", "exec sleep 100", &dir)
    });
    supervisor.start("broker").unwrap();
    supervisor.start("service").unwrap();
    let first_pid = supervisor.pid("service").unwrap();

    healthy.store(false, Ordering::Relaxed);
    until("the service is restarted", || {
        !restarts(&supervisor).is_empty()
    })
    .await;
    assert_eq!(restarts(&supervisor)[0].0, "service");
    assert!(
        restarts(&supervisor)[0].1.contains("503"),
        "{:?}",
        restarts(&supervisor)
    );
    until("the service runs again", || {
        supervisor.pid("service").is_some_and(|p| p != first_pid)
    })
    .await;
    // Still failing after its restart: the broker is restarted first, then the service. The
    // service's second restart is recorded once its old process has stopped, a moment after
    // the broker's: wait for both, not just the broker's.
    until("the broker and then the service are restarted", || {
        restarts(&supervisor).len() >= 3
    })
    .await;
    let order: Vec<String> = restarts(&supervisor).into_iter().map(|(n, _)| n).collect();
    assert_eq!(order[..3], ["service", "broker", "service"], "{order:?}");
    healthy.store(true, Ordering::Relaxed);
    supervisor.shutdown(&["broker"]).await;
    assert!(supervisor.status().iter().all(|p| p.pid.is_none()));
}
