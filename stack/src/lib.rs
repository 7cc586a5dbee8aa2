//! Running HiFive on one machine, as an orchestrator would: [`supervisor`] starts, checks,
//! restarts and stops the processes; [`probe`] tells a working broker from a wedged one;
//! [`issuer`] is the development token issuer (with [`oauth`], its sign-in page); [`local`] runs
//! the whole system with them.
//! Used by `hifive-stack` (what `script/server` runs) and by the end-to-end harness.

pub mod broker;
pub mod issuer;
pub mod local;
pub mod oauth;
pub mod probe;
pub mod supervisor;
