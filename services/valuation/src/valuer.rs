//! The valuation service's use cases over its store: apply a registration or a timeline event, re-value
//! as time passes, forecast. Each reads the vehicle's state, lets the pure model decide, and commits
//! against the version it read (retrying when another writer got there first).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use vwc_contracts::valuation::{
    Valuation, ValuationDrop, ValuationForecast, ValuationPointKind, ValuationUpdated,
};
use vwc_contracts::{Envelope, VehicleId};
use vwc_store::StoreError;
pub use vwc_store::vehicle_ledger::UpdateError;
use vwc_store::vehicle_ledger::{Applied, AsOf, Decide, LedgerParts, LedgerService, update};

use crate::SOURCE;
use crate::model::{self, Fact, VehicleProfile};
use crate::store::{CommitOutcome, PublishedPoint, ValuationStore, VehicleCommit, VehicleState};

/// A drop caused by an event older than this is history, not news: it is published without `drop`.
pub const DROP_NEWS_DAYS: i64 = 30;
/// Longest forecast, in months.
pub const MAX_FORECAST_MONTHS: u32 = 60;

pub type Clock = vwc_clock::SharedClock;

#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    /// Unknown here, or of another organisation: the same answer.
    #[error("vehicle not found")]
    VehicleNotFound,
    /// Sold: not valued after its sale (its final value is the sale's price), so nothing to forecast.
    #[error(
        "the vehicle was sold on {0}: it is not valued after its sale (its final value is the sale price, the vehicle's `sale`), so it has no forecast"
    )]
    Sold(NaiveDate),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How much of the history a decision recomputes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every point: the facts changed, so any point may have.
    Full,
    /// Only points newer than the newest published one, and the current value: time passed, the facts
    /// did not change.
    Recent,
    /// Points on or after this day, and the current value: a fact of this day was added. A point depends
    /// only on the facts up to its day and on where the age curve starts (which only a new-vehicle
    /// acquisition moves: that one is decided in full), so the points before it stand as published.
    Since(NaiveDate),
}

impl Scope {
    /// The scope a new fact needs.
    pub fn after(fact: &Fact) -> Scope {
        match fact.detail {
            model::FactDetail::Acquisition { new: true, .. } => Scope::Full,
            _ => Scope::Since(fact.day()),
        }
    }
}

impl Scope {
    /// One scope that recomputes whatever `self` or `other` would: the earlier day of two, everything
    /// when either is.
    pub fn widen(self, other: Scope) -> Scope {
        match (self, other) {
            (Scope::Full, _) | (_, Scope::Full) => Scope::Full,
            (Scope::Since(a), Scope::Since(b)) => Scope::Since(a.min(b)),
            (Scope::Since(day), Scope::Recent) | (Scope::Recent, Scope::Since(day)) => {
                Scope::Since(day)
            }
            (Scope::Recent, Scope::Recent) => Scope::Recent,
        }
    }
}

/// A stable fingerprint of a published point: its JSON hashed.
pub fn fingerprint(v: &Valuation) -> u64 {
    let json = serde_json::to_vec(v).expect("a valuation serialises");
    let digest = Sha256::digest(&json);
    // Stored as a signed 64-bit integer in both backends.
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) >> 1
}

/// What a decision publishes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub points: Vec<ValuationUpdated>,
}

