//! What a ledger service holds beside its own logic, written once: its store, its clock, the per-vehicle
//! locks its deliveries queue on, and the vehicle states it keeps between deliveries.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use vwc_clock::SharedClock;

use super::{KeptStates, StateCache, VehicleLocks};

/// A ledger service's store, clock, locks and kept states ([`super::LedgerService::parts`]).
pub struct LedgerParts<S: ?Sized, V> {
    store: Arc<S>,
    clock: SharedClock,
    /// Concurrent deliveries for one vehicle queue here instead of conflicting in the store.
    locks: Arc<VehicleLocks>,
    /// The states the consumer last committed (checked against the stored version by every commit);
    /// none unless the composition root asks ([`super::LedgerService::with_kept_states`]).
    states: Arc<StateCache<V>>,
}

// By hand: a derive would ask `S: Clone` and `V: Clone`, and only the `Arc`s are cloned.
impl<S: ?Sized, V> Clone for LedgerParts<S, V> {
    fn clone(&self) -> Self {
        LedgerParts {
            store: self.store.clone(),
            clock: self.clock.clone(),
            locks: self.locks.clone(),
            states: self.states.clone(),
        }
    }
}

impl<S: ?Sized, V> LedgerParts<S, V> {
    /// Over `store`, by the wall clock, keeping no states.
    pub fn new(store: Arc<S>) -> LedgerParts<S, V> {
        LedgerParts {
            store,
            clock: vwc_clock::system(),
            locks: Arc::default(),
            states: Arc::default(),
        }
    }

    pub fn with_clock(self, clock: SharedClock) -> LedgerParts<S, V> {
        LedgerParts { clock, ..self }
    }

    pub fn with_kept_states(self, kept: KeptStates) -> LedgerParts<S, V> {
        LedgerParts {
            states: Arc::new(kept.into()),
            ..self
        }
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn locks(&self) -> &VehicleLocks {
        &self.locks
    }

    pub fn states(&self) -> &StateCache<V> {
        &self.states
    }
}

/// When an update decides: the day it evaluates for and the instant it stamps events with (a daily job's
/// day may differ from the day of its "now").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsOf {
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
}

impl AsOf {
    /// The day of `now`, at `now`.
    pub fn at(now: DateTime<Utc>) -> AsOf {
        AsOf {
            today: now.date_naive(),
            now,
        }
    }
}
