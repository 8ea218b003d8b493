//! Events of the maintenance scheduler and the notification service.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::OdometerUnit;
use crate::catalogue::{Catalogue, Intervals};
use crate::time_text::{Day, push_day};

crate::wire_enum! {
    #[derive(JsonSchema, ToSchema)]
    pub enum MaintenanceStatus {
        Ok,
        DueSoon,
        Overdue,
        Unknown,
    }
}

/// One maintenance item as the API shows it (DESIGN §4.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceItemView {
    pub task: String,
    // A `MaintenanceScheduleUpdated` of version 3 leaves out the catalogue's title, and decoding it writes
    // the title again; the API always shows it.
    #[serde(default)]
    #[schema(required = true)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_miles: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_km: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_months: Option<u32>,
    // A version-3 schedule event writes it in Unix microseconds (`CompactTime`).
    #[serde(
        default,
        deserialize_with = "any_time",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "any_time_schema")]
    pub last_done_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_done_odometer: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_odometer: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projected_due_at: Option<NaiveDate>,
    // Left out by a version-3 schedule event when `ok`.
    #[serde(default = "ok")]
    #[schema(required = true)]
    pub status: MaintenanceStatus,
    // Why the item has its status (`reason_on`). Always present in the API; a `MaintenanceScheduleUpdated`
    // of version 2 leaves it out, and `dueCycle` (`cycle_of`), and decoding it writes them again.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schema(required = true)]
    pub reason: String,
    /// Changes whenever the item is reset or its interval changes; reminders are once per cycle.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schema(required = true)]
    pub due_cycle: String,
    // Left out by a version-3 schedule event when true.
    #[serde(default = "tracked")]
    #[schema(required = true)]
    pub enabled: bool,
}

/// An item is tracked unless it says otherwise.
fn tracked() -> bool {
    true
}

/// A version-3 item without a status is `ok`.
fn ok() -> MaintenanceStatus {
    MaintenanceStatus::Ok
}

/// A timestamp as a version-3 schedule writes it: Unix microseconds (an integer), or RFC 3339 when the
/// time has a finer part than microseconds.
struct CompactTime<'a>(&'a DateTime<Utc>);

impl Serialize for CompactTime<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.timestamp_subsec_nanos().is_multiple_of(1_000) {
            serializer.serialize_i64(self.0.timestamp_micros())
        } else {
            self.0.serialize(serializer)
        }
    }
}

/// A timestamp in either form [`CompactTime`] writes.
struct AnyTime(DateTime<Utc>);

impl<'de> Deserialize<'de> for AnyTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;

        impl Visitor<'_> for Either {
            type Value = AnyTime;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an RFC 3339 timestamp or Unix microseconds")
            }

            fn visit_i64<E: de::Error>(self, micros: i64) -> Result<AnyTime, E> {
                DateTime::from_timestamp_micros(micros)
                    .map(AnyTime)
                    .ok_or_else(|| E::custom(format!("{micros} µs is out of range")))
            }

            fn visit_u64<E: de::Error>(self, micros: u64) -> Result<AnyTime, E> {
                let micros = i64::try_from(micros).map_err(E::custom)?;
                self.visit_i64(micros)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<AnyTime, E> {
                text.parse().map(AnyTime).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(Either)
    }
}

/// The JSON Schema of a timestamp in either form.
fn any_time_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "integer", "format": "int64", "description": "Unix time in microseconds (version 3)"}
    ]})
}

fn any_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(Option::<AnyTime>::deserialize(d)?.map(|t| t.0))
}

impl MaintenanceItemView {
    /// The due cycle of a due point: `"{dueAt}@{dueOdometer}"`, `-` for what is not known.
    pub fn cycle_of(due_at: Option<NaiveDate>, due_odometer: Option<u64>) -> String {
        // Written into one string of its size (it is computed for every item of every evaluation).
        let mut cycle = String::with_capacity(32);
        match due_at {
            Some(d) => push_day(&mut cycle, d),
            None => cycle.push('-'),
        }
        cycle.push('@');
        match due_odometer {
            Some(o) => cycle.push_str(itoa::Buffer::new().format(o)),
            None => cycle.push('-'),
        }
        cycle
    }

    /// Whether `cycle` is [`cycle_of`](Self::cycle_of) the due point, without writing it anywhere: a
    /// reminder inside an envelope leaves out a cycle that is (every reminder of a sweep asked).
    pub fn is_cycle_of(cycle: &str, due_at: Option<NaiveDate>, due_odometer: Option<u64>) -> bool {
        let Some((day, odometer)) = cycle.split_once('@') else {
            return false;
        };
        let day_matches = match due_at {
            Some(d) => match crate::time_text::day(d) {
                Some(text) => day == text.as_str(),
                None => day == d.to_string(),
            },
            None => day == "-",
        };
        day_matches
            && match due_odometer {
                Some(o) => odometer == itoa::Buffer::new().format(o),
                None => odometer == "-",
            }
    }

