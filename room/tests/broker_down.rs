//! A service starts and serves HTTP while the broker is unreachable: it is live and ready
//! (its database answers), shows the broker as down, and what it accepts waits in its outbox
//! (started in-process with `App::build`, port 0, a real SQLite file, and a broker address
//! nothing listens on).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::net::TcpListener;

use hifive_common::{CommonConfig, KafkaConfig, auth::AuthConfig};
use serde_json::{Value, json};
use sqlx::Row;

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn ready_without_a_broker_and_what_it_accepts_waits_in_the_outbox() {
    let dir = std::env::temp_dir().join(format!("hifive-room-broker-down-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dead_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = CommonConfig {
        service: "room",
        host: [127, 0, 0, 1].into(),
        port: 0,
        database_url: format!("sqlite://{}/room.db?mode=rwc", dir.display()),
        database_max_connections: 1,
        kafka: KafkaConfig::local(&format!("127.0.0.1:{dead_port}"), "room"),
        shutdown_grace: std::time::Duration::from_secs(3),
        consumer_admin: false,
        // Who may call is not what this test is about.
        auth: AuthConfig::off(),
        max_body_bytes: 65_536,
        idempotency_ttl: std::time::Duration::from_secs(86_400),
    };
    let server = room::App::build(config)
        .await
        .expect("starts without a broker");
    let base = format!("http://127.0.0.1:{}", server.port());
    let stop = server.shutdown_token();
    let running = tokio::spawn(server.run());
    let http = reqwest::Client::new();

    let get = |path: &'static str| {
        let request = http.get(format!("{base}{path}"));
        async move { request.send().await.unwrap() }
    };
    assert_eq!(get("/health/live").await.status(), 200);
    let health = || async {
        let ready = get("/health/ready").await;
        let status = ready.status();
        let body: Value = ready.json().await.unwrap();
        (status, body)
    };
    let (status, body) = health().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "UP");
    assert_eq!(body["components"]["db"]["status"], "UP");
    assert_eq!(body["components"]["kafka"]["status"], "DOWN");
    assert_eq!(body["components"]["kafka"]["brokerUp"], false);
    assert_eq!(body["components"]["outbox"]["pending"], 0);
    assert_eq!(get("/actuator/health").await.status(), 200);

    let created = http
        .post(format!("{base}/rooms"))
        .json(&json!({"roomNumber": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let room: Value = get("/rooms/4").await.json().await.unwrap();
    assert_eq!(room["roomStatus"], "EMPTY");
    // Its RoomRegistered waits in the outbox (the backlog is re-read after 250 ms).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, body) = health().await;
        if body["components"]["outbox"]["pending"] == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the event is not in the outbox: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // And it is the room's registration, waiting to be published: read the outbox itself.
    let db = hifive_common::db::connect(
        &format!("sqlite://{}/room.db", dir.display()),
        &room::MIGRATIONS,
    )
    .await
    .unwrap();
    let rows = sqlx::query("SELECT event_type, msg_key, payload FROM outbox")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.get::<String, _>("event_type"), "RoomRegistered");
    assert_eq!(row.get::<String, _>("msg_key"), "4");
    let payload: Value = serde_json::from_str(&row.get::<String, _>("payload")).unwrap();
    assert_eq!(payload["roomNumber"], 4);
    assert_eq!(payload["roomStatus"], "EMPTY");

    // Stops within its grace time even though the broker never answered.
    stop.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(5), running)
        .await
        .expect("stops within its 3 s grace")
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
