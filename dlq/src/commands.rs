//! The four commands, each against the broker, writing what it did to `out`.

use std::io::Write;

use anyhow::Context;
use hifive_common::kafka;
use rdkafka::{
    message::{Header, OwnedHeaders},
    producer::FutureRecord,
    util::Timeout,
};
use tokio::runtime::Handle;

use crate::{
    broker::{Broker, Partition},
    cli::{Cli, Command, USAGE},
    letter::{self, DeadLetter, Id},
    plan::{self, Target},
};

/// Carries out `cli` (blocking; `runtime` drives the replay's producer).
pub fn run(cli: Cli, out: &mut impl Write, runtime: &Handle) -> anyhow::Result<()> {
    if cli.command == Command::Help {
        writeln!(out, "{USAGE}")?;
        return Ok(());
    }
    let broker = Broker::connect(cli.settings)?;
    match cli.command {
        Command::List { all, limit } => list(&broker, all, limit, cli.json, out),
        Command::Show(id) => show(&broker, id, cli.json, out),
        Command::Replay { target, force } => replay(&broker, target, force, out, runtime),
        Command::Purge(target) => purge(&broker, target, out),
        Command::Help => Ok(()),
    }
}

/// The partitions and their dead letters: the ones not purged, or `all`.
fn letters(broker: &Broker, all: bool) -> anyhow::Result<(Vec<Partition>, Vec<DeadLetter>)> {
    let partitions = broker.partitions()?;
    let letters = broker.read(&partitions, |p| if all { p.low } else { p.unpurged() })?;
    Ok((partitions, letters))
}

fn is_purged(partitions: &[Partition], id: Id) -> bool {
    partitions
        .iter()
        .any(|p| p.id == id.partition && p.is_purged(id.offset))
}

fn list(
    broker: &Broker,
    all: bool,
    limit: Option<usize>,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let (partitions, mut letters) = letters(broker, all)?;
    letters.sort_by_key(|l| (l.time, l.id));
    let total = letters.len();
    letters.truncate(limit.unwrap_or(usize::MAX));
    if json {
        let items: Vec<_> = letters
            .iter()
            .map(|l| letter::to_json(l, is_purged(&partitions, l.id), false))
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        return Ok(());
    }
    let topic = &broker.settings.dlq_topic;
    if letters.is_empty() {
        let purged: i64 = partitions.iter().map(|p| p.unpurged() - p.low).sum();
        let hint = if purged > 0 && !all {
            format!(" ({purged} purged: `list --all` shows them)")
        } else {
            String::new()
        };
        writeln!(out, "no dead letters in {topic}{hint}")?;
        return Ok(());
    }
    writeln!(out, "{}", letter::title())?;
    for l in &letters {
        let mark = if all && is_purged(&partitions, l.id) {
            "  (purged)"
        } else {
            ""
        };
        writeln!(out, "{}{mark}", letter::line(l))?;
    }
    if letters.len() < total {
        writeln!(out, "... {} more (--limit)", total - letters.len())?;
    }
    Ok(())
}

fn show(broker: &Broker, id: Id, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let topic = &broker.settings.dlq_topic;
    let (letter, partition) = broker
        .read_one(id)?
        .with_context(|| format!("no dead letter {id} in {topic}"))?;
    let purged = partition.is_purged(id.offset);
    if json {
        let item = letter::to_json(&letter, purged, true);
        writeln!(out, "{}", serde_json::to_string_pretty(&item)?)?;
    } else {
        write!(out, "{}", letter::details(&letter, topic, purged))?;
    }
    Ok(())
}

fn replay(
    broker: &Broker,
    target: Target,
    force: bool,
    out: &mut impl Write,
    runtime: &Handle,
) -> anyhow::Result<()> {
    let topic = &broker.settings.dlq_topic;
    let chosen = match target {
        Target::All => letters(broker, false)?.1,
        Target::One(id) => {
            let (letter, _) = broker
                .read_one(id)?
                .with_context(|| format!("no dead letter {id} in {topic}"))?;
            vec![letter]
        }
    };
    let (replays, skipped) = plan::replays(&chosen, force);
    for l in skipped {
        writeln!(
            out,
            "skipped {}: no consumer can read its payload (--force replays it anyway)",
            l.id
        )?;
    }
    let producer = kafka::producer(&broker.settings.kafka())?;
    for r in &replays {
        let (partition, offset) = runtime.block_on(produce(broker, &producer, r.letter))?;
        let copies = if r.copies.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = r.copies.iter().map(Id::to_string).collect();
            format!(" (also dead-lettered as {})", ids.join(", "))
        };
        writeln!(
            out,
            "replayed {} ({}) to {} partition {partition} offset {offset}{copies}",
            r.letter.id,
            describe(r.letter),
            broker.settings.topic,
        )?;
    }
    if replays.is_empty() {
        writeln!(out, "nothing replayed")?;
    }
    Ok(())
}

/// The event type and id, or what the payload starts with.
fn describe(l: &DeadLetter) -> String {
    match l.event() {
        (Some(kind), Some(id)) => format!("{kind} {id}"),
        (Some(kind), None) => kind,
        _ => {
            let text = letter::one_line(&letter::text(&l.payload));
            let short: String = text.chars().take(40).collect();
            format!("{short:?}")
        }
    }
}

/// Produces `l`'s original record to the event topic; where it was written.
async fn produce(
    broker: &Broker,
    producer: &kafka::Producer,
    l: &DeadLetter,
) -> anyhow::Result<(i32, i64)> {
    let mut headers = OwnedHeaders::new();
    for (key, value) in l.original_headers() {
        headers = headers.insert(Header {
            key,
            value: value.as_deref(),
        });
    }
    // By its key, as every producer of the system does: it joins the events of its room.
    let mut record = FutureRecord::to(&broker.settings.topic)
        .payload(&l.payload)
        .headers(headers);
    if let Some(key) = &l.key {
        record = record.key(key);
    }
    producer
        .send(record, Timeout::After(broker.settings.timeout))
        .await
        .map(|d| (d.partition, d.offset))
        .map_err(|(e, _)| e)
        .with_context(|| format!("cannot replay {} to {}", l.id, broker.settings.topic))
}

fn purge(broker: &Broker, target: Target, out: &mut impl Write) -> anyhow::Result<()> {
    let topic = &broker.settings.dlq_topic;
    let (partitions, unpurged) = letters(broker, false)?;
    let gone = match plan::purged(&unpurged, target) {
        Ok(gone) => gone,
        Err(id) if is_purged(&partitions, id) && broker.read_one(id)?.is_some() => {
            writeln!(out, "{id} is purged already")?;
            return Ok(());
        }
        Err(id) => anyhow::bail!("no dead letter {id} in {topic}"),
    };
    if gone.is_empty() {
        writeln!(out, "nothing to purge in {topic}")?;
        return Ok(());
    }
    let committed: Vec<(i32, i64)> = partitions
        .iter()
        .filter_map(|p| Some((p.id, p.committed?)))
        .collect();
    broker.commit(&plan::commits(&gone, &committed))?;
    for l in &gone {
        writeln!(out, "purged {} ({})", l.id, describe(l))?;
    }
    writeln!(
        out,
        "{} purged from {topic} (group {}; `list --all` still shows them)",
        gone.len(),
        broker.settings.group
    )?;
    Ok(())
}