    /// The item's due cycle: its own, or [`cycle_of`](Self::cycle_of) its due point when it was left
    /// out (an evaluation that derives it only for the items it publishes; a cycle is never empty).
    pub fn cycle(&self) -> std::borrow::Cow<'_, str> {
        if self.due_cycle.is_empty() {
            Self::cycle_of(self.due_at, self.due_odometer).into()
        } else {
            self.due_cycle.as_str().into()
        }
    }

    /// A copy of the item without the fields a version-2 schedule event leaves out (`reason`, `dueCycle`),
    /// cloning only what it keeps: serialising a sweep's schedules cloned every reason only to drop it.
    pub fn without_derived(&self) -> MaintenanceItemView {
        MaintenanceItemView {
            task: self.task.clone(),
            title: self.title.clone(),
            reason: String::new(),
            due_cycle: String::new(),
            ..*self
        }
    }

    /// The sentence that explains the item's status, written from the item's own facts, the vehicle's
    /// unit, the day it was evaluated for and the odometer estimated for that day. It names dates and
    /// odometer values, never "in N days", so it stays true until a fact changes. The scheduler writes
    /// `reason` with this function, and readers of a schedule event that leaves it out write it again.
    pub fn reason_on(&self, unit: OdometerUnit, today: NaiveDate, odometer: Option<u64>) -> String {
        use crate::text::Distance;
        use std::fmt::Write;
        let by_distance = [self.interval_miles, self.interval_km]
            .into_iter()
            .flatten()
            .any(|d| d > 0);
        if !self.enabled {
            return "Unknown: tracking is turned off for this item".to_string();
        }
        if !by_distance && self.interval_months.is_none_or(|m| m == 0) {
            return "Unknown: no interval configured".to_string();
        }
        let estimate = odometer.filter(|_| self.due_odometer.is_some());
        let days_left = self.due_at.map(|due| (due - today).num_days());
        let remaining = self
            .due_odometer
            .zip(estimate)
            .map(|(due, e)| i128::from(due) - i128::from(e));
        let odometer_gap = by_distance
            .then(|| self.odometer_gap(estimate.is_some()))
            .flatten();
        match self.status {
            MaintenanceStatus::Unknown => {
                format!(
                    "Unknown: {}",
                    odometer_gap.unwrap_or("due date out of range")
                )
            }
            MaintenanceStatus::Overdue => {
                // Written into one string: reasons are worded for every item of every evaluation.
                let mut text = String::with_capacity(64);
                text.push_str("Overdue: was due ");
                let on = self.due_at.filter(|_| days_left.is_some_and(|d| d < 0));
                if let Some(due) = on {
                    text.push_str("on ");
                    push_day(&mut text, due);
                }
                if let Some(due) = self
                    .due_odometer
                    .filter(|_| remaining.is_some_and(|r| r < 0))
                {
                    if on.is_some() {
                        text.push_str(" and ");
                    }
                    let _ = write!(text, "at {}", Distance(due, unit));
                }
                text
            }
            MaintenanceStatus::Ok | MaintenanceStatus::DueSoon => {
                let odometer_text = remaining.zip(self.due_odometer).map(|(r, due)| {
                    let mut text = String::with_capacity(64);
                    let _ = write!(text, "at {}", Distance(due, unit));
                    if let Some(p) = self.projected_due_at.filter(|p| *p > today) {
                        text.push_str(" (about ");
                        push_day(&mut text, p);
                        text.push_str(" at current usage)");
                    }
                    (r, text)
                });
                // On its due day an item is worded by its date like any other day ("Due today" went stale
                // in e-mails, feeds and webhook receivers the next morning, and left out the odometer).
                let mut text = match (self.due_at.zip(days_left), odometer_text) {
                    (_, Some((0, _))) => format!(
                        "Due now: the odometer has reached {}",
                        Distance(self.due_odometer.unwrap_or_default(), unit)
                    ),
                    (Some((due, _)), odometer) => {
                        let mut text = String::with_capacity(96);
                        text.push_str("Due on ");
                        push_day(&mut text, due);
                        if let Some((_, o)) = odometer {
                            text.push_str(" or ");
                            text.push_str(&o);
                            text.push_str(", whichever comes first");
                        }
                        text
                    }
                    (None, Some((_, o))) => format!("Due {o}"),
                    // A known status has a due date or odometer; only a hand-made item lacks both.
                    (None, None) => "Due".to_string(),
                };
                if let Some(gap) = odometer_gap.filter(|_| remaining.is_none()) {
                    let _ = write!(text, " (odometer not checked: {gap})");
                }
                text
            }
        }
    }

    /// Why the odometer side of an item with a distance interval cannot be judged, if it cannot.
    fn odometer_gap(&self, have_estimate: bool) -> Option<&'static str> {
        match (self.due_odometer, self.last_done_at) {
            (Some(_), _) if have_estimate => None,
            (Some(_), _) => Some("no odometer readings"),
            (None, Some(_)) => Some("no odometer recorded when last done"),
            // Never done: the due odometer counts from the odometer at acquisition.
            (None, None) => Some("odometer at acquisition not recorded"),
        }
    }
}

/// The current odometer as the scheduler estimates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OdometerEstimateView {
    pub value: u64,
    pub unit: OdometerUnit,
    // The days written by position (`time_text`), as chrono's serde form: chrono's own went through `Debug`
    // a character at a time, in every schedule of a sweep (docs/bench.md, "Stop 55").
    #[serde(serialize_with = "crate::time_text::serialize_day")]
    pub as_of: NaiveDate,
    pub estimated: bool,
    /// The day of the latest reading the value was read or projected from (left out by schedules
    /// published before it existed). A reader holding a later reading knows the estimate did not see it:
    /// the scheduler does not publish again for a reading that moves no due point and no status.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::time_text::serialize_opt_day"
    )]
    pub reading_on: Option<NaiveDate>,
}

