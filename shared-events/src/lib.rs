//! The HiFive event contract.
//!
//! Every event travels on one topic (`hifive` by default), keyed by `roomNumber` so that
//! everything about one room is ordered. The value is a JSON object whose first fields are
//! `eventType`, `timestamp` (RFC 3339, UTC) and `eventId`, followed by the event's own fields
//! in camelCase — the shape of the original's `AbstractEvent`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Default topic name, as in the original.
pub const DEFAULT_TOPIC: &str = "hifive";
/// Kafka header that carries the correlation id of the request that caused an event.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Kafka header that repeats the event type, so tools can filter without parsing JSON.
pub const EVENT_TYPE_HEADER: &str = "eventType";

mod ids;
pub mod lenient;
mod status;

pub use ids::{ConferenceId, EventId, InvalidId, PayId, RoomNumber};
pub use status::{Assignment, ConferenceStatus, PayStatus, RoomStatus, UnknownStatus};

/// A booking was paid (conference → customer-center).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub conference_id: ConferenceId,
    pub conference_status: ConferenceStatus,
    pub room_number: RoomNumber,
    pub pay_id: PayId,
}

/// A payment was made (pay → room, customer-center).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Paid {
    pub pay_id: PayId,
    pub pay_status: PayStatus,
    pub conference_id: ConferenceId,
    pub room_number: RoomNumber,
}

/// A room was assigned to a booking (room → conference, customer-center).
/// `usedCount` is an addition to the original's fields: the room's count after assignment,
/// so the view can copy the room's state instead of counting deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assigned {
    pub room_number: RoomNumber,
    pub room_status: Assignment,
    pub conference_id: ConferenceId,
    pub pay_id: PayId,
    pub used_count: i64,
    /// The room's revision after this change (an addition): it grows by one with every
    /// change of the room, so a reader can ignore a stale event that arrives late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// A booking was cancelled (conference → pay). `payId` is absent when the booking never
/// got a confirmed payment (pay timed out or failed): pay then refunds by `conferenceId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyCanceled {
    pub conference_id: ConferenceId,
    pub conference_status: ConferenceStatus,
    pub pay_id: Option<PayId>,
    pub room_number: RoomNumber,
}

/// A payment was refunded (pay → room, customer-center).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayCanceled {
    pub pay_id: PayId,
    pub pay_status: PayStatus,
    pub conference_id: ConferenceId,
    pub room_number: RoomNumber,
}

/// A room was released by the booking that held it (room → conference, customer-center).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelAssigned {
    pub room_number: RoomNumber,
    pub room_status: Assignment,
    pub conference_id: ConferenceId,
    pub pay_id: PayId,
    pub used_count: i64,
    /// The room's revision after this change (an addition): it grows by one with every
    /// change of the room, so a reader can ignore a stale event that arrives late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// A paid booking could not get its room (unknown or occupied): pay refunds it,
/// conference marks it `REJECTED` (room → pay, conference, customer-center).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignRejected {
    pub room_number: RoomNumber,
    pub conference_id: ConferenceId,
    pub pay_id: PayId,
    pub reason: String,
}

/// A room was registered (room → customer-center), so the view lists every room from the
/// start. An addition to the original's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomRegistered {
    pub room_number: RoomNumber,
    pub room_status: RoomStatus,
    pub used_count: i64,
    /// The room's revision after this change (an addition): it grows by one with every
    /// change of the room, so a reader can ignore a stale event that arrives late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// A room's state as the API shows it: the room service's `/rooms/{n}` and customer-center's
/// `/roomStates/{n}`, which must be equal (the view copies the room), and what the checker
/// compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RoomState {
    pub room_number: RoomNumber,
    pub room_status: RoomStatus,
    pub used_count: i64,
    pub conference_id: Option<ConferenceId>,
    pub pay_id: Option<PayId>,
}

