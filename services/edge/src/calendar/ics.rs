//! Rendering maintenance items as an iCalendar document: pure, no I/O. One all-day `VEVENT` per enabled
//! item with a date: the date it falls due or the date its mileage is projected to be reached, whichever
//! comes first — an overdue item's is the day the feed is read. The `UID` is the vehicle and the task, so
//! a refreshed feed moves the event instead of adding another.

use std::fmt::Write as _;

use chrono::{DateTime, Days, NaiveDate, Utc};
use vwc_contracts::Vehicle;
use vwc_contracts::maintenance::{MaintenanceItemView, MaintenanceStatus};
use vwc_contracts::text::Grouped;

/// How often a subscribed calendar should re-read the feed.
pub const REFRESH: &str = "PT6H";

/// One vehicle's maintenance, as the edge holds it.
pub struct VehicleCalendar<'a> {
    pub vehicle: &'a Vehicle,
    pub items: &'a [MaintenanceItemView],
    pub evaluated_at: DateTime<Utc>,
}

/// The date an item goes into the calendar and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueBy {
    /// Its interval in months.
    Date(NaiveDate),
    /// Its interval in distance, at the vehicle's measured usage rate.
    ProjectedMileage(NaiveDate),
    /// Its interval in distance, already reached: the day it was found overdue (the evaluation's).
    Reached(NaiveDate),
}

impl DueBy {
    pub fn date(self) -> NaiveDate {
        match self {
            DueBy::Date(d) | DueBy::ProjectedMileage(d) | DueBy::Reached(d) => d,
        }
    }
}

/// Whichever comes first of the due date and the projected mileage date; `None` for a disabled item or
/// one with neither (no interval, or no usage to project from yet). An item overdue by distance — its due
/// odometer reached, so no date is projected any more — is due on the day it was evaluated (`evaluated_on`)
/// unless its due date came first: it was put on its due date months ahead, or left out when it had none.
pub fn due_by(item: &MaintenanceItemView, evaluated_on: NaiveDate) -> Option<DueBy> {
    if !item.enabled {
        return None;
    }
    let reached = item.status == MaintenanceStatus::Overdue
        && item.due_odometer.is_some()
        && item.due_at.is_none_or(|d| d > evaluated_on);
    if reached {
        return Some(DueBy::Reached(evaluated_on));
    }
    match (item.due_at, item.projected_due_at) {
        (Some(d), Some(p)) if p < d => Some(DueBy::ProjectedMileage(p)),
        (Some(d), _) => Some(DueBy::Date(d)),
        (None, Some(p)) => Some(DueBy::ProjectedMileage(p)),
        (None, None) => None,
    }
}

/// The `UID` of an item's event: stable across evaluations so calendar apps replace, not duplicate.
pub fn uid(vehicle_id: &str, task: &str) -> String {
    format!("{vehicle_id}.{task}@maintenance.vwc.dev")
}

pub fn vehicle_label(v: &Vehicle) -> String {
    match &v.nickname {
        Some(n) if !n.trim().is_empty() => format!("{n} ({} {} {})", v.year, v.make, v.model),
        _ => format!("{} {} {}", v.year, v.make, v.model),
    }
}

/// The day an item's event is on, `today` being the day the feed is read: the day it falls due
/// ([`due_by`]), but an overdue item's is today — on its past due date it would sit weeks back in the
/// calendar, where nobody looks (probe p44 L6); its summary says since when.
pub fn placed_on(item: &MaintenanceItemView, due: DueBy, today: NaiveDate) -> NaiveDate {
    match item.status {
        MaintenanceStatus::Overdue => due.date().max(today),
        _ => due.date(),
    }
}