/// Payload of `MaintenanceScheduleUpdated`: every item of a vehicle, whenever any item's view changed.
///
/// Version 3 (the envelope's `version`, docs/events.md): with `unit` set, the payload names the maintenance
/// catalogue (`catalogue`) whose standard titles and default intervals its items leave out, and the items
/// leave out what readers derive — `reason` ([`MaintenanceItemView::reason_on`] on the day evaluated with
/// `odometer`'s value), `dueCycle` ([`MaintenanceItemView::cycle_of`]) — `status` when `ok` and `enabled`
/// when true; timestamps are Unix microseconds; inside an envelope it leaves out `vehicleId`, which the
/// envelope carries. Decoding writes all of it back, so a
/// reader holds whole items whatever the version: version 2 (`unit` without `catalogue`: every title and
/// interval written) and version 1 (no `unit`: items as written) still decode.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = catalogue_property)]
pub struct MaintenanceScheduleUpdated {
    /// Left out inside an envelope, whose `vehicleId` it is.
    #[serde(default)]
    pub vehicle_id: String,
    pub items: Vec<MaintenanceItemView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odometer: Option<OdometerEstimateView>,
    #[schemars(schema_with = "any_time_schema")]
    pub evaluated_at: DateTime<Utc>,
    /// The day the items were evaluated for, when it is not `evaluatedAt`'s (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_on: Option<NaiveDate>,
    /// The vehicle's odometer unit; set from version 2 on, whose items leave out what it lets readers
    /// derive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<OdometerUnit>,
}

/// The version of `MaintenanceScheduleUpdated` envelopes: items without what readers derive or resolve from
/// the catalogue.
pub const SCHEDULE_VERSION: u32 = 3;

/// The payload's `catalogue` in its JSON Schema (it is not a field: decoding resolves it).
fn catalogue_property(schema: &mut schemars::Schema) {
    let property = serde_json::json!({"type": "integer", "format": "uint32", "minimum": 0,
        "description": "The version of the maintenance catalogue whose standard titles and default \
            intervals the items leave out (an interval written as 0 is none); absent before version 3."});
    if let Some(properties) = schema
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    {
        properties.insert("catalogue".into(), property);
    }
}

impl MaintenanceScheduleUpdated {
    /// The day the items were evaluated for: the day their `reason` speaks of.
    pub fn evaluated_for(&self) -> NaiveDate {
        self.evaluated_on
            .unwrap_or_else(|| self.evaluated_at.date_naive())
    }

    /// The payload inside an envelope (version 3): without `vehicleId`, which the envelope names.
    pub(crate) fn serialize_in_envelope<S: Serializer>(
        &self,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        self.serialize_payload(serializer, true)
    }

    /// Serialises the payload, without `vehicleId` when `in_envelope` (the envelope names the vehicle).
    fn serialize_payload<S: Serializer>(
        &self,
        serializer: S,
        in_envelope: bool,
    ) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("MaintenanceScheduleUpdated", 7)?;
        if in_envelope {
            s.skip_field("vehicleId")?;
        } else {
            s.serialize_field("vehicleId", &self.vehicle_id)?;
        }
        match self.unit {
            Some(unit) => s.serialize_field("items", &CompactItems { update: self, unit })?,
            None => s.serialize_field("items", &self.items)?,
        }
        if let Some(odometer) = &self.odometer {
            s.serialize_field("odometer", odometer)?;
        }
        match self.unit {
            Some(_) => s.serialize_field("evaluatedAt", &CompactTime(&self.evaluated_at))?,
            None => s.serialize_field("evaluatedAt", &self.evaluated_at)?,
        }
        if let Some(day) = &self.evaluated_on {
            s.serialize_field("evaluatedOn", &Day(day))?;
        }
        if let Some(unit) = self.unit {
            s.serialize_field("unit", &unit)?;
            s.serialize_field("catalogue", &Catalogue::standard().version())?;
        }
        s.end()
    }

    /// Writes back what a version-2 or -3 payload left out, resolving the defaults of `catalogue`.
    fn complete(mut self, catalogue: Option<u32>) -> Result<Self, String> {
        let (today, odometer) = (
            self.evaluated_for(),
            self.odometer.as_ref().map(|o| o.value),
        );
        if let Some(version) = catalogue {
            let standard = Catalogue::standard();
            if version != standard.version() {
                return Err(format!(
                    "the items leave out the defaults of maintenance catalogue {version}; this build has {}",
                    standard.version()
                ));
            }
            let unit = self
                .unit
                .ok_or("a schedule that names a catalogue names its unit")?;
            for item in &mut self.items {
                let defaults = standard.defaults(&item.task);
                if item.title.is_empty() {
                    item.title = defaults.title();
                }
                let defaults = defaults.intervals(unit);
                for (interval, default) in item.intervals_mut().into_iter().zip(defaults.values()) {
                    *interval = match *interval {
                        None => default,
                        Some(0) => None,
                        written => written,
                    };
                }
            }
        }
        for item in &mut self.items {
            if item.due_cycle.is_empty() {
                item.due_cycle = MaintenanceItemView::cycle_of(item.due_at, item.due_odometer);
            }
            // Version 1 (no `unit`) is read as written: an empty reason was left out, not derived.
            if let Some(unit) = self.unit.filter(|_| item.reason.is_empty()) {
                item.reason = item.reason_on(unit, today, odometer);
            }
        }
        Ok(self)
    }

    /// After decoding `data` inside an envelope: a payload that left out its vehicle takes the envelope's.
    pub(crate) fn complete_in_envelope(
        &mut self,
        envelope_vehicle: Option<&str>,
    ) -> Result<(), String> {
        vehicle_of_envelope(&mut self.vehicle_id, envelope_vehicle)
    }
}

