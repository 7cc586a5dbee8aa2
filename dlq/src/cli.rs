//! The command line: global options (defaults from the services' environment variables) and
//! one command.

use std::time::Duration;

use crate::{broker::Settings, letter::Id, plan::Target};

pub const USAGE: &str = "\
usage: hifive-dlq [OPTIONS] COMMAND

The dead-letter topic: events a service could not read, or whose effect kept failing, with
why in their headers (hifive.dlq.error, .stage, .group, .topic, .partition, .offset).

commands:
  list [--all] [--limit N]   one line per dead letter not purged (--all: purged ones too):
                             ID, time, service, stage, event type and id, error
  show ID                    a dead letter's headers and payload (pretty JSON when it is JSON)
  replay ID|--all [--force]  produce the original record (key, payload, its own headers such
                             as x-request-id; not the hifive.dlq.* ones) to the event topic
                             again, e.g. after a fix. --all: every dead letter not purged,
                             once per original record. A payload no consumer can read is
                             skipped unless --force. Replaying an event that was applied
                             already is harmless: every consumer de-duplicates by eventId.
  purge ID|--all             hide dead letters from `list`: ID and the ones before it in its
                             partition, or all. Kafka topics are append-only: a purge moves
                             the committed offset of the group (--group) past them; the
                             records stay until retention removes them (`list --all`).

ID is PARTITION:OFFSET of the dead letter in its topic (the first column of `list`).

options (defaults from the services' environment):
  --brokers HOST:PORT  the broker (default $KAFKA_BROKERS or 127.0.0.1:9092)
  --topic T            the event topic replays go to (default $KAFKA_TOPIC or hifive)
  --dlq-topic T        the dead-letter topic (default $KAFKA_DLQ_TOPIC or <topic>.dlq)
  --group G            the consumer group that marks what is purged (default hifive-dlq)
  --timeout SECONDS    how long to wait for the broker (default 15)
  --json               machine output for list and show (JSON)
  -h, --help           this text";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    List { all: bool, limit: Option<usize> },
    Show(Id),
    Replay { target: Target, force: bool },
    Purge(Target),
    Help,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    pub settings: Settings,
    pub json: bool,
    pub command: Command,
}

/// Reads `args` (without the program's name); `env` looks up an environment variable.
pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Cli, String> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let mut options: Vec<(&str, &str)> = Vec::new();
    let mut flags: Vec<&str> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    let mut it = args.iter().map(String::as_str);
    while let Some(arg) = it.next() {
        match arg {
            "--brokers" | "--topic" | "--dlq-topic" | "--group" | "--timeout" | "--limit" => {
                let value = it.next().ok_or_else(|| format!("{arg} needs a value"))?;
                options.push((arg, value));
            }
            "-h" | "--help" | "--json" | "--all" | "--force" => flags.push(arg),
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}")),
            _ => words.push(arg),
        }
    }
    let option = |name: &str| {
        options
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let flag = |name: &str| flags.contains(&name);
    let topic = option("--topic")
        .or_else(|| env("KAFKA_TOPIC"))
        .unwrap_or_else(|| shared_events::DEFAULT_TOPIC.to_owned());
    let timeout = match option("--timeout") {
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| format!("--timeout {s:?}: want whole seconds"))?,
        None => 15,
    };
    let settings = Settings {
        brokers: option("--brokers")
            .or_else(|| env("KAFKA_BROKERS"))
            .unwrap_or_else(|| "127.0.0.1:9092".to_owned()),
        dlq_topic: option("--dlq-topic")
            .or_else(|| env("KAFKA_DLQ_TOPIC"))
            .unwrap_or_else(|| format!("{topic}.dlq")),
        topic,
        group: option("--group").unwrap_or_else(|| "hifive-dlq".to_owned()),
        timeout: Duration::from_secs(timeout),
    };
    let command = if flag("-h") || flag("--help") {
        Command::Help
    } else {
        command(&words, flag("--all"), flag("--force"), option("--limit"))?
    };
    Ok(Cli {
        settings,
        json: flag("--json"),
        command,
    })
}

fn command(
    words: &[&str],
    all: bool,
    force: bool,
    limit: Option<String>,
) -> Result<Command, String> {
    let target = |rest: &[&str]| match (rest, all) {
        ([], true) => Ok(Target::All),
        ([id], false) => Ok(Target::One(id.parse()?)),
        _ => Err("give one ID or --all".to_owned()),
    };
    match words {
        ["list"] => Ok(Command::List {
            all,
            limit: limit
                .map(|n| {
                    n.parse()
                        .map_err(|_| format!("--limit {n:?}: want a number"))
                })
                .transpose()?,
        }),
        ["show", id] => Ok(Command::Show(id.parse()?)),
        ["replay", rest @ ..] => Ok(Command::Replay {
            target: target(rest)?,
            force,
        }),
        ["purge", rest @ ..] => Ok(Command::Purge(target(rest)?)),
        [] => Err("no command given".to_owned()),
        _ => Err(format!("unknown command: {}", words.join(" "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_are_the_services_own() {
        let cli = parse(&args("list"), no_env).unwrap();
        assert_eq!(cli.settings.brokers, "127.0.0.1:9092");
        assert_eq!(cli.settings.topic, "hifive");
        assert_eq!(cli.settings.dlq_topic, "hifive.dlq");
        assert_eq!(cli.settings.group, "hifive-dlq");
        assert_eq!(
            cli.command,
            Command::List {
                all: false,
                limit: None
            }
        );
        assert!(!cli.json);

        let env = |name: &str| match name {
            "KAFKA_BROKERS" => Some("kafka:9092".to_owned()),
            "KAFKA_TOPIC" => Some("events".to_owned()),
            "KAFKA_DLQ_TOPIC" => Some(" ".to_owned()),
            _ => None,
        };
        let cli = parse(&args("list"), env).unwrap();
        assert_eq!(cli.settings.brokers, "kafka:9092");
        assert_eq!(
            cli.settings.dlq_topic, "events.dlq",
            "an empty variable is unset"
        );
        let cli = parse(&args("--brokers b:1 --topic t list"), env).unwrap();
        assert_eq!(
            (
                cli.settings.brokers.as_str(),
                cli.settings.dlq_topic.as_str()
            ),
            ("b:1", "t.dlq")
        );
    }

    #[test]
    fn commands_and_their_arguments() {
        let id = |p, o| Id {
            partition: p,
            offset: o,
        };
        let cmd = |s: &str| parse(&args(s), no_env).map(|c| c.command);
        assert_eq!(
            cmd("list --all --limit 3"),
            Ok(Command::List {
                all: true,
                limit: Some(3)
            })
        );
        assert_eq!(cmd("show 2:17"), Ok(Command::Show(id(2, 17))));
        assert_eq!(
            cmd("replay 0:5"),
            Ok(Command::Replay {
                target: Target::One(id(0, 5)),
                force: false
            })
        );
        assert_eq!(
            cmd("replay --all --force"),
            Ok(Command::Replay {
                target: Target::All,
                force: true
            })
        );
        assert_eq!(cmd("--json purge --all"), Ok(Command::Purge(Target::All)));
        assert_eq!(cmd("list --help"), Ok(Command::Help));
        assert!(parse(&args("--json list"), no_env).unwrap().json);
        for bad in [
            "",
            "replay",
            "replay 1:2 --all",
            "show",
            "show x",
            "purge 1:-2",
            "list --limit",
            "list --limit x",
            "drop 1:2",
            "list --verbose",
            "list --timeout 0",
        ] {
            assert!(cmd(bad).is_err(), "{bad:?} accepted");
        }
    }
}
