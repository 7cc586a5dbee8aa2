//! `hifive-dlq`: the dead-letter topic for operators. A consumer that cannot read an event,
//! or whose effect keeps failing, publishes it unchanged to `<topic>.dlq` with why in its
//! headers (`hifive_common::consumer::dlq_header`) and moves on; this tool lists those, shows
//! one, replays them to the event topic (consumers de-duplicate by `eventId`, so a replay of
//! an applied event changes nothing) and purges them.
//!
//! It speaks only what Tansu 0.6 and Apache Kafka both serve. A purge is not DeleteRecords
//! (Tansu's SQLite storage answers it with `todo!()`, which kills its storage task — see
//! docs/broker.md): it commits offsets for a consumer group of its own (`hifive-dlq`), and
//! `list` shows what lies past them.
//!
//! The parts: [`cli`] reads the command line, [`letter`] is one dead letter and how it is
//! printed, [`plan`] decides what a replay or purge does, [`broker`] talks to Kafka and
//! [`commands`] carries each command out.

pub mod broker;
pub mod cli;
pub mod commands;
pub mod letter;
pub mod plan;

use std::io::Write;

/// Runs `hifive-dlq` with `args` (without the program's name), writing to `out`; the
/// environment gives the defaults.
pub fn run(args: &[String], out: &mut impl Write) -> anyhow::Result<()> {
    let cli = cli::parse(args, |name| std::env::var(name).ok())
        .map_err(|e| anyhow::anyhow!("{e}\n\n{}", cli::USAGE))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    commands::run(cli, out, runtime.handle())
}