impl MaintenanceItemView {
    /// The item's distance interval in miles and in km, and its months.
    pub fn intervals(&self) -> Intervals {
        Intervals {
            miles: self.interval_miles,
            km: self.interval_km,
            months: self.interval_months,
        }
    }

    fn intervals_mut(&mut self) -> [&mut Option<u32>; 3] {
        [
            &mut self.interval_miles,
            &mut self.interval_km,
            &mut self.interval_months,
        ]
    }
}

impl Serialize for MaintenanceScheduleUpdated {
    /// With `unit`, version 3's items (see the type); without, version 1's whole items.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.serialize_payload(serializer, false)
    }
}

/// A version-3 schedule's items.
struct CompactItems<'a> {
    update: &'a MaintenanceScheduleUpdated,
    unit: OdometerUnit,
}

impl Serialize for CompactItems<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (today, odometer) = (
            self.update.evaluated_for(),
            self.update.odometer.as_ref().map(|o| o.value),
        );
        serializer.collect_seq(self.update.items.iter().map(|item| {
            // They are the derived ones: the scheduler writes them with the same functions (a sweep
            // leaves them out: empty).
            debug_assert!(
                item.reason.is_empty() || item.reason == item.reason_on(self.unit, today, odometer)
            );
            debug_assert_eq!(
                item.cycle(),
                MaintenanceItemView::cycle_of(item.due_at, item.due_odometer)
            );
            CompactItem {
                item,
                unit: self.unit,
            }
        }))
    }
}

/// One item of a version-3 schedule: its facts, with the title and each interval only where they are not
/// the catalogue's, and `enabled` only when false.
struct CompactItem<'a> {
    item: &'a MaintenanceItemView,
    unit: OdometerUnit,
}

/// The JSON names of [`MaintenanceItemView::intervals`].
const INTERVAL_FIELDS: [&str; 3] = ["intervalMiles", "intervalKm", "intervalMonths"];

impl Serialize for CompactItem<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let item = self.item;
        let defaults = Catalogue::standard().defaults(&item.task);
        let mut s = serializer.serialize_struct("MaintenanceItemFacts", 11)?;
        s.serialize_field("task", &item.task)?;
        // An empty title is the catalogue's, left out by an evaluation that derives it later.
        if !item.title.is_empty() && !defaults.has_title(&item.title) {
            s.serialize_field("title", &item.title)?;
        }
        let defaults = defaults.intervals(self.unit);
        for ((key, interval), default) in INTERVAL_FIELDS
            .into_iter()
            .zip(item.intervals().values())
            .zip(defaults.values())
        {
            if interval != default {
                // No interval where the catalogue has one: 0, which every computation reads as none.
                s.serialize_field(key, &interval.unwrap_or(0))?;
            }
        }
        optional_field(
            &mut s,
            "lastDoneAt",
            &item.last_done_at.as_ref().map(CompactTime),
        )?;
        optional_field(&mut s, "lastDoneOdometer", &item.last_done_odometer)?;
        optional_field(&mut s, "dueAt", &item.due_at.as_ref().map(Day))?;
        optional_field(&mut s, "dueOdometer", &item.due_odometer)?;
        optional_field(
            &mut s,
            "projectedDueAt",
            &item.projected_due_at.as_ref().map(Day),
        )?;
        if item.status != MaintenanceStatus::Ok {
            s.serialize_field("status", &item.status)?;
        }
        if !item.enabled {
            s.serialize_field("enabled", &false)?;
        }
        s.end()
    }
}

impl<'de> Deserialize<'de> for MaintenanceScheduleUpdated {
    /// Any version; whatever an item leaves out is written back (see the type).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "camelCase")]
        enum Field {
            VehicleId,
            Items,
            Odometer,
            EvaluatedAt,
            EvaluatedOn,
            Unit,
            Catalogue,
            #[serde(other)]
            Other,
        }

        struct Payload;

