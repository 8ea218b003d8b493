//! The valuation model: pure functions from a vehicle's facts to what it is worth on a date, and why.
//! Every rate here is documented with its public source in docs/valuation.md.
//!
//! The value is a sum of *components* — the base, each upgrade, each collision's diminished value, each
//! re-anchoring correction — that all depreciate with the vehicle along one age curve from their own date,
//! times a mileage adjustment measured since the last anchor. Factors report each component's amount on
//! its date; `age_depreciation` is what age took from all of them since; so the factors add up.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use vwc_contracts::valuation::{
    FactorCode, Valuation, ValuationFactor, ValuationMethod, ValuationPointKind,
};
use vwc_contracts::{HighestOdometer, KM_PER_MILE, OdometerUnit, Severity, ValuationSource};

/// Kelley Blue Book's average transaction price of a new vehicle in the US, May 2025 ($48,799): the base
/// when no acquisition price is known.
pub const FALLBACK_NEW_PRICE_CENTS: u64 = 4_879_900;
/// FHWA: the average driver covers 13,476 miles a year.
pub const EXPECTED_MILES_PER_YEAR: f64 = 13_476.0;
/// Mileage adjustment per 1,000 miles above (−) or below (+) the expected mileage (project assumption).
pub const MILEAGE_RATE_PER_1000_MILES: f64 = 0.005;
/// The mileage adjustment never exceeds ±15 % of the depreciated value (project assumption).
pub const MILEAGE_CAP: f64 = 0.15;
/// Age curve: the share of value kept over the first year, then per year to year 5, then per year after.
pub const KEPT_FIRST_YEAR: f64 = 0.80;
pub const KEPT_YEARS_2_TO_5: f64 = 0.85;
pub const KEPT_AFTER_YEAR_5: f64 = 0.90;
const DAYS_PER_YEAR: f64 = 365.25;

/// Currency when no acquisition names one.
pub const DEFAULT_CURRENCY: &str = "USD";

/// What the model needs of a vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleProfile {
    pub id: String,
    pub org_id: String,
    /// e.g. "2021 Toyota RAV4 (Blue)".
    pub name: String,
    pub year: u16,
    pub unit: OdometerUnit,
    pub registered_on: NaiveDate,
    /// The purchase price given at registration: the base when no acquisition has a price.
    #[serde(default)]
    pub purchase_price_cents: Option<u64>,
    #[serde(default)]
    pub purchase_currency: Option<String>,
    /// The day of the vehicle's sale: it is valued up to that day and no further (no current value, no
    /// monthly point after it). Absent while unsold, and in profiles stored before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sold_on: Option<NaiveDate>,
}

impl VehicleProfile {
    pub fn from_vehicle(v: &vwc_contracts::Vehicle) -> VehicleProfile {
        let mut name = format!("{} {} {}", v.year, v.make, v.model);
        if let Some(n) = &v.nickname {
            name.push_str(&format!(" ({n})"));
        }
        VehicleProfile {
            id: v.id.to_string(),
            org_id: v.org_id.to_string(),
            name,
            year: v.year,
            unit: v.odometer_unit,
            registered_on: v.registered_at.date_naive(),
            purchase_price_cents: v.purchase_price_cents,
            purchase_currency: v.purchase_currency.clone(),
            sold_on: v.sale.as_ref().map(|s| s.sold_at.date_naive()),
        }
    }
}

/// What a timeline event says about value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FactDetail {
    Acquisition {
        price_cents: Option<u64>,
        currency: Option<String>,
        new: bool,
    },
    /// Only its odometer value matters (a reading, or any other event with an odometer).
    Odometer,
    Collision {
        severity: Severity,
        structural: bool,
    },
    Upgrade {
        category: Option<String>,
        value_add_cents: Option<u64>,
        cost_cents: Option<u64>,
        /// The cost's currency (the event's); `None` for facts stored before it was kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency: Option<String>,
    },
    Appraisal {
        amount_cents: u64,
        source: ValuationSource,
        /// The amount's currency (the event's); `None`: the valuation's own (facts stored before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency: Option<String>,
    },
}

/// One timeline event as the valuation sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub event_id: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub odometer: Option<u64>,
    pub title: String,
    pub detail: FactDetail,
}