/// The whole document: `name` is the calendar's display name; `today` the day it is read (the clock's, UTC),
/// the day overdue items are on ([`placed_on`]).
pub fn render(name: &str, vehicles: &[VehicleCalendar<'_>], today: NaiveDate) -> String {
    let mut out = Lines::default();
    out.line("BEGIN:VCALENDAR");
    out.line("VERSION:2.0");
    out.line("PRODID:-//Vehicle Wellness Center//Maintenance feed//EN");
    out.line("CALSCALE:GREGORIAN");
    out.line("METHOD:PUBLISH");
    out.prop("NAME", &text(name));
    out.prop("X-WR-CALNAME", &text(name));
    out.line(&format!("REFRESH-INTERVAL;VALUE=DURATION:{REFRESH}"));
    out.line(&format!("X-PUBLISHED-TTL:{REFRESH}"));
    for v in vehicles {
        let label = vehicle_label(v.vehicle);
        for item in v.items {
            let Some(due) = due_by(item, v.evaluated_at.date_naive()) else {
                continue;
            };
            event(&mut out, v, &label, item, due, today);
        }
    }
    out.line("END:VCALENDAR");
    out.0
}

/// A status in the words of an event's description: its wire name, spaced ("due soon").
fn status_words(status: MaintenanceStatus) -> String {
    status.as_str().replace('_', " ")
}

fn event(
    out: &mut Lines,
    v: &VehicleCalendar<'_>,
    label: &str,
    item: &MaintenanceItemView,
    due: DueBy,
    today: NaiveDate,
) {
    let unit = v.vehicle.odometer_unit.as_str();
    let stamp = v.evaluated_at.format("%Y%m%dT%H%M%SZ").to_string();
    let date = due.date();
    let day = placed_on(item, due, today);
    let end = day.checked_add_days(Days::new(1)).unwrap_or(day);
    // An overdue item moves to each new day it is read on: its sequence grows with the day too.
    let revised = if day > date {
        v.evaluated_at
            .max(day.and_time(chrono::NaiveTime::MIN).and_utc())
    } else {
        v.evaluated_at
    };
    let status = status_words(item.status);
    let mut description = format!("Status: {status}. {}", item.reason);
    match due {
        DueBy::Date(_) => {
            let _ = write!(description, "\nDue by date: {date}.");
        }
        DueBy::ProjectedMileage(_) => {
            let _ = write!(
                description,
                "\nProjected date: the vehicle's recent usage reaches the due odometer around {date}."
            );
        }
        DueBy::Reached(_) => {
            let _ = write!(
                description,
                "\nThe odometer had reached the due point when checked on {date}."
            );
        }
    }
    if let Some(odo) = item.due_odometer {
        let _ = write!(description, "\nDue at {} {unit}.", Grouped(odo));
    }
    if let Some(at) = item.last_done_at {
        let _ = write!(description, "\nLast done {}", at.date_naive());
        if let Some(odo) = item.last_done_odometer {
            let _ = write!(description, " at {} {unit}", Grouped(odo));
        }
        description.push('.');
    }
    let summary = match item.status {
        MaintenanceStatus::Overdue if day > date => {
            format!("{label}: {} (overdue since {date})", item.title)
        }
        MaintenanceStatus::Overdue => format!("{label}: {} (overdue)", item.title),
        _ => format!("{label}: {}", item.title),
    };
    out.line("BEGIN:VEVENT");
    out.prop("UID", &uid(&v.vehicle.id, &item.task));
    out.line(&format!("DTSTAMP:{stamp}"));
    out.line(&format!("LAST-MODIFIED:{stamp}"));
    out.line(&format!("SEQUENCE:{}", sequence(revised)));
    out.line(&format!("DTSTART;VALUE=DATE:{}", day.format("%Y%m%d")));
    out.line(&format!("DTEND;VALUE=DATE:{}", end.format("%Y%m%d")));
    out.prop("SUMMARY", &text(&summary));
    out.prop("DESCRIPTION", &text(&description));
    out.prop("CATEGORIES", "Maintenance");
    // A projection moves with the odometer: tentative until the date is fixed by the calendar.
    out.line(match due {
        DueBy::Date(_) | DueBy::Reached(_) => "STATUS:CONFIRMED",
        DueBy::ProjectedMileage(_) => "STATUS:TENTATIVE",
    });
    out.line("TRANSP:TRANSPARENT");
    out.prop("X-VWC-VEHICLE-ID", &text(&v.vehicle.id));
    out.prop("X-VWC-TASK", &text(&item.task));
    out.line("END:VEVENT");
}

/// Seconds from 2024-01-01 to the schedule's evaluation (the evaluation time, `LAST-MODIFIED`, counted):
/// an event's `SEQUENCE` (RFC 5545 §3.8.7.4) grows whenever its schedule is evaluated again — after a fact
/// changed — and stays the same on every refresh in between, so a client that orders revisions by sequence
/// (Outlook) takes a moved date as newer than the one it holds. 0 before that epoch; an RFC 5545 INTEGER
/// (a signed 32-bit value) until 2092, then held there.
pub fn sequence(evaluated_at: DateTime<Utc>) -> u32 {
    const EPOCH: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z
    u32::try_from((evaluated_at.timestamp() - EPOCH).max(0))
        .unwrap_or(u32::MAX)
        .min(i32::MAX as u32)
}

/// RFC 5545 §3.3.11: backslash, semicolon, comma and newline are escaped in TEXT values.
pub fn text(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            ';' => s.push_str("\\;"),
            ',' => s.push_str("\\,"),
            '\n' => s.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => s.push(c),
        }
    }
    s
}

