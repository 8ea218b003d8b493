//! What to publish after a vehicle was evaluated: the schedule when any item's view changed, each status
//! change, and reminders (once per item, status and due cycle; weekly again while overdue). Pure: what
//! was last published and the reminders already sent come in, the events and records to write go out.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vwc_contracts::catalogue::Catalogue;
use vwc_contracts::maintenance::{
    MaintenanceItemView, MaintenanceScheduleUpdated, MaintenanceStatus, MaintenanceStatusChanged,
    ReminderDue,
};
use vwc_contracts::{Envelope, Event, EventType};

use crate::SOURCE;
use crate::evaluation::{Evaluation, VehicleRecord};

/// While an item stays overdue, its reminder repeats every this many days.
pub const OVERDUE_REPEAT_DAYS: i64 = 7;

/// The day an overdue item's reminder repeats, its latest overdue reminder having gone out on `last`.
fn repeat_on(last: NaiveDate) -> NaiveDate {
    last + chrono::Duration::days(OVERDUE_REPEAT_DAYS)
}

/// What the scheduler remembers of the schedule it last published: enough to tell whether any item's
/// view changed (a fingerprint of every view) and each item's status, for `MaintenanceStatusChanged`.
/// The views themselves live in the edge's projection; keeping 4 KB per vehicle here only to compare
/// them would double what every sweep reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedSchedule {
    pub fingerprint: u64,
    /// How `fingerprint` was computed ([`FINGERPRINT_HASH`] today; 1 for rows written before it).
    pub hash: u32,
    /// Each item's status, by task code.
    pub statuses: BTreeMap<String, MaintenanceStatus>,
}

/// The fingerprint's hash today: each item's facts as 64-bit words, each mixed in by one rotate, xor and
/// multiply (3). Hash 2 was FNV-1a of the same facts a byte at a time (≈ 100 bytes an item, a multiply
/// each: ≈ 3 % of a first sweep); hash 1 FNV-1a of the facts' JSON, ten times the bytes. A fingerprint
/// stored by an older hash is compared with that hash of the new items, so an upgrade publishes nothing
/// again, and is then stored anew (one row of `published` a vehicle, at its next evaluation; no event).
pub const FINGERPRINT_HASH: u32 = 3;

impl PublishedSchedule {
    /// The fingerprint covers each item's facts — task, title, intervals, last done, due date and odometer
    /// (so its due cycle), status, whether it is tracked — and not what only re-words or re-estimates them
    /// (`reason`, `projectedDueAt`): a day passing, or a reading that moves no due point and no status,
    /// publishes nothing.
    pub fn of(items: &[MaintenanceItemView]) -> PublishedSchedule {
        PublishedSchedule::remembering(items, PublishedSchedule::fingerprint_of(items))
    }

    /// The fingerprint of `items` by [`FINGERPRINT_HASH`] (see [`of`](Self::of)).
    pub fn fingerprint_of(items: &[MaintenanceItemView]) -> u64 {
        let mut hash = Words64::default();
        for item in items {
            hash.item_facts(item);
        }
        hash.0
    }

    /// What to remember of `items`, whose fingerprint is `fingerprint`: the statuses are built only for a
    /// schedule that is stored, not for every one compared.
    fn remembering(items: &[MaintenanceItemView], fingerprint: u64) -> PublishedSchedule {
        PublishedSchedule {
            fingerprint,
            hash: FINGERPRINT_HASH,
            statuses: items.iter().map(|i| (i.task.clone(), i.status)).collect(),
        }
    }

    /// Whether `current` (whose [`fingerprint_of`](Self::fingerprint_of) is `fingerprint`) is the schedule
    /// this one remembers, whatever hash remembered it.
    pub fn describes(&self, current: &[MaintenanceItemView], fingerprint: u64) -> bool {
        match self.hash {
            FINGERPRINT_HASH => self.fingerprint == fingerprint,
            2 => self.fingerprint == fnv_fingerprint(current),
            _ => self.fingerprint == json_fingerprint(current),
        }
    }

    pub fn status_of(&self, task: &str) -> Option<MaintenanceStatus> {
        self.statuses.get(task).copied()
    }

    /// How the stores keep the statuses: a JSON object from task code to status
    /// (`{"coolant":"due_soon","oil_change":"ok"}`); MongoDB keeps the same object as a subdocument.
    pub fn statuses_json(&self) -> String {
        // Written into a buffer of about its size: grown from empty, a dozen statuses took five copies. The
        // contracts' writer writes serde_json's bytes without its byte-at-a-time escaping (≈ 1 % of a first
        // sweep's CPU went to serde_json here; docs/bench.md, "Stop 55").
        let mut json = Vec::with_capacity(2 + 32 * self.statuses.len());
        vwc_contracts::json::to_writer(&mut json, &self.statuses).expect("statuses serialise");
        String::from_utf8(json).expect("JSON is UTF-8")
    }

    /// Reads what [`statuses_json`](Self::statuses_json) wrote. Rows written before statuses were
    /// structured hold `task=status,…` (task codes never contain `=` or `,`); those are read as well, and
    /// the vehicle's next published schedule rewrites them.
    pub fn decode(fingerprint: u64, hash: u32, statuses: &str) -> Option<PublishedSchedule> {
        let statuses = if statuses.starts_with('{') {
            serde_json::from_str(statuses).ok()?
        } else {
            statuses
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|part| {
                    let (task, status) = part.split_once('=')?;
                    Some((task.to_string(), status.parse().ok()?))
                })
                .collect::<Option<BTreeMap<_, _>>>()?
        };
        Some(PublishedSchedule {
            fingerprint,
            hash,
            statuses,
        })
    }
}

