//! A service starts and serves HTTP while the broker is unreachable: it is live but not
//! ready, and what it accepts waits in its outbox (started in-process with `App::build`,
//! port 0, a real SQLite file, and a broker address nothing listens on).

use std::net::TcpListener;

use hifive_common::{CommonConfig, KafkaConfig};
use serde_json::{Value, json};

#[tokio::test]
async fn live_but_not_ready_without_a_broker_and_still_accepts_rooms() {
    let dir = std::env::temp_dir().join(format!("hifive-room-broker-down-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dead_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = room::Config {
        common: CommonConfig {
            service: "room",
            host: [127, 0, 0, 1].into(),
            port: 0,
            database_url: format!("sqlite://{}/room.db?mode=rwc", dir.display()),
            kafka: KafkaConfig {
                brokers: format!("127.0.0.1:{dead_port}"),
                topic: "hifive".into(),
                partitions: 1,
                replication: 1,
                group: "room".into(),
                instance_id: None,
                dlq_topic: "hifive.dlq".into(),
                max_attempts: 5,
            },
        },
    };
    let server = room::App::build(config)
        .await
        .expect("starts without a broker");
    let base = format!("http://127.0.0.1:{}", server.port());
    let stop = server.shutdown_token();
    let running = tokio::spawn(server.run());
    let http = reqwest::Client::new();

    let live = http
        .get(format!("{base}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let ready = http
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "DOWN");
    assert_eq!(body["components"]["db"]["status"], "UP");
    assert_eq!(body["components"]["kafka"]["status"], "DOWN");
    let actuator = http
        .get(format!("{base}/actuator/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(actuator.status(), 503);

    let created = http
        .post(format!("{base}/rooms"))
        .json(&json!({"roomNumber": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let room: Value = http
        .get(format!("{base}/rooms/4"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(room["roomStatus"], "EMPTY");

    // Stops promptly even though the broker never answered.
    stop.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(15), running)
        .await
        .expect("stops within 15s")
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
