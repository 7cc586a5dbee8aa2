//! `script/server`'s supervisor (`hifive-stack`) as a user runs it: one service stopped and
//! started again while the rest keep serving (the original's fault-isolation demonstration),
//! a crashed service reported without taking the others down, and Ctrl-C ending everything
//! within its bound with a notification stream open and the broker stopped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use e2e::{eventually, free_port};
use serde_json::{Value, json};

struct Stack {
    child: tokio::process::Child,
    log: PathBuf,
    dir: PathBuf,
    control: String,
    gateway: String,
    http: reqwest::Client,
    /// Tokens of the stack's issuer, as `script/token` prints them.
    manager: String,
    customer: String,
}

impl Stack {
    async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "hifive-stack-e2e-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("stack.log");
        let exe = std::env::current_exe().unwrap();
        let bin = exe.parent().unwrap().parent().unwrap().join("hifive-stack");
        let gateway_port = free_port();
        let mut command = tokio::process::Command::new(&bin);
        command
            .env("DATA_DIR", &dir)
            .env("KAFKA_PORT", free_port().to_string())
            .env("GATEWAY_PORT", gateway_port.to_string())
            .env("MANAGEMENT_PORT", free_port().to_string())
            .env("ISSUER_PORT", free_port().to_string())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for var in [
            "CONFERENCE_PORT",
            "PAY_PORT",
            "ROOM_PORT",
            "CUSTOMER_CENTER_PORT",
        ] {
            command.env(var, free_port().to_string());
        }
        let child = command.spawn().expect("start hifive-stack");
        let log_path = log.clone();
        eventually(
            "hifive-stack says it is ready",
            Duration::from_secs(120),
            || {
                let text = std::fs::read_to_string(&log_path).unwrap_or_default();
                async move { text.contains("HiFive is ready").then_some(()) }
            },
        )
        .await;
        let control = std::fs::read_to_string(dir.join("stack.addr"))
            .expect("the control address")
            .trim()
            .to_owned();
        let token = |role: &str, user: &str| {
            let out = std::process::Command::new(&bin)
                .args(["token", role, user])
                .env("DATA_DIR", &dir)
                .output()
                .expect("hifive-stack token");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        let (manager, customer) = (token("manager", "boss"), token("customer", "alice"));
        assert!(
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("script/token customer alice"),
            "the ready message shows how to get a token"
        );
        Self {
            child,
            log,
            dir,
            control,
            gateway: format!("http://127.0.0.1:{gateway_port}"),
            http: reqwest::Client::new(),
            manager,
            customer,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn processes(&self) -> Vec<Value> {
        let body: Value = self
            .http
            .get(format!("{}/processes", self.control))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["processes"].as_array().cloned().unwrap_or_default()
    }

    async fn state_of(&self, name: &str) -> String {
        self.processes()
            .await
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["state"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    }

    async fn act(&self, name: &str, action: &str) {
        let r = self
            .http
            .post(format!("{}/processes/{name}/{action}", self.control))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "{action} {name}: {}",
            r.text().await.unwrap_or_default()
        );
    }

    /// A manager registers rooms, customer alice books.
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let token = if path.starts_with("/rooms") {
            &self.manager
        } else {
            &self.customer
        };
        let r = self
            .http
            .post(format!("{}{path}", self.gateway))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or_default())
    }

    async fn until_status(&self, id: i64, status: &str) {
        let url = format!("{}/conferences/{id}", self.gateway);
        eventually(
            &format!("conference {id} is {status}"),
            Duration::from_secs(60),
            || {
                let (http, url) = (self.http.clone(), url.clone());
                let token = self.customer.clone();
                async move {
                    let body: Value = http
                        .get(&url)
                        .bearer_auth(token)
                        .send()
                        .await
                        .ok()?
                        .json()
                        .await
                        .ok()?;
                    (body["status"] == status).then_some(())
                }
            },
        )
        .await;
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Stop it as a user would (Ctrl-C), so that it stops what it started.
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGINT,
            );
            let deadline = Instant::now() + Duration::from_secs(15);
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if std::thread::panicking() {
            eprintln!("hifive-stack's log and data kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_service_stops_and_starts_while_the_rest_keep_serving_and_ctrl_c_stops_all() {
    let mut stack = Stack::start().await;
    let (status, _) = stack.post("/rooms", json!({ "roomNumber": 1 })).await;
    assert_eq!(status, 201);
    let (status, _) = stack.post("/rooms", json!({ "roomNumber": 2 })).await;
    assert_eq!(status, 201);

    // The original's demonstration: room stops, bookings go on, room starts, they catch up.
    stack.act("room", "stop").await;
    for p in stack.processes().await {
        let expected = if p["name"] == "room" {
            "stopped"
        } else {
            "running"
        };
        assert_eq!(p["state"], expected, "{p}");
    }
    let (status, booking) = stack.post("/conferences", json!({ "roomNumber": 1 })).await;
    assert_eq!(status, 201, "{booking}");
    assert_eq!(booking["status"], "PAID");
    let id = booking["conferenceId"].as_i64().unwrap();
    stack.act("room", "start").await;
    stack.until_status(id, "ASSIGNED").await;

    // A crash: the supervisor says which process and how to start it, the rest go on.
    let pid = stack
        .processes()
        .await
        .iter()
        .find(|p| p["name"] == "customer-center")
        .and_then(|p| p["pid"].as_i64())
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eventually("the crash is reported", Duration::from_secs(30), || {
        let log = stack.log();
        async move {
            log.contains("customer-center exited (killed by SIGKILL); the others keep running. Start it again with: script/service customer-center start")
                .then_some(())
        }
    })
    .await;
    assert_eq!(stack.state_of("customer-center").await, "exited");
    let (status, booking) = stack.post("/conferences", json!({ "roomNumber": 2 })).await;
    assert_eq!(status, 201, "{booking}");
    stack
        .until_status(booking["conferenceId"].as_i64().unwrap(), "ASSIGNED")
        .await;
    stack.act("customer-center", "start").await;

    // Ctrl-C with a notification stream open through the gateway and the broker stopped.
    let pids: Vec<i64> = stack
        .processes()
        .await
        .iter()
        .filter_map(|p| p["pid"].as_i64())
        .collect();
    eventually(
        "customer-center serves again",
        Duration::from_secs(60),
        || {
            let http = stack.http.clone();
            let url = format!("{}/roomStates", stack.gateway);
            async move {
                http.get(&url)
                    .send()
                    .await
                    .ok()?
                    .status()
                    .is_success()
                    .then_some(())
            }
        },
    )
    .await;
    let mut stream = stack
        .http
        .get(format!("{}/notifications/stream", stack.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let reader = tokio::spawn(async move { while let Ok(Some(_)) = stream.chunk().await {} });
    stack.act("broker", "stop").await;
    let started = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(stack.child.id().unwrap() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(60), stack.child.wait())
        .await
        .expect("hifive-stack exits")
        .unwrap();
    let took = started.elapsed();
    let log = stack.log();
    assert!(exit.success(), "{exit}\n{log}");
    assert!(log.contains("[stack] stopped in"), "{log}");
    for service in ["conference", "pay", "room", "customer-center", "gateway"] {
        assert!(
            !log.contains(&format!("[stack] {service} did not stop within")),
            "every service stopped by itself within its grace:\n{log}"
        );
    }
    for pid in pids {
        assert!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_err(),
            "process {pid} still runs"
        );
    }
    tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the stream ended")
        .unwrap();
    println!("Ctrl-C to every process gone: {:.1} s", took.as_secs_f64());
}