/// Computes the points of `state` as of `today`, fills the commit's published fingerprints and outbox
/// with what changed, and returns what it publishes; nothing before the vehicle is registered. A sold
/// vehicle is valued up to its sale's day only, and has no current value: its final value is the sale.
pub fn decide(
    state: &VehicleState,
    commit: &mut VehicleCommit,
    when: AsOf,
    traceparent: Option<&str>,
    scope: Scope,
) -> Decision {
    let AsOf { today, now } = when;
    let Some(profile) = state.profile.as_ref() else {
        return Decision::default();
    };
    let sold_on = profile.sold_on.filter(|sold| *sold <= today);
    let today = sold_on.unwrap_or(today);
    let facts = &state.facts;
    let mut out = Vec::new();
    let mut publish = |valuation: Valuation, previous: Option<u64>, drop: Option<ValuationDrop>| {
        out.push(ValuationUpdated {
            vehicle_id: profile.id.clone(),
            vehicle_name: profile.name.clone(),
            valuation,
            previous_amount_cents: previous,
            drop,
            computed_at: now,
        });
    };
    let newest_published = state.published.iter().next_back().map(|(d, p)| (*d, *p));
    let dates = with_days_published(model::history_dates(profile, facts, today), state, today);
    // The amount of the point before: the `previousAmountCents` published, and what a drop is measured
    // from (points skipped as unchanged by `Recent` are not, as before).
    let mut previous_amount: Option<u64> = None;
    let mut drop_base: Option<u64> = None;
    for (day, kind) in dates {
        match scope {
            Scope::Recent => {
                if let Some((newest, point)) = newest_published
                    && day <= newest
                {
                    if day == newest {
                        previous_amount = Some(point.amount_cents);
                    }
                    continue;
                }
            }
            Scope::Since(since) if day < since => {
                if let Some(point) = state.published.get(&day) {
                    previous_amount = Some(point.amount_cents);
                    drop_base = Some(point.amount_cents);
                    continue;
                }
            }
            Scope::Since(_) | Scope::Full => {}
        }
        let point = model::value_on(profile, facts, day, kind);
        let fp = fingerprint(&point);
        let unchanged = state
            .published
            .get(&day)
            .is_some_and(|p| p.fingerprint == fp);
        if !unchanged {
            let drop = drop_base.and_then(|from| {
                let cause = model::drop_cause(from, &point, facts)?;
                (now - cause.at <= Duration::days(DROP_NEWS_DAYS)).then(|| ValuationDrop {
                    drop_id: format!("valdrop_{}", cause.event_id),
                    from_cents: from,
                    to_cents: point.amount_cents,
                    drop_basis_points: model::drop_basis_points(from, point.amount_cents),
                    cause_event_id: cause.event_id.clone(),
                    cause_title: cause.title.clone(),
                })
            });
            commit.published.push((
                day,
                PublishedPoint {
                    fingerprint: fp,
                    amount_cents: point.amount_cents,
                },
            ));
            publish(point.clone(), previous_amount, drop);
        }
        previous_amount = Some(point.amount_cents);
        drop_base = Some(point.amount_cents);
    }
    let current = model::value_on(profile, facts, today, ValuationPointKind::Current);
    let fp = fingerprint(&current);
    if sold_on.is_none() && state.current.map(|(d, p)| (d, p.fingerprint)) != Some((today, fp)) {
        commit.current = Some((
            today,
            PublishedPoint {
                fingerprint: fp,
                amount_cents: current.amount_cents,
            },
        ));
        publish(current, previous_amount, None);
    }
    commit.ledger.outbox = out
        .iter()
        .map(|u| {
            Envelope::new(
                SOURCE,
                &profile.org_id,
                Some(&profile.id),
                traceparent.map(str::to_string),
                u.clone(),
            )
        })
        .collect();
    Decision { points: out }
}

/// `dates` and every day up to `today` a point was published for that is no longer one of them, as an event
/// point, in order. A correction or a void can take a record away from its day (voided, or moved to another
/// day); `ValuationUpdated` cannot withdraw a point, so the day keeps one, valued again from the records as
/// they now read — not the value that counted the record. That holds for days before the history's new
/// first day too (its earliest record voided or moved later): their points counted the record as well.
fn with_days_published(
    mut dates: Vec<(NaiveDate, ValuationPointKind)>,
    state: &VehicleState,
    today: NaiveDate,
) -> Vec<(NaiveDate, ValuationPointKind)> {
    let before = dates.len();
    for &day in state.published.range(..=today).map(|(day, _)| day) {
        if dates[..before]
            .binary_search_by_key(&day, |(d, _)| *d)
            .is_err()
        {
            dates.push((day, ValuationPointKind::Event));
        }
    }
    if dates.len() > before {
        dates.sort_unstable_by_key(|(day, _)| *day);
    }
    dates
}

