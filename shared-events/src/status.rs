//! The states of the domain, as they are written on the wire and in the databases
//! (`"PAID"`, `"FULL"`, ...).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A state name that is not one of its type's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{got:?} is not a {what} (one of {})", allowed.join(", "))]
pub struct UnknownStatus {
    pub what: &'static str,
    pub allowed: &'static [&'static str],
    pub got: String,
}

macro_rules! status {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        /// One of the names on the wire.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::SchemaType::new(
                        utoipa::openapi::Type::String,
                    ))
                    .enum_values(Some([$($text),+]))
                    .description(Some(concat!("a ", $what)))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl $name {
            /// Every state, in the order of the type.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name on the wire and in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                match raw {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownStatus {
                        what: $what,
                        allowed: &[$($text),+],
                        got: raw.to_owned(),
                    }),
                }
            }
        }

        /// `status == "PAID"`: a state compares with its name.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        /// For rows read with `#[sqlx(try_from = "String")]`.
        impl TryFrom<String> for $name {
            type Error = UnknownStatus;

            fn try_from(raw: String) -> Result<Self, Self::Error> {
                raw.parse()
            }
        }
    };
}

status!(
    /// A booking's state: `CREATED → PAID → ASSIGNED`, or it ends `REJECTED`, `CANCELED`
    /// or `FAILED`.
    ConferenceStatus, "booking status" {
        /// Accepted, payment not yet confirmed.
        Created = "CREATED",
        /// Paid; waiting for its room.
        Paid = "PAID",
        /// Holds its room.
        Assigned = "ASSIGNED",
        /// Paid, but the room was unknown or taken: refunded.
        Rejected = "REJECTED",
        /// Cancelled by its customer (or a manager).
        Canceled = "CANCELED",
        /// The payment did not go through.
        Failed = "FAILED",
    }
);

status!(
    /// A payment's state: `PAID`, and `CANCELED` once refunded (final).
    PayStatus, "payment status" {
        Paid = "PAID",
        Canceled = "CANCELED",
    }
);

status!(
    /// A room's state: `FULL` only while a booking holds it.
    RoomStatus, "room status" {
        Empty = "EMPTY",
        Full = "FULL",
    }
);

status!(
    /// The `roomStatus` an `Assigned` or `CancelAssigned` event carries, as in the original:
    /// what happened to the room, not its state.
    Assignment, "room assignment" {
        Assigned = "ASSIGNED",
        Canceled = "CANCELED",
    }
);

impl RoomStatus {
    /// `FULL` when held by a booking.
    pub fn of(held: bool) -> Self {
        if held {
            RoomStatus::Full
        } else {
            RoomStatus::Empty
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in ConferenceStatus::ALL {
            assert_eq!(s.as_str().parse::<ConferenceStatus>().unwrap(), *s);
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!("FULL".parse::<RoomStatus>().unwrap(), RoomStatus::Full);
        let err = "full".parse::<RoomStatus>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#""full" is not a room status (one of EMPTY, FULL)"#
        );
    }
}
