//! The valuation store port. It owns per-vehicle state (the vehicle, the facts that move its value, a
//! fingerprint of every point it published) and the last re-valuation day per organisation.
//!
//! Writes are optimistic like the scheduler's: a [`VehicleCommit`] names the version it was computed from,
//! and the store applies it (inbox claim, state, outbox envelopes: one transaction) only if the vehicle is
//! still at that version.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use vwc_contracts::{OrgId, VehicleId};
pub use vwc_store::vehicle_ledger::{CommitOutcome, LedgerChange, VehicleLedger};
use vwc_store::vehicle_ledger::{
    DailyRuns, DayLedger, Ledger, StoredVehicle, VehiclePage, parse_day,
};
use vwc_store::{Plumbing, StoreResult};

use crate::model::{Fact, VehicleProfile};

/// What was last published of one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedPoint {
    pub fingerprint: u64,
    pub amount_cents: u64,
}

/// Everything the service keeps about one vehicle. An unknown id gives version 0 and nothing else; facts
/// may arrive before the registration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VehicleState {
    pub vehicle_id: String,
    pub profile: Option<VehicleProfile>,
    pub version: u64,
    /// Sorted by time, then event id.
    pub facts: Vec<Fact>,
    /// History points published, by day.
    pub published: BTreeMap<NaiveDate, PublishedPoint>,
    /// The current value last published, and its day.
    pub current: Option<(NaiveDate, PublishedPoint)>,
    /// See [`LedgerState::revisions`](vwc_store::vehicle_ledger::LedgerState::revisions).
    pub revisions: BTreeMap<String, u32>,
}

/// What both adapters store of a vehicle beside its id and version: the profile as JSON (absent until
/// the registration) and the current value (absent until one was published).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct VehicleFields {
    #[serde(default, deserialize_with = "vwc_store::vehicle_ledger::json_text")]
    pub profile: Option<VehicleProfile>,
    #[serde(flatten)]
    pub current: Option<StoredCurrent>,
}

/// The current value as stored: three fields, written together.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct StoredCurrent {
    pub current_on: String,
    pub current_fingerprint: i64,
    pub current_amount: i64,
}

/// The valuation's vehicle ledger keeps these states; its tables (`sqlite`) and collections (`mongo`) say the
/// rest.
impl Ledger for VehicleState {
    type Fields = VehicleFields;
    const CONSUMER: &'static str = crate::CONSUMER;
    const DAYS: DayLedger = REVALUES;

    /// The state of a stored vehicle, before its facts and published points are read.
    fn state_of(stored: StoredVehicle<VehicleFields>) -> StoreResult<VehicleState> {
        let current = stored
            .fields
            .current
            .map(|c| {
                let point = PublishedPoint {
                    fingerprint: c.current_fingerprint as u64,
                    amount_cents: c.current_amount as u64,
                };
                parse_day(&c.current_on).map(|on| (on, point))
            })
            .transpose()?;
        Ok(VehicleState {
            vehicle_id: stored.id,
            profile: stored.fields.profile,
            version: stored.version as u64,
            current,
            ..VehicleState::default()
        })
    }
}

/// When each organisation's vehicles were last re-valued (`revalues`: organisation, day, `revalued_at`).
const REVALUES: DayLedger = DayLedger {
    name: "revalues",
    stamped: "revalued_at",
};

/// One atomic change of a vehicle's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VehicleCommit {
    /// Which vehicle, from which version, the envelope claimed in the inbox (consumer `valuation`), the
    /// revisions applied with the facts they remove, and the events published.
    pub ledger: LedgerChange,
    pub register: Option<VehicleProfile>,
    /// Facts to add; one already stored (same event id) is ignored.
    pub facts: Vec<Fact>,
    /// History points published by this commit (replacing those of the same day).
    pub published: Vec<(NaiveDate, PublishedPoint)>,
    pub current: Option<(NaiveDate, PublishedPoint)>,
}

vwc_store::ledger_commit!(VehicleCommit on VehicleState);

impl VehicleCommit {
    /// Whether the commit changes anything besides claiming its envelope.
    pub fn changes_state(&self) -> bool {
        self.register.is_some()
            || !self.facts.is_empty()
            || !self.ledger.remove_facts.is_empty()
            || !self.ledger.revisions.is_empty()
            || !self.published.is_empty()
            || self.current.is_some()
            || !self.ledger.outbox.is_empty()
    }
}

/// The valuation's store: a vehicle's state read and committed through [`VehicleLedger`], pages of
/// vehicles for the daily job, and the days it ran.
#[async_trait]
pub trait ValuationStore: Plumbing + DailyRuns + VehicleLedger<State = VehicleState> {
    /// Registered vehicles of `org` (or of every organisation), by id, strictly after `after`, at most
    /// `limit`. With `history: false`, `published` holds only the newest history point (all the daily
    /// job needs).
    async fn vehicle_states(
        &self,
        org: Option<&OrgId>,
        after: Option<&VehicleId>,
        limit: usize,
        history: bool,
    ) -> StoreResult<Vec<VehicleState>> {
        self.vehicle_page(VehiclePage::new(org, after, limit, history))
            .await
    }

    /// [`ValuationStore::vehicle_states`] of one page.
    async fn vehicle_page(&self, page: RevaluePage<'_>) -> StoreResult<Vec<VehicleState>>;
}

/// A page of the daily job's read; its query says whether to read every history point (`false`: the
/// newest only).
pub type RevaluePage<'a> = VehiclePage<'a, bool>;