/// What an update did.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    pub outcome: CommitOutcome,
    pub decision: Decision,
}

impl Applied for Updated {
    type Decision = Decision;

    fn outcome(&self) -> CommitOutcome {
        self.outcome
    }

    fn of(outcome: CommitOutcome, decision: Option<Decision>) -> Updated {
        Updated {
            outcome,
            decision: decision.unwrap_or_default(),
        }
    }
}

/// Reads the vehicle, applies `change` in memory (recording what to store in the commit), decides as of
/// `now`, and commits; again from the top on a conflict. `change` may refuse.
pub async fn update_vehicle<E>(
    store: &dyn ValuationStore,
    vehicle_id: &VehicleId,
    claim: Option<&str>,
    now: DateTime<Utc>,
    traceparent: Option<&str>,
    scope: Scope,
    change: impl FnMut(&mut VehicleState, &mut VehicleCommit) -> Result<(), E>,
) -> Result<Result<Updated, E>, UpdateError> {
    update(store, vehicle_id, claim, change, |state, commit| {
        decide(state, commit, AsOf::at(now), traceparent, scope)
    })
    .await
}

/// The valuation service's operations, for the consumer, the HTTP routes and the daily job. Its store,
/// clock, locks and kept states, its constructor (`new`) and the builders over them (`with_clock`,
/// `with_kept_states`), come with [`LedgerService`].
#[derive(Clone)]
pub struct Valuer(LedgerParts<dyn ValuationStore, VehicleState>);

// Facts are kept sorted by time (then odometer, then event id), as the model reads them.
vwc_store::vehicle_facts!(VehicleState {
    registration: profile: VehicleProfile = VehicleProfile::from_vehicle,
    fact: Fact = Fact::from_event,
    sorted_by: model::sort_facts,
});

/// A registration values the vehicle in full; a timeline event that moves its value re-values it from
/// the fact's day on ([`Scope::after`]), a correction or void in full (the fact may have moved to another
/// day, or gone).
impl LedgerService for Valuer {
    const CONSUMER: &'static str = crate::CONSUMER;

    type State = VehicleState;
    type Store = dyn ValuationStore;
    type Scope = Scope;
    const EVERYTHING: Scope = Scope::Full;
    type Updated = Updated;

    fn parts(&self) -> &LedgerParts<dyn ValuationStore, VehicleState> {
        &self.0
    }

    fn scope_after(fact: &Fact) -> Scope {
        Scope::after(fact)
    }

    fn widen(a: Scope, b: Scope) -> Scope {
        a.widen(b)
    }

    fn decide(
        &self,
        state: &VehicleState,
        commit: &mut VehicleCommit,
        how: Decide<'_, Scope>,
    ) -> Decision {
        decide(
            state,
            commit,
            AsOf::at(self.now()),
            how.traceparent,
            how.scope,
        )
    }

    /// The points published and the current value, as the stores keep them.
    fn settle(state: &mut VehicleState, commit: &VehicleCommit) {
        state.published.extend(commit.published.iter().copied());
        if commit.current.is_some() {
            state.current = commit.current;
        }
    }
}

/// What [`LedgerService::new`] and the builders make the service of.
impl From<LedgerParts<dyn ValuationStore, VehicleState>> for Valuer {
    fn from(parts: LedgerParts<dyn ValuationStore, VehicleState>) -> Valuer {
        Valuer(parts)
    }
}

