//! One vehicle's optimistic update, written once for both ledger services: read the state, change it in
//! memory, decide what that publishes, commit; again from the top when another writer got there first.

use std::collections::BTreeMap;

use async_trait::async_trait;
use vwc_contracts::VehicleId;

use super::{Applied, CommitOutcome, LedgerCommit};
use crate::{StoreError, StoreResult};

/// Attempts of one update before giving up on a vehicle that keeps changing under it.
pub const MAX_ATTEMPTS: u32 = 16;

/// Why an update of a vehicle failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("vehicle {0} kept changing; gave up after {MAX_ATTEMPTS} attempts")]
    Contention(String),
}

/// What a ledger keeps of one vehicle, as the shared update sees it. Implemented with
/// [`ledger_commit!`](crate::ledger_commit)`(Commit on State)` on a struct with the fields `vehicle_id: String`,
/// `version: u64` and `revisions: BTreeMap<String, u32>`.
pub trait LedgerState: Send + Sync + 'static {
    /// The change of this state a commit carries.
    type Commit: LedgerCommit;
    fn vehicle_id(&self) -> &str;
    /// Bumped by every commit; 0 when nothing is stored.
    fn version(&self) -> u64;
    /// The latest revision applied of each record that was corrected or voided (revision 2 onwards; an
    /// original record is revision 1). The bus keeps no order, so a revision may arrive before the record
    /// it revises, or before an older revision: those lose to what is recorded here.
    fn revisions(&mut self) -> &mut BTreeMap<String, u32>;
    /// A commit computed from this state (its version), claiming `envelope_id` when given.
    fn begin(&self, envelope_id: Option<&str>) -> Self::Commit;
    /// Counts a commit of this state as applied: its version is one more, as the store now holds it.
    fn advance(&mut self);
    /// A vehicle of which nothing is stored yet: version 0.
    fn unstored(vehicle_id: &str) -> Self
    where
        Self: Sized;
}

/// The part of a ledger service's store port that reads and writes one vehicle.
#[async_trait]
pub trait VehicleLedger: Send + Sync {
    type State: LedgerState;

    /// The state of one vehicle, read consistently (one snapshot); version 0 and nothing else for an
    /// id never seen.
    async fn vehicle_state(&self, vehicle_id: &VehicleId) -> StoreResult<Self::State>;

    /// Applies many commits in as few transactions as the backend allows; one outcome per commit, in
    /// order. A commit that conflicts is skipped; the others still apply.
    async fn commit_batch(
        &self,
        commits: Vec<<Self::State as LedgerState>::Commit>,
    ) -> StoreResult<Vec<CommitOutcome>>;

    /// The most commits [`VehicleLedger::commit_batch`] applies in one transaction: all of them unless
    /// the backend says otherwise.
    fn commits_per_transaction(&self) -> usize {
        usize::MAX
    }

    async fn commit(
        &self,
        commit: <Self::State as LedgerState>::Commit,
    ) -> StoreResult<CommitOutcome> {
        let mut outcomes = self.commit_batch(vec![commit]).await?;
        Ok(outcomes.pop().unwrap_or(CommitOutcome::Conflict))
    }
}

/// Reads the vehicle, applies `change` to the state in memory (recording what to store in the commit,
/// which claims `claim`), lets `decide` fill in what the changed state publishes, and commits; again from
/// the top on a conflict. `change` may refuse (`Err`, nothing written). A duplicate delivery (the claim
/// was applied before) writes nothing and decides nothing.
pub async fn update<S, U, E>(
    store: &S,
    vehicle_id: &VehicleId,
    claim: Option<&str>,
    mut change: impl FnMut(&mut S::State, &mut <S::State as LedgerState>::Commit) -> Result<(), E>,
    mut decide: impl FnMut(&S::State, &mut <S::State as LedgerState>::Commit) -> U::Decision,
) -> Result<Result<U, E>, UpdateError>
where
    S: VehicleLedger + ?Sized,
    U: Applied,
{
    for _ in 0..MAX_ATTEMPTS {
        let mut state = store.vehicle_state(vehicle_id).await?;
        let mut commit = state.begin(claim);
        if let Err(refused) = change(&mut state, &mut commit) {
            return Ok(Err(refused));
        }
        let decision = decide(&state, &mut commit);
        match store.commit(commit).await? {
            CommitOutcome::Conflict => continue,
            outcome @ CommitOutcome::Duplicate => return Ok(Ok(U::of(outcome, None))),
            outcome @ CommitOutcome::Applied => return Ok(Ok(U::of(outcome, Some(decision)))),
        }
    }
    Err(UpdateError::Contention(vehicle_id.to_string()))
}