/// Hash 2 of the fingerprint: FNV-1a of each item's facts as fixed-width fields. Only compared with
/// fingerprints stored before hash 3.
fn fnv_fingerprint(items: &[MaintenanceItemView]) -> u64 {
    let mut hash = Fnv64::default();
    for item in items {
        hash.item_facts(item);
    }
    hash.0
}

/// Hash 3 of the fingerprint: 64-bit words, stable across builds and platforms. Each step (rotate, xor,
/// odd multiply) is a bijection of the state, so schedules that differ in one word never collide.
struct Words64(u64);

impl Default for Words64 {
    fn default() -> Words64 {
        Words64(0xcbf2_9ce4_8422_2325)
    }
}

impl Words64 {
    fn word(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    /// A string: its length, then its bytes eight at a time (the last word padded with zeros).
    fn text(&mut self, text: &str) {
        self.word(text.len() as u64);
        let mut chunks = text.as_bytes().chunks_exact(8);
        for chunk in &mut chunks {
            self.word(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(last));
        }
    }

    /// A present value as 1 and the value, an absent one as 0.
    fn optional(&mut self, value: Option<u64>) {
        match value {
            Some(value) => {
                self.word(1);
                self.word(value);
            }
            None => self.word(0),
        }
    }

    /// The same facts as hash 2's, in the same order, but the title: an empty one stands for the
    /// catalogue's, so an item's own title is hashed and the catalogue's (written or left empty, see
    /// `Derived`) is not.
    fn item_facts(&mut self, item: &MaintenanceItemView) {
        self.text(&item.task);
        let own = !item.title.is_empty()
            && !Catalogue::standard().is_default_title(&item.task, &item.title);
        self.text(if own { &item.title } else { "" });
        for interval in [item.interval_miles, item.interval_km, item.interval_months] {
            // Present: 1 above the value's 32 bits; absent: 0.
            self.word(interval.map_or(0, |i| 1 << 32 | u64::from(i)));
        }
        let done_at = item
            .last_done_at
            .map(|t| t.timestamp_nanos_opt().unwrap_or(t.timestamp()));
        self.optional(done_at.map(|t| t as u64));
        self.optional(item.last_done_odometer);
        let due_at = item.due_at.map(|d| d.num_days_from_ce() as u32);
        self.word(due_at.map_or(0, |d| 1 << 32 | u64::from(d)));
        self.optional(item.due_odometer);
        self.text(item.status.as_str());
        self.word(u64::from(item.enabled));
    }
}

/// Hash 1 of the fingerprint: FNV-1a of the items' facts as JSON (each item without `reason` and
/// `projectedDueAt`). Only compared with fingerprints stored before hash 2.
fn json_fingerprint(items: &[MaintenanceItemView]) -> u64 {
    let facts: Vec<MaintenanceItemView> = items
        .iter()
        .map(|i| MaintenanceItemView {
            projected_due_at: None,
            due_cycle: i.cycle().into_owned(),
            ..i.without_derived()
        })
        .collect();
    let mut hash = Fnv64::default();
    serde_json::to_writer(&mut hash, &facts).expect("item views serialise");
    hash.0
}

/// FNV-1a, 64 bits: stable across builds and platforms (unlike `std`'s hasher), so a restart or an
/// upgrade does not make every schedule look changed.
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// A string and its end (0xff never occurs in UTF-8), so "ab"+"c" and "a"+"bc" differ.
    fn text(&mut self, text: &str) {
        self.bytes(text.as_bytes());
        self.bytes(&[0xff]);
    }

    /// A present value as 1 and its little-endian bytes, an absent one as 0.
    fn optional<const N: usize>(&mut self, value: Option<[u8; N]>) {
        match value {
            Some(bytes) => {
                self.bytes(&[1]);
                self.bytes(&bytes);
            }
            None => self.bytes(&[0]),
        }
    }

    /// Hash 2 of one item.
    fn item_facts(&mut self, item: &MaintenanceItemView) {
        self.text(&item.task);
        self.text(&item.title);
        for interval in [item.interval_miles, item.interval_km, item.interval_months] {
            self.optional(interval.map(u32::to_le_bytes));
        }
        let done_at = item
            .last_done_at
            .map(|t| t.timestamp_nanos_opt().unwrap_or(t.timestamp()));
        self.optional(done_at.map(i64::to_le_bytes));
        self.optional(item.last_done_odometer.map(u64::to_le_bytes));
        self.optional(item.due_at.map(|d| d.num_days_from_ce().to_le_bytes()));
        self.optional(item.due_odometer.map(u64::to_le_bytes));
        self.text(item.status.as_str());
        self.bytes(&[u8::from(item.enabled)]);
    }
}

impl std::io::Write for Fnv64 {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.bytes(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A reminder the scheduler has published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentReminder {
    pub task: String,
    pub status: MaintenanceStatus,
    pub due_cycle: String,
    pub occurrence: u32,
    pub reminder_id: String,
    /// The day of the evaluation that sent it: the next weekly repeat is a week after the latest one's.
    pub sent_on: NaiveDate,
    pub sent_at: DateTime<Utc>,
}

/// An event to publish about one vehicle.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    ScheduleUpdated(MaintenanceScheduleUpdated),
    StatusChanged(MaintenanceStatusChanged),
    Reminder(ReminderDue),
}

impl Outgoing {
    pub fn event_type(&self) -> EventType {
        match self {
            Outgoing::ScheduleUpdated(_) => EventType::MaintenanceScheduleUpdated,
            Outgoing::StatusChanged(_) => EventType::MaintenanceStatusChanged,
            Outgoing::Reminder(_) => EventType::ReminderDue,
        }
    }

