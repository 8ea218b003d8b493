//! Conformance checks of the per-vehicle ledger parts every adapter that keeps one shares.

use chrono::NaiveDate;
use vwc_store::vehicle_ledger::DailyRuns;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).expect("a March day")
}

/// The last day the daily job ran is kept per organisation: an organisation never recorded has none, a
/// later run replaces the day of the organisations it names and leaves the others' alone.
pub async fn the_last_day_is_kept_per_organisation(store: &dyn DailyRuns) {
    assert_eq!(store.last_day(&"org_a".into()).await.unwrap(), None);
    store
        .record_day(&["org_a".into(), "org_b".into()], day(10))
        .await
        .unwrap();
    store.record_day(&["org_a".into()], day(11)).await.unwrap();
    assert_eq!(
        store.last_day(&"org_a".into()).await.unwrap(),
        Some(day(11))
    );
    assert_eq!(
        store.last_day(&"org_b".into()).await.unwrap(),
        Some(day(10))
    );
    assert_eq!(store.last_day(&"org_c".into()).await.unwrap(), None);
}
