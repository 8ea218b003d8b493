use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn profile(unit: OdometerUnit) -> VehicleProfile {
    VehicleProfile {
        id: "veh_1".into(),
        org_id: "org_a".into(),
        name: "2021 Toyota RAV4".into(),
        year: 2021,
        unit,
        registered_on: NaiveDate::from_ymd_opt(2024, 1, 10).unwrap(),
        purchase_price_cents: None,
        purchase_currency: None,
        sold_on: None,
    }
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn fact(id: &str, when: DateTime<Utc>, odometer: Option<u64>, detail: FactDetail) -> Fact {
    Fact {
        event_id: id.into(),
        at: when,
        odometer,
        title: id.into(),
        detail,
    }
}

fn acquisition(when: DateTime<Utc>, odometer: u64, price: u64) -> Fact {
    fact(
        "acq",
        when,
        Some(odometer),
        FactDetail::Acquisition {
            price_cents: Some(price),
            currency: Some("USD".into()),
            new: false,
        },
    )
}

fn reading(id: &str, when: DateTime<Utc>, odometer: u64) -> Fact {
    fact(id, when, Some(odometer), FactDetail::Odometer)
}

fn collision(id: &str, when: DateTime<Utc>, odometer: Option<u64>, severity: Severity) -> Fact {
    fact(
        id,
        when,
        odometer,
        FactDetail::Collision {
            severity,
            structural: true,
        },
    )
}

fn appraisal(id: &str, when: DateTime<Utc>, amount: u64) -> Fact {
    fact(
        id,
        when,
        None,
        FactDetail::Appraisal {
            amount_cents: amount,
            source: ValuationSource::DealerAppraisal,
            currency: None,
        },
    )
}

/// A mile vehicle's acquisition on 1 January 2024 at 10,000 mi for `price`.
fn bought_for(price: u64) -> Vec<Fact> {
    vec![acquisition(at(2024, 1, 1), 10_000, price)]
}

/// `facts` with `more` added, in timeline order.
fn with(facts: &[Fact], more: impl IntoIterator<Item = Fact>) -> Vec<Fact> {
    let mut all = facts.to_vec();
    all.extend(more);
    sort_facts(&mut all);
    all
}

/// The value of the mile [`profile`] with `facts` on `on`, as a point of `kind`.
fn mile_value(facts: &[Fact], on: NaiveDate, kind: ValuationPointKind) -> Valuation {
    value_on(&profile(OdometerUnit::Mi), facts, on, kind)
}

fn sum(v: &Valuation) -> i64 {
    v.factors.iter().map(|f| f.amount_cents).sum()
}

fn factor(v: &Valuation, code: FactorCode) -> i64 {
    v.factors
        .iter()
        .filter(|f| f.code == code)
        .map(|f| f.amount_cents)
        .sum()
}

/// The detail of `v`'s (first) factor of `code`.
fn detail(v: &Valuation, code: FactorCode) -> &str {
    let factor = v.factors.iter().find(|f| f.code == code);
    &factor
        .unwrap_or_else(|| panic!("no {code:?} factor"))
        .detail
}

#[test]
fn the_17c_mileage_multiplier_at_every_band_edge() {
    let table = [
        (0, 100),
        (19_999, 100),
        (20_000, 80),
        (39_999, 80),
        (40_000, 60),
        (59_999, 60),
        (60_000, 40),
        (79_999, 40),
        (80_000, 20),
        (99_999, 20),
        (100_000, 0),
        (250_000, 0),
    ];
    for (miles, percent) in table {
        assert_eq!(mileage_multiplier_percent(miles), percent, "{miles} mi");
    }
}

#[test]
fn the_17c_damage_multiplier_follows_severity_only_with_structural_damage() {
    assert_eq!(damage_multiplier_percent(Severity::Severe, true), 100);
    assert_eq!(damage_multiplier_percent(Severity::Major, true), 75);
    assert_eq!(damage_multiplier_percent(Severity::Moderate, true), 50);
    assert_eq!(damage_multiplier_percent(Severity::Minor, true), 25);
    for s in [
        Severity::Severe,
        Severity::Major,
        Severity::Moderate,
        Severity::Minor,
    ] {
        assert_eq!(damage_multiplier_percent(s, false), 0);
    }
}

#[test]
fn the_17c_formula_exactly() {
    use OdometerUnit::Mi;
    // (pre-loss value, severity, structural, odometer, unit, diminished value)
    let table = [
        // $20,000 × 10 % × 1.00 × 1.00 = $2,000
        (2_000_000, Severity::Severe, true, 19_999, Mi, 200_000),
        // one mile more: × 0.80
        (2_000_000, Severity::Severe, true, 20_000, Mi, 160_000),
        // $25,000 × 10 % × 0.75 × 0.60 = $1,125
        (2_500_000, Severity::Major, true, 45_000, Mi, 112_500),
        // $30,000 × 10 % × 0.50 × 0.40 = $600; × 0.20 = $300 (minor: $150)
        (3_000_000, Severity::Moderate, true, 79_999, Mi, 60_000),
        (3_000_000, Severity::Moderate, true, 80_000, Mi, 30_000),
        (3_000_000, Severity::Minor, true, 99_999, Mi, 15_000),
        (3_000_000, Severity::Severe, true, 100_000, Mi, 0),
        (3_000_000, Severity::Severe, false, 10, Mi, 0),
        // Rounding half up: 1,234,567 × 10 % × 0.25 × 0.80 = 24,691.34 cents → 24,691
        (1_234_567, Severity::Minor, true, 30_000, Mi, 24_691),
    ];
    for (value, severity, structural, odometer, unit, expected) in table {
        assert_eq!(
            diminished_value_17c(value, severity, structural, odometer, unit),
            expected,
            "{value} {severity:?} structural={structural} at {odometer} {unit:?}"
        );
    }
}

#[test]
fn a_km_vehicle_is_banded_by_its_distance_in_miles() {
    // (km, whole miles, diminished value of $20,000 severe structural): 32,186 km = 19,999.6 mi → 1.00;
    // 32,187 km = 20,000.2 mi → 0.80; 160,934 km = 99,999.9 mi → 0.20; 160,935 km → 0.00
    let table = [
        (32_186, 19_999, 200_000),
        (32_187, 20_000, 160_000),
        (160_934, 99_999, 40_000),
        (160_935, 100_000, 0),
    ];
    for (km, miles, expected) in table {
        assert_eq!(to_miles(km, OdometerUnit::Km), miles, "{km} km");
        let in_km = diminished_value_17c(2_000_000, Severity::Severe, true, km, OdometerUnit::Km);
        let in_miles =
            diminished_value_17c(2_000_000, Severity::Severe, true, miles, OdometerUnit::Mi);
        assert_eq!((in_km, in_miles), (expected, expected), "{km} km");
    }
}

#[test]
fn the_age_curve_keeps_80_percent_after_a_year_and_falls_15_percent_a_year_to_year_5() {
    assert!((kept_at_age(0.0) - 1.0).abs() < 1e-12);
    assert!((kept_at_age(1.0) - 0.80).abs() < 1e-12);
    assert!((kept_at_age(2.0) - 0.68).abs() < 1e-12);
    assert!((kept_at_age(5.0) - 0.80 * 0.85f64.powi(4)).abs() < 1e-12);
    assert!((kept_at_age(6.0) - 0.80 * 0.85f64.powi(4) * 0.9).abs() < 1e-12);
    assert_eq!(kept_at_age(-3.0), 1.0);
}

#[test]
fn the_base_is_the_acquisition_price_on_its_day() {
    let facts = vec![acquisition(at(2024, 5, 1), 28_410, 2_749_000)];
    let v = value_on(
        &profile(OdometerUnit::Mi),
        &facts,
        day(2024, 5, 1),
        ValuationPointKind::Event,
    );
    assert_eq!(v.amount_cents, 2_749_000);
    assert_eq!(v.method, ValuationMethod::AcquisitionPrice);
    assert_eq!(factor(&v, FactorCode::Base), 2_749_000);
    assert_eq!(factor(&v, FactorCode::AgeDepreciation), 0);
    assert_eq!(factor(&v, FactorCode::MileageAdjustment), 0);
}

#[test]
fn without_an_acquisition_price_the_fallback_is_used_and_said() {
    let v = value_on(
        &profile(OdometerUnit::Mi),
        &[],
        day(2022, 1, 1),
        ValuationPointKind::Current,
    );
    assert_eq!(v.method, ValuationMethod::FallbackAverageNewPrice);
    assert_eq!(
        factor(&v, FactorCode::Base),
        FALLBACK_NEW_PRICE_CENTS as i64
    );
    // A year (365 of 365.25 days) after 1 January of the model year: about 80 % kept.
    let expected = (FALLBACK_NEW_PRICE_CENTS as f64 * 0.80f64.powf(365.0 / 365.25)).round() as u64;
    assert!(v.amount_cents.abs_diff(expected) <= 1, "{}", v.amount_cents);
    assert_eq!(sum(&v), v.amount_cents as i64);
}

#[test]
fn without_an_acquisition_price_the_registration_price_is_the_base_and_an_acquisition_overrides_it()
{
    let mut p = profile(OdometerUnit::Mi);
    p.purchase_price_cents = Some(3_000_000);
    p.purchase_currency = Some("EUR".into());
    let v = value_on(&p, &[], day(2024, 1, 10), ValuationPointKind::Current);
    assert_eq!(v.method, ValuationMethod::RegistrationPurchasePrice);
    assert_eq!(factor(&v, FactorCode::Base), 3_000_000);
    assert_eq!(v.currency, "EUR");
    // Valued on the day it was registered: nothing has moved it yet.
    assert_eq!(v.amount_cents, 3_000_000);
    assert_eq!(sum(&v), v.amount_cents as i64);
    // A year later it has depreciated, and the factors still add up.
    let later = value_on(&p, &[], day(2025, 1, 10), ValuationPointKind::Current);
    assert!(later.amount_cents < 3_000_000, "{}", later.amount_cents);
    assert_eq!(sum(&later), later.amount_cents as i64);
    // An acquisition with a price wins over what was said at registration.
    let bought = [acquisition(at(2024, 2, 1), 1000, 2_500_000)];
    let v = value_on(&p, &bought, day(2024, 2, 1), ValuationPointKind::Current);
    assert_eq!(v.method, ValuationMethod::AcquisitionPrice);
    assert_eq!(factor(&v, FactorCode::Base), 2_500_000);
}

#[test]
fn driving_more_than_expected_lowers_the_value_and_less_raises_it() {
    use ValuationPointKind::Event;
    let base = bought_for(2_000_000);
    let on = day(2025, 1, 1);
    let driven = |miles: u64| with(&base, [reading("r", at(2025, 1, 1), 10_000 + miles)]);
    let none = mile_value(&base, on, Event);
    let h = mile_value(&driven(33_476), on, Event); // 20,000 mi over a year's expectation
    let l = mile_value(&driven(3_476), on, Event); // 10,000 under
    assert!(h.amount_cents < none.amount_cents && none.amount_cents < l.amount_cents);
    // The mileage adjustment as a share of the value before it.
    let share = |v: &Valuation| {
        let adjustment = factor(v, FactorCode::MileageAdjustment);
        adjustment as f64 / (v.amount_cents as i64 - adjustment) as f64
    };
    // 20,000 mi over → −10 %; 10,000 under → +5 % (a leap year: expectation 13,513 mi, a little more)
    let heavy_share = share(&h);
    assert!((heavy_share + 0.0998).abs() < 0.001, "{heavy_share}");
    // Capped at 15 %.
    let extreme = with(&base, [reading("r", at(2025, 1, 1), 500_000)]);
    let extreme_share = share(&mile_value(&extreme, on, Event));
    assert!((extreme_share + 0.15).abs() < 1e-4, "{extreme_share}");
}

#[test]
fn a_severe_structural_collision_takes_the_17c_amount_of_the_pre_loss_value() {
    let crash = collision("c", at(2024, 1, 1), Some(12_000), Severity::Severe);
    let facts = with(&bought_for(2_000_000), [crash]);
    let v = mile_value(&facts, day(2024, 1, 1), ValuationPointKind::Event);
    // Same day: no depreciation; 2,000 mi driven in no time is 2,000 mi over → −1 % pre-loss.
    let pre_loss = 2_000_000.0 * (1.0 - 0.01);
    let dv = (pre_loss * 0.10 * 1.0 * 1.0_f64).round() as i64;
    assert_eq!(factor(&v, FactorCode::CollisionDiminishedValue), -dv);
    assert_eq!(sum(&v), v.amount_cents as i64);
    let detail = detail(&v, FactorCode::CollisionDiminishedValue);
    assert!(detail.contains("× mileage 1.00 (12,000 mi) ="), "{detail}");
}

#[test]
fn an_appraisal_re_anchors_the_value_on_its_day() {
    let facts = with(
        &bought_for(3_000_000),
        [
            reading("r1", at(2024, 6, 1), 30_000),
            appraisal("a", at(2025, 1, 1), 2_100_000),
        ],
    );
    let v = mile_value(&facts, day(2025, 1, 1), ValuationPointKind::Event);
    assert_eq!(v.amount_cents, 2_100_000);
    assert_eq!(v.method, ValuationMethod::DealerAppraisal);
    assert_ne!(factor(&v, FactorCode::DealerAppraisal), 0);
    // Later, the value depreciates from the appraisal, not from the acquisition.
    let later = mile_value(&facts, day(2026, 1, 1), ValuationPointKind::Current);
    assert!(later.amount_cents < 2_100_000);
    assert!(later.amount_cents > 2_100_000 * 80 / 100);
    assert_eq!(sum(&later), later.amount_cents as i64);
}

#[test]
fn an_amount_in_another_currency_is_shown_and_not_used() {
    let base = with(
        &bought_for(3_000_000),
        [reading("r1", at(2024, 6, 1), 30_000)],
    );
    let on = day(2025, 1, 1);
    let plain = mile_value(&base, on, ValuationPointKind::Event);
    let in_yen = |amount, currency: &str| FactDetail::Appraisal {
        amount_cents: amount,
        source: ValuationSource::DealerAppraisal,
        currency: Some(currency.into()),
    };
    // 500,000 JPY is not 500,000 USD cents: the value stays the model's, and the factor says why.
    let yen = with(
        &base,
        [fact("a", at(2025, 1, 1), None, in_yen(500_000, "JPY"))],
    );
    let v = mile_value(&yen, on, ValuationPointKind::Event);
    assert_eq!(v.amount_cents, plain.amount_cents);
    assert_eq!(v.method, ValuationMethod::AcquisitionPrice);
    let shown = v
        .factors
        .iter()
        .find(|f| f.code == FactorCode::DealerAppraisal);
    let shown = shown.expect("the appraisal is listed");
    assert_eq!(shown.amount_cents, 0);
    assert!(
        shown
            .detail
            .contains("not in the valuation's currency (USD)"),
        "{}",
        shown.detail
    );
    assert_eq!(sum(&v), v.amount_cents as i64);
    // The valuation's own currency, in any case, re-anchors as before.
    let dollars = with(
        &base,
        [fact("a", at(2025, 1, 1), None, in_yen(2_100_000, "usd"))],
    );
    let v = mile_value(&dollars, on, ValuationPointKind::Event);
    assert_eq!(v.amount_cents, 2_100_000);
    assert_eq!(v.method, ValuationMethod::DealerAppraisal);
    // An upgrade's cost in euros adds nothing to a dollar value.
    let upgrade = FactDetail::Upgrade {
        category: Some("towing".into()),
        value_add_cents: None,
        cost_cents: Some(100_000),
        currency: Some("EUR".into()),
    };
    let up = with(&base, [fact("u", at(2024, 8, 1), None, upgrade)]);
    let v = mile_value(&up, on, ValuationPointKind::Event);
    assert_eq!(v.amount_cents, plain.amount_cents);
    assert_eq!(factor(&v, FactorCode::Upgrade), 0);
}

#[test]
fn a_collision_before_an_appraisal_is_absorbed_and_one_after_it_counts() {
    use ValuationPointKind::Monthly;
    let appraised = appraisal("a", at(2025, 1, 1), 2_400_000);
    let base = with(&bought_for(3_000_000), [appraised]);
    let crash = |when, odometer| collision("c", when, Some(odometer), Severity::Severe);
    let before = with(&base, [crash(at(2024, 6, 1), 15_000)]);
    let after = with(&base, [crash(at(2025, 2, 1), 25_000)]);
    let on = day(2025, 3, 1);
    let plain = mile_value(&base, on, Monthly);
    let b = mile_value(&before, on, Monthly);
    let a = mile_value(&after, on, Monthly);
    // The appraisal already saw the collision before it: same value as without it.
    assert!(b.amount_cents.abs_diff(plain.amount_cents) <= 1);
    assert!(factor(&b, FactorCode::CollisionDiminishedValue) < 0);
    // The collision after it costs 17c of the appraised value (× 0.80 at 25,000 mi).
    assert!(a.amount_cents < plain.amount_cents * 93 / 100);
    for v in [&plain, &b, &a] {
        assert_eq!(sum(v), v.amount_cents as i64);
    }
}

#[test]
fn an_upgrade_raises_the_value() {
    let base = bought_for(3_000_000);
    let towing = FactDetail::Upgrade {
        category: Some("towing".into()),
        value_add_cents: None,
        cost_cents: Some(100_000),
        currency: None,
    };
    let upgraded = with(&base, [fact("u", at(2024, 2, 1), None, towing)]);
    let on = day(2024, 8, 1);
    let plain = mile_value(&base, on, ValuationPointKind::Monthly);
    let u = mile_value(&upgraded, on, ValuationPointKind::Monthly);
    assert!(u.amount_cents > plain.amount_cents);
    assert_eq!(factor(&u, FactorCode::Upgrade), 50_000);
}

#[test]
fn the_history_has_a_point_per_event_day_and_per_month() {
    let p = profile(OdometerUnit::Mi);
    let facts = vec![
        acquisition(at(2024, 1, 10), 10_000, 3_000_000),
        reading("r", at(2024, 3, 15), 14_000),
    ];
    let dates = history_dates(&p, &facts, day(2024, 4, 2));
    assert_eq!(
        dates,
        vec![
            (day(2024, 1, 10), ValuationPointKind::Event),
            (day(2024, 2, 1), ValuationPointKind::Monthly),
            (day(2024, 3, 1), ValuationPointKind::Monthly),
            (day(2024, 3, 15), ValuationPointKind::Event),
            (day(2024, 4, 1), ValuationPointKind::Monthly),
        ]
    );
}

#[test]
fn a_drop_of_more_than_ten_percent_names_its_cause() {
    let appraised = appraisal("a", at(2024, 2, 1), 2_000_000);
    let facts = with(&bought_for(3_000_000), [appraised]);
    let points = history(&profile(OdometerUnit::Mi), &facts, day(2024, 2, 1));
    let cause = drop_cause(points[0].amount_cents, &points[1], &facts).expect("a drop");
    assert_eq!(cause.event_id, "a");
    assert_eq!(drop_basis_points(3_000_000, 2_000_000), 3_333);
    // 10 % exactly is not more than 10 %.
    let mut small = points[1].clone();
    small.amount_cents = 2_700_000;
    assert!(drop_cause(points[0].amount_cents, &small, &facts).is_none());
}

#[test]
fn the_forecast_drives_on_at_the_measured_rate() {
    let facts = with(
        &bought_for(3_000_000),
        [reading("r", at(2025, 1, 1), 40_000)],
    );
    let p = profile(OdometerUnit::Mi);
    let (points, per_year, measured) = forecast(&p, &facts, day(2025, 1, 1), 12);
    assert!(measured);
    assert!((per_year - 30_000.0 * 365.25 / 366.0).abs() < 1.0);
    assert_eq!(points.len(), 12);
    assert_eq!(points[0].as_of, day(2025, 2, 1));
    assert!(
        points
            .windows(2)
            .all(|w| w[1].amount_cents <= w[0].amount_cents)
    );
    assert!(points[11].odometer.unwrap() > 65_000);
    for v in &points {
        assert_eq!(sum(v), v.amount_cents as i64);
    }
}

/// The outside tester's repro: a 2020 car bought 2025-01-01 at 10,000 mi for 20,000.00 USD, read at
/// 22,000 mi a year later, forecast from 2026-12-02.
fn typo_repro() -> (VehicleProfile, Vec<Fact>) {
    let mut p = profile(OdometerUnit::Mi);
    p.year = 2020;
    let facts = vec![
        acquisition(at(2025, 1, 1), 10_000, 2_000_000),
        reading("r1", at(2026, 1, 1), 22_000),
    ];
    (p, facts)
}

#[test]
fn usage_is_measured_over_the_readings_a_rollback_leaves_out() {
    let (p, facts) = typo_repro();
    let (per_year, measured) = usage_per_year(&p, &facts);
    assert!(measured);
    assert_eq!(per_year.round(), 12_008.0);
    // A typo for 23,000 after it: measured first to last it fell, so the rate was the expected 13,476.
    let typo = with(&facts, [reading("typo", at(2026, 11, 1), 2_300)]);
    assert_eq!(usage_per_year(&p, &typo), (per_year, true));
    // A corrected-down reading that still rises from the first one: not a lower rate measured up to it.
    let lower = with(&facts, [reading("low", at(2026, 11, 1), 15_000)]);
    assert_eq!(usage_per_year(&p, &lower), (per_year, true));
    // A later reading above the highest counts again, from the first valid reading.
    let later = with(&typo, [reading("r2", at(2027, 1, 1), 34_000)]);
    let (rate, measured) = usage_per_year(&p, &later);
    assert!(measured);
    assert_eq!(rate, 24_000.0 / 730.0 * 365.25);
}

#[test]
fn the_forecast_drives_on_from_the_highest_reading_past_a_rollback() {
    let (p, facts) = typo_repro();
    let today = day(2026, 12, 2);
    let (clean, per_year, _) = forecast(&p, &facts, today, 12);
    let last = &clean[11];
    assert_eq!(last.as_of, day(2027, 12, 2));
    assert_eq!(last.odometer, Some(45_013));
    assert_eq!(last.amount_cents, 1_502_473);
    let typo = with(&facts, [reading("typo", at(2026, 11, 1), 2_300)]);
    let (points, typo_rate, measured) = forecast(&p, &typo, today, 12);
    assert_eq!((typo_rate, measured), (per_year, true));
    for (with_typo, without) in points.iter().zip(&clean) {
        // The typo changes nothing but the mileage factor's mention of it: every month drives on from
        // 22,000 mi, and no projected reading is taken for a rollback.
        assert_eq!(with_typo.odometer, without.odometer);
        assert_eq!(with_typo.amount_cents, without.amount_cents);
        assert!(with_typo.odometer > Some(22_000));
        let detail = detail(with_typo, FactorCode::MileageAdjustment);
        assert!(
            detail.ends_with(
                "; a reading lower than an earlier one ignored as a rollback (the latest: 2,300 mi on \
                 2026-11-01)"
            ),
            "{detail}"
        );
        assert_eq!(sum(with_typo), with_typo.amount_cents as i64);
    }
}

fn arbitrary_fact() -> impl Strategy<Value = Fact> {
    let when = (0i64..2_000).prop_map(|d| at(2020, 1, 1) + chrono::Duration::days(d));
    let detail = prop_oneof![
        (0u64..10_000_000, any::<bool>()).prop_map(|(p, new)| FactDetail::Acquisition {
            price_cents: Some(p),
            currency: None,
            new
        }),
        Just(FactDetail::Odometer),
        (0usize..4, any::<bool>()).prop_map(|(s, structural)| FactDetail::Collision {
            severity: [
                Severity::Minor,
                Severity::Moderate,
                Severity::Major,
                Severity::Severe
            ][s],
            structural
        }),
        (
            proptest::option::of(0u64..1_000_000),
            proptest::option::of(0u64..1_000_000)
        )
            .prop_map(|(v, c)| FactDetail::Upgrade {
                category: None,
                value_add_cents: v,
                cost_cents: c,
                currency: None,
            }),
        (0u64..10_000_000).prop_map(|a| FactDetail::Appraisal {
            amount_cents: a,
            source: ValuationSource::UserEstimate,
            currency: None,
        }),
    ];
    (
        "[a-z]{4}",
        when,
        proptest::option::of(0u64..400_000),
        detail,
    )
        .prop_map(|(id, at, odometer, detail)| Fact {
            event_id: id,
            at,
            odometer,
            title: "t".into(),
            detail,
        })
}

proptest! {
    #[test]
    fn factors_always_add_up_to_a_non_negative_amount(
        mut facts in proptest::collection::vec(arbitrary_fact(), 0..12),
        offset in 0i64..3_000,
        km in any::<bool>(),
    ) {
        sort_facts(&mut facts);
        let p = profile(if km { OdometerUnit::Km } else { OdometerUnit::Mi });
        let on = day(2020, 1, 1) + chrono::Duration::days(offset);
        let v = value_on(&p, &facts, on, ValuationPointKind::Current);
        prop_assert_eq!(sum(&v), v.amount_cents as i64);
        for point in history(&p, &facts, on) {
            prop_assert_eq!(sum(&point), point.amount_cents as i64);
        }
    }

    #[test]
    fn without_events_the_value_never_rises(
        price in 1u64..20_000_000,
        odometer in 0u64..200_000,
        days in proptest::collection::vec(0i64..5_000, 2..20),
    ) {
        let p = profile(OdometerUnit::Mi);
        let facts = vec![acquisition(at(2020, 1, 1), odometer, price)];
        let mut days = days;
        days.sort();
        let values: Vec<u64> = days
            .iter()
            .map(|d| value_on(&p, &facts, day(2020, 1, 1) + chrono::Duration::days(*d), ValuationPointKind::Current).amount_cents)
            .collect();
        prop_assert!(values.windows(2).all(|w| w[1] <= w[0]), "{:?}", values);
    }

    #[test]
    fn the_17c_amount_never_exceeds_ten_percent(
        pre in 0u64..100_000_000_000,
        s in 0usize..4,
        structural in any::<bool>(),
        miles in 0u64..300_000,
    ) {
        let severity = [Severity::Minor, Severity::Moderate, Severity::Major, Severity::Severe][s];
        let dv = diminished_value_17c(pre, severity, structural, miles, OdometerUnit::Mi);
        prop_assert!(dv <= pre / 10 + 1);
    }
}

#[test]
fn the_mileage_factor_names_the_expected_rate_in_the_vehicles_unit() {
    let facts = with(
        &bought_for(3_000_000),
        [reading("r1", at(2024, 6, 1), 30_000)],
    );
    let on = day(2025, 1, 1);
    let detail = |unit| {
        let v = value_on(&profile(unit), &facts, on, ValuationPointKind::Current);
        let f = v
            .factors
            .iter()
            .find(|f| f.code == FactorCode::MileageAdjustment);
        f.expect("a mileage factor").detail.clone()
    };
    let km = detail(OdometerUnit::Km);
    assert!(
        km.contains("km expected (21,688 km/year, 13,476 mi)"),
        "{km}"
    );
    assert!(!km.contains("mi/year"), "{km}");
    let mi = detail(OdometerUnit::Mi);
    assert!(mi.contains("mi expected (13,476 mi/year)"), "{mi}");
    // Every figure with its thousands grouped (a probe read "100000 km driven …").
    assert!(
        km.starts_with("20,000 km driven since 2024-01-01 against 9,025 km expected")
            && km.contains("+6,819 mi →"),
        "{km}"
    );
}

/// A registration price with history recorded from before registration: the base is dated once (the first
/// record's day), so every point agrees on it, the same collision is valued alike at every point after it,
/// and age only ever takes value away.
#[test]
fn a_registration_price_with_earlier_records_is_dated_once_for_every_point() {
    let mut p = profile(OdometerUnit::Mi);
    p.purchase_price_cents = Some(3_000_000);
    let facts = with(
        &[],
        [
            reading("r1", at(2022, 3, 1), 20_000),
            collision("c1", at(2023, 5, 1), Some(32_000), Severity::Severe),
            reading("r2", at(2024, 6, 1), 45_000),
        ],
    );
    let points: Vec<Valuation> = [
        day(2022, 3, 1),
        day(2022, 9, 1),
        day(2023, 5, 1),
        day(2023, 8, 1),
        day(2024, 1, 10),
        day(2024, 6, 1),
        day(2025, 1, 1),
    ]
    .into_iter()
    .map(|on| value_on(&p, &facts, on, ValuationPointKind::Event))
    .collect();
    for v in &points {
        assert_eq!(v.method, ValuationMethod::RegistrationPurchasePrice);
        assert_eq!(factor(v, FactorCode::Base), 3_000_000);
        assert!(
            factor(v, FactorCode::AgeDepreciation) <= 0,
            "age added value on {}: {v:?}",
            v.as_of
        );
        assert_eq!(sum(v), v.amount_cents as i64);
    }
    let collisions: Vec<i64> = points[2..]
        .iter()
        .map(|v| factor(v, FactorCode::CollisionDiminishedValue))
        .collect();
    assert!(collisions[0] < 0, "{collisions:?}");
    assert!(
        collisions.iter().all(|c| *c == collisions[0]),
        "the same collision valued differently: {collisions:?}"
    );
}

#[test]
fn a_reading_below_an_earlier_one_is_a_rollback_the_mileage_ignores_and_says_so() {
    let facts = with(
        &bought_for(3_000_000),
        [reading("r1", at(2024, 10, 1), 22_000)],
    );
    let on = day(2024, 12, 1);
    let before = mile_value(&facts, on, ValuationPointKind::Current);
    // A wound-back (or mistyped) reading after it: the value must not rise, the odometer stays 22,000.
    let rolled = with(&facts, [reading("r2", at(2024, 11, 1), 3_000)]);
    let after = mile_value(&rolled, on, ValuationPointKind::Current);
    assert_eq!(after.amount_cents, before.amount_cents);
    assert_eq!(after.odometer, Some(22_000));
    assert_eq!(
        factor(&after, FactorCode::MileageAdjustment),
        factor(&before, FactorCode::MileageAdjustment)
    );
    let detail = detail(&after, FactorCode::MileageAdjustment);
    assert!(
        detail.ends_with(
            "; a reading lower than an earlier one ignored as a rollback (the latest: 3,000 mi on \
             2024-11-01)"
        ),
        "{detail}"
    );
    assert_eq!(sum(&after), after.amount_cents as i64);
    // A later reading above the highest counts again.
    let on = day(2025, 3, 1);
    let later = with(&rolled, [reading("r3", at(2025, 2, 1), 40_000)]);
    assert_eq!(
        mile_value(&later, on, ValuationPointKind::Current).odometer,
        Some(40_000)
    );
    // An appraisal with a rolled-back odometer re-anchors the value, not the mileage baseline.
    let appraised = with(
        &facts,
        [fact(
            "a1",
            at(2024, 11, 1),
            Some(5_000),
            FactDetail::Appraisal {
                amount_cents: 2_500_000,
                source: ValuationSource::DealerAppraisal,
                currency: None,
            },
        )],
    );
    let v = mile_value(&appraised, day(2024, 11, 2), ValuationPointKind::Current);
    assert_eq!(v.odometer, Some(22_000));
}

#[test]
fn a_day_before_the_model_year_is_age_zero_in_words_too() {
    // A reading dated decades before the model year (a mistyped date): the value never grows with
    // negative age (kept_at_age clamps it) and the factor does not say "-34.0 years old".
    let facts = with(&bought_for(3_000_000), [reading("r0", at(1990, 1, 1), 5)]);
    let v = mile_value(&facts, day(1990, 1, 1), ValuationPointKind::Current);
    let age = v
        .factors
        .iter()
        .find(|f| f.code == FactorCode::AgeDepreciation)
        .unwrap();
    assert!(
        age.detail
            .starts_with("Not yet in its model year (age 0) on 1990-01-01"),
        "{}",
        age.detail
    );
    assert!(!age.detail.contains("years old"), "{}", age.detail);
}

#[test]
fn readings_at_one_instant_value_alike_whatever_their_ids() {
    // Two rows of one day (a bare date is noon UTC) with different odometers: the ids come from the
    // import, so two imports of one file may give them in either order.
    let at_noon = at(2024, 6, 1);
    let history = |first: &str, second: &str| {
        with(
            &bought_for(3_000_000),
            [
                reading(first, at_noon, 18_500),
                reading(second, at_noon, 19_200),
            ],
        )
    };
    let one = mile_value(
        &history("a", "b"),
        day(2024, 6, 1),
        ValuationPointKind::Current,
    );
    let other = mile_value(
        &history("b", "a"),
        day(2024, 6, 1),
        ValuationPointKind::Current,
    );
    assert_eq!(one, other);
    assert_eq!(one.odometer, Some(19_200));
}