impl Fact {
    /// The valuation's view of a timeline event; `None` when the event says nothing about value.
    pub fn from_event(e: &vwc_contracts::VehicleEvent) -> Option<Fact> {
        use vwc_contracts::EventDetails as D;
        let detail = match e.typed_details()? {
            D::Acquisition(a) => FactDetail::Acquisition {
                price_cents: a.price_cents.or(e.cost_cents),
                currency: e.currency.clone(),
                new: a.condition == Some(vwc_contracts::Condition::New),
            },
            D::Collision(c) => FactDetail::Collision {
                severity: c.severity,
                structural: c.structural,
            },
            D::Upgrade(u) => FactDetail::Upgrade {
                category: u.category,
                value_add_cents: u.value_add_cents,
                cost_cents: e.cost_cents,
                currency: e.currency.clone(),
            },
            D::Valuation(v) => FactDetail::Appraisal {
                amount_cents: v.amount_cents,
                source: v.source,
                currency: e.currency.clone(),
            },
            _ if e.odometer.is_some() => FactDetail::Odometer,
            _ => return None,
        };
        Some(Fact {
            event_id: e.id.to_string(),
            at: e.occurred_at,
            odometer: e.odometer,
            title: e.title.clone(),
            detail,
        })
    }

    pub fn day(&self) -> NaiveDate {
        self.at.date_naive()
    }

    /// Collisions, appraisals and estimates can make a value drop worth telling.
    pub fn can_cause_drop(&self) -> bool {
        matches!(
            self.detail,
            FactDetail::Collision { .. } | FactDetail::Appraisal { .. }
        )
    }
}

/// Facts in the order the model applies them: by time, then odometer (none first, the highest last: of
/// two readings at one instant the higher is the later), then event id. Ids are made when records arrive,
/// so without the odometer the same history imported twice could order its same-instant readings apart
/// and value the same days differently.
pub fn sort_facts(facts: &mut [Fact]) {
    facts.sort_by(|a, b| {
        a.at.cmp(&b.at)
            .then_with(|| a.odometer.cmp(&b.odometer))
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
}

// ---------------------------------------------------------------------------------------------------
// The rates

/// Share of the value a vehicle keeps at `age` years, relative to new: 20 % lost the first year, 15 % a
/// year to year 5, 10 % a year after; compounded continuously within a year so the curve has no steps.
pub fn kept_at_age(age_years: f64) -> f64 {
    let a = age_years.max(0.0);
    if a <= 1.0 {
        KEPT_FIRST_YEAR.powf(a)
    } else if a <= 5.0 {
        KEPT_FIRST_YEAR * KEPT_YEARS_2_TO_5.powf(a - 1.0)
    } else {
        KEPT_FIRST_YEAR * KEPT_YEARS_2_TO_5.powi(4) * KEPT_AFTER_YEAR_5.powf(a - 5.0)
    }
}

/// Georgia 17c damage multiplier, in percent. Structural damage takes the multiplier of its severity
/// (severe 100, major 75, moderate 50, minor 25); without structural damage it is 0 ("no structural
/// damage or replaced panels").
pub fn damage_multiplier_percent(severity: Severity, structural: bool) -> u64 {
    if !structural {
        return 0;
    }
    match severity {
        Severity::Severe => 100,
        Severity::Major => 75,
        Severity::Moderate => 50,
        Severity::Minor => 25,
    }
}

/// Georgia 17c mileage multiplier, in percent, by miles at the collision.
pub fn mileage_multiplier_percent(miles: u64) -> u64 {
    match miles {
        0..=19_999 => 100,
        20_000..=39_999 => 80,
        40_000..=59_999 => 60,
        60_000..=79_999 => 40,
        80_000..=99_999 => 20,
        _ => 0,
    }
}

/// An odometer value in miles (km divided by 1.609344, rounded down so a band edge is never crossed early).
pub fn to_miles(value: u64, unit: OdometerUnit) -> u64 {
    match unit {
        OdometerUnit::Mi => value,
        OdometerUnit::Km => (value as f64 / KM_PER_MILE).floor() as u64,
    }
}

/// Georgia 17c diminished value in cents: pre-loss value × 10 % × damage multiplier × mileage multiplier,
/// in integer arithmetic, rounded half up.
pub fn diminished_value_17c(
    pre_loss_cents: u64,
    severity: Severity,
    structural: bool,
    odometer: u64,
    unit: OdometerUnit,
) -> u64 {
    let damage = damage_multiplier_percent(severity, structural);
    let mileage = mileage_multiplier_percent(to_miles(odometer, unit));
    // 10 % × damage/100 × mileage/100 = damage × mileage / 100,000
    let numerator = u128::from(pre_loss_cents) * u128::from(damage) * u128::from(mileage);
    ((numerator + 50_000) / 100_000) as u64
}

/// Share of an upgrade's cost counted as value when it names no `valueAddCents` (project assumption,
/// docs/valuation.md): functional equipment keeps more than cosmetics.
pub fn upgrade_share(category: Option<&str>) -> f64 {
    match category.map(|c| c.trim().to_ascii_lowercase()).as_deref() {
        Some("safety" | "towing" | "tires" | "wheels_tires" | "powertrain" | "electrical") => 0.50,
        Some("audio" | "electronics" | "infotainment" | "lighting") => 0.30,
        Some("interior" | "exterior" | "cosmetic" | "appearance" | "accessories") => 0.25,
        Some("performance") => 0.15,
        _ => 0.25,
    }
}

/// The mileage adjustment as a share of value: miles driven beyond what was expected over the same days
/// lower it, fewer raise it; capped.
pub fn mileage_share(excess_miles: f64) -> f64 {
    (-(excess_miles / 1000.0) * MILEAGE_RATE_PER_1000_MILES).clamp(-MILEAGE_CAP, MILEAGE_CAP)
}

fn years_between(from: NaiveDate, to: NaiveDate) -> f64 {
    (to - from).num_days() as f64 / DAYS_PER_YEAR
}

/// Whole cents, "-" before a loss only: "27,490.00 USD", "-582.00 USD".
/// `given` when it names another currency than the valuation's `currency`: an amount in it cannot be added
/// to the valuation's (no exchange rates are kept), so its fact explains itself and counts for nothing.
fn other_currency<'a>(given: &'a Option<String>, currency: &str) -> Option<&'a str> {
    given
        .as_deref()
        .filter(|c| !c.eq_ignore_ascii_case(currency))
}

