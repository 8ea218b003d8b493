//! Fuel economy from a vehicle's `fuel` events (pure, no I/O): full-to-full intervals, cost per distance,
//! and the drop flag against the vehicle's own trailing average. Definitions in docs/fuel.md.

use crate::vehicle::{OdometerUnit, VehicleEvent, VolumeUnit};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// An interval whose economy is this much worse than the trailing average is flagged.
pub const DROP_THRESHOLD_PERCENT: f64 = 15.0;
/// The trailing average covers up to this many measured intervals before the one judged…
pub const TRAILING_INTERVALS: usize = 5;
/// …and needs at least this many, else nothing is judged.
pub const MIN_TRAILING_INTERVALS: usize = 2;

/// How economy is expressed: miles per US gallon for a vehicle in miles, litres per 100 km for one in km.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum EconomyUnit {
    #[serde(rename = "mpg")]
    Mpg,
    #[serde(rename = "l_per_100km")]
    LitresPer100Km,
}

impl EconomyUnit {
    pub fn for_odometer(unit: OdometerUnit) -> EconomyUnit {
        match unit {
            OdometerUnit::Mi => EconomyUnit::Mpg,
            OdometerUnit::Km => EconomyUnit::LitresPer100Km,
        }
    }

    /// The volume unit figures are shown in.
    pub fn volume_unit(self) -> VolumeUnit {
        match self {
            EconomyUnit::Mpg => VolumeUnit::Gal,
            EconomyUnit::LitresPer100Km => VolumeUnit::L,
        }
    }

    /// How people write the unit: `mpg` or `L/100 km`.
    pub fn label(self) -> &'static str {
        match self {
            EconomyUnit::Mpg => "mpg",
            EconomyUnit::LitresPer100Km => "L/100 km",
        }
    }

    /// Economy of `distance` (vehicle's unit) on `volume` given in [`Self::volume_unit`].
    pub fn economy_of(self, distance: f64, volume: f64) -> f64 {
        match self {
            EconomyUnit::Mpg => distance / volume,
            EconomyUnit::LitresPer100Km => volume / distance * 100.0,
        }
    }

    /// Economy of `distance` (vehicle's unit) on `litres`.
    fn economy(self, distance: f64, litres: f64) -> f64 {
        self.economy_of(distance, self.volume(litres))
    }

    fn volume(self, litres: f64) -> f64 {
        match self {
            EconomyUnit::Mpg => litres / VolumeUnit::LITRES_PER_US_GALLON,
            EconomyUnit::LitresPer100Km => litres,
        }
    }
}

/// One measured full-to-full interval.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EconomyInterval {
    /// The full fill the interval starts from (its volume is not counted).
    pub from_event_id: String,
    /// The full fill that closes it.
    pub to_event_id: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// In the vehicle's odometer unit.
    pub distance: f64,
    /// Fuel used: the closing fill and the partial fills before it, in `volumeUnit`.
    pub volume: f64,
    /// In `unit` (mpg or L/100 km), rounded to 0.01.
    pub economy: f64,
    /// The fills' costs summed; `null` when one of them has no cost or another currency.
    pub cost_cents: Option<u64>,
    pub currency: Option<String>,
    /// Cents per mile or per km, rounded to 0.01 cent.
    pub cost_per_distance_cents: Option<f64>,
    /// Efficiency lost against the trailing average, in percent (negative: better than usual); `null`
    /// without enough earlier intervals.
    pub drop_percent: Option<f64>,
    /// `dropPercent` is above 15.
    pub flagged: bool,
}

/// A drop worth telling: the latest interval against the trailing average.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EconomyDrop {
    pub event_id: String,
    pub economy: f64,
    pub trailing_average: f64,
    pub drop_percent: f64,
    pub message: String,
}

/// Fuel spending per distance in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FuelCost {
    pub currency: String,
    /// Every fill's cost in this currency.
    pub total_cents: u64,
    /// Cost of the measured intervals ÷ their distance (cents per mile or km); `null` when nothing
    /// in this currency was measured.
    pub per_distance_cents: Option<f64>,
}

/// The fuel picture of a vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FuelEconomy {
    pub unit: EconomyUnit,
    pub distance_unit: OdometerUnit,
    pub volume_unit: VolumeUnit,
    pub fill_ups: u64,
    /// Every fill's volume, in `volumeUnit`.
    pub total_volume: f64,
    /// Distance of the measured intervals.
    pub measured_distance: f64,
    /// Measured distance ÷ the fuel those intervals used; `null` before the first full-to-full interval.
    pub average: Option<f64>,
    /// Economy of the newest interval.
    pub latest: Option<f64>,
    /// The trailing average the newest interval is judged against (docs/fuel.md).
    pub trailing_average: Option<f64>,
    /// Set when the newest interval is more than 15 % less efficient than the trailing average.
    pub drop: Option<EconomyDrop>,
    pub costs: Vec<FuelCost>,
    /// Measured intervals, newest first.
    pub intervals: Vec<EconomyInterval>,
}

