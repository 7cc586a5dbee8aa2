//! Reading what code recorded, for tests (feature `testing`): a
//! [`DebuggingRecorder`] in place of Prometheus, its samples as `name{label=value,...}`.

use std::collections::HashMap;

pub use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// What `snapshotter`'s recorder holds now, as `name{label=value,...}` → value (counters
/// count since the last reading).
pub fn readings(snapshotter: &Snapshotter) -> HashMap<String, DebugValue> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (_, key) = key.into_parts();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

/// Runs `f` with a recorder of its own; what it recorded.
pub fn recorded(f: impl FnOnce()) -> HashMap<String, DebugValue> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, f);
    readings(&snapshotter)
}

/// The counter `key` (`name{label=value,...}`) in `readings`; 0 when it was not counted.
///
/// # Panics
/// When `key` is not a counter (a test's mistake).
pub fn count(readings: &HashMap<String, DebugValue>, key: &str) -> u64 {
    match readings.get(key) {
        Some(DebugValue::Counter(n)) => *n,
        None => 0,
        Some(other) => panic!("{key} is not a counter: {other:?}"),
    }
}

/// Counter `name` by the value of its label `label` (those counted since the last reading),
/// sorted by that value.
pub fn counted_by(snapshotter: &Snapshotter, name: &str, label: &str) -> Vec<(String, u64)> {
    let mut counted: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let key = key.key();
            let by = key.labels().find(|l| l.key() == label)?.value().to_owned();
            match value {
                DebugValue::Counter(n) if key.name() == name && n > 0 => Some((by, n)),
                _ => None,
            }
        })
        .collect();
    counted.sort();
    counted
}