fn money(cents: f64, currency: &str) -> String {
    let c = cents.round() as i64;
    let sign = if c < 0 { "-" } else { "" };
    format!(
        "{sign}{}",
        vwc_contracts::text::money(c.unsigned_abs(), currency)
    )
}

fn unit_str(unit: OdometerUnit) -> &'static str {
    unit.as_str()
}

// ---------------------------------------------------------------------------------------------------
// Evaluation

struct Component {
    code: FactorCode,
    label: String,
    /// On its date.
    amount: f64,
    on: NaiveDate,
    detail: String,
    event_id: Option<String>,
}

/// The mileage baseline: the odometer at the last anchor (unknown until a value is seen).
#[derive(Clone, Copy)]
struct Baseline {
    on: NaiveDate,
    odometer: Option<u64>,
}

struct Walk<'a> {
    profile: &'a VehicleProfile,
    origin: NaiveDate,
    components: Vec<Component>,
    baseline: Baseline,
    /// The latest odometer value seen, and its day.
    latest: Option<(u64, NaiveDate)>,
    /// The highest odometer value of any record so far: a later one below it is a rollback, ignored as
    /// every service ignores it ([`HighestOdometer`]).
    highest: HighestOdometer,
    /// The rollbacks ignored since the mileage baseline, with their days.
    ignored: Vec<(u64, NaiveDate)>,
}

