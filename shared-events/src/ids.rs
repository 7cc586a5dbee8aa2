//! The ids of the domain: bookings, payments, rooms and events. Each is its own type, so a
//! payment id cannot be passed where a room number is expected.
//!
//! On the wire they are plain JSON numbers (event ids: UUID strings). Reading is lenient
//! the way the original (Jackson) was: `"7"` is read as `7`, as httpie sends `roomNumber=7`.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::lenient;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[serde(transparent)]
        pub struct $name(i64);

        /// In answers: a positive whole number (requests may also send it as a string).
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::SchemaType::new(
                        utoipa::openapi::Type::Integer,
                    ))
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Int64,
                    )))
                    .minimum(Some(1))
                    .maximum(Some(i64::MAX))
                    .description(Some(concat!($what, ": a positive whole number")))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl $name {
            /// The id, if `n` is a positive whole number.
            pub fn new(n: i64) -> Option<Self> {
                (n > 0).then_some(Self(n))
            }

            /// The number itself (for SQL and arithmetic).
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                raw.trim()
                    .parse::<i64>()
                    .ok()
                    .and_then(Self::new)
                    .ok_or(InvalidId { what: $what })
            }
        }

        /// `id == 7`: an id compares with its number.
        impl PartialEq<i64> for $name {
            fn eq(&self, other: &i64) -> bool {
                self.0 == *other
            }
        }

        impl TryFrom<i64> for $name {
            type Error = InvalidId;

            fn try_from(n: i64) -> Result<Self, Self::Error> {
                Self::new(n).ok_or(InvalidId { what: $what })
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = serde_json::Value::deserialize(d)?;
                lenient::as_whole(&v).and_then(Self::new).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "{} must be a positive whole number, got {v}",
                        $what
                    ))
                })
            }
        }
    };
}

id!(
    /// A booking (`/conferences/{id}`).
    ConferenceId,
    "a booking id"
);
id!(
    /// A payment (`/pays/{id}`).
    PayId,
    "a payment id"
);
id!(
    /// A room, by the number its manager registered it with. The Kafka key of every event.
    RoomNumber,
    "a room number"
);

/// An id that is not a positive whole number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be a positive whole number")]
pub struct InvalidId {
    pub what: &'static str,
}

/// An event's own id (`eventId`): consumers skip an id they have handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(Uuid);

impl EventId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Uuid> for EventId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for EventId {
    type Err = uuid::Error;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(raw).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_numbers_and_numeric_strings() {
        let n: RoomNumber = serde_json::from_str("7").unwrap();
        let s: RoomNumber = serde_json::from_str(r#""12""#).unwrap();
        assert_eq!((n.get(), s.get()), (7, 12));
        assert_eq!(serde_json::to_string(&s).unwrap(), "12");
        assert_eq!("3".parse::<PayId>().unwrap().get(), 3);
    }

    #[test]
    fn ids_are_positive_whole_numbers() {
        for bad in ["0", "-3", "1.5", r#""one""#, "[1]", "null", "true"] {
            assert!(serde_json::from_str::<ConferenceId>(bad).is_err(), "{bad}");
        }
        assert!("0".parse::<ConferenceId>().is_err());
        assert!(ConferenceId::new(-1).is_none());
    }
}
