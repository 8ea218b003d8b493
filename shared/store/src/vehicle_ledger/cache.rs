//! The vehicle states a ledger service's deliveries last committed, kept in memory: the next delivery for
//! the vehicle starts from the kept state instead of reading the vehicle, its facts and what it published
//! again (under ingest, those reads were ≈ 12 % of the server's CPU; docs/bench.md).
//!
//! A kept state is only ever a guess: the commit computed from it carries the version it was read at, and
//! the store refuses it when anything else committed the vehicle since (the sweep, the daily re-valuation,
//! an owner's change of an item, another process) — then the delivery reads the vehicle and is computed
//! again ([`super::apply_steps`]). A state is taken out while a delivery works on it, so a failed delivery
//! leaves nothing behind to be trusted.
//!
//! Whether a service keeps states at all is the composition root's choice ([`KeptStates`]): a kept state
//! pays off only where this process's consumer is the vehicle's sole writer of deliveries (embedded mode).
//! Where other processes deliver the same vehicles' events (SQS workers, Lambda functions) the next
//! delivery of a vehicle usually lands elsewhere, so a kept state would mostly be stale — one wasted
//! evaluation and a refused commit — and hold memory for nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use super::LedgerState;

/// How many vehicles' states a service keeps when it keeps any: a few hundred states of a few KiB each.
pub const KEPT_STATES: usize = 512;

/// Whether a ledger service keeps the states its deliveries committed; set by the composition root, which
/// alone knows who else writes the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeptStates {
    /// None: every delivery reads its vehicle. Where other processes deliver the same vehicles' events
    /// (SQS workers, Lambda functions, `vwc up --bus aws`).
    #[default]
    None,
    /// The last [`KEPT_STATES`] vehicles' states: where this process's consumer is the only one delivering
    /// the vehicles' events (embedded mode, the in-process bus).
    Recent,
}

impl KeptStates {
    /// How many states this setting keeps at most.
    pub fn capacity(self) -> usize {
        match self {
            KeptStates::None => 0,
            KeptStates::Recent => KEPT_STATES,
        }
    }
}

/// Vehicle states kept by id, at most `capacity`; the one kept longest ago goes first.
pub struct StateCache<S> {
    capacity: usize,
    entries: Mutex<Entries<S>>,
}

struct Entries<S> {
    by_vehicle: HashMap<String, (S, u64)>,
    /// Counts `keep` calls: the age of an entry.
    clock: u64,
}

impl<S> Default for StateCache<S> {
    /// Keeps nothing ([`KeptStates::None`]).
    fn default() -> StateCache<S> {
        StateCache::new(0)
    }
}

impl<S> From<KeptStates> for StateCache<S> {
    fn from(kept: KeptStates) -> StateCache<S> {
        StateCache::new(kept.capacity())
    }
}

impl<S> StateCache<S> {
    /// A cache of at most `capacity` states (0: keeps none).
    pub fn new(capacity: usize) -> StateCache<S> {
        StateCache {
            capacity,
            entries: Mutex::new(Entries {
                by_vehicle: HashMap::new(),
                clock: 0,
            }),
        }
    }

    /// The state kept for `vehicle_id`, taken out (a delivery works on it and keeps it again once
    /// committed).
    pub fn take(&self, vehicle_id: &str) -> Option<S> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .by_vehicle
            .remove(vehicle_id)
            .map(|(state, _)| state)
    }

    /// The most states this cache keeps (0: it keeps none).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many states are kept.
    pub fn len(&self) -> usize {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.by_vehicle.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<S: LedgerState> StateCache<S> {
    /// Keeps `state`, as committed, for the next delivery of its vehicle; the state kept longest ago
    /// makes room when the cache is full.
    pub fn keep(&self, state: S) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.clock += 1;
        let now = entries.clock;
        let id = state.vehicle_id().to_string();
        if entries.by_vehicle.len() >= self.capacity && !entries.by_vehicle.contains_key(&id) {
            let oldest = (entries.by_vehicle.iter())
                .min_by_key(|(_, (_, kept))| *kept)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                entries.by_vehicle.remove(&oldest);
            }
        }
        entries.by_vehicle.insert(id, (state, now));
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The smallest ledger state and commit, for this module's tests and its siblings'.
    #[derive(Debug, Default, Clone, PartialEq)]
    pub(in super::super) struct State {
        vehicle_id: String,
        version: u64,
        revisions: BTreeMap<String, u32>,
    }

    #[derive(Default)]
    pub(in super::super) struct Commit {
        pub(in super::super) ledger: crate::vehicle_ledger::LedgerChange,
    }
    crate::ledger_commit!(Commit on State);

    #[test]
    fn a_kept_state_is_taken_once_and_the_oldest_makes_room() {
        let cache = StateCache::new(2);
        for id in ["veh_a", "veh_b"] {
            cache.keep(State::new(id));
        }
        assert_eq!(
            cache.take("veh_a").map(|s| s.vehicle_id),
            Some("veh_a".into())
        );
        assert_eq!(cache.take("veh_a"), None, "taken out");
        cache.keep(State::new("veh_a"));
        cache.keep(State::new("veh_c"));
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.take("veh_b"),
            None,
            "kept longest ago, so it made room"
        );
        assert!(cache.take("veh_a").is_some() && cache.take("veh_c").is_some());
        let none = StateCache::new(0);
        none.keep(State::new("veh_a"));
        assert!(none.is_empty());
    }
}