impl Walk<'_> {
    fn age(&self, on: NaiveDate) -> f64 {
        years_between(self.origin, on)
    }

    /// The components' sum on `on`, each depreciated from its own date.
    fn depreciated(&self, on: NaiveDate) -> f64 {
        let kept_now = kept_at_age(self.age(on));
        self.components
            .iter()
            .map(|c| c.amount * kept_now / kept_at_age(self.age(c.on)))
            .sum()
    }

    /// `odometer` unless it is below the highest value seen (then recorded as ignored): what the walk
    /// takes from a record.
    fn trusted(&mut self, odometer: Option<u64>, on: NaiveDate) -> Option<u64> {
        let o = odometer?;
        if !self.highest.admit(o) {
            self.ignored.push((o, on));
            return None;
        }
        Some(o)
    }

    fn observe(&mut self, odometer: Option<u64>, on: NaiveDate) {
        let Some(o) = self.trusted(odometer, on) else {
            return;
        };
        self.latest = Some((o, on));
        if self.baseline.odometer.is_none() {
            // The first value after an anchor without one becomes the baseline.
            self.baseline = Baseline {
                on,
                odometer: Some(o),
            };
        }
    }

    /// (share, excess miles, driven, expected) at the latest odometer value; `None` without one since
    /// the baseline.
    fn mileage(&self) -> Option<(f64, f64, u64, f64)> {
        let (latest, latest_on) = self.latest?;
        let base = self.baseline.odometer?;
        if latest_on < self.baseline.on {
            return None;
        }
        let driven = latest.saturating_sub(base);
        let expected_per_year = match self.profile.unit {
            OdometerUnit::Mi => EXPECTED_MILES_PER_YEAR,
            OdometerUnit::Km => EXPECTED_MILES_PER_YEAR * KM_PER_MILE,
        };
        let expected = expected_per_year * years_between(self.baseline.on, latest_on);
        let excess_units = driven as f64 - expected;
        let excess_miles = match self.profile.unit {
            OdometerUnit::Mi => excess_units,
            OdometerUnit::Km => excess_units / KM_PER_MILE,
        };
        Some((mileage_share(excess_miles), excess_miles, driven, expected))
    }

    fn value(&self, on: NaiveDate) -> f64 {
        let s = self.depreciated(on);
        s * (1.0 + self.mileage().map_or(0.0, |m| m.0))
    }

    /// The odometer on `on`: the latest value, else an estimate at the expected rate from the baseline.
    fn odometer_estimate(&self, on: NaiveDate) -> u64 {
        if let Some((o, _)) = self.latest {
            return o;
        }
        let per_year = match self.profile.unit {
            OdometerUnit::Mi => EXPECTED_MILES_PER_YEAR,
            OdometerUnit::Km => EXPECTED_MILES_PER_YEAR * KM_PER_MILE,
        };
        let from = self.baseline.odometer.unwrap_or(0);
        from + (per_year * years_between(self.baseline.on, on).max(0.0)) as u64
    }
}

/// Where the age curve starts: the day a vehicle bought new was acquired, else 1 January of its model year.
pub fn service_origin(profile: &VehicleProfile, facts: &[Fact]) -> NaiveDate {
    facts
        .iter()
        .find(|f| matches!(f.detail, FactDetail::Acquisition { new: true, .. }))
        .map(|f| f.day())
        .unwrap_or_else(|| {
            NaiveDate::from_ymd_opt(i32::from(profile.year), 1, 1).unwrap_or(profile.registered_on)
        })
}

