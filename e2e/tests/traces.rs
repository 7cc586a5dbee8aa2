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

    // The JSON log lines of every service carry the trace id and the id of a span of that
    // service in the trace (the request's or the event's).
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let trace_id = hex(&gateway.trace_id);
    for service in ["gateway", "conference", "pay", "room", "customer-center"] {
        let own: BTreeSet<String> = trace
            .iter()
            .filter(|s| s.service == service)
            .map(|s| hex(&s.span_id))
            .collect();
        let log = sys.log(service);
        let logged = log
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|line| {
                line["span"]["trace_id"] == trace_id.as_str()
                    && line["span"]["span_id"]
                        .as_str()
                        .is_some_and(|id| own.contains(id))
            });
        assert!(
            logged,
            "{service}'s JSON log has no line with trace {trace_id} and one of its spans {own:?}:\n{log}"
        );
    }

    assert_links(&trace, gateway);
}

/// Every span of `trace` but `root` has its parent in the trace, and the parent is the one the
/// span's kind needs: a `publish` is the child of its own service's transaction (a `db` span,
/// itself inside a request or an event), an `event` the child of the `publish` it handles.
fn assert_links(trace: &[ReceivedSpan], root: &ReceivedSpan) {
    let by_id: HashMap<&[u8], &ReceivedSpan> =
        trace.iter().map(|s| (s.span_id.as_slice(), s)).collect();
    let parent = |s: &ReceivedSpan| by_id.get(s.parent_span_id.as_slice()).copied();
    for span in trace {
        if span.parent_span_id.is_empty() {
            assert_eq!(span.span_id, root.span_id, "one root: {span:?}");
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
    trace_with(
        spans,
        |s| s.name == "pay_call",
        &[
            ("gateway", "http"),
            ("pay", "http"),
            ("room", "event"),
            ("customer-center", "event"),
        ],
    )
}

/// The trace of the span `mark` picks (the first one received), once it holds a span of each
/// `(service, name or event type)` of `needs` and every parent has arrived.
fn trace_with(
    spans: Vec<ReceivedSpan>,
    mark: impl Fn(&ReceivedSpan) -> bool,
    needs: &[(&str, &str)],
) -> Option<Vec<ReceivedSpan>> {
    let trace_id = spans.iter().find(|s| mark(s))?.trace_id.clone();
    let trace: Vec<ReceivedSpan> = spans
        .into_iter()
        .filter(|s| s.trace_id == trace_id)
        .collect();
    let ids: BTreeSet<&[u8]> = trace.iter().map(|s| s.span_id.as_slice()).collect();
    let parents_in = trace
        .iter()
        .all(|s| s.parent_span_id.is_empty() || ids.contains(s.parent_span_id.as_slice()));
    let has = |(service, what): &(&str, &str)| {
        trace.iter().any(|s| {
            s.service == *service && (s.name == *what || s.attribute("event_type") == Some(what))
        })
    };
    (parents_in && needs.iter().all(has)).then_some(trace)
}

/// The root of `trace`: the gateway's `http` span (asserted).
fn root(trace: &[ReceivedSpan]) -> &ReceivedSpan {
    let roots: Vec<&ReceivedSpan> = trace
        .iter()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    assert_eq!(roots.len(), 1, "one root: {trace:#?}");
    assert_eq!(
        (roots[0].service.as_str(), roots[0].name.as_str()),
        ("gateway", "http")
    );
    roots[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_and_a_cancellation_are_traced_from_their_request() {
    let otlp = Receiver::start().await;
    let sys = System::start_with(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp.endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ])
    .await;
    sys.register_room(1).await;
    sys.until("the room is in the view", "/roomStates", |v| {
        v["page"]["totalElements"] == 1
    })
    .await;
    let booked = sys.book_id(1).await;
    sys.until_status(&format!("/conferences/{booked}"), "ASSIGNED")
        .await;
    // Room 99 was never registered: room rejects the paid booking, conference and pay undo it.
    let rejected = sys.book_id(99).await;
    sys.until_status(&format!("/conferences/{rejected}"), "REJECTED")
        .await;
    // A client's own trace context (here: "not sampled") is not taken at the edge.
    let path = format!("/conferences/{booked}");
    let client_trace = "0af7651916cd43dd8448eb211c80319c";
    let client_context = [
        (
            "traceparent",
            &*format!("00-{client_trace}-b7ad6b7169203331-00"),
        ),
        ("tracestate", "vendor=client"),
    ];
    let r = sys.call_with("DELETE", &path, None, &client_context).await;
    assert_eq!(r.status, 204, "{}", r.text);
    sys.until_status(&path, "CANCELED").await;

    // The rejection continues the POST's trace: room's verdict, conference handling it.
    let rejection = eventually("the rejection's trace", SETTLE, || {
        let spans = otlp.spans();
        async move {
            trace_with(
                spans,
                |s| {
                    s.service == "conference" && s.attribute("event_type") == Some("AssignRejected")
                },
                &[("pay", "http"), ("room", "Paid")],
            )
        }
    })
    .await;
    let post = root(&rejection);
    assert_eq!(post.attribute("method"), Some("POST"), "{post:?}");
    assert_eq!(post.attribute("path"), Some("/conferences"), "{post:?}");
    assert_links(&rejection, post);

    // The cancellation is one trace from the DELETE, exported although the client said "not
    // sampled": pay refunds, room frees, the view follows.
    let cancellation = eventually("the cancellation's trace", SETTLE, || {
        let spans = otlp.spans();
        async move {
            trace_with(
                spans,
                |s| s.service == "gateway" && s.attribute("method") == Some("DELETE"),
                &[
                    ("conference", "http"),
                    ("pay", "ApplyCanceled"),
                    ("room", "event"),
                    ("customer-center", "event"),
                ],
            )
        }
    })
    .await;
    let delete = root(&cancellation);
    assert_ne!(
        delete.trace_id,
        hex_bytes(client_trace),
        "the client's trace id was taken"
    );
    assert_eq!(delete.attribute("path"), Some(path.as_str()), "{delete:?}");
    assert_links(&cancellation, delete);

    // Probes make no spans: every instance's /health/ready was polled from the start (until
    // it was ready, until its consumer joined), and none of it was exported.
    let probed: Vec<ReceivedSpan> = otlp
        .spans()
        .into_iter()
        .filter(|s| {
            s.attribute("path")
                .is_some_and(|p| p.starts_with("/health/") || p == "/metrics")
        })
        .collect();
    assert!(probed.is_empty(), "probes were traced: {probed:#?}");
}

/// `hex` as bytes.
fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