impl FuelCost {
    /// Sets `perDistanceCents` from `intervals`: the cost of those in this currency ÷ their distance.
    pub fn measure<'a>(&mut self, intervals: impl IntoIterator<Item = &'a EconomyInterval>) {
        let (cents, distance) = intervals
            .into_iter()
            .filter(|iv| iv.currency.as_deref() == Some(self.currency.as_str()))
            .fold((0u64, 0f64), |(c, d), iv| {
                (c + iv.cost_cents.unwrap_or(0), d + iv.distance)
            });
        self.per_distance_cents = (distance > 0.0).then(|| round(cents as f64 / distance, 2));
    }
}

struct Fill<'a> {
    event: &'a VehicleEvent,
    litres: f64,
    full: bool,
    missed_previous: bool,
    trip_distance: Option<f64>,
}

struct Open<'a> {
    anchor: &'a VehicleEvent,
    distance: f64,
    litres: f64,
    cost: Option<(u64, String)>,
    cost_known: bool,
}

/// A full fill opens the next interval; a partial one leaves none open.
fn restart<'a>(fill: &Fill<'a>) -> Option<Open<'a>> {
    fill.full.then_some(Open {
        anchor: fill.event,
        distance: 0.0,
        litres: 0.0,
        cost: None,
        cost_known: true,
    })
}

/// `x` rounded to `places` decimal places: every figure this module answers is rounded so.
pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// Distance per litre: the quantity a drop is measured on, whatever the display unit.
fn efficiency(distance: f64, litres: f64) -> f64 {
    distance / litres
}