/// The vehicle's value at the end of `on`, from the facts up to that day (sorted with [`sort_facts`]).
pub fn value_on(
    profile: &VehicleProfile,
    facts: &[Fact],
    on: NaiveDate,
    kind: ValuationPointKind,
) -> Valuation {
    // Sorted facts (the usual case) end their prefix up to `on` where a binary search says: converting
    // every fact's time to a day for every point was most of a long history's re-valuation.
    let known: Vec<&Fact> = if facts.is_sorted_by(|a, b| a.at <= b.at) {
        facts[..facts.partition_point(|f| f.day() <= on)]
            .iter()
            .collect()
    } else {
        facts.iter().filter(|f| f.day() <= on).collect()
    };
    let origin = service_origin(profile, facts);
    // The latest acquisition with a price is the base; what came before it is the previous owner's story.
    let base_at = known.iter().rposition(|f| {
        matches!(
            f.detail,
            FactDetail::Acquisition {
                price_cents: Some(_),
                ..
            }
        )
    });
    let mut currency = DEFAULT_CURRENCY.to_string();
    let mut method;
    let mut walk = Walk {
        profile,
        origin,
        components: Vec::new(),
        baseline: Baseline {
            on: origin,
            odometer: Some(0),
        },
        latest: None,
        highest: HighestOdometer::default(),
        ignored: Vec::new(),
    };
    let rest: &[&Fact] = match base_at {
        Some(i) => {
            let f = known[i];
            let FactDetail::Acquisition {
                price_cents: Some(price),
                currency: c,
                ..
            } = &f.detail
            else {
                unreachable!("found as an acquisition with a price")
            };
            if let Some(c) = c {
                currency = c.clone();
            }
            method = ValuationMethod::AcquisitionPrice;
            // The odometer before the acquisition still tells where the baseline is when it has none.
            let before = known[..i].iter().rev().find_map(|f| f.odometer);
            walk.highest = HighestOdometer::of(known[..=i].iter().filter_map(|f| f.odometer));
            walk.baseline = Baseline {
                on: f.day(),
                odometer: f.odometer.or(before),
            };
            walk.latest = f.odometer.or(before).map(|o| (o, f.day()));
            walk.components.push(Component {
                code: FactorCode::Base,
                label: "Acquisition price".into(),
                amount: *price as f64,
                on: f.day(),
                detail: format!(
                    "Acquired {} for {}",
                    f.day(),
                    money(*price as f64, &currency)
                ),
                event_id: Some(f.event_id.clone()),
            });
            &known[i + 1..]
        }
        None if profile.purchase_price_cents.is_some() => {
            let price = profile.purchase_price_cents.unwrap_or_default();
            if let Some(c) = &profile.purchase_currency {
                currency = c.clone();
            }
            method = ValuationMethod::RegistrationPurchasePrice;
            // The price is as of the history's start — the registration day, or the first record's day
            // when history was recorded from before it — one day for every point, so a point before
            // registration neither moves the base nor values the same collision or appraisal
            // differently from a later point (only a point before every record is its own day).
            let day = history_start(profile, facts).min(on);
            let odometer = known
                .iter()
                .rev()
                .filter(|f| f.day() <= day)
                .find_map(|f| f.odometer);
            walk.highest = HighestOdometer::of(
                known
                    .iter()
                    .filter(|f| f.day() <= day)
                    .filter_map(|f| f.odometer),
            );
            walk.baseline = Baseline { on: day, odometer };
            walk.latest = odometer.map(|o| (o, day));
            walk.components.push(Component {
                code: FactorCode::Base,
                label: "Purchase price (given at registration)".into(),
                amount: price as f64,
                on: day,
                detail: format!(
                    "Paid {} as registered on {}",
                    money(price as f64, &currency),
                    profile.registered_on
                ),
                event_id: None,
            });
            &known[..]
        }
        None => {
            method = ValuationMethod::FallbackAverageNewPrice;
            walk.components.push(Component {
                code: FactorCode::Base,
                label: "Average new-vehicle price (no acquisition price known)".into(),
                amount: FALLBACK_NEW_PRICE_CENTS as f64,
                on: origin,
                detail: format!(
                    "Kelley Blue Book average new-vehicle transaction price (May 2025), {} new on {origin}",
                    money(FALLBACK_NEW_PRICE_CENTS as f64, DEFAULT_CURRENCY)
                ),
                event_id: None,
            });
            &known[..]
        }
    };
    for f in rest {
        let day = f.day();
        match &f.detail {
            FactDetail::Acquisition { .. } | FactDetail::Odometer => walk.observe(f.odometer, day),
            FactDetail::Collision {
                severity,
                structural,
            } => {
                walk.observe(f.odometer, day);
                let pre_loss = walk.value(day).max(0.0);
                let odometer = f.odometer.unwrap_or_else(|| walk.odometer_estimate(day));
                let miles = to_miles(odometer, profile.unit);
                let dv = diminished_value_17c(
                    pre_loss.round() as u64,
                    *severity,
                    *structural,
                    odometer,
                    profile.unit,
                );
                let damage = damage_multiplier_percent(*severity, *structural);
                let mileage = mileage_multiplier_percent(miles);
                walk.components.push(Component {
                    code: FactorCode::CollisionDiminishedValue,
                    label: format!("Collision: {}", f.title),
                    amount: -(dv as f64),
                    on: day,
                    detail: format!(
                        "17c on {day}: pre-loss {} × 10 % × damage {:.2} ({}{}) × mileage {:.2} ({} mi) = {}",
                        money(pre_loss, &currency),
                        damage as f64 / 100.0,
                        severity.as_str(),
                        if *structural { ", structural" } else { ", no structural damage" },
                        mileage as f64 / 100.0,
                        vwc_contracts::text::Grouped(miles),
                        money(dv as f64, &currency),
                    ),
                    event_id: Some(f.event_id.clone()),
                });
            }
            FactDetail::Upgrade {
                category,
                value_add_cents,
                cost_cents,
                currency: cost_currency,
            } => {
                walk.observe(f.odometer, day);
                let foreign = other_currency(cost_currency, &currency);
                let (amount, detail) = match (value_add_cents, cost_cents) {
                    (None, Some(cost)) if let Some(other) = foreign => (
                        0.0,
                        format!(
                            "Cost {}, not in the valuation's currency ({currency}): not counted",
                            money(*cost as f64, other)
                        ),
                    ),
                    (Some(v), _) => (
                        *v as f64,
                        format!("Adds {} (as recorded)", money(*v as f64, &currency)),
                    ),
                    (None, Some(cost)) => {
                        let share = upgrade_share(category.as_deref());
                        (
                            *cost as f64 * share,
                            format!(
                                "{:.0} % of its cost {} ({})",
                                share * 100.0,
                                money(*cost as f64, &currency),
                                category.as_deref().unwrap_or("no category")
                            ),
                        )
                    }
                    (None, None) => (0.0, "No value or cost recorded".to_string()),
                };
                walk.components.push(Component {
                    code: FactorCode::Upgrade,
                    label: format!("Upgrade: {}", f.title),
                    amount,
                    on: day,
                    detail: format!("{detail} on {day}"),
                    event_id: Some(f.event_id.clone()),
                });
            }
            FactDetail::Appraisal {
                amount_cents,
                source,
                currency: given,
            } => {
                walk.observe(f.odometer, day);
                let modelled = walk.value(day);
                let (code, label, what, by) = match source {
                    ValuationSource::DealerAppraisal => (
                        FactorCode::DealerAppraisal,
                        "Dealer appraisal",
                        "Appraised",
                        ValuationMethod::DealerAppraisal,
                    ),
                    ValuationSource::UserEstimate => (
                        FactorCode::UserEstimate,
                        "Owner's estimate",
                        "Estimated",
                        ValuationMethod::UserEstimate,
                    ),
                };
                if let Some(other) = other_currency(given, &currency) {
                    // Shown, not used: the value does not re-anchor to a number in another currency.
                    walk.components.push(Component {
                        code,
                        label: label.into(),
                        amount: 0.0,
                        on: day,
                        detail: format!(
                            "{what} {} on {day}, not in the valuation's currency ({currency}): not used; the model said {}",
                            money(*amount_cents as f64, other),
                            money(modelled, &currency)
                        ),
                        event_id: Some(f.event_id.clone()),
                    });
                    continue;
                }
                method = by;
                // Re-anchor: the components now sum to the appraisal, and mileage counts from here.
                let correction = *amount_cents as f64 - walk.depreciated(day);
                walk.components.push(Component {
                    code,
                    label: label.into(),
                    amount: correction,
                    on: day,
                    // The factor is the appraisal less the model's value before its mileage adjustment
                    // (mileage counts afresh from here), so both numbers are said.
                    detail: format!(
                        "{what} {} on {day}; the model said {} ({} before its mileage adjustment, which \
                         counts afresh from here)",
                        money(*amount_cents as f64, &currency),
                        money(modelled, &currency),
                        money(walk.depreciated(day), &currency)
                    ),
                    event_id: Some(f.event_id.clone()),
                });
                let odometer = walk.trusted(f.odometer, day);
                walk.baseline = Baseline {
                    on: day,
                    odometer: odometer.or(walk.latest.map(|l| l.0)),
                };
                walk.latest = walk.baseline.odometer.map(|o| (o, day));
                // Mileage counts afresh from here: so do the rollbacks it names.
                walk.ignored.retain(|(_, on)| *on >= day);
            }
        }
    }

    // Factors: each component on its date, then what age took from all of them, then mileage.
    let depreciated = walk.depreciated(on);
    let original: f64 = walk.components.iter().map(|c| c.amount).sum();
    let mileage = walk.mileage();
    let mileage_amount = depreciated * mileage.map_or(0.0, |m| m.0);
    let mut factors: Vec<ValuationFactor> = walk
        .components
        .iter()
        .map(|c| ValuationFactor {
            code: c.code,
            label: c.label.clone(),
            amount_cents: c.amount.round() as i64,
            detail: c.detail.clone(),
            event_id: c.event_id.clone(),
        })
        .collect();
    // Rounding: the age factor is what is left of the rounded depreciated sum once the rounded
    // components are counted, so the factors add up exactly.
    let components_rounded: i64 = factors.iter().map(|f| f.amount_cents).sum();
    let age_amount = depreciated.round() as i64 - components_rounded;
    factors.push(ValuationFactor {
        code: FactorCode::AgeDepreciation,
        label: "Age depreciation".into(),
        amount_cents: age_amount,
        detail: format!(
            "{} on {on} (from {origin}); each amount above depreciates from its own date along the \
             curve: 20 % the first year, 15 %/year to year 5, 10 %/year after ({} before age)",
            match walk.age(on) {
                // A day before the model year's start (a record dated before it): new, not "-34 years".
                age if age < 0.0 => "Not yet in its model year (age 0)".to_string(),
                age => format!("{age:.1} years old"),
            },
            money(original, &currency)
        ),
        event_id: None,
    });
    // The expected rate in the vehicle's own unit (a km vehicle's is 13,476 mi in km).
    let rate = match profile.unit {
        OdometerUnit::Mi => "13,476 mi/year".to_string(),
        OdometerUnit::Km => format!(
            "{} km/year, 13,476 mi",
            vwc_contracts::text::grouped((EXPECTED_MILES_PER_YEAR * KM_PER_MILE).round() as u64)
        ),
    };
    let mileage_detail = match mileage {
        // Thousands grouped, as every figure the product shows ("100,000 km", not "100000 km").
        Some((share, excess, driven, expected)) => format!(
            "{} {unit} driven since {} against {} {unit} expected ({rate}): {}{} mi → {:+.2} % \
             (0.5 % per 1,000 mi, capped at ±15 %)",
            vwc_contracts::text::Grouped(driven),
            walk.baseline.on,
            vwc_contracts::text::Grouped(expected.round().max(0.0) as u64),
            if excess < 0.0 { "-" } else { "+" },
            vwc_contracts::text::Grouped(excess.abs().round() as u64),
            share * 100.0,
            unit = unit_str(profile.unit),
        ),
        None => "No odometer value since the last anchor".to_string(),
    };
    let mileage_detail = match walk.ignored.last() {
        None => mileage_detail,
        Some((value, day)) => format!(
            "{mileage_detail}; {} lower than an earlier one ignored as a rollback (the latest: {} {} on \
             {day})",
            match walk.ignored.len() {
                1 => "a reading".to_string(),
                n => format!("{n} readings"),
            },
            vwc_contracts::text::grouped(*value),
            unit_str(profile.unit),
        ),
    };
    factors.push(ValuationFactor {
        code: FactorCode::MileageAdjustment,
        label: "Mileage adjustment".into(),
        amount_cents: mileage_amount.round() as i64,
        detail: mileage_detail,
        event_id: None,
    });
    let sum: i64 = factors.iter().map(|f| f.amount_cents).sum();
    if sum < 0 {
        // Never negative: what would go below zero is taken off the age factor (documented).
        if let Some(age) = factors
            .iter_mut()
            .find(|f| f.code == FactorCode::AgeDepreciation)
        {
            age.amount_cents -= sum;
        }
    }
    let amount: i64 = factors.iter().map(|f| f.amount_cents).sum();
    Valuation {
        amount_cents: amount.max(0) as u64,
        currency,
        as_of: on,
        method,
        kind,
        odometer: walk.latest.map(|l| l.0),
        odometer_unit: profile.unit,
        factors,
    }
}

