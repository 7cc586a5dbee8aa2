//! One booking is one trace: spans from the five services, exported over OTLP/HTTP to a
//! receiver in the test, share one trace id with the right parent links (docs/observability.md,
//! "Traces").

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test code: a failed step fails the test; a scenario reads top to bottom"
)]

use std::collections::{BTreeSet, HashMap};

use e2e::{SETTLE, System, otlp::ReceivedSpan, otlp::Receiver, waiting::eventually};

/// `SpanKind` of the OTLP protocol.
const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_booking_is_one_trace_across_the_five_services() {
    let otlp = Receiver::start().await;
    let sys = System::start_with(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp.endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("LOG_FORMAT", "json"),
    ])
    .await;
    sys.register_room(1).await;
    sys.until("the room is in the view", "/roomStates", |v| {
        v["page"]["totalElements"] == 1
    })
    .await;
    let id = sys.book_id(1).await;
    sys.until_status(&format!("/conferences/{id}"), "ASSIGNED")
        .await;

    let trace = eventually("the booking's spans from all five services", SETTLE, || {
        let spans = otlp.spans();
        async move { complete_booking_trace(spans) }
    })
    .await;

    let by_id: HashMap<&[u8], &ReceivedSpan> =
        trace.iter().map(|s| (s.span_id.as_slice(), s)).collect();
    let parent = |s: &ReceivedSpan| by_id.get(s.parent_span_id.as_slice()).copied();
    let one = |service: &str, name: &str| {
        let found: Vec<&ReceivedSpan> = trace
            .iter()
            .filter(|s| s.service == service && s.name == name)
            .collect();
        assert_eq!(found.len(), 1, "one {name} span of {service}: {trace:#?}");
        found[0]
    };

    let gateway = one("gateway", "http");
    assert!(
        gateway.parent_span_id.is_empty(),
        "the gateway's span is the root"
    );
    let conference = one("conference", "http");
    assert_eq!(conference.parent_span_id, gateway.span_id);
    let pay_call = one("conference", "pay_call");
    assert_eq!(pay_call.parent_span_id, conference.span_id);
    let pay = one("pay", "http");
    assert_eq!(pay.parent_span_id, pay_call.span_id);
    assert_eq!(pay_call.kind, CLIENT);
    for span in trace.iter().filter(|s| s.name == "http") {
        assert_eq!(span.kind, SERVER, "{span:?}");
    }

    // The JSON log lines of every service carry the trace id.
    let trace_id: String = gateway
        .trace_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for service in ["gateway", "conference", "pay", "room", "customer-center"] {
        let log = sys.log(service);
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("\"trace_id\":\"{trace_id}\""))),
            "{service}'s JSON log never names trace {trace_id}:\n{log}"
        );
    }

    for span in &trace {
        if span.parent_span_id.is_empty() {
            assert_eq!(span.span_id, gateway.span_id, "one root: {span:?}");
            continue;
        }
        let Some(up) = parent(span) else {
            panic!("{span:?}: its parent was not received");
        };
        match span.name.as_str() {
            "publish" => {
                assert_eq!(span.kind, PRODUCER, "{span:?}");
                assert_eq!(up.service, span.service, "{span:?} published for {up:?}");
                assert_eq!(up.name, "db", "{span:?}: the transaction that wrote it");
                let cause = parent(up).expect("the transaction's parent");
                assert!(
                    ["http", "event"].contains(&cause.name.as_str()),
                    "{cause:?}"
                );
            }
            "event" => {
                assert_eq!(span.kind, CONSUMER, "{span:?}");
                assert_eq!(up.name, "publish", "{span:?} handles {up:?}");
            }
            _ => {}
        }
    }
}

/// The spans of the trace the booking's pay call belongs to, once they come from all five
/// services, customer-center has handled an event of it and every parent has arrived.
fn complete_booking_trace(spans: Vec<ReceivedSpan>) -> Option<Vec<ReceivedSpan>> {
    let trace_id = spans
        .iter()
        .find(|s| s.name == "pay_call")?
        .trace_id
        .clone();
    let trace: Vec<ReceivedSpan> = spans
        .into_iter()
        .filter(|s| s.trace_id == trace_id)
        .collect();
    let services: BTreeSet<&str> = trace.iter().map(|s| s.service.as_str()).collect();
    let ids: BTreeSet<&[u8]> = trace.iter().map(|s| s.span_id.as_slice()).collect();
    let parents_in = trace
        .iter()
        .all(|s| s.parent_span_id.is_empty() || ids.contains(s.parent_span_id.as_slice()));
    let viewed = trace
        .iter()
        .any(|s| s.service == "customer-center" && s.name == "event");
    (services.len() == 5 && viewed && parents_in).then_some(trace)
}