        impl<'de> Visitor<'de> for Payload {
            type Value = MaintenanceScheduleUpdated;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a MaintenanceScheduleUpdated payload")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut vehicle_id, mut items, mut evaluated_at, mut catalogue) =
                    (None, None, None, None);
                let (mut odometer, mut evaluated_on, mut unit) = (None, None, None);
                while let Some(field) = map.next_key()? {
                    match field {
                        Field::VehicleId => vehicle_id = Some(map.next_value()?),
                        Field::Items => items = Some(map.next_value()?),
                        Field::Odometer => odometer = map.next_value()?,
                        Field::EvaluatedAt => evaluated_at = Some(map.next_value::<AnyTime>()?.0),
                        Field::EvaluatedOn => evaluated_on = map.next_value()?,
                        Field::Unit => unit = map.next_value()?,
                        Field::Catalogue => catalogue = map.next_value()?,
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let update = MaintenanceScheduleUpdated {
                    vehicle_id: vehicle_id.unwrap_or_default(),
                    items: items.ok_or_else(|| de::Error::missing_field("items"))?,
                    odometer,
                    evaluated_at: evaluated_at
                        .ok_or_else(|| de::Error::missing_field("evaluatedAt"))?,
                    evaluated_on,
                    unit,
                };
                update.complete(catalogue).map_err(de::Error::custom)
            }
        }

        deserializer.deserialize_map(Payload)
    }
}

/// Payload of `MaintenanceStatusChanged`: one item changed status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceStatusChanged {
    pub vehicle_id: String,
    pub task: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<MaintenanceStatus>,
    pub status: MaintenanceStatus,
    pub reason: String,
    pub due_cycle: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_odometer: Option<u64>,
}

/// Payload of `ReminderDue`: an item entered `due_soon` or `overdue` (once per item, status and due cycle),
/// or is still overdue a week later (`occurrence` counts those repeats from 0).
///
/// Version 2 (docs/events.md): inside an envelope the payload leaves out `vehicleId` (the envelope's),
/// `dueCycle` when it is [`MaintenanceItemView::cycle_of`] its due point, and `occurrence` when 0; decoding
/// the envelope writes them back. Outside an envelope (the notification's stored copy, the outbound
/// webhook's `reminder`) it is whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReminderDue {
    /// Stable per (vehicle, task, status, due cycle, occurrence): the notification service's dedup key.
    pub reminder_id: String,
    /// Left out inside an envelope (version 2).
    #[serde(default)]
    pub vehicle_id: String,
    /// e.g. "2021 Toyota RAV4 (Blue)".
    pub vehicle_name: String,
    pub task: String,
    pub title: String,
    pub status: MaintenanceStatus,
    pub reason: String,
    /// Left out inside an envelope when derived from the due point (version 2).
    #[serde(default)]
    pub due_cycle: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_odometer: Option<u64>,
    /// Left out inside an envelope when 0 (version 2).
    #[serde(default)]
    pub occurrence: u32,
}

/// The version of `ReminderDue` envelopes: their payload leaves out what the envelope says or a reader
/// derives.
pub const REMINDER_VERSION: u32 = 2;

impl ReminderDue {
    /// The payload inside an envelope (version 2).
    pub(crate) fn serialize_in_envelope<S: Serializer>(
        &self,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ReminderDue", 11)?;
        s.serialize_field("reminderId", &self.reminder_id)?;
        s.serialize_field("vehicleName", &self.vehicle_name)?;
        s.serialize_field("task", &self.task)?;
        s.serialize_field("title", &self.title)?;
        s.serialize_field("status", &self.status)?;
        s.serialize_field("reason", &self.reason)?;
        if !MaintenanceItemView::is_cycle_of(&self.due_cycle, self.due_at, self.due_odometer) {
            s.serialize_field("dueCycle", &self.due_cycle)?;
        }
        optional_field(&mut s, "dueAt", &self.due_at.as_ref().map(Day))?;
        optional_field(&mut s, "dueOdometer", &self.due_odometer)?;
        if self.occurrence != 0 {
            s.serialize_field("occurrence", &self.occurrence)?;
        }
        s.end()
    }

    /// After decoding `data` inside an envelope: what version 2 left out.
    pub(crate) fn complete_in_envelope(
        &mut self,
        envelope_vehicle: Option<&str>,
    ) -> Result<(), String> {
        vehicle_of_envelope(&mut self.vehicle_id, envelope_vehicle)?;
        if self.due_cycle.is_empty() {
            self.due_cycle = MaintenanceItemView::cycle_of(self.due_at, self.due_odometer);
        }
        Ok(())
    }
}

/// A payload's vehicle that was left out for the envelope's.
fn vehicle_of_envelope(vehicle_id: &mut String, envelope: Option<&str>) -> Result<(), String> {
    if vehicle_id.is_empty() {
        let vehicle = envelope.ok_or("neither the payload nor the envelope names the vehicle")?;
        *vehicle_id = vehicle.to_string();
    }
    Ok(())
}

/// `value` under `key` when present.
fn optional_field<S: SerializeStruct, T: Serialize>(
    s: &mut S,
    key: &'static str,
    value: &Option<T>,
) -> Result<(), S::Error> {
    match value {
        Some(value) => s.serialize_field(key, value),
        None => s.skip_field(key),
    }
}

crate::wire_enum! {
    #[derive(JsonSchema, ToSchema)]
    pub enum Channel {
        InApp,
        Webhook,
        Email,
    }
}

