use super::*;

fn header(k: &str, v: &str) -> Header {
    (k.to_owned(), Some(v.as_bytes().to_vec()))
}

fn assigned() -> DeadLetter {
    DeadLetter {
        id: Id {
            partition: 1,
            offset: 4,
        },
        time: DateTime::from_timestamp_millis(1_780_000_000_123),
        key: Some(b"8".to_vec()),
        headers: vec![
            header("eventType", "Assigned"),
            header("x-request-id", "req-1"),
            header("hifive.dlq.error", "failed 5 times: injected\nfault"),
            header("hifive.dlq.stage", "apply"),
            header("hifive.dlq.group", "customer-center"),
            header("hifive.dlq.topic", "hifive"),
            header("hifive.dlq.partition", "2"),
            header("hifive.dlq.offset", "31"),
        ],
        payload: br#"{"eventType":"Assigned","eventId":"0b6c3a52-0f7e-4a51-a0a4-2f1f0c2c1d10","roomNumber":8}"#.to_vec(),
    }
}

#[test]
fn ids_read_and_print_as_partition_colon_offset() {
    let id: Id = "2:17".parse().unwrap();
    assert_eq!(
        id,
        Id {
            partition: 2,
            offset: 17
        }
    );
    assert_eq!(id.to_string(), "2:17");
    assert_eq!(" 0:0 ".parse::<Id>().unwrap().to_string(), "0:0");
    for bad in [
        "", "2", "2:", ":3", "a:1", "1:b", "-1:3", "1:-3", "1:2:3", "1.5:2",
    ] {
        let e = bad.parse::<Id>().unwrap_err();
        assert!(e.contains("PARTITION:OFFSET"), "{bad:?}: {e}");
    }
}

#[test]
fn the_dead_letter_headers_say_who_why_and_from_where() {
    let l = assigned();
    assert_eq!(l.service().as_deref(), Some("customer-center"));
    assert_eq!(l.stage().as_deref(), Some("apply"));
    assert_eq!(
        l.origin(),
        Some(Origin {
            topic: "hifive".into(),
            partition: 2,
            offset: 31
        })
    );
    let kept: Vec<&str> = l.original_headers().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kept, ["eventType", "x-request-id"]);
    assert_eq!(
        l.event(),
        (
            Some("Assigned".into()),
            Some("0b6c3a52-0f7e-4a51-a0a4-2f1f0c2c1d10".into())
        )
    );
    assert!(!l.is_readable(), "an Assigned without its fields");
}

#[test]
fn a_list_line_has_every_column_on_one_line() {
    let line = line(&assigned());
    assert!(
        line.starts_with("1:4     2026-05-28T20:26:40.123Z customer-center  apply  Assigned 0b6c3a52-0f7e-4a51-a0a4-2f1f0c2c1d10"),
        "{line}"
    );
    assert!(line.ends_with(" failed 5 times: injected fault"), "{line}");
    assert!(title().starts_with("ID      TIME"));
    let garbage = DeadLetter {
        headers: vec![],
        time: None,
        payload: b"not json {".to_vec(),
        ..assigned()
    };
    assert_eq!(
        line_words(&garbage),
        ["1:4", "-", "-", "-", "-", "-"],
        "nothing known is a dash"
    );
}

fn line_words(l: &DeadLetter) -> Vec<String> {
    line(l).split_whitespace().map(str::to_owned).collect()
}

#[test]
fn show_prints_the_headers_and_the_payload_pretty() {
    let text = details(&assigned(), "hifive.dlq", false);
    assert!(
        text.starts_with("dead letter 1:4 in hifive.dlq\n"),
        "{text}"
    );
    assert!(text.contains("\nkey:     8\n"), "{text}");
    assert!(text.contains("\n  x-request-id: req-1\n"), "{text}");
    assert!(text.contains("\n  hifive.dlq.stage: apply\n"), "{text}");
    assert!(
        text.ends_with("payload:\n{\n  \"eventId\": \"0b6c3a52-0f7e-4a51-a0a4-2f1f0c2c1d10\",\n  \"eventType\": \"Assigned\",\n  \"roomNumber\": 8\n}\n"),
        "{text}"
    );
    assert_eq!(payload_text(b"not json {"), "not json {");
    assert!(details(&assigned(), "t", true).starts_with("dead letter 1:4 in t (purged)\n"));
}

#[test]
fn json_output_has_the_fields_and_the_payload_as_json_or_text() {
    let v = to_json(&assigned(), false, true);
    assert_eq!(v["id"], "1:4");
    assert_eq!(v["service"], "customer-center");
    assert_eq!(v["from"]["offset"], 31);
    assert_eq!(v["eventType"], "Assigned");
    assert_eq!(v["headers"]["x-request-id"], "req-1");
    assert_eq!(v["payload"]["roomNumber"], 8);
    assert_eq!(v["purged"], false);
    let garbage = DeadLetter {
        payload: b"not json {".to_vec(),
        ..assigned()
    };
    assert_eq!(to_json(&garbage, true, true)["payload"], "not json {");
    assert!(to_json(&garbage, true, false).get("payload").is_none());
}