/// Content lines ending in CRLF, folded at 75 octets (RFC 5545 §3.1) without splitting a character.
#[derive(Default)]
struct Lines(String);

impl Lines {
    fn prop(&mut self, name: &str, value: &str) {
        self.line(&format!("{name}:{value}"));
    }

    fn line(&mut self, line: &str) {
        let mut width = 0;
        for c in line.chars() {
            let len = c.len_utf8();
            if width + len > 75 {
                self.0.push_str("\r\n ");
                width = 1;
            }
            self.0.push(c);
            width += len;
        }
        self.0.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(due_at: Option<&str>, projected: Option<&str>) -> MaintenanceItemView {
        MaintenanceItemView {
            task: "oil_change".into(),
            title: "Oil and filter change".into(),
            interval_miles: Some(5000),
            interval_km: None,
            interval_months: Some(6),
            last_done_at: None,
            last_done_odometer: None,
            due_at: due_at.map(|d| d.parse().unwrap()),
            due_odometer: Some(45000),
            projected_due_at: projected.map(|d| d.parse().unwrap()),
            status: MaintenanceStatus::Ok,
            reason: "due in 3 months".into(),
            due_cycle: "c1".into(),
            enabled: true,
        }
    }

    #[test]
    fn the_earlier_of_due_date_and_projected_mileage_date_is_taken() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let today = d("2026-03-01");
        assert_eq!(
            due_by(&item(Some("2026-06-01"), Some("2026-04-01")), today),
            Some(DueBy::ProjectedMileage(d("2026-04-01")))
        );
        assert_eq!(
            due_by(&item(Some("2026-06-01"), Some("2026-07-01")), today),
            Some(DueBy::Date(d("2026-06-01")))
        );
        assert_eq!(due_by(&item(None, None), today), None);
        let mut disabled = item(Some("2026-06-01"), None);
        disabled.enabled = false;
        assert_eq!(due_by(&disabled, today), None);
    }