/// Every domain event of HiFive. Serialised without a tag; the envelope adds `eventType`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Event {
    Applied(Applied),
    Paid(Paid),
    Assigned(Assigned),
    ApplyCanceled(ApplyCanceled),
    PayCanceled(PayCanceled),
    CancelAssigned(CancelAssigned),
    AssignRejected(AssignRejected),
    RoomRegistered(RoomRegistered),
}

impl Event {
    /// The event's name, as carried in `eventType`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::Applied(_) => "Applied",
            Event::Paid(_) => "Paid",
            Event::Assigned(_) => "Assigned",
            Event::ApplyCanceled(_) => "ApplyCanceled",
            Event::PayCanceled(_) => "PayCanceled",
            Event::CancelAssigned(_) => "CancelAssigned",
            Event::AssignRejected(_) => "AssignRejected",
            Event::RoomRegistered(_) => "RoomRegistered",
        }
    }

    /// The room the event is about: the Kafka key, so one room's events stay in order.
    pub fn room_number(&self) -> RoomNumber {
        match self {
            Event::Applied(e) => e.room_number,
            Event::Paid(e) => e.room_number,
            Event::Assigned(e) => e.room_number,
            Event::ApplyCanceled(e) => e.room_number,
            Event::PayCanceled(e) => e.room_number,
            Event::CancelAssigned(e) => e.room_number,
            Event::AssignRejected(e) => e.room_number,
            Event::RoomRegistered(e) => e.room_number,
        }
    }

    /// The booking the event is about, when it is about one.
    pub fn conference_id(&self) -> Option<ConferenceId> {
        match self {
            Event::Applied(e) => Some(e.conference_id),
            Event::Paid(e) => Some(e.conference_id),
            Event::Assigned(e) => Some(e.conference_id),
            Event::ApplyCanceled(e) => Some(e.conference_id),
            Event::PayCanceled(e) => Some(e.conference_id),
            Event::CancelAssigned(e) => Some(e.conference_id),
            Event::AssignRejected(e) => Some(e.conference_id),
            Event::RoomRegistered(_) => None,
        }
    }

    /// The Kafka message key: the room number in decimal.
    pub fn key(&self) -> String {
        self.room_number().to_string()
    }
}

/// An event with its envelope fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub event_id: EventId,
    pub timestamp: DateTime<Utc>,
    pub event: Event,
}

