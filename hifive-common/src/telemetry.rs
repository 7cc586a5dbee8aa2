//! Logging. Every line about a request carries its `request_id`; every line about a booking
//! carries its `conference_id` (fields of the spans opened by the HTTP layer and the consumer).
//! Text for people by default; `LOG_FORMAT=json` writes one JSON object per line for a log
//! pipeline, with the fields of the span it happened in.

use std::io::IsTerminal;

use anyhow::bail;
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Lines for people (`text`, the default).
    #[default]
    Text,
    /// One JSON object per line (`json`).
    Json,
}

impl LogFormat {
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var("LOG_FORMAT").as_deref() {
            Err(_) | Ok("") | Ok("text") => Ok(LogFormat::Text),
            Ok("json") => Ok(LogFormat::Json),
            Ok(other) => bail!("LOG_FORMAT must be `text` or `json`, not {other:?}"),
        }
    }
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,rdkafka=warn,hyper=warn"))
}

/// Installs the global subscriber; `RUST_LOG` overrides the default filter.
pub fn init() -> anyhow::Result<()> {
    let _ = match LogFormat::from_env()? {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_target(false)
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
        LogFormat::Json => json(filter(), std::io::stdout).try_init(),
    };
    Ok(())
}

/// The JSON subscriber: the event's fields at the top level (`message`, ...), `level`,
/// `timestamp`, `target`, and the fields of the span it happened in under `span`
/// (`request_id`, `conference_id`, ...).
fn json<W>(
    filter: EnvFilter,
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
    EnvFilter,
    W,
>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(writer)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Lines {
        type Writer = Lines;

        fn make_writer(&'w self) -> Lines {
            self.clone()
        }
    }

    #[test]
    fn json_lines_carry_the_request_and_the_booking() {
        let lines = Lines::default();
        let subscriber = json(EnvFilter::new("info"), lines.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "http",
                request_id = "my-booking",
                conference_id = tracing::field::Empty
            );
            let _in = span.enter();
            span.record("conference_id", 7);
            tracing::info!(room_number = 3, "booking paid");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["message"], "booking paid");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["room_number"], 3);
        assert_eq!(line["span"]["request_id"], "my-booking");
        assert_eq!(line["span"]["conference_id"], 7);
    }
}