// ---------------------------------------------------------------------------------------------------
// Points in time

fn first_of_next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("the first of a month exists")
}

/// Where the history starts: the registration day, or the first fact's day when earlier.
pub fn history_start(profile: &VehicleProfile, facts: &[Fact]) -> NaiveDate {
    facts
        .iter()
        .map(Fact::day)
        .min()
        .map_or(profile.registered_on, |d| d.min(profile.registered_on))
}

/// The history's dates up to `today`: the start and every fact's day (`event`) and the first of every
/// month (`monthly`) from the start; a day that is both is an `event` point. Oldest first.
pub fn history_dates(
    profile: &VehicleProfile,
    facts: &[Fact],
    today: NaiveDate,
) -> Vec<(NaiveDate, ValuationPointKind)> {
    let mut dates: std::collections::BTreeMap<NaiveDate, ValuationPointKind> = Default::default();
    let start = history_start(profile, facts);
    let mut month = if start.day() == 1 {
        start
    } else {
        first_of_next_month(start)
    };
    while month <= today {
        dates.insert(month, ValuationPointKind::Monthly);
        month = first_of_next_month(month);
    }
    // The history starts with a point: the registration (or the first fact) is an event of its own.
    if start <= today {
        dates.insert(start, ValuationPointKind::Event);
    }
    for f in facts {
        if f.day() <= today {
            dates.insert(f.day(), ValuationPointKind::Event);
        }
    }
    dates.into_iter().collect()
}

