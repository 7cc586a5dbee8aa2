//! The simulated wedge, for fault-injection tests: a consumer that stops reading while it
//! stays in its group.

use std::sync::atomic::Ordering;

use super::ConsumerStatus;

/// A simulated wedge, for fault-injection tests (`PUT /admin/consumer`, only with
/// `CONSUMER_ADMIN_ENABLED=true`): the consumer stops reading while it stays in its group, as
/// a consumer whose broker stopped serving it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wedge {
    No = 0,
    /// Until the consumer is re-created (the first healing step fixes it).
    UntilRejoin = 1,
    /// For the life of the process (only a restart fixes it).
    Always = 2,
}

impl Wedge {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "no" => Some(Wedge::No),
            "until_rejoin" => Some(Wedge::UntilRejoin),
            "always" => Some(Wedge::Always),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Wedge::No => "no",
            Wedge::UntilRejoin => "until_rejoin",
            Wedge::Always => "always",
        }
    }
}

impl ConsumerStatus {
    /// The simulated wedge (see [`Wedge`]).
    pub fn wedge(&self) -> Wedge {
        match self.wedge.load(Ordering::Relaxed) {
            1 => Wedge::UntilRejoin,
            2 => Wedge::Always,
            _ => Wedge::No,
        }
    }

    pub fn set_wedge(&self, wedge: Wedge) {
        tracing::warn!(
            wedge = wedge.as_str(),
            "consumer wedge set (fault injection)"
        );
        self.wedge.store(wedge as u8, Ordering::Relaxed);
    }
}
