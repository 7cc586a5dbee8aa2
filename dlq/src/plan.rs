//! What `replay` and `purge` will do, decided from the dead letters alone (no I/O).

use std::collections::BTreeMap;

use crate::letter::{DeadLetter, Id, Origin};

/// One dead letter, or all that are not purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    One(Id),
    All,
}

/// One record to produce again, and the other dead letters of the same original record
/// (every consumer group that gave up on a record dead-letters its own copy).
#[derive(Debug, PartialEq)]
pub struct Replay<'a> {
    pub letter: &'a DeadLetter,
    pub copies: Vec<Id>,
}

/// The replays of `letters`: one per original record (its first dead letter), in order.
/// Letters whose payload no consumer can read are skipped unless `force` (they would be
/// dead-lettered again at once); they are returned second.
pub fn replays(letters: &[DeadLetter], force: bool) -> (Vec<Replay<'_>>, Vec<&DeadLetter>) {
    let mut out: Vec<Replay<'_>> = Vec::new();
    let mut skipped = Vec::new();
    let mut seen: BTreeMap<(String, i32, i64), usize> = BTreeMap::new();
    for letter in letters {
        if !force && !letter.is_readable() {
            skipped.push(letter);
            continue;
        }
        let origin = letter.origin().map(
            |Origin {
                 topic,
                 partition,
                 offset,
             }| (topic, partition, offset),
        );
        if let Some(&at) = origin.as_ref().and_then(|o| seen.get(o)) {
            out[at].copies.push(letter.id);
            continue;
        }
        if let Some(origin) = origin {
            seen.insert(origin, out.len());
        }
        out.push(Replay {
            letter,
            copies: Vec::new(),
        });
    }
    (out, skipped)
}

/// What purging `target` removes from `unpurged` (the letters not purged yet, in order): all
/// of them, or, for one ID, that letter and the ones before it in its partition (what is
/// purged is everything before a committed offset). `Err` when the ID is not among them.
pub fn purged(unpurged: &[DeadLetter], target: Target) -> Result<Vec<&DeadLetter>, Id> {
    match target {
        Target::All => Ok(unpurged.iter().collect()),
        Target::One(id) => {
            if !unpurged.iter().any(|l| l.id == id) {
                return Err(id);
            }
            Ok(unpurged
                .iter()
                .filter(|l| l.id.partition == id.partition && l.id.offset <= id.offset)
                .collect())
        }
    }
}

/// The offsets to commit so that `purged` is hidden: per partition, the one after its last;
/// the other partitions' `committed` offsets again, unchanged (Kafka forgets the offsets of a
/// group without members some time after their last commit: `offsets.retention.minutes`).
pub fn commits(purged: &[&DeadLetter], committed: &[(i32, i64)]) -> Vec<(i32, i64)> {
    let mut next: BTreeMap<i32, i64> = committed.iter().copied().collect();
    for l in purged {
        let at = next.entry(l.id.partition).or_insert(0);
        *at = (*at).max(l.id.offset + 1);
    }
    next.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(partition: i32, offset: i64, from: (i32, i64), payload: &str) -> DeadLetter {
        let h = |k: &str, v: String| (k.to_owned(), Some(v.into_bytes()));
        DeadLetter {
            id: Id { partition, offset },
            time: None,
            key: Some(b"6".to_vec()),
            headers: vec![
                h("hifive.dlq.topic", "hifive".into()),
                h("hifive.dlq.partition", from.0.to_string()),
                h("hifive.dlq.offset", from.1.to_string()),
            ],
            payload: payload.as_bytes().to_vec(),
        }
    }

    const EVENT: &str = r#"{"eventType":"RoomRegistered","timestamp":"2026-01-01T00:00:00Z","eventId":"6f1c3c8e-5c1e-4f7e-9d0e-1a2b3c4d5e6f","roomNumber":6,"roomStatus":"EMPTY","usedCount":0}"#;

    #[test]
    fn copies_of_one_record_are_replayed_once_and_unreadable_ones_only_by_force() {
        let letters = [
            letter(0, 0, (1, 7), EVENT),
            letter(1, 0, (1, 7), EVENT),
            letter(0, 1, (2, 3), "not json {"),
            letter(2, 0, (1, 8), EVENT),
        ];
        let (replays, skipped) = replays(&letters, false);
        let ids: Vec<(Id, Vec<Id>)> = replays
            .iter()
            .map(|r| (r.letter.id, r.copies.clone()))
            .collect();
        let id = |p, o| Id {
            partition: p,
            offset: o,
        };
        assert_eq!(ids, vec![(id(0, 0), vec![id(1, 0)]), (id(2, 0), vec![])]);
        assert_eq!(skipped.iter().map(|l| l.id).collect::<Vec<_>>(), [id(0, 1)]);
        let (forced, skipped) = super::replays(&letters, true);
        assert_eq!(forced.len(), 3);
        assert!(skipped.is_empty());
    }

    #[test]
    fn purging_one_takes_the_earlier_ones_of_its_partition_along() {
        let letters = [
            letter(0, 3, (0, 1), EVENT),
            letter(0, 4, (0, 2), EVENT),
            letter(0, 5, (0, 3), EVENT),
            letter(1, 2, (1, 1), EVENT),
        ];
        let id = |p, o| Id {
            partition: p,
            offset: o,
        };
        let gone = purged(&letters, Target::One(id(0, 4))).unwrap();
        assert_eq!(
            gone.iter().map(|l| l.id).collect::<Vec<_>>(),
            [id(0, 3), id(0, 4)]
        );
        assert_eq!(commits(&gone, &[]), [(0, 5)]);
        assert_eq!(commits(&gone, &[(0, 3), (1, 2)]), [(0, 5), (1, 2)]);
        assert_eq!(purged(&letters, Target::One(id(0, 9))), Err(id(0, 9)));
        let all = purged(&letters, Target::All).unwrap();
        assert_eq!(commits(&all, &[]), [(0, 6), (1, 3)]);
        assert!(commits(&[], &[]).is_empty());
    }
}