impl Valuer {
    /// The value month by month for `months` months, at the vehicle's measured usage.
    pub async fn forecast(
        &self,
        org: &str,
        vehicle_id: &VehicleId,
        months: u32,
    ) -> Result<ValuationForecast, ForecastError> {
        let state = self.ledger().vehicle_state(vehicle_id).await?;
        let profile = state
            .profile
            .as_ref()
            .filter(|p| p.org_id == org)
            .ok_or(ForecastError::VehicleNotFound)?;
        if let Some(sold) = profile.sold_on {
            return Err(ForecastError::Sold(sold));
        }
        let today = self.now().date_naive();
        let (points, per_year, measured) = model::forecast(
            profile,
            &state.facts,
            today,
            months.min(MAX_FORECAST_MONTHS),
        );
        Ok(ValuationForecast {
            vehicle_id: vehicle_id.to_string(),
            usage_per_year: per_year.round() as u64,
            usage_basis: if measured { "measured" } else { "expected" }.into(),
            points,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;
    use vwc_contracts::{OdometerUnit, Severity, ValuationSource};

    use super::*;
    use crate::model::FactDetail;

    fn fact(i: usize, kind: u8, days: i64) -> Fact {
        let at = Utc.with_ymd_and_hms(2023, 1, 1, 9, 0, 0).unwrap() + Duration::days(days);
        let detail = match kind {
            0 => FactDetail::Collision {
                severity: Severity::Severe,
                structural: true,
            },
            1 => FactDetail::Appraisal {
                amount_cents: 1_500_000 + i as u64 * 10_000,
                source: ValuationSource::DealerAppraisal,
                currency: None,
            },
            2 => FactDetail::Acquisition {
                price_cents: Some(3_000_000),
                currency: Some("USD".into()),
                new: i.is_multiple_of(2),
            },
            _ => FactDetail::Odometer,
        };
        Fact {
            event_id: format!("evt_{i:03}"),
            at,
            odometer: Some(5_000 + days as u64 * 40),
            title: format!("fact {i}"),
            detail,
        }
    }

    fn apply(state: &mut VehicleState, commit: &VehicleCommit) {
        for (day, point) in &commit.published {
            state.published.insert(*day, *point);
        }
        if commit.current.is_some() {
            state.current = commit.current;
        }
    }

    proptest! {
        /// Deciding only from a new fact's day publishes exactly what deciding in full does, drops and
        /// previous amounts included, fact after fact, in any order of days.
        #[test]
        fn deciding_from_a_new_facts_day_publishes_what_a_full_decision_does(
            facts in proptest::collection::vec((0u8..6, 0i64..900), 1..14)
        ) {
            let today = NaiveDate::from_ymd_opt(2025, 7, 15).unwrap();
            let now = Utc.with_ymd_and_hms(2025, 7, 15, 12, 0, 0).unwrap();
            let when = AsOf { today, now };
            let mut full = VehicleState::new("veh_1");
            full.profile = Some(VehicleProfile {
                id: "veh_1".into(),
                org_id: "org_a".into(),
                name: "2021 Toyota RAV4".into(),
                year: 2021,
                unit: OdometerUnit::Mi,
                registered_on: NaiveDate::from_ymd_opt(2023, 6, 1).unwrap(),
                purchase_price_cents: Some(2_500_000),
                purchase_currency: Some("USD".into()),
                sold_on: None,
            });
            let mut commit = VehicleCommit::on(&full);
            decide(&full, &mut commit, when, None, Scope::Full);
            apply(&mut full, &commit);
            let mut since = full.clone();
            for (i, (kind, days)) in facts.into_iter().enumerate() {
                let f = fact(i, kind, days);
                for state in [&mut full, &mut since] {
                    state.facts.push(f.clone());
                    model::sort_facts(&mut state.facts);
                }
                let mut full_commit = VehicleCommit::on(&full);
                let expected = decide(&full, &mut full_commit, when, None, Scope::Full);
                let mut since_commit = VehicleCommit::on(&since);
                let got = decide(&since, &mut since_commit, when, None, Scope::after(&f));
                prop_assert_eq!(&got, &expected, "after {:?}", f);
                prop_assert_eq!(&since_commit.published, &full_commit.published);
                apply(&mut full, &full_commit);
                apply(&mut since, &since_commit);
            }
        }
    }
}
