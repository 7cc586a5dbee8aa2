//! One dead letter as read from the dead-letter topic: where it is (its [`Id`]), when it was
//! written, who gave up on it and why (the [`dlq_header`]s the consumer adds), and the original
//! record it carries unchanged (key, headers, payload).

use std::{fmt, str::FromStr};

use chrono::{DateTime, SecondsFormat, Utc};
use hifive_common::consumer::dlq_header;
use rdkafka::message::{Headers, Message};
use serde_json::{Value, json};
use shared_events::Envelope;

/// Where a dead letter is in the dead-letter topic: `<partition>:<offset>`, e.g. `1:17`.
/// Stable: a record's place never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id {
    pub partition: i32,
    pub offset: i64,
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.partition, self.offset)
    }
}

impl FromStr for Id {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a dead letter's ID (PARTITION:OFFSET, e.g. 0:12)");
        let (partition, offset) = s.trim().split_once(':').ok_or_else(bad)?;
        let partition: i32 = partition.parse().map_err(|_| bad())?;
        let offset: i64 = offset.parse().map_err(|_| bad())?;
        if partition < 0 || offset < 0 {
            return Err(bad());
        }
        Ok(Id { partition, offset })
    }
}

/// A record's header: its name and value (absent for a null value).
pub type Header = (String, Option<Vec<u8>>);

/// A record of the dead-letter topic.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub id: Id,
    /// When it was dead-lettered (the record's timestamp).
    pub time: Option<DateTime<Utc>>,
    pub key: Option<Vec<u8>>,
    /// Every header in order: the original record's, then the [`dlq_header`]s.
    pub headers: Vec<Header>,
    pub payload: Vec<u8>,
}

/// Where the dead-lettered record was read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

impl DeadLetter {
    /// The dead letter `message` is.
    pub fn from_message(message: &impl Message) -> Self {
        let headers = message
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        DeadLetter {
            id: Id {
                partition: message.partition(),
                offset: message.offset(),
            },
            time: message
                .timestamp()
                .to_millis()
                .and_then(DateTime::from_timestamp_millis),
            key: message.key().map(<[u8]>::to_vec),
            headers,
            payload: message.payload().unwrap_or_default().to_vec(),
        }
    }

    /// The last value of header `name`, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| text(v.as_deref().unwrap_or_default()))
    }

    /// The consumer group (the service) that dead-lettered it.
    pub fn service(&self) -> Option<String> {
        self.header(dlq_header::GROUP)
    }

    /// `decode` or `apply`.
    pub fn stage(&self) -> Option<String> {
        self.header(dlq_header::STAGE)
    }

    /// Why it was dead-lettered.
    pub fn error(&self) -> Option<String> {
        self.header(dlq_header::ERROR)
    }

    /// Where the consumer read it.
    pub fn origin(&self) -> Option<Origin> {
        Some(Origin {
            topic: self.header(dlq_header::TOPIC)?,
            partition: self.header(dlq_header::PARTITION)?.parse().ok()?,
            offset: self.header(dlq_header::OFFSET)?.parse().ok()?,
        })
    }

    /// The original record's headers: all but the dead-letter ones.
    pub fn original_headers(&self) -> impl Iterator<Item = &Header> {
        self.headers.iter().filter(|(k, _)| !is_dlq_header(k))
    }

    /// The payload's `eventType` and `eventId`, when it is a JSON object that has them.
    pub fn event(&self) -> (Option<String>, Option<String>) {
        let value: Value = serde_json::from_slice(&self.payload).unwrap_or(Value::Null);
        let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        (field("eventType"), field("eventId"))
    }

    /// Whether a consumer can read the payload as an event (else a replay is dead-lettered
    /// again at once, unless the consumers were fixed to read it).
    pub fn is_readable(&self) -> bool {
        Envelope::decode(&self.payload).is_ok()
    }

    /// The key as text.
    pub fn key_text(&self) -> Option<String> {
        self.key.as_deref().map(text)
    }
}

/// Whether `name` is one of the headers a consumer adds when it dead-letters a record.
pub fn is_dlq_header(name: &str) -> bool {
    name.starts_with("hifive.dlq.")
}

/// Bytes as text (lossily).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `s` on one line: newlines and runs of whitespace become one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The payload for people: pretty JSON when it parses, else the text as it is.
pub fn payload_text(payload: &[u8]) -> String {
    serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text(payload))
}

/// The time as RFC 3339 in UTC with milliseconds, or `-`.
pub fn time_text(time: Option<DateTime<Utc>>) -> String {
    time.map_or_else(
        || "-".to_owned(),
        |t| t.to_rfc3339_opts(SecondsFormat::Millis, true),
    )
}

/// The column titles of [`line`].
pub fn title() -> String {
    row(["ID", "TIME", "SERVICE", "STAGE", "EVENT", "ERROR"])
}

/// One dead letter on one line: ID, time, service, stage, event type and id, error.
pub fn line(letter: &DeadLetter) -> String {
    let dash = || "-".to_owned();
    let event = match letter.event() {
        (None, None) => dash(),
        (kind, id) => format!(
            "{} {}",
            kind.unwrap_or_else(|| "?".into()),
            id.unwrap_or_else(|| "?".into())
        ),
    };
    row([
        &letter.id.to_string(),
        &time_text(letter.time),
        &letter.service().unwrap_or_else(dash),
        &letter.stage().unwrap_or_else(dash),
        &event,
        &one_line(&letter.error().unwrap_or_else(dash)),
    ])
}

fn row([id, time, service, stage, event, error]: [&str; 6]) -> String {
    format!("{id:<7} {time:<24} {service:<16} {stage:<6} {event:<46} {error}")
        .trim_end()
        .to_owned()
}

/// Everything about one dead letter for people: where and when, its headers, its payload.
pub fn details(letter: &DeadLetter, dlq_topic: &str, purged: bool) -> String {
    let mut out = format!(
        "dead letter {} in {dlq_topic}{}\ntime:    {}\nkey:     {}\nheaders:\n",
        letter.id,
        if purged { " (purged)" } else { "" },
        time_text(letter.time),
        letter.key_text().unwrap_or_else(|| "-".into()),
    );
    for (name, value) in &letter.headers {
        let value = value.as_deref().map_or_else(|| "(null)".into(), text);
        out.push_str(&format!("  {name}: {value}\n"));
    }
    out.push_str("payload:\n");
    out.push_str(&payload_text(&letter.payload));
    out.push('\n');
    out
}

/// A dead letter for machines; with the payload (as JSON when it parses, else as text) when
/// `with_payload`.
pub fn to_json(letter: &DeadLetter, purged: bool, with_payload: bool) -> Value {
    let (event_type, event_id) = letter.event();
    let headers: serde_json::Map<String, Value> = letter
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_deref().map_or(Value::Null, |v| text(v).into()),
            )
        })
        .collect();
    let mut out = json!({
        "id": letter.id.to_string(),
        "partition": letter.id.partition,
        "offset": letter.id.offset,
        "time": letter.time.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        "service": letter.service(),
        "stage": letter.stage(),
        "error": letter.error(),
        "from": letter.origin().map(|o| json!({"topic": o.topic, "partition": o.partition, "offset": o.offset})),
        "eventType": event_type,
        "eventId": event_id,
        "key": letter.key_text(),
        "purged": purged,
        "headers": headers,
    });
    if with_payload {
        out["payload"] = serde_json::from_slice(&letter.payload)
            .unwrap_or_else(|_| Value::String(text(&letter.payload)));
    }
    out
}

#[cfg(test)]
#[path = "letter_tests.rs"]
mod tests;