    pub fn into_envelope(
        self,
        org_id: &str,
        vehicle_id: &str,
        traceparent: Option<String>,
    ) -> Envelope {
        let event: Event = match self {
            Outgoing::ScheduleUpdated(d) => d.into(),
            Outgoing::StatusChanged(d) => d.into(),
            Outgoing::Reminder(d) => d.into(),
        };
        Envelope::new(SOURCE, org_id, Some(vehicle_id), traceparent, event)
    }
}

/// What an evaluation changes: the published schedule to remember (when it changed), reminders to record
/// and events to publish, all in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub published: Option<PublishedSchedule>,
    pub reminders: Vec<SentReminder>,
    pub outgoing: Vec<Outgoing>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.published.is_none() && self.reminders.is_empty() && self.outgoing.is_empty()
    }

    /// The `MaintenanceScheduleUpdated` payload, when the schedule changed.
    pub fn schedule(&self) -> Option<&MaintenanceScheduleUpdated> {
        self.outgoing.iter().find_map(|o| match o {
            Outgoing::ScheduleUpdated(s) => Some(s),
            _ => None,
        })
    }

    fn schedule_mut(&mut self) -> Option<&mut MaintenanceScheduleUpdated> {
        self.outgoing.iter_mut().find_map(|o| match o {
            Outgoing::ScheduleUpdated(s) => Some(s),
            _ => None,
        })
    }

    /// The schedule event's items (see [`plan`]).
    pub fn set_schedule_items(&mut self, items: Vec<MaintenanceItemView>) {
        if let Some(schedule) = self.schedule_mut() {
            schedule.items = items;
        }
    }

    pub fn status_changes(&self) -> usize {
        self.outgoing
            .iter()
            .filter(|o| matches!(o, Outgoing::StatusChanged(_)))
            .count()
    }

    /// What the plan publishes, counted.
    pub fn counts(&self) -> Published {
        Published {
            schedule: self.schedule().is_some(),
            status_changes: self.status_changes(),
            reminders: self.reminders.len(),
        }
    }

    /// The events to publish, each moved into its envelope.
    pub fn into_envelopes(
        self,
        vehicle: &VehicleRecord,
        traceparent: Option<&str>,
    ) -> Vec<Envelope> {
        self.outgoing
            .into_iter()
            .map(|o| {
                o.into_envelope(
                    &vehicle.org_id,
                    &vehicle.id,
                    traceparent.map(str::to_string),
                )
            })
            .collect()
    }
}

/// What a plan published: whether the schedule, and how many status changes and reminders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    pub schedule: bool,
    pub status_changes: usize,
    pub reminders: usize,
}

/// The first day after `today` on which an item that stays overdue is reminded again (a week after its
/// latest overdue reminder in the cycle), given every reminder sent so far.
pub fn next_reminder_repeat<'a>(
    items: &[MaintenanceItemView],
    sent: impl Iterator<Item = &'a SentReminder> + Clone,
    today: NaiveDate,
) -> Option<NaiveDate> {
    items
        .iter()
        .filter(|i| i.enabled && i.status == MaintenanceStatus::Overdue)
        .filter_map(|i| {
            let last = sent
                .clone()
                .filter(|r| {
                    r.status == MaintenanceStatus::Overdue
                        && r.task == i.task
                        && r.due_cycle == i.cycle()
                })
                .map(|r| r.sent_on)
                .max()?;
            Some(repeat_on(last).max(today.succ_opt()?))
        })
        .min()
}