/// Every history point up to `today`, oldest first.
pub fn history(profile: &VehicleProfile, facts: &[Fact], today: NaiveDate) -> Vec<Valuation> {
    history_dates(profile, facts, today)
        .into_iter()
        .map(|(d, kind)| value_on(profile, facts, d, kind))
        .collect()
}

/// A drop of more than 10 % from `previous` to `point`, caused by a collision or an appraisal on the
/// point's day, with the cause.
pub fn drop_cause<'a>(
    previous_amount: u64,
    point: &Valuation,
    facts: &'a [Fact],
) -> Option<&'a Fact> {
    if point.kind != ValuationPointKind::Event || previous_amount == 0 {
        return None;
    }
    // More than 10 %: to < 90 % of from, in integers.
    if u128::from(point.amount_cents) * 10 >= u128::from(previous_amount) * 9 {
        return None;
    }
    facts
        .iter()
        .rev()
        .find(|f| f.day() == point.as_of && f.can_cause_drop())
}

/// The drop in basis points (1,000 = 10 %).
pub fn drop_basis_points(from: u64, to: u64) -> u32 {
    if from == 0 || to >= from {
        return 0;
    }
    (u128::from(from - to) * 10_000 / u128::from(from)) as u32
}

// ---------------------------------------------------------------------------------------------------
// Forecast

