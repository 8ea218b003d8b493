//! Envelopes this process has just written to a SQLite outbox, kept typed until its relay reads their rows
//! back, so the relay does not parse the JSON it has just written (≈ 5 % of the server's CPU under webhook
//! ingest, docs/bench.md). A kept envelope stands in for its row only while the row holds exactly the JSON
//! it was written as; anything else — a row written by another process, before a restart, changed since, or
//! an envelope that made room for newer ones — is parsed from the row as before.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use uuid::Uuid;
use vwc_contracts::Envelope;

/// At most this many envelopes are kept (the relay publishes up to 800 rows at once); the oldest make room.
/// A kept envelope of a transaction that rolled back is never asked for and goes the same way.
const MOST: usize = 1_024;

struct Kept {
    /// The row's JSON, shared with the row written (not copied).
    json: Arc<str>,
    envelope: Envelope,
}

#[derive(Default)]
struct Shelf {
    by_id: HashMap<Uuid, Kept>,
    /// Ids in the order kept (some already taken): the oldest leaves first.
    order: VecDeque<Uuid>,
}

static SHELF: LazyLock<Mutex<Shelf>> = LazyLock::new(Default::default);

/// Whether a relay of this process has read a SQLite outbox. Until one has, nothing is kept: in a process
/// without one (`vwc sweep`, the sweep bench) every kept envelope would only make room for the next — on
/// the first sweep's ≈ 316,000 envelopes ≈ 0.5 s of CPU for nothing (docs/bench.md).
static READ_BY_A_RELAY: AtomicBool = AtomicBool::new(false);

/// Called by the SQLite outbox's reads: from now on the envelopes this process enqueues are kept.
pub(crate) fn read_by_a_relay() {
    READ_BY_A_RELAY.store(true, Ordering::Relaxed);
}

/// Keeps `envelope`, whose outbox row holds `json`, for the relay (once a relay reads).
pub(crate) fn keep(envelope: Envelope, json: Arc<str>) {
    if !READ_BY_A_RELAY.load(Ordering::Relaxed) {
        return;
    }
    let id = envelope.id;
    let mut shelf = SHELF
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    shelf.by_id.insert(id, Kept { json, envelope });
    shelf.order.push_back(id);
    while shelf.order.len() > MOST {
        if let Some(oldest) = shelf.order.pop_front() {
            shelf.by_id.remove(&oldest);
        }
    }
}

/// The envelope kept for the outbox row of `event_id` holding `json`: taken, so it is handed out once. `None`
/// when none is kept or the row's JSON is not exactly what it was written as.
pub(crate) fn take(event_id: &str, json: &str) -> Option<Envelope> {
    let id = Uuid::parse_str(event_id).ok()?;
    let mut shelf = SHELF
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let kept = shelf.by_id.remove(&id)?;
    (*kept.json == *json).then_some(kept.envelope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::tests::envelope;

    #[test]
    fn a_kept_envelope_is_handed_out_once_and_only_for_the_json_it_was_written_as() {
        read_by_a_relay();
        let (a, b) = (envelope(), envelope());
        let (json_a, json_b) = (
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap(),
        );
        keep(a.clone(), json_a.as_str().into());
        keep(b.clone(), json_b.as_str().into());
        assert_eq!(take(&a.id.to_string(), &json_a), Some(a.clone()));
        assert_eq!(take(&a.id.to_string(), &json_a), None, "taken once");
        // A row changed since it was written is read from the row; the kept envelope is dropped.
        let changed = json_b.replace("org_a", "org_b");
        assert_eq!(take(&b.id.to_string(), &changed), None);
        assert_eq!(take(&b.id.to_string(), &json_b), None);
        assert_eq!(take("not-an-id", &json_b), None);
    }

    #[test]
    fn the_oldest_kept_envelopes_make_room() {
        read_by_a_relay();
        let kept: Vec<(Envelope, String)> = (0..MOST + 10)
            .map(|_| {
                let e = envelope();
                let json = serde_json::to_string(&e).unwrap();
                keep(e.clone(), json.as_str().into());
                (e, json)
            })
            .collect();
        // Other tests keep envelopes beside these: only the newest are sure to be there.
        let (newest, json) = kept.last().unwrap();
        assert_eq!(take(&newest.id.to_string(), json).as_ref(), Some(newest));
        for (e, json) in &kept[..10] {
            assert_eq!(take(&e.id.to_string(), json), None);
        }
        let shelf = SHELF.lock().unwrap();
        assert!(shelf.order.len() <= MOST && shelf.by_id.len() <= MOST);
    }
}