    /// Overdue by distance (the due odometer reached, so no projected date): due the day it was found so,
    /// not on its due date months ahead, and not left out when it has no due date (a probe: the RAV4's oil
    /// change moved from 2026-12-04 to 2027-01-05 once a reading passed its due odometer; an item with a
    /// distance interval only vanished from the feed).
    #[test]
    fn an_item_overdue_by_distance_is_due_the_day_it_was_found_so() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let today = d("2026-12-02");
        let overdue = |due_at: Option<&str>| MaintenanceItemView {
            status: MaintenanceStatus::Overdue,
            ..item(due_at, None)
        };
        assert_eq!(
            due_by(&overdue(Some("2027-01-05")), today),
            Some(DueBy::Reached(today))
        );
        assert_eq!(due_by(&overdue(None), today), Some(DueBy::Reached(today)));
        // Overdue by date: its due date, already past.
        assert_eq!(
            due_by(&overdue(Some("2026-11-01")), today),
            Some(DueBy::Date(d("2026-11-01")))
        );
        // A date-only item overdue is overdue by date.
        let by_date = MaintenanceItemView {
            due_odometer: None,
            ..overdue(Some("2026-11-01"))
        };
        assert_eq!(due_by(&by_date, today), Some(DueBy::Date(d("2026-11-01"))));
    }

    /// Probe p44 L6: an overdue item sat on its past due date (the demo RAV4's cabin filter in March, read
    /// in December). It is on the day the feed is read, says since when, and its sequence grows each day
    /// it moves; an item not overdue stays on its date.
    #[test]
    fn an_overdue_item_is_on_the_day_the_feed_is_read_and_says_since_when() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let overdue = MaintenanceItemView {
            status: MaintenanceStatus::Overdue,
            due_odometer: None,
            ..item(Some("2026-03-04"), None)
        };
        let due = due_by(&overdue, d("2026-03-05")).unwrap();
        assert_eq!(placed_on(&overdue, due, d("2026-12-04")), d("2026-12-04"));
        let soon = MaintenanceItemView {
            status: MaintenanceStatus::DueSoon,
            ..item(Some("2026-12-20"), None)
        };
        let due = due_by(&soon, d("2026-12-01")).unwrap();
        assert_eq!(placed_on(&soon, due, d("2026-12-04")), d("2026-12-20"));

        let vehicle: Vehicle = serde_json::from_value(serde_json::json!({
            "id": "veh_1", "orgId": "org_1", "vin": "1HGCM82633A004352", "year": 2021,
            "make": "Toyota", "model": "RAV4", "odometerUnit": "mi",
            "registeredAt": "2026-01-01T00:00:00Z", "status": "active"
        }))
        .unwrap();
        let evaluated_at = "2026-03-05T08:00:00Z".parse().unwrap();
        let feed = |today: &str| {
            render(
                "t",
                &[VehicleCalendar {
                    vehicle: &vehicle,
                    items: std::slice::from_ref(&overdue),
                    evaluated_at,
                }],
                d(today),
            )
        };
        let on_4th = feed("2026-12-04");
        assert!(
            on_4th.contains("DTSTART;VALUE=DATE:20261204\r\n"),
            "{on_4th}"
        );
        assert!(on_4th.contains("DTEND;VALUE=DATE:20261205\r\n"), "{on_4th}");
        assert!(
            on_4th.contains(
                "SUMMARY:2021 Toyota RAV4: Oil and filter change (overdue since 2026-03-04)"
            ),
            "{on_4th}"
        );
        assert!(on_4th.contains("Due by date: 2026-03-04."), "{on_4th}");
        let seq = |feed: &str| -> u32 {
            let at = feed.find("SEQUENCE:").unwrap() + "SEQUENCE:".len();
            feed[at..].split("\r\n").next().unwrap().parse().unwrap()
        };
        let on_5th = feed("2026-12-05");
        assert!(
            on_5th.contains("DTSTART;VALUE=DATE:20261205\r\n"),
            "{on_5th}"
        );
        assert!(seq(&on_5th) > seq(&on_4th));
        assert_eq!(
            seq(&feed("2026-12-04")),
            seq(&on_4th),
            "a refresh the same day"
        );
    }

    /// A later evaluation gives a greater sequence; the same one the same (a refresh changes nothing).
    #[test]
    fn the_sequence_grows_with_the_evaluation() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(sequence(t("2024-01-01T00:00:00Z")), 0);
        assert_eq!(sequence(t("2023-06-01T00:00:00Z")), 0);
        assert_eq!(sequence(t("2024-01-01T01:00:59.9Z")), 3659);
        let a = sequence(t("2026-12-02T08:00:00Z"));
        assert!(sequence(t("2026-12-02T08:00:01Z")) > a);
        assert_eq!(sequence(t("2026-12-02T08:00:00.5Z")), a);
        assert_eq!(sequence(t("2100-01-01T00:00:00Z")), i32::MAX as u32);
    }

    #[test]
    fn statuses_read_as_words() {
        let words = MaintenanceStatus::ALL.iter().map(|s| status_words(*s));
        let want = ["ok", "due soon", "overdue", "unknown"];
        assert_eq!(words.collect::<Vec<_>>(), want);
    }

    #[test]
    fn text_is_escaped_and_long_lines_are_folded_on_character_boundaries() {
        assert_eq!(text("a;b,c\\d\ne"), "a\\;b\\,c\\\\d\\ne");
        let mut lines = Lines::default();
        lines.prop("SUMMARY", &"é".repeat(60));
        for physical in lines.0.split("\r\n") {
            assert!(physical.len() <= 75, "{} octets", physical.len());
        }
        let unfolded = lines.0.replace("\r\n ", "");
        assert_eq!(unfolded, format!("SUMMARY:{}\r\n", "é".repeat(60)));
    }
}