/// The fuel picture of a vehicle's fuel events (any order; other kinds are ignored). `None` without any.
pub fn economy(odometer_unit: OdometerUnit, events: &[VehicleEvent]) -> Option<FuelEconomy> {
    let unit = EconomyUnit::for_odometer(odometer_unit);
    let mut fills: Vec<Fill<'_>> = events
        .iter()
        .filter_map(|e| {
            let d = e.fuel_details()?;
            Some(Fill {
                event: e,
                litres: d.volume_unit.to_litres(d.volume),
                full: d.full_tank,
                missed_previous: d.missed_previous,
                trip_distance: d.trip_distance,
            })
        })
        .collect();
    if fills.is_empty() {
        return None;
    }
    fills.sort_by(|a, b| {
        (a.event.occurred_at, a.event.odometer, a.event.id.as_str()).cmp(&(
            b.event.occurred_at,
            b.event.odometer,
            b.event.id.as_str(),
        ))
    });

    // (interval, litres) oldest first.
    let mut measured: Vec<(EconomyInterval, f64)> = Vec::new();
    let mut open: Option<Open<'_>> = None;
    // The previous fill's odometer, not the last one read: after a fill without one, the distance from
    // the last odometer includes steps already counted by their trip distances.
    let mut previous_odometer: Option<u64> = None;
    for fill in &fills {
        let e = fill.event;
        let step = match (e.odometer, previous_odometer) {
            (Some(now), Some(before)) if now >= before => Some((now - before) as f64),
            (Some(_), Some(_)) => None, // the odometer went backwards: not measurable
            _ => fill.trip_distance,
        };
        previous_odometer = e.odometer;
        let Some(mut current) = open.take() else {
            open = restart(fill);
            continue;
        };
        let Some(step) = step.filter(|_| !fill.missed_previous) else {
            open = restart(fill);
            continue;
        };
        current.distance += step;
        current.litres += fill.litres;
        match (&e.cost_cents, &e.currency, &mut current.cost) {
            (Some(c), Some(cur), None) if current.cost_known => {
                current.cost = Some((*c, cur.clone()))
            }
            (Some(c), Some(cur), Some((sum, known))) if cur == known => *sum += c,
            _ => {
                current.cost = None;
                current.cost_known = false;
            }
        }
        if !fill.full {
            open = Some(current);
            continue;
        }
        if current.distance > 0.0 && current.litres > 0.0 {
            let cost = current.cost.take().filter(|_| current.cost_known);
            measured.push((
                EconomyInterval {
                    from_event_id: current.anchor.id.to_string(),
                    to_event_id: e.id.to_string(),
                    from: current.anchor.occurred_at,
                    to: e.occurred_at,
                    distance: round(current.distance, 1),
                    volume: round(unit.volume(current.litres), 3),
                    economy: round(unit.economy(current.distance, current.litres), 2),
                    cost_per_distance_cents: cost
                        .as_ref()
                        .map(|(c, _)| round(*c as f64 / current.distance, 2)),
                    cost_cents: cost.as_ref().map(|(c, _)| *c),
                    currency: cost.map(|(_, cur)| cur),
                    drop_percent: None,
                    flagged: false,
                },
                current.litres,
            ));
        }
        open = restart(fill);
    }

    // Each interval against the distance-weighted average of the ones before it.
    for i in 0..measured.len() {
        let earlier = &measured[i.saturating_sub(TRAILING_INTERVALS)..i];
        if earlier.len() < MIN_TRAILING_INTERVALS {
            continue;
        }
        let distance: f64 = earlier.iter().map(|(iv, _)| iv.distance).sum();
        let litres: f64 = earlier.iter().map(|(_, l)| l).sum();
        let trailing = efficiency(distance, litres);
        let this = efficiency(measured[i].0.distance, measured[i].1);
        let drop = round((1.0 - this / trailing) * 100.0, 1);
        measured[i].0.drop_percent = Some(drop);
        measured[i].0.flagged = drop > DROP_THRESHOLD_PERCENT;
    }
    let trailing_average = {
        let n = measured.len();
        let earlier = &measured[n.saturating_sub(TRAILING_INTERVALS + 1)..n.saturating_sub(1)];
        (earlier.len() >= MIN_TRAILING_INTERVALS).then(|| {
            let distance: f64 = earlier.iter().map(|(iv, _)| iv.distance).sum();
            let litres: f64 = earlier.iter().map(|(_, l)| l).sum();
            round(unit.economy(distance, litres), 2)
        })
    };
    let latest = measured.last().map(|(iv, _)| iv.clone());
    let drop = match (&latest, trailing_average) {
        (Some(iv), Some(avg)) if iv.flagged => Some(EconomyDrop {
            event_id: iv.to_event_id.clone(),
            economy: iv.economy,
            trailing_average: avg,
            drop_percent: iv.drop_percent.unwrap_or_default(),
            message: format!(
                "fuel economy fell {:.1} % below this vehicle's trailing average ({} {} against {} {})",
                iv.drop_percent.unwrap_or_default(),
                iv.economy,
                unit.label(),
                avg,
                unit.label()
            ),
        }),
        _ => None,
    };
    // Folded from +0.0: an empty `sum()` of floats is -0.0, which a client shows as "-0 mi".
    let measured_distance = measured.iter().fold(0.0, |sum, (iv, _)| sum + iv.distance);
    let measured_litres: f64 = measured.iter().map(|(_, l)| l).sum();

    let mut costs: std::collections::BTreeMap<String, FuelCost> = Default::default();
    for fill in &fills {
        if let (Some(c), Some(cur)) = (fill.event.cost_cents, &fill.event.currency) {
            costs
                .entry(cur.clone())
                .or_insert_with(|| FuelCost {
                    currency: cur.clone(),
                    total_cents: 0,
                    per_distance_cents: None,
                })
                .total_cents += c;
        }
    }
    for cost in costs.values_mut() {
        cost.measure(measured.iter().map(|(iv, _)| iv));
    }

    Some(FuelEconomy {
        unit,
        distance_unit: odometer_unit,
        volume_unit: unit.volume_unit(),
        fill_ups: fills.len() as u64,
        total_volume: round(unit.volume(fills.iter().map(|f| f.litres).sum()), 3),
        measured_distance: round(measured_distance, 1),
        average: (measured_litres > 0.0)
            .then(|| round(unit.economy(measured_distance, measured_litres), 2)),
        latest: latest.as_ref().map(|iv| iv.economy),
        trailing_average,
        drop,
        costs: costs.into_values().collect(),
        intervals: measured.into_iter().rev().map(|(iv, _)| iv).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vehicle::{EventKind, EventSource};
    use serde_json::json;

    fn fill(
        id: &str,
        day: u32,
        odometer: Option<u64>,
        volume: f64,
        full: bool,
        cost: u64,
    ) -> VehicleEvent {
        VehicleEvent {
            id: id.into(),
            vehicle_id: "veh_1".into(),
            org_id: "org_a".into(),
            kind: EventKind::Fuel,
            occurred_at: format!("2025-03-{day:02}T12:00:00Z").parse().unwrap(),
            recorded_at: vwc_clock::now(),
            odometer,
            cost_cents: Some(cost),
            currency: Some("USD".into()),
            title: "Fuel".into(),
            notes: None,
            vendor: None,
            source: EventSource::User,
            details: json!({"volume": volume, "volumeUnit": "gal", "fullTank": full}),
        }
    }

    #[test]
    fn a_partial_fill_counts_toward_the_next_full_fill() {
        // 1000 full (anchor) → 1150 partial 5 gal → 1300 full 5 gal: 300 mi on 10 gal = 30 mpg;
        // cost 1750 + 1750 = 3500 cents over 300 mi = 11.67 ¢/mi.
        let events = [
            fill("evt_1", 1, Some(1000), 12.0, true, 4200),
            fill("evt_2", 5, Some(1150), 5.0, false, 1750),
            fill("evt_3", 9, Some(1300), 5.0, true, 1750),
        ];
        let e = economy(OdometerUnit::Mi, &events).unwrap();
        assert_eq!(e.intervals.len(), 1);
        assert_eq!(e.intervals[0].economy, 30.0);
        assert_eq!(e.intervals[0].cost_per_distance_cents, Some(11.67));
        assert_eq!(e.average, Some(30.0));
        assert_eq!(e.fill_ups, 3);
        assert!(e.drop.is_none());
    }

    #[test]
    fn a_missed_fill_breaks_the_interval() {
        let mut missed = fill("evt_3", 9, Some(1600), 10.0, true, 3500);
        missed.details = json!({"volume": 10.0, "volumeUnit": "gal", "missedPrevious": true});
        let events = [
            fill("evt_1", 1, Some(1000), 12.0, true, 4200),
            fill("evt_2", 5, Some(1300), 10.0, true, 3500),
            missed,
            fill("evt_4", 12, Some(1900), 10.0, true, 3500),
        ];
        let e = economy(OdometerUnit::Mi, &events).unwrap();
        let pairs: Vec<_> = e
            .intervals
            .iter()
            .map(|i| (i.from_event_id.as_str(), i.to_event_id.as_str()))
            .collect();
        assert_eq!(pairs, [("evt_3", "evt_4"), ("evt_1", "evt_2")]);
    }

    /// A fill without an odometer: its step is its trip distance, and the next step is measured from it
    /// (not again from the last odometer, which counted the miles before it twice: 60 mpg for 30). Without
    /// a trip distance either, the interval is not measured.
    #[test]
    fn a_fill_without_an_odometer_is_a_step_of_its_trip_distance_and_counted_once() {
        let trip = |id: &str, day: u32, odometer: Option<u64>, trip: Option<f64>| {
            let mut f = fill(id, day, odometer, 10.0, true, 0);
            f.details = json!({"volume": 10.0, "volumeUnit": "gal", "fullTank": true, "tripDistance": trip});
            f
        };
        let events = [
            fill("evt_1", 1, Some(10_000), 8.0, true, 0),
            trip("evt_2", 2, None, Some(300.0)),
            trip("evt_3", 3, Some(10_600), Some(300.0)),
        ];
        let e = economy(OdometerUnit::Mi, &events).unwrap();
        let measured: Vec<(f64, f64)> = e
            .intervals
            .iter()
            .map(|i| (i.distance, i.economy))
            .collect();
        assert_eq!(measured, [(300.0, 30.0), (300.0, 30.0)]);
        assert_eq!((e.measured_distance, e.average), (600.0, Some(30.0)));
        let events = [
            fill("evt_1", 1, Some(10_000), 8.0, true, 0),
            trip("evt_2", 2, None, None),
            fill("evt_3", 3, Some(10_600), 10.0, true, 0),
        ];
        let e = economy(OdometerUnit::Mi, &events).unwrap();
        assert!(e.intervals.is_empty(), "{:?}", e.intervals);
        // Nothing measured is 0, not -0.
        assert_eq!(e.measured_distance.to_string(), "0");
        assert_eq!(e.average, None);
    }

    #[test]
    fn a_drop_beyond_fifteen_percent_of_the_trailing_average_is_flagged() {
        // 30, 30, 30 mpg, then 300 mi on 12 gal = 25 mpg: 16.7 % below 30.
        let events = [
            fill("evt_1", 1, Some(1000), 10.0, true, 0),
            fill("evt_2", 2, Some(1300), 10.0, true, 0),
            fill("evt_3", 3, Some(1600), 10.0, true, 0),
            fill("evt_4", 4, Some(1900), 10.0, true, 0),
            fill("evt_5", 5, Some(2200), 12.0, true, 0),
        ];
        let e = economy(OdometerUnit::Mi, &events).unwrap();
        let drop = e.drop.expect("flagged");
        assert_eq!((drop.economy, drop.trailing_average), (25.0, 30.0));
        assert_eq!(drop.drop_percent, 16.7);
        assert!(!e.intervals[1].flagged);
    }
}