/// The odometer values the model trusts, oldest first, with their days: taken in time order, one below
/// the highest before it is a rollback and left out ([`HighestOdometer`]), as the valuation leaves it out.
fn trusted_readings<'a>(facts: impl IntoIterator<Item = &'a Fact>) -> Vec<(NaiveDate, u64)> {
    let mut readings: Vec<(chrono::DateTime<chrono::Utc>, u64)> = facts
        .into_iter()
        .filter_map(|f| f.odometer.map(|o| (f.at, o)))
        .collect();
    // The order `sort_facts` gives: by time, then by value.
    readings.sort_unstable();
    let mut highest = HighestOdometer::default();
    readings
        .into_iter()
        .filter(|&(_, o)| highest.admit(o))
        .map(|(at, o)| (at.date_naive(), o))
        .collect()
}

/// The vehicle's usage per year in its unit: measured from its first to its last trusted odometer value
/// (rollbacks left out) when they span at least 30 days and rise, else the expected average.
/// `(per year, measured?)`.
pub fn usage_per_year(profile: &VehicleProfile, facts: &[Fact]) -> (f64, bool) {
    let readings = trusted_readings(facts);
    if let (Some(&(d0, o0)), Some(&(d1, o1))) = (readings.first(), readings.last()) {
        let days = (d1 - d0).num_days();
        if days >= 30 && o1 > o0 {
            return ((o1 - o0) as f64 / days as f64 * DAYS_PER_YEAR, true);
        }
    }
    let expected = match profile.unit {
        OdometerUnit::Mi => EXPECTED_MILES_PER_YEAR,
        OdometerUnit::Km => EXPECTED_MILES_PER_YEAR * KM_PER_MILE,
    };
    (expected, false)
}

/// The value month by month for `months` months after `today`, driving at the measured usage rate from
/// the latest trusted odometer value, which is the highest (a projected reading on each month's day, the
/// same factors). Projecting from a rollback instead would put every projected reading below the highest
/// one, ignored as a rollback in its turn: the car would never be driven again.
pub fn forecast(
    profile: &VehicleProfile,
    facts: &[Fact],
    today: NaiveDate,
    months: u32,
) -> (Vec<Valuation>, f64, bool) {
    let (per_year, measured) = usage_per_year(profile, facts);
    let known: Vec<Fact> = facts.iter().filter(|f| f.day() <= today).cloned().collect();
    let latest = trusted_readings(&known).last().copied();
    let points = (1..=months)
        .map(|i| {
            let day = today
                .checked_add_months(chrono::Months::new(i))
                .unwrap_or(today);
            let mut with_projection = known.clone();
            if let Some((d0, o0)) = latest {
                let projected = o0 + (per_year * years_between(d0, day)).max(0.0) as u64;
                with_projection.push(Fact {
                    event_id: format!("forecast-{i}"),
                    at: day.and_hms_opt(12, 0, 0).expect("noon exists").and_utc(),
                    odometer: Some(projected),
                    title: "Projected odometer".into(),
                    detail: FactDetail::Odometer,
                });
            }
            value_on(profile, &with_projection, day, ValuationPointKind::Forecast)
        })
        .collect();
    (points, per_year, measured)
}

#[cfg(test)]
mod tests;
