//! `hifive-dlq` against the real broker and services: a poison message and an event whose
//! effect kept failing are listed with their error headers and shown; after the fault is
//! fixed, a replay makes the event's effect happen once, replaying it again changes nothing
//! (consumers de-duplicate by `eventId`); a purge hides dead letters from `list`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::{path::Path, time::Duration};

use e2e::{Record, SETTLE, System, eventually};
use serde_json::{Value, json};
use sqlx::{ConnectOptions, sqlite::SqliteConnectOptions};

/// Runs `sql` on a service's SQLite database while the service uses it.
async fn on_database(db: &Path, sql: &str) {
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("the service's database");
    sqlx::query(sql).execute(&mut conn).await.expect(sql);
}

/// The `list --json` entries (`--all`: purged ones too).
async fn listed(sys: &System, all: bool) -> Vec<Value> {
    let args: &[&str] = if all { &["list", "--all"] } else { &["list"] };
    sys.dlq_json(args)
        .await
        .as_array()
        .cloned()
        .expect("a list")
}

fn room_8(v: &Value) -> &Value {
    &v["_embedded"]["roomStates"][0]
}

const ROOM_8: &str = "/roomStates/search/findByRoomNumber?roomNumber=8";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_shown_replayed_once_and_purged() {
    // Two attempts before an effect that keeps failing is dead-lettered (default 5).
    let sys = System::start_with(&[("CONSUMER_MAX_ATTEMPTS", "2")]).await;
    assert!(
        sys.dlq(&["list"])
            .await
            .starts_with("no dead letters in hifive.dlq"),
        "a new system has none"
    );
    sys.register_room(8).await;
    sys.until("the view knows room 8", ROOM_8, |v| {
        room_8(v)["roomStatus"] == "EMPTY"
    })
    .await;

    // The fault: customer-center's database refuses notifications, so its effect of the
    // booking's Assigned keeps failing and it dead-letters the event.
    let view_db = sys.dir().join("customer-center.db");
    on_database(
        &view_db,
        "CREATE TRIGGER dlq_test_fault BEFORE INSERT ON notification \
         BEGIN SELECT RAISE(ABORT, 'injected fault: notifications refused'); END",
    )
    .await;
    let garbage = Record {
        key: Some("8".into()),
        payload: b"this is not an event {".to_vec(),
        headers: vec![("x-request-id".into(), "poison-8".into())],
    };
    sys.publish("hifive", &garbage).await;
    let id = sys.book_id(8).await;
    sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
        .await;

    // list: the poison once per consumer group, the Assigned once (customer-center).
    let letters = eventually("both are dead-lettered", SETTLE, || async {
        let letters = listed(&sys, false).await;
        (letters.len() >= 5).then_some(letters)
    })
    .await;
    assert_eq!(letters.len(), 5, "{letters:#?}");
    let poison: Vec<&Value> = letters.iter().filter(|l| l["stage"] == "decode").collect();
    let mut groups: Vec<&str> = poison
        .iter()
        .map(|l| l["service"].as_str().unwrap())
        .collect();
    groups.sort_unstable();
    assert_eq!(groups, ["conference", "customer-center", "pay", "room"]);
    for l in &poison {
        assert!(!l["error"].as_str().unwrap().is_empty(), "{l}");
        assert_eq!(l["eventType"], Value::Null);
        assert_eq!(l["headers"]["x-request-id"], "poison-8");
        assert_eq!(l["from"]["topic"], "hifive");
    }
    let assigned = letters
        .iter()
        .find(|l| l["stage"] == "apply")
        .unwrap_or_else(|| panic!("the Assigned is not listed: {letters:#?}"));
    assert_eq!(assigned["service"], "customer-center");
    assert_eq!(assigned["eventType"], "Assigned");
    let error = assigned["error"].as_str().unwrap();
    assert!(
        error.contains("failed 2 times") && error.contains("injected fault"),
        "{error}"
    );
    let assigned_id = assigned["id"].as_str().unwrap().to_owned();
    let event_id = assigned["eventId"].as_str().unwrap().to_owned();
    let poison_id = poison[0]["id"].as_str().unwrap().to_owned();

    // The same as text: a title, then one line each with the error headers.
    let text = sys.dlq(&["list"]).await;
    println!("$ hifive-dlq list\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ID "), "{text}");
    assert_eq!(lines.len(), 6, "{text}");
    let line = lines
        .iter()
        .find(|l| l.starts_with(&format!("{assigned_id} ")))
        .unwrap_or_else(|| panic!("{assigned_id} not listed: {text}"));
    for part in [
        "customer-center",
        "apply",
        "Assigned",
        &event_id,
        "injected fault",
    ] {
        assert!(line.contains(part), "{part:?} missing in {line}");
    }
    assert_eq!(
        sys.dlq(&["list", "--limit", "2"]).await.lines().last(),
        Some("... 3 more (--limit)")
    );

    // show: the headers and the payload (pretty JSON, or the raw text).
    let shown = sys.dlq(&["show", &assigned_id]).await;
    println!("$ hifive-dlq show {assigned_id}\n{shown}");
    for part in [
        format!("dead letter {assigned_id} in hifive.dlq\n"),
        "\n  hifive.dlq.stage: apply\n".into(),
        "\n  hifive.dlq.group: customer-center\n".into(),
        "\n  hifive.dlq.error: failed 2 times".into(),
        "\n  eventType: Assigned\n".into(),
        "\npayload:\n{\n".into(),
        format!("\n  \"conferenceId\": {id},\n"),
        format!("\n  \"eventId\": \"{event_id}\",\n"),
    ] {
        assert!(shown.contains(&part), "{part:?} missing in:\n{shown}");
    }
    let shown = sys.dlq(&["show", &poison_id]).await;
    assert!(shown.contains("\n  x-request-id: poison-8\n"), "{shown}");
    assert!(
        shown.ends_with("payload:\nthis is not an event {\n"),
        "{shown}"
    );
    let one = sys.dlq_json(&["show", &assigned_id]).await;
    assert_eq!(one["payload"]["conferenceId"], id);
    let missing = sys.dlq_run(&["show", "0:100000"]).await;
    assert!(
        !missing.success && missing.stderr.contains("no dead letter 0:100000"),
        "{missing:?}"
    );

    // Not applied: the view still shows room 8 empty, and nobody was told.
    assert_eq!(room_8(&sys.get(ROOM_8).await.json)["roomStatus"], "EMPTY");
    assert!(sys.notifications_for(id).await.is_empty());

    // The fix, then the replay: the view catches up, once.
    on_database(&view_db, "DROP TRIGGER dlq_test_fault").await;
    let replayed = sys.dlq(&["replay", &assigned_id]).await;
    println!("$ hifive-dlq replay {assigned_id}\n{replayed}");
    assert!(
        replayed.starts_with(&format!(
            "replayed {assigned_id} (Assigned {event_id}) to hifive partition "
        )),
        "{replayed}"
    );
    sys.until("the view shows room 8 held by the booking", ROOM_8, |v| {
        room_8(v)["roomStatus"] == "FULL" && room_8(v)["conferenceId"] == id
    })
    .await;

    // Again, all of them: the poison is skipped (nobody can read it), the Assigned is
    // replayed once more and changes nothing.
    let again = sys.dlq(&["replay", "--all"]).await;
    println!("$ hifive-dlq replay --all\n{again}");
    assert_eq!(again.matches("skipped ").count(), 4, "{again}");
    assert!(
        again.contains(&format!("replayed {assigned_id} (Assigned")),
        "{again}"
    );
    // A cancellation of the booking queues behind the replay on room 8's partition: once the
    // view has it, the replay was handled too.
    assert_eq!(sys.delete(&format!("/conferences/{id}")).await.status, 204);
    sys.until("room 8 is EMPTY again in the view", ROOM_8, |v| {
        room_8(v)["roomStatus"] == "EMPTY"
    })
    .await;
    let kinds: Vec<Value> = sys
        .notifications_for(id)
        .await
        .iter()
        .map(|n| n["kind"].clone())
        .collect();
    assert_eq!(kinds, [json!("RELEASED"), json!("ASSIGNED")], "one of each");
    sys.assert_consistent(&[id]).await;

    // purge: one (and the ones before it in its partition), then all; `--all` still shows
    // them.
    let first = &letters
        .iter()
        .min_by_key(|l| (l["partition"].as_i64(), l["offset"].as_i64()))
        .unwrap()["id"];
    let first = first.as_str().unwrap();
    let purged = sys.dlq(&["purge", first]).await;
    assert!(purged.starts_with(&format!("purged {first} ")), "{purged}");
    let left = listed(&sys, false).await;
    assert!(
        left.len() < 5 && left.iter().all(|l| l["id"] != first),
        "{left:#?}"
    );
    assert!(sys.dlq(&["purge", first]).await.contains("purged already"));
    let purged = sys.dlq(&["purge", "--all"]).await;
    println!("$ hifive-dlq purge --all\n{purged}");
    assert!(
        purged.contains(&format!("{} purged from hifive.dlq", left.len())),
        "{purged}"
    );
    let none = sys.dlq(&["list"]).await;
    assert!(
        none.starts_with("no dead letters in hifive.dlq (5 purged"),
        "{none}"
    );
    let all = listed(&sys, true).await;
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|l| l["purged"] == true), "{all:#?}");
    assert!(
        sys.dlq(&["replay", "--all"])
            .await
            .contains("nothing replayed")
    );
}