/// Stable id of a reminder: the notification service delivers each id once per channel.
pub fn reminder_id(
    vehicle_id: &str,
    task: &str,
    status: MaintenanceStatus,
    due_cycle: &str,
    occurrence: u32,
) -> String {
    // The key "vehicle\ntask\nstatus\ncycle\noccurrence" fed to the hash in parts, and the id's hex
    // written in place: the same id as formatting them, without a string per byte.
    let mut hasher = Sha256::new();
    for part in [vehicle_id, task, status.as_str(), due_cycle] {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    hasher.update(occurrence.to_string().as_bytes());
    let digest = hasher.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(4 + 26);
    id.push_str("rem_");
    for b in &digest[..13] {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    id
}

/// Decides what `current` (evaluated on `today`) changes against what was published before. The schedule
/// event's `items` are left empty for the caller to set ([`Plan::set_schedule_items`]): moved from
/// `current` when it needs the evaluation no more (a sweep cloned every vehicle's items only to free them).
pub fn plan(
    vehicle: &VehicleRecord,
    previous: Option<&PublishedSchedule>,
    sent: &[SentReminder],
    current: &Evaluation,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Plan {
    let mut out = Plan::default();
    let fingerprint = PublishedSchedule::fingerprint_of(&current.items);
    let unchanged = previous.is_some_and(|p| p.describes(&current.items, fingerprint));
    if unchanged && previous.is_some_and(|p| p.hash != FINGERPRINT_HASH) {
        // The same schedule, remembered by an older hash: remembered anew, published again never.
        out.published = Some(PublishedSchedule::remembering(&current.items, fingerprint));
    } else if !unchanged {
        out.published = Some(PublishedSchedule::remembering(&current.items, fingerprint));
        out.outgoing
            .push(Outgoing::ScheduleUpdated(MaintenanceScheduleUpdated {
                vehicle_id: vehicle.id.clone(),
                items: Vec::new(),
                odometer: current.odometer.clone(),
                // To the microsecond, as every store keeps it (and a version-3 event writes it).
                evaluated_at: now.trunc_subsecs(6),
                evaluated_on: (now.date_naive() != today).then_some(today),
                // From version 2: readers derive or resolve what the items leave out by the unit.
                unit: Some(vehicle.unit),
            }));
    }

    for item in &current.items {
        let previous_status = previous.and_then(|p| p.status_of(&item.task));
        // A brand-new item has no status to change from; if it needs attention its reminder says so.
        // A sold or archived vehicle is reminded of nothing (its schedule is still published).
        if !vehicle.retired && previous_status.is_some_and(|p| p != item.status) {
            out.outgoing
                .push(Outgoing::StatusChanged(MaintenanceStatusChanged {
                    vehicle_id: vehicle.id.clone(),
                    task: item.task.clone(),
                    title: current.title_of(item),
                    previous_status,
                    status: item.status,
                    reason: current.reason_of(item, vehicle.unit, today),
                    due_cycle: item.cycle().into_owned(),
                    due_at: item.due_at,
                    due_odometer: item.due_odometer,
                }));
        }
    }

    let already: HashSet<(&str, MaintenanceStatus, &str, u32)> = sent
        .iter()
        .map(|r| {
            (
                r.task.as_str(),
                r.status,
                r.due_cycle.as_str(),
                r.occurrence,
            )
        })
        .collect();
    // Each item's latest overdue reminder in its cycle: the next repeat is a week after it.
    let mut last_overdue: HashMap<(&str, &str), (NaiveDate, u32)> = HashMap::new();
    for r in sent
        .iter()
        .filter(|r| r.status == MaintenanceStatus::Overdue)
    {
        let last = last_overdue
            .entry((r.task.as_str(), r.due_cycle.as_str()))
            .or_insert((r.sent_on, r.occurrence));
        *last = (*last).max((r.sent_on, r.occurrence));
    }
    for item in current
        .items
        .iter()
        .filter(|i| i.enabled && !vehicle.retired)
    {
        if !matches!(
            item.status,
            MaintenanceStatus::DueSoon | MaintenanceStatus::Overdue
        ) {
            continue;
        }
        let cycle = item.cycle();
        let occurrence = match item.status {
            MaintenanceStatus::Overdue => match last_overdue.get(&(item.task.as_str(), &*cycle)) {
                None => 0,
                Some((on, occurrence)) if today >= repeat_on(*on) => occurrence.saturating_add(1),
                Some((_, occurrence)) => *occurrence,
            },
            // Due soon: reminded once a cycle.
            _ => 0,
        };
        let key = (item.task.as_str(), item.status, &*cycle, occurrence);
        // An item that comes back to a status it was reminded of (a voided completion makes it overdue
        // again in the same cycle) is reminded again: the earlier reminder may have been read, or marked
        // read when the item was done. The next occurrence number keeps the reminder's id new.
        // So is one turned off and on again (unknown while off): turning it off marked its reminder read.
        let came_back = previous
            .and_then(|p| p.status_of(&item.task))
            .is_some_and(|p| p != item.status);
        let occurrence = match (already.contains(&key), came_back) {
            (false, _) => occurrence,
            (true, false) => continue,
            (true, true) => sent
                .iter()
                .filter(|r| {
                    (r.task.as_str(), r.status, r.due_cycle.as_str()) == (key.0, key.1, key.2)
                })
                .map(|r| r.occurrence)
                .max()
                .unwrap_or(occurrence)
                .saturating_add(1),
        };
        let id = reminder_id(&vehicle.id, &item.task, item.status, &cycle, occurrence);
        out.reminders.push(SentReminder {
            task: item.task.clone(),
            status: item.status,
            due_cycle: cycle.to_string(),
            occurrence,
            reminder_id: id.clone(),
            sent_on: today,
            sent_at: now,
        });
        out.outgoing.push(Outgoing::Reminder(ReminderDue {
            reminder_id: id,
            vehicle_id: vehicle.id.clone(),
            vehicle_name: vehicle.name.clone(),
            task: item.task.clone(),
            title: current.title_of(item),
            status: item.status,
            reason: current.reason_of(item, vehicle.unit, today),
            due_cycle: cycle.into_owned(),
            due_at: item.due_at,
            due_odometer: item.due_odometer,
            occurrence,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, day};
    use chrono::Duration;
    use vwc_contracts::OdometerUnit;

    use crate::evaluation::{FactKind, TimelineFact, evaluate_vehicle};
    use crate::settings::ItemSettings;

    fn example_items() -> Vec<MaintenanceItemView> {
        let mut items = vwc_contracts::examples::maintenance_schedule().items;
        items.push(MaintenanceItemView {
            task: "wiper_blades".into(),
            title: "Wiper blade replacement".into(),
            reason: "Overdue: was due on 2026-01-05".into(),
            projected_due_at: None,
            ..items[0].clone()
        });
        items
    }

    #[test]
    fn hash_1_of_the_fingerprint_hashes_the_items_facts_as_it_always_did() {
        // Fingerprints stored before hash 2 are compared with hash 1 of new items: its bytes must not
        // change, or every such vehicle's schedule would look changed and be published again.
        let items = example_items();
        let facts: Vec<MaintenanceItemView> = items
            .iter()
            .map(|i| MaintenanceItemView {
                reason: String::new(),
                projected_due_at: None,
                ..i.clone()
            })
            .collect();
        let json = serde_json::to_string(&facts).unwrap();
        assert!(json.contains(r#""dueCycle":"2026-09-01@45000""#), "{json}");
        assert!(!json.contains("reason") && !json.contains("projectedDueAt"));
        let fnv = json.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        assert_eq!(json_fingerprint(&items), fnv);
        assert_eq!(json_fingerprint(&items), HASH_1_OF_THE_EXAMPLE);
    }

    /// The fingerprints of the items above, pinned: hash 1 (FNV-1a of their facts' JSON), hash 2 (FNV-1a of
    /// their facts' fields) and hash 3 (their words).
    const HASH_1_OF_THE_EXAMPLE: u64 = 1_590_864_306_597_534_063;
    const HASH_2_OF_THE_EXAMPLE: u64 = 15_333_674_176_387_149_169;
    const HASH_3_OF_THE_EXAMPLE: u64 = 7_674_416_070_043_497_299;

    #[test]
    fn hash_2_of_the_fingerprint_hashes_the_items_facts_as_it_always_did() {
        // Fingerprints stored before hash 3 are compared with hash 2 of new items.
        let items = example_items();
        assert_eq!(fnv_fingerprint(&items), HASH_2_OF_THE_EXAMPLE);
        let mut changed = items.clone();
        changed[1].due_odometer = Some(45_001);
        assert_ne!(fnv_fingerprint(&changed), HASH_2_OF_THE_EXAMPLE);
    }

    #[test]
    fn hash_3_of_the_fingerprint_is_pinned_and_sees_every_fact() {
        // Stored fingerprints are compared with new ones: hash 3's words must not change either.
        let items = example_items();
        let published = PublishedSchedule::of(&items);
        assert_eq!(published.hash, FINGERPRINT_HASH);
        assert_eq!(published.fingerprint, HASH_3_OF_THE_EXAMPLE);
        // The catalogue's title, written or left for later (`Derived`), is the same schedule.
        let mut untitled = items.clone();
        for item in &mut untitled {
            assert!(Catalogue::standard().is_default_title(&item.task, &item.title));
            item.title.clear();
        }
        assert_eq!(PublishedSchedule::of(&untitled), published);
        let changes: [fn(&mut MaintenanceItemView); 11] = [
            |i| i.task.push('s'),
            |i| i.title.push('s'),
            |i| i.interval_miles = None,
            |i| i.interval_km = Some(1),
            |i| i.interval_months = Some(7),
            |i| i.last_done_at = i.last_done_at.map(|t| t + chrono::Duration::nanoseconds(1)),
            |i| i.last_done_odometer = None,
            |i| i.due_at = i.due_at.and_then(|d| d.succ_opt()),
            |i| i.due_odometer = Some(45_001),
            |i| i.status = MaintenanceStatus::Overdue,
            |i| i.enabled = false,
        ];
        for (n, change) in changes.iter().enumerate() {
            let mut changed = items.clone();
            change(&mut changed[1]);
            assert_ne!(PublishedSchedule::of(&changed), published, "change {n}");
        }
        // Moving a title's end into the next field is another schedule.
        let mut shifted = items.clone();
        shifted[0].task = "oil_chang".into();
        shifted[0].title = format!("e{}", shifted[0].title);
        assert_ne!(
            PublishedSchedule::of(&shifted).fingerprint,
            published.fingerprint
        );
    }

    #[test]
    fn a_schedule_remembered_by_an_older_hash_is_not_published_again_and_is_remembered_anew() {
        for (hash, older) in [
            (1, json_fingerprint as fn(&[MaintenanceItemView]) -> u64),
            (2, fnv_fingerprint),
        ] {
            remembered_by_an_older_hash(hash, older);
        }
    }

    fn remembered_by_an_older_hash(hash: u32, older: fn(&[MaintenanceItemView]) -> u64) {
        let mut s = Scenario::overdue_on_10_june();
        let first = s.run(day(2025, 6, 10));
        assert!(first.schedule().is_some());
        let remembered = s.published.clone().unwrap();
        s.published = Some(PublishedSchedule {
            fingerprint: older(&s.last_items),
            hash,
            ..remembered.clone()
        });
        let upgraded = s.run(day(2025, 6, 10));
        assert_eq!(upgraded.outgoing, [], "nothing is published again");
        assert_eq!(upgraded.published, Some(remembered.clone()));
        assert_eq!(upgraded.counts(), Published::default());
        assert!(s.run(day(2025, 6, 10)).is_empty());
        // A schedule that did change is published, whichever hash remembered it.
        s.published = Some(PublishedSchedule {
            fingerprint: older(&s.last_items) ^ 1,
            hash,
            ..remembered
        });
        assert!(s.run(day(2025, 6, 10)).schedule().is_some());
    }

    fn noon(d: NaiveDate) -> DateTime<Utc> {
        d.and_hms_opt(12, 0, 0).unwrap().and_utc()
    }

    fn vehicle() -> VehicleRecord {
        VehicleRecord {
            id: "veh_1".into(),
            org_id: "org_a".into(),
            name: "2021 Toyota RAV4 (Blue)".into(),
            unit: OdometerUnit::Mi,
            registered_at: at(2024, 1, 1),
            retired: false,
        }
    }

    /// Only the oil change, done at 40,000 mi on 1 March 2025 (5,000 mi / 6 months), plus readings.
    struct Scenario {
        facts: Vec<TimelineFact>,
        settings: Vec<ItemSettings>,
        published: Option<PublishedSchedule>,
        last_items: Vec<MaintenanceItemView>,
        sent: Vec<SentReminder>,
    }

    impl Scenario {
        fn new() -> Scenario {
            Scenario {
                facts: vec![TimelineFact::new(
                    "oil",
                    FactKind::Maintenance,
                    at(2025, 3, 1),
                    Some(40_000),
                    &["oil_change"],
                )],
                settings: Vec::new(),
                published: None,
                last_items: Vec::new(),
                sent: Vec::new(),
            }
        }

        fn read(&mut self, on: NaiveDate, value: u64) {
            let id = format!("r{value}");
            let reading = TimelineFact::new(&id, FactKind::Reading, noon(on), Some(value), &[]);
            self.facts.push(reading);
        }

        /// The oil change overdue: 45,100 mi read on 10 June 2025, past the 45,000 it was due at.
        fn overdue_on_10_june() -> Scenario {
            let mut s = Scenario::new();
            s.read(day(2025, 6, 10), 45_100);
            s
        }

        /// Runs the plan for `today` and checks the oil change's reminders in it.
        #[track_caller]
        fn expect_oil_reminders_on(
            &mut self,
            today: NaiveDate,
            expected: &[(MaintenanceStatus, u32)],
        ) {
            let reminders = oil_reminders(&self.run(today));
            assert_eq!(reminders, expected, "the oil change's reminders on {today}");
        }

        fn done(&mut self, on: NaiveDate, value: u64) {
            let id = format!("d{value}");
            let oil = ["oil_change"];
            let done = TimelineFact::new(&id, FactKind::Maintenance, noon(on), Some(value), &oil);
            self.facts.push(done);
        }

        /// Evaluates, plans and "commits" like the store would; returns the plan.
        fn run(&mut self, today: NaiveDate) -> Plan {
            let evaluation = evaluate_vehicle(&vehicle(), &self.facts, &self.settings, today);
            let mut p = plan(
                &vehicle(),
                self.published.as_ref(),
                &self.sent,
                &evaluation,
                today,
                noon(today),
            );
            p.set_schedule_items(evaluation.items.clone());
            if let Some(published) = &p.published {
                self.published = Some(published.clone());
            }
            if let Some(schedule) = p.schedule() {
                self.last_items = schedule.items.clone();
            }
            self.sent.extend(p.reminders.iter().cloned());
            p
        }
    }

    /// The oil change's reminders among the plan's outgoing events: (status, occurrence).
    fn oil_reminders(p: &Plan) -> Vec<(MaintenanceStatus, u32)> {
        p.outgoing
            .iter()
            .filter_map(|o| match o {
                Outgoing::Reminder(r) if r.task == "oil_change" => Some((r.status, r.occurrence)),
                _ => None,
            })
            .collect()
    }

    fn status_changes(p: &Plan) -> Vec<(String, Option<MaintenanceStatus>, MaintenanceStatus)> {
        p.outgoing
            .iter()
            .filter_map(|o| match o {
                Outgoing::StatusChanged(c) => Some((c.task.clone(), c.previous_status, c.status)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_first_evaluation_publishes_the_schedule_and_nothing_else_when_all_is_well() {
        let mut s = Scenario::new();
        let p = s.run(day(2025, 3, 2));
        assert!(matches!(p.outgoing[0], Outgoing::ScheduleUpdated(_)));
        assert_eq!(p.schedule().unwrap().items.len(), 12);
        assert_eq!(p.published.as_ref().unwrap().statuses.len(), 12);
        assert_eq!(oil_reminders(&p), []);
        assert!(status_changes(&p).iter().all(|c| c.0 != "oil_change"));
    }

    #[test]
    fn entering_due_soon_sends_one_reminder_and_the_same_state_again_sends_none() {
        let mut s = Scenario::new();
        s.run(day(2025, 3, 2));
        s.read(day(2025, 6, 1), 44_600);
        let p = s.run(day(2025, 6, 1));
        assert_eq!(oil_reminders(&p), [(MaintenanceStatus::DueSoon, 0)]);
        assert!(status_changes(&p).contains(&(
            "oil_change".into(),
            Some(MaintenanceStatus::Ok),
            MaintenanceStatus::DueSoon
        )));
        let Some(Outgoing::Reminder(r)) = p
            .outgoing
            .iter()
            .find(|o| matches!(o, Outgoing::Reminder(r) if r.task == "oil_change"))
        else {
            unreachable!()
        };
        assert_eq!(r.vehicle_name, "2021 Toyota RAV4 (Blue)");
        assert_eq!(r.due_cycle, "2025-09-01@45000");
        assert_eq!(
            r.reminder_id,
            reminder_id(
                "veh_1",
                "oil_change",
                MaintenanceStatus::DueSoon,
                "2025-09-01@45000",
                0
            )
        );

        let again = s.run(day(2025, 6, 1));
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn overdue_sends_one_reminder_then_a_repeat_each_week_while_it_stays_overdue() {
        let mut s = Scenario::new();
        s.run(day(2025, 3, 2));
        s.read(day(2025, 6, 1), 44_600);
        s.run(day(2025, 6, 1));
        s.read(day(2025, 6, 10), 45_100);
        let p = s.run(day(2025, 6, 10));
        assert_eq!(oil_reminders(&p), [(MaintenanceStatus::Overdue, 0)]);
        assert!(s.run(day(2025, 6, 10)).is_empty());
        // Six days later: the reason text moved on, but no reminder yet.
        s.expect_oil_reminders_on(day(2025, 6, 16), &[]);
        let week = s.run(day(2025, 6, 17));
        assert_eq!(oil_reminders(&week), [(MaintenanceStatus::Overdue, 1)]);
        assert!(s.run(day(2025, 6, 17)).is_empty());
        s.expect_oil_reminders_on(day(2025, 6, 24), &[(MaintenanceStatus::Overdue, 2)]);
    }

    #[test]
    fn maintenance_resets_the_item_and_its_next_cycle_reminds_again() {
        let mut s = Scenario::overdue_on_10_june();
        s.expect_oil_reminders_on(day(2025, 6, 10), &[(MaintenanceStatus::Overdue, 0)]);
        s.done(day(2025, 6, 12), 45_200);
        let reset = s.run(day(2025, 6, 12));
        assert_eq!(oil_reminders(&reset), []);
        assert!(status_changes(&reset).contains(&(
            "oil_change".into(),
            Some(MaintenanceStatus::Overdue),
            MaintenanceStatus::Ok
        )));
        assert_eq!(s.last_items[0].due_cycle, "2025-12-12@50200");
        s.read(day(2025, 10, 1), 49_800);
        let p = s.run(day(2025, 10, 1));
        let Some(Outgoing::Reminder(r)) = p
            .outgoing
            .iter()
            .find(|o| matches!(o, Outgoing::Reminder(r) if r.task == "oil_change"))
        else {
            panic!("no reminder in the new cycle: {p:?}")
        };
        assert_eq!(
            (r.status, r.occurrence, r.due_cycle.as_str()),
            (MaintenanceStatus::DueSoon, 0, "2025-12-12@50200")
        );
    }

    #[test]
    fn an_item_back_in_a_status_it_was_reminded_of_is_reminded_again_with_a_new_id() {
        let mut s = Scenario::overdue_on_10_june();
        s.expect_oil_reminders_on(day(2025, 6, 10), &[(MaintenanceStatus::Overdue, 0)]);
        // Done (ok again), then the record turns out wrong and is voided: overdue again, same cycle.
        s.done(day(2025, 6, 11), 45_150);
        s.expect_oil_reminders_on(day(2025, 6, 11), &[]);
        s.facts.retain(|f| f.event_id != "d45150");
        s.expect_oil_reminders_on(day(2025, 6, 12), &[(MaintenanceStatus::Overdue, 1)]);
        // The same state again: nothing; the weekly repeat comes a week after that reminder, not on the
        // 17th (a week after the first): no week goes by without one, and none comes 5 days after another.
        s.expect_oil_reminders_on(day(2025, 6, 12), &[]);
        s.expect_oil_reminders_on(day(2025, 6, 17), &[]);
        s.expect_oil_reminders_on(day(2025, 6, 18), &[]);
        s.expect_oil_reminders_on(day(2025, 6, 19), &[(MaintenanceStatus::Overdue, 2)]);
        let ids: HashSet<&str> = s.sent.iter().map(|r| r.reminder_id.as_str()).collect();
        assert_eq!(ids.len(), s.sent.len(), "every reminder has its own id");
        // Turned off (which marks its reminder read) and on again: reminded again at once, then weekly.
        let mut oil = ItemSettings::default_for("oil_change", OdometerUnit::Mi).unwrap();
        oil.enabled = false;
        s.settings = vec![oil.clone()];
        s.expect_oil_reminders_on(day(2025, 6, 21), &[]);
        oil.enabled = true;
        s.settings = vec![oil];
        s.expect_oil_reminders_on(day(2025, 6, 21), &[(MaintenanceStatus::Overdue, 3)]);
        s.expect_oil_reminders_on(day(2025, 6, 21), &[]);
        s.expect_oil_reminders_on(day(2025, 6, 27), &[]);
        s.expect_oil_reminders_on(day(2025, 6, 28), &[(MaintenanceStatus::Overdue, 4)]);
        let ids: HashSet<&str> = s.sent.iter().map(|r| r.reminder_id.as_str()).collect();
        assert_eq!(ids.len(), s.sent.len(), "every reminder has its own id");
    }

    #[test]
    fn a_sold_or_archived_vehicle_is_reminded_of_nothing_but_its_schedule_is_published() {
        let s = Scenario::overdue_on_10_june();
        let today = day(2025, 6, 10);
        let evaluation = evaluate_vehicle(&vehicle(), &s.facts, &s.settings, today);
        let retired = VehicleRecord {
            retired: true,
            ..vehicle()
        };
        let p = plan(&retired, None, &[], &evaluation, today, noon(today));
        assert!(p.reminders.is_empty());
        assert_eq!(oil_reminders(&p), []);
        assert!(status_changes(&p).is_empty());
        assert!(p.schedule().is_some());
        let active = plan(&vehicle(), None, &[], &evaluation, today, noon(today));
        assert_eq!(oil_reminders(&active), [(MaintenanceStatus::Overdue, 0)]);
    }

    #[test]
    fn a_disabled_item_sends_no_reminder() {
        let mut s = Scenario::new();
        let mut oil = ItemSettings::default_for("oil_change", OdometerUnit::Mi).unwrap();
        oil.enabled = false;
        s.settings = vec![oil];
        s.read(day(2025, 6, 10), 45_100);
        let p = s.run(day(2025, 6, 10));
        assert_eq!(oil_reminders(&p), []);
        let view = &p.schedule().unwrap().items[0];
        assert_eq!(
            (view.status, view.enabled),
            (MaintenanceStatus::Unknown, false)
        );
    }

    #[test]
    fn straight_to_overdue_skips_the_due_soon_reminder() {
        let mut s = Scenario::new();
        s.run(day(2025, 3, 2));
        s.read(day(2025, 6, 10), 46_000);
        s.expect_oil_reminders_on(day(2025, 6, 10), &[(MaintenanceStatus::Overdue, 0)]);
    }

    #[test]
    fn a_missed_week_is_not_sent_late_the_current_week_is() {
        let mut s = Scenario::overdue_on_10_june();
        s.run(day(2025, 6, 10));
        // Nothing swept on the 17th: one reminder on the 25th, the next a week after it.
        s.expect_oil_reminders_on(
            day(2025, 6, 10) + Duration::days(15),
            &[(MaintenanceStatus::Overdue, 1)],
        );
        s.expect_oil_reminders_on(day(2025, 7, 1), &[]);
        s.expect_oil_reminders_on(day(2025, 7, 2), &[(MaintenanceStatus::Overdue, 2)]);
    }

    #[test]
    fn the_published_schedule_is_remembered_by_fingerprint_and_statuses() {
        let mut s = Scenario::overdue_on_10_june();
        let p = s.run(day(2025, 6, 10));
        let published = p.published.unwrap();
        assert_eq!(published, PublishedSchedule::of(&s.last_items));
        assert_eq!(
            published.status_of("oil_change"),
            Some(MaintenanceStatus::Overdue)
        );
        let encoded = published.statuses_json();
        assert_eq!(
            encoded,
            serde_json::to_string(&published.statuses).unwrap(),
            "the stored text is serde_json's"
        );
        assert!(
            encoded.starts_with(r#"{"annual_inspection":"#)
                && encoded.contains(r#""oil_change":"overdue""#),
            "{encoded}"
        );
        assert_eq!(
            PublishedSchedule::decode(published.fingerprint, FINGERPRINT_HASH, &encoded),
            Some(published.clone())
        );
        // Rows written before the statuses were structured still read.
        let legacy: Vec<String> = published
            .statuses
            .iter()
            .map(|(t, s)| format!("{t}={}", s.as_str()))
            .collect();
        assert_eq!(
            PublishedSchedule::decode(published.fingerprint, FINGERPRINT_HASH, &legacy.join(",")),
            Some(published.clone())
        );
        assert_eq!(PublishedSchedule::decode(1, 2, "oil_change=broken"), None);
        assert_eq!(
            PublishedSchedule::decode(1, 2, r#"{"oil_change":"broken"}"#),
            None
        );
        // A fact changes the fingerprint; re-wording or re-estimating does not.
        let mut changed = s.last_items.clone();
        changed[0].due_odometer = changed[0].due_odometer.map(|o| o + 1);
        assert_ne!(
            PublishedSchedule::of(&changed).fingerprint,
            published.fingerprint
        );
        let mut reworded = s.last_items.clone();
        reworded[0].reason.push('!');
        reworded[0].projected_due_at = Some(day(2030, 1, 1));
        assert_eq!(
            PublishedSchedule::of(&reworded).fingerprint,
            published.fingerprint
        );
    }

    #[test]
    fn reminder_ids_are_stable_and_distinct_per_key() {
        let a = reminder_id("veh_1", "oil_change", MaintenanceStatus::Overdue, "c", 0);
        assert_eq!(
            a,
            reminder_id("veh_1", "oil_change", MaintenanceStatus::Overdue, "c", 0)
        );
        assert!(a.starts_with("rem_") && a.len() == 30);
        // Ids are stored and delivered: the hash of the same key as always, the first 13 bytes in hex.
        let key = "veh_1\noil_change\noverdue\nc\n0";
        let hex: String = Sha256::digest(key.as_bytes())[..13]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(a, format!("rem_{hex}"));
        for other in [
            reminder_id("veh_2", "oil_change", MaintenanceStatus::Overdue, "c", 0),
            reminder_id("veh_1", "coolant", MaintenanceStatus::Overdue, "c", 0),
            reminder_id("veh_1", "oil_change", MaintenanceStatus::DueSoon, "c", 0),
            reminder_id("veh_1", "oil_change", MaintenanceStatus::Overdue, "d", 0),
            reminder_id("veh_1", "oil_change", MaintenanceStatus::Overdue, "c", 1),
        ] {
            assert_ne!(a, other);
        }
    }

    #[test]
    fn outgoing_events_become_envelopes_of_this_service() {
        let mut s = Scenario::overdue_on_10_june();
        let p = s.run(day(2025, 6, 10));
        let envelopes = p.into_envelopes(
            &vehicle(),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        assert_eq!(
            envelopes[0].event_type(),
            EventType::MaintenanceScheduleUpdated
        );
        assert!(
            envelopes
                .iter()
                .all(|e| e.source == "vwc.maintenance-scheduler"
                    && e.org_id == "org_a"
                    && e.vehicle_id.as_deref() == Some("veh_1")
                    && e.traceparent.is_some())
        );
        let reminder: ReminderDue = envelopes.last().unwrap().payload().cloned().unwrap();
        assert_eq!(reminder.status, MaintenanceStatus::Overdue);
    }
}