/// What a consumer gets from a message value.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// One of HiFive's events.
    Known(Envelope),
    /// A well-formed envelope of a type this contract does not know: consumers skip it.
    Unknown { event_type: String },
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message is not a JSON object: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("message has no string field `{0}`")]
    MissingField(&'static str),
    #[error("`{field}` is not valid: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{event_type} has invalid fields: {source}")]
    Fields {
        event_type: String,
        source: serde_json::Error,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wire<'a> {
    event_type: &'static str,
    timestamp: String,
    event_id: EventId,
    #[serde(flatten)]
    event: &'a Event,
}

impl Envelope {
    /// Wraps an event with a fresh id and the current time.
    pub fn new(event: Event) -> Self {
        Self {
            event_id: EventId::new(),
            timestamp: Utc::now(),
            event,
        }
    }

    /// The JSON value put on the wire.
    #[expect(
        clippy::expect_used,
        reason = "serde_json fails only on maps with non-string keys or failing Serialize impls; events have neither"
    )]
    pub fn to_json(&self) -> String {
        let wire = Wire {
            event_type: self.event.event_type(),
            timestamp: self.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
            event_id: self.event_id,
            event: &self.event,
        };
        serde_json::to_string(&wire).expect("events always serialise")
    }

    /// Reads a message value.
    pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)?;
        let text = |field: &'static str| {
            value
                .get(field)
                .and_then(|v| v.as_str())
                .ok_or(DecodeError::MissingField(field))
        };
        let event_type = text("eventType")?.to_owned();
        let event_id: EventId =
            text("eventId")?
                .parse()
                .map_err(|e: uuid::Error| DecodeError::Invalid {
                    field: "eventId",
                    reason: e.to_string(),
                })?;
        let timestamp = DateTime::parse_from_rfc3339(text("timestamp")?)
            .map_err(|e| DecodeError::Invalid {
                field: "timestamp",
                reason: e.to_string(),
            })?
            .with_timezone(&Utc);
        fn fields<T: serde::de::DeserializeOwned>(
            event_type: &str,
            value: serde_json::Value,
        ) -> Result<T, DecodeError> {
            serde_json::from_value(value).map_err(|source| DecodeError::Fields {
                event_type: event_type.to_owned(),
                source,
            })
        }
        let event = match event_type.as_str() {
            "Applied" => Event::Applied(fields(&event_type, value)?),
            "Paid" => Event::Paid(fields(&event_type, value)?),
            "Assigned" => Event::Assigned(fields(&event_type, value)?),
            "ApplyCanceled" => Event::ApplyCanceled(fields(&event_type, value)?),
            "PayCanceled" => Event::PayCanceled(fields(&event_type, value)?),
            "CancelAssigned" => Event::CancelAssigned(fields(&event_type, value)?),
            "AssignRejected" => Event::AssignRejected(fields(&event_type, value)?),
            "RoomRegistered" => Event::RoomRegistered(fields(&event_type, value)?),
            _ => return Ok(Decoded::Unknown { event_type }),
        };
        Ok(Decoded::Known(Envelope {
            event_id,
            timestamp,
            event,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid() -> Event {
        Event::Paid(Paid {
            pay_id: PayId::new(7).unwrap(),
            pay_status: PayStatus::Paid,
            conference_id: ConferenceId::new(3).unwrap(),
            room_number: RoomNumber::new(1).unwrap(),
        })
    }

    #[test]
    fn envelope_starts_with_type_timestamp_and_id() {
        let json = Envelope::new(paid()).to_json();
        assert!(
            json.starts_with(r#"{"eventType":"Paid","timestamp":""#),
            "{json}"
        );
        assert!(json.contains(r#""eventId":""#));
        assert!(json.contains(r#""payStatus":"PAID""#));
        assert!(json.contains(r#""conferenceId":3"#));
    }

    #[test]
    fn round_trip_keeps_everything() {
        let env = Envelope::new(paid());
        let Decoded::Known(back) = Envelope::decode(env.to_json().as_bytes()).unwrap() else {
            panic!("known type")
        };
        assert_eq!(back.event, env.event);
        assert_eq!(back.event_id, env.event_id);
        assert_eq!(
            back.timestamp.timestamp_millis(),
            env.timestamp.timestamp_millis()
        );
    }

    #[test]
    fn unknown_types_are_reported_not_rejected() {
        let raw = format!(
            r#"{{"eventType":"Audited","timestamp":"2026-01-01T00:00:00Z","eventId":"{}"}}"#,
            EventId::new()
        );
        assert_eq!(
            Envelope::decode(raw.as_bytes()).unwrap(),
            Decoded::Unknown {
                event_type: "Audited".into()
            }
        );
    }

    #[test]
    fn malformed_messages_are_errors() {
        assert!(Envelope::decode(b"not json").is_err());
        assert!(Envelope::decode(br#"{"eventType":"Paid"}"#).is_err());
        let bad_fields = format!(
            r#"{{"eventType":"Paid","timestamp":"2026-01-01T00:00:00Z","eventId":"{}","payId":"x"}}"#,
            EventId::new()
        );
        assert!(matches!(
            Envelope::decode(bad_fields.as_bytes()),
            Err(DecodeError::Fields { .. })
        ));
    }

    #[test]
    fn key_is_the_room_number() {
        assert_eq!(paid().key(), "1");
        assert_eq!(paid().conference_id(), ConferenceId::new(3));
    }
}
