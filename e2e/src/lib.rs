//! End-to-end harness: starts a real Tansu broker and the five real service binaries as
//! separate processes, each system in its own temp dir on free ports, and talks to them
//! over HTTP. Nothing is mocked.
//!
//! The binaries must be built first (`cargo build --workspace --bins`, as `script/test` does).
//!
//! A newcomer's map: [`system`] lays out and starts one [`System`]; [`processes`] starts,
//! kills and waits for its processes; [`http`] sends requests as someone ([`Who`]);
//! [`bookings`] is HiFive's own requests; [`waiting`] polls until something holds; [`kafka`]
//! reads and writes the broker raw; [`otlp`] receives the services' spans; [`prometheus`] reads a service's `/metrics`;
//! [`invariants`] runs the operator's checker;
//! [`postgres`] and [`machine`] are what a system needs from the machine; [`soak`] is
//! sustained load with faults.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test harness: a failed step fails the test, with its message"
)]

use std::time::Duration;

pub mod bookings;
pub mod dlq;
pub mod http;
pub mod invariants;
pub mod kafka;
pub mod machine;
pub mod otlp;
pub mod postgres;
pub mod processes;
pub mod prometheus;
pub mod soak;
pub mod system;
pub mod waiting;

pub use bookings::{conference_id, status_of};
pub use http::{Body, CUSTOMER, Reply, Who, as_};
pub use kafka::Record;
pub use machine::free_port;
pub use postgres::Postgres;
pub use system::{Options, System};
pub use waiting::eventually;

pub const SERVICES: [&str; 5] = ["conference", "pay", "room", "customer-center", "gateway"];

/// How long to wait for the system to settle before a check fails.
pub const SETTLE: Duration = Duration::from_secs(30);