/// Payload of `NotificationDelivered`: one notification reached one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationDelivered {
    pub notification_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_id: Option<String>,
    pub channel: Channel,
    pub title: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<MaintenanceStatus>,
    pub delivered_at: DateTime<Utc>,
    /// The maintenance item the reminder is about (`oil_change`; `valuation_drop` for a valuation drop), so
    /// the feed can tell a newer reminder about the same item, or an evaluation that settled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// When the evaluation that made the reminder ran (the `ReminderDue` envelope's `occurredAt`; in-app
    /// deliveries only): the feed compares it with other reminders' and with evaluations' times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminded_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples::maintenance_schedule;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()
    }
    use serde_json::json;

    #[test]
    fn a_version_3_schedule_leaves_out_what_readers_derive_or_resolve_and_decodes_whole() {
        let schedule = maintenance_schedule();
        let json = serde_json::to_value(&schedule).unwrap();
        // The example's oil change has the catalogue's title, miles and months, and a km interval a mile
        // vehicle does not start with.
        assert_eq!(
            json["items"][0],
            json!({"task": "oil_change", "intervalKm": 8000, "lastDoneAt": 1_772_357_400_000_000_i64,
                "lastDoneOdometer": 40000, "dueAt": "2026-09-01", "dueOdometer": 45000,
                "projectedDueAt": "2026-08-02"})
        );
        assert_eq!(json["evaluatedAt"], 1_777_629_600_000_000_i64);
        assert_eq!(
            (&json["unit"], &json["catalogue"]),
            (&json!("mi"), &json!(1))
        );
        assert_eq!(
            json["vehicleId"], "veh_1",
            "standalone, the payload names its vehicle"
        );
        let decoded: MaintenanceScheduleUpdated = serde_json::from_value(json).unwrap();
        assert_eq!(decoded, schedule);
        assert_eq!(decoded.items[0].title, "Oil and filter change");
        assert_eq!(
            decoded.items[0].reason,
            "Due on 2026-09-01 or at 45,000 mi (about 2026-08-02 at current usage), whichever comes first"
        );
        assert_eq!(decoded.items[0].due_cycle, "2026-09-01@45000");
    }

    #[test]
    fn a_version_3_item_writes_what_differs_from_the_catalogue() {
        let mut schedule = maintenance_schedule();
        let oil = schedule.items[0].clone();
        let custom = MaintenanceItemView {
            task: "timing_belt".into(),
            title: "Cam belt".into(),
            interval_miles: Some(90_000),
            interval_km: None,
            interval_months: None,
            // Finer than a microsecond: written in RFC 3339, which keeps it.
            last_done_at: Some("2026-03-01T09:30:00.000000001Z".parse().unwrap()),
            ..oil.clone()
        };
        let cleared = MaintenanceItemView {
            interval_miles: None,
            interval_km: None,
            interval_months: Some(12),
            title: "Oil change (synthetic)".into(),
            enabled: false,
            status: MaintenanceStatus::Unknown,
            ..oil
        };
        schedule.items = vec![custom, cleared];
        for item in &mut schedule.items {
            item.reason = item.reason_on(OdometerUnit::Mi, day(), Some(41_000));
        }
        let json = serde_json::to_value(&schedule).unwrap();
        let (custom, cleared) = (&json["items"][0], &json["items"][1]);
        assert_eq!(custom["title"], "Cam belt");
        assert_eq!(custom["intervalMiles"], 90_000);
        assert_eq!(custom.get("intervalMonths"), None, "none, as the catalogue");
        assert_eq!(custom["lastDoneAt"], "2026-03-01T09:30:00.000000001Z");
        assert_eq!(
            cleared["intervalMiles"], 0,
            "none where the catalogue has one"
        );
        assert_eq!(cleared["intervalMonths"], 12);
        assert_eq!(cleared["enabled"], false);
        assert_eq!(cleared["title"], "Oil change (synthetic)");
        assert_eq!(cleared["status"], "unknown");
        let decoded: MaintenanceScheduleUpdated = serde_json::from_value(json).unwrap();
        assert_eq!(decoded, schedule);
    }

    #[test]
    fn a_version_2_schedule_is_read_with_every_title_and_interval_as_written() {
        let json = json!({"vehicleId": "veh_1", "evaluatedAt": "2026-05-01T10:00:00Z", "unit": "km",
            "items": [{"task": "oil_change", "title": "Oil change", "intervalMonths": 6,
                "dueAt": "2026-05-20", "status": "due_soon", "enabled": true}]});
        let decoded: MaintenanceScheduleUpdated = serde_json::from_value(json).unwrap();
        let item = &decoded.items[0];
        assert_eq!(item.title, "Oil change");
        // Absent at version 2 is none, not the catalogue's 8,000 km.
        assert_eq!(item.intervals().values(), [None, None, Some(6)]);
        assert_eq!(item.reason, "Due on 2026-05-20");
        assert_eq!(item.due_cycle, "2026-05-20@-");
        let again: MaintenanceScheduleUpdated =
            serde_json::from_value(serde_json::to_value(&decoded).unwrap()).unwrap();
        assert_eq!(
            again, decoded,
            "written again at version 3, it reads the same"
        );
    }

    #[test]
    fn a_schedule_naming_another_catalogue_or_no_vehicle_is_refused() {
        let mut json = serde_json::to_value(maintenance_schedule()).unwrap();
        json["catalogue"] = json!(2);
        let err = serde_json::from_value::<MaintenanceScheduleUpdated>(json).unwrap_err();
        assert!(err.to_string().contains("catalogue 2"), "{err}");
        let mut wire = serde_json::to_value(schedule_envelope()).unwrap();
        wire.as_object_mut().unwrap().remove("vehicleId");
        let decoded: crate::Envelope = serde_json::from_value(wire).unwrap();
        let refused = decoded.event().unwrap_err();
        assert!(refused.error.contains("names the vehicle"), "{refused}");
    }

    fn schedule_envelope() -> crate::Envelope {
        crate::Envelope::new(
            "vwc.maintenance-scheduler",
            "org_1",
            Some("veh_1"),
            None,
            maintenance_schedule(),
        )
    }

    #[test]
    fn an_envelope_of_version_3_names_the_vehicle_once_and_decodes_to_whole_items() {
        let envelope = schedule_envelope();
        assert_eq!(envelope.version, SCHEDULE_VERSION);
        assert_eq!(SCHEDULE_VERSION, 3);
        let json = serde_json::to_string(&envelope).unwrap();
        let wire: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(wire["vehicleId"], "veh_1");
        assert_eq!(wire["data"].get("vehicleId"), None);
        let decoded: crate::Envelope = serde_json::from_str(&json).unwrap();
        assert_eq!(decoded, envelope);
        let schedule = decoded.payload::<MaintenanceScheduleUpdated>().unwrap();
        assert_eq!(schedule.vehicle_id, "veh_1");
        assert_eq!(schedule.items[0].due_cycle, "2026-09-01@45000");
        // A version-2 envelope (the payload names its vehicle, every title and interval) still decodes.
        let v2 = crate::examples::maintenance_schedule_wire(2);
        assert_eq!(v2["data"]["items"][0]["title"], "Oil and filter change");
        let decoded: crate::Envelope = serde_json::from_value(v2).unwrap();
        // Schedules of version 2 were published before estimates said which reading they start from.
        let mut without_reading_on = schedule.clone();
        if let Some(odometer) = without_reading_on.odometer.as_mut() {
            odometer.reading_on = None;
        }
        assert_eq!(
            decoded.payload::<MaintenanceScheduleUpdated>(),
            Some(&without_reading_on)
        );
    }

    #[test]
    fn a_version_1_schedule_decodes_as_it_was_written() {
        let json = json!({"vehicleId": "veh_1", "evaluatedAt": "2026-05-01T10:00:00Z", "items": [{
            "task": "oil_change", "title": "Oil change", "status": "due_soon", "dueAt": "2026-05-20",
            "reason": "Due in 19 days", "dueCycle": "c7", "enabled": true}]});
        let decoded: MaintenanceScheduleUpdated = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(decoded.items[0].reason, "Due in 19 days");
        assert_eq!(decoded.items[0].due_cycle, "c7");
        assert_eq!(decoded.unit, None);
        assert_eq!(serde_json::to_value(&decoded).unwrap(), json);
    }

    #[test]
    fn without_the_unit_an_item_is_read_as_written() {
        let json = json!({"vehicleId": "veh_1", "evaluatedAt": "2026-05-01T10:00:00Z", "items": [{
            "task": "oil_change", "title": "Oil change", "status": "ok", "enabled": true}]});
        let decoded: MaintenanceScheduleUpdated = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(decoded.items[0].reason, "");
        assert_eq!(decoded.items[0].due_cycle, "-@-");
        let mut with_unit = json;
        with_unit["unit"] = json!("mi");
        let decoded: MaintenanceScheduleUpdated = serde_json::from_value(with_unit).unwrap();
        assert_eq!(decoded.items[0].reason, "Unknown: no interval configured");
    }

    #[test]
    fn the_reason_speaks_of_the_day_evaluated_and_the_odometer_then() {
        let mut schedule = maintenance_schedule();
        let item = &mut schedule.items[0];
        let on = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            item.reason_on(OdometerUnit::Mi, on(2026, 9, 1), Some(44_000)),
            "Due on 2026-09-01 or at 45,000 mi, whichever comes first"
        );
        assert_eq!(
            item.reason_on(OdometerUnit::Mi, on(2026, 5, 1), Some(45_000)),
            "Due now: the odometer has reached 45,000 mi"
        );
        assert_eq!(
            item.reason_on(OdometerUnit::Mi, on(2026, 5, 1), None),
            "Due on 2026-09-01 (odometer not checked: no odometer readings)"
        );
        item.status = MaintenanceStatus::Overdue;
        assert_eq!(
            item.reason_on(OdometerUnit::Mi, on(2026, 9, 2), Some(45_100)),
            "Overdue: was due on 2026-09-01 and at 45,000 mi"
        );
        item.enabled = false;
        assert_eq!(
            item.reason_on(OdometerUnit::Mi, on(2026, 9, 2), None),
            "Unknown: tracking is turned off for this item"
        );
        // The evaluation day travels with the event when it is not the day of `evaluatedAt`.
        let mut schedule = maintenance_schedule();
        schedule.evaluated_on = Some(on(2026, 9, 1));
        schedule.items[0].reason =
            schedule.items[0].reason_on(OdometerUnit::Mi, on(2026, 9, 1), Some(41_000));
        let json = serde_json::to_value(&schedule).unwrap();
        assert_eq!(json["evaluatedOn"], "2026-09-01");
        let decoded: MaintenanceScheduleUpdated = serde_json::from_value(json).unwrap();
        assert_eq!(
            decoded.items[0].reason,
            "Due on 2026-09-01 or at 45,000 mi, whichever comes first"
        );
        assert_eq!(decoded, schedule);
    }
    #[test]
    fn a_reminder_of_version_2_leaves_the_vehicle_its_cycle_and_a_first_occurrence_to_the_envelope()
    {
        use crate::examples::{oil_change_reminder, oil_change_reminder_wire};
        let v2 = oil_change_reminder_wire(2);
        assert_eq!(v2["version"], REMINDER_VERSION);
        let data = v2["data"].as_object().unwrap();
        for left_out in ["vehicleId", "dueCycle", "occurrence"] {
            assert!(!data.contains_key(left_out), "{left_out}: {v2}");
        }
        let v1 = oil_change_reminder_wire(1);
        assert_eq!(v1["data"]["dueCycle"], "2026-09-01@45000");
        for wire in [v2, v1] {
            let decoded: crate::Envelope = serde_json::from_value(wire).unwrap();
            assert_eq!(decoded.payload(), Some(&oil_change_reminder()));
        }
        // Standalone (a stored copy, the outbound webhook) the reminder is whole.
        let whole = serde_json::to_value(oil_change_reminder()).unwrap();
        assert_eq!(
            (&whole["vehicleId"], &whole["occurrence"]),
            (&json!("veh_1"), &json!(0))
        );
        // What is not derived travels.
        let repeat = ReminderDue {
            due_cycle: "c7".into(),
            occurrence: 2,
            ..oil_change_reminder()
        };
        let envelope = crate::Envelope::new(
            "vwc.maintenance-scheduler",
            "org_1",
            Some("veh_1"),
            None,
            repeat,
        );
        let wire = serde_json::to_value(&envelope).unwrap();
        assert_eq!(
            (&wire["data"]["dueCycle"], &wire["data"]["occurrence"]),
            (&json!("c7"), &json!(2))
        );
        assert_eq!(
            serde_json::from_value::<crate::Envelope>(wire).unwrap(),
            envelope
        );
    }

    /// `is_cycle_of` answers what comparing with `cycle_of`'s text answers, for every kind of due point
    /// (unknown parts, the largest odometer, years chrono writes with a sign) and for texts that are not it.
    #[test]
    fn is_cycle_of_answers_as_comparing_with_the_cycle_written() {
        let days = [
            None,
            NaiveDate::from_ymd_opt(2026, 9, 1),
            NaiveDate::from_ymd_opt(1, 1, 1),
            NaiveDate::from_ymd_opt(12_345, 6, 7),
            NaiveDate::from_ymd_opt(-44, 3, 15),
        ];
        let odometers = [None, Some(0), Some(45_000), Some(u64::MAX)];
        let mut texts: Vec<String> = ["", "@", "-@-", "-@", "@-", "2026-09-01@45000@1", "c7"]
            .map(String::from)
            .to_vec();
        for d in days {
            for o in odometers {
                let cycle = MaintenanceItemView::cycle_of(d, o);
                texts.extend([format!("{cycle}0"), cycle[1..].to_string(), cycle.clone()]);
            }
        }
        assert!(texts.contains(&"2026-09-01@45000".to_string()));
        assert!(texts.contains(&"+12345-06-07@-".to_string()), "{texts:?}");
        for d in days {
            for o in odometers {
                let written = MaintenanceItemView::cycle_of(d, o);
                for text in &texts {
                    assert_eq!(
                        MaintenanceItemView::is_cycle_of(text, d, o),
                        *text == written,
                        "{text:?} against {d:?} {o:?}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn is_cycle_of_agrees_with_the_cycle_written(
            days in proptest::option::of(-1_000_000i32..4_000_000),
            odometer in proptest::option::of(proptest::prelude::any::<u64>()),
            other in "[-@0-9]{0,24}",
        ) {
            let day = days.and_then(NaiveDate::from_num_days_from_ce_opt);
            let written = MaintenanceItemView::cycle_of(day, odometer);
            proptest::prop_assert!(MaintenanceItemView::is_cycle_of(&written, day, odometer));
            proptest::prop_assert_eq!(
                MaintenanceItemView::is_cycle_of(&other, day, odometer),
                other == written
            );
        }
    }

    /// The odometer estimate's days are written by `time_text` as chrono's serde form, and read back.
    #[test]
    fn an_odometer_estimates_days_are_written_as_chrono_writes_them() {
        for (as_of, reading_on) in [
            (day(), None),
            (day(), Some(day())),
            (
                NaiveDate::from_ymd_opt(12_345, 1, 2).unwrap(),
                NaiveDate::from_ymd_opt(-7, 12, 31),
            ),
        ] {
            let estimate = OdometerEstimateView {
                value: 41_000,
                unit: OdometerUnit::Mi,
                as_of,
                estimated: true,
                reading_on,
            };
            let json = serde_json::to_value(&estimate).unwrap();
            assert_eq!(json["asOf"], serde_json::to_value(as_of).unwrap());
            match reading_on {
                Some(d) => assert_eq!(json["readingOn"], serde_json::to_value(d).unwrap()),
                None => assert!(json.get("readingOn").is_none(), "{json}"),
            }
            assert_eq!(
                serde_json::from_value::<OdometerEstimateView>(json).unwrap(),
                estimate
            );
        }
    }
}
