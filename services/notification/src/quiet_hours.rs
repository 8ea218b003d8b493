//! Quiet hours: a daily window in the recipient's local time (a fixed UTC offset) during which
//! non-urgent notifications are held, and the instant they may go out again.

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};

/// `start..end` in local time; `end` is exclusive. When `start > end` the window wraps midnight
/// (22:00–07:00). `start == end` means no quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
    /// Local time minus UTC, in minutes (UTC+02:00 is 120).
    pub tz_offset_minutes: i32,
}

impl QuietHours {
    /// `None` when `now` is outside quiet hours; otherwise the UTC instant they end.
    pub fn release_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let offset = TimeDelta::minutes(i64::from(self.tz_offset_minutes));
        let local = now.naive_utc() + offset;
        let time = local.time();
        let release_date = if self.start < self.end {
            if time < self.start || time >= self.end {
                return None;
            }
            local.date()
        } else if self.start > self.end {
            if time >= self.start {
                // Evening part of a window that wraps: it ends tomorrow morning.
                local.date().succ_opt()?
            } else if time < self.end {
                local.date()
            } else {
                return None;
            }
        } else {
            return None;
        };
        Some((release_date.and_time(self.end) - offset).and_utc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("RFC 3339 instant")
    }

    fn hhmm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
    }

    fn night(tz_offset_minutes: i32) -> QuietHours {
        QuietHours {
            start: hhmm(22, 0),
            end: hhmm(7, 0),
            tz_offset_minutes,
        }
    }

    /// Asserts when `window` releases a delivery due at each instant (`None`: it is not held).
    fn assert_releases(window: QuietHours, cases: &[(&str, Option<&str>)]) {
        for (due, release) in cases {
            assert_eq!(window.release_at(at(due)), release.map(at), "due at {due}");
        }
    }

    #[test]
    fn daytime_is_outside_overnight_quiet_hours() {
        assert_releases(night(0), &[("2026-05-01T12:00:00Z", None)]);
    }

    #[test]
    fn late_evening_is_released_next_morning() {
        assert_releases(
            night(0),
            &[("2026-05-01T23:30:00Z", Some("2026-05-02T07:00:00Z"))],
        );
    }

    #[test]
    fn early_morning_is_released_the_same_morning() {
        assert_releases(
            night(0),
            &[("2026-05-02T03:15:00Z", Some("2026-05-02T07:00:00Z"))],
        );
    }

    #[test]
    fn start_of_quiet_hours_is_inside_and_end_is_outside() {
        assert_releases(
            night(0),
            &[
                ("2026-05-01T22:00:00Z", Some("2026-05-02T07:00:00Z")),
                ("2026-05-02T06:59:59.999Z", Some("2026-05-02T07:00:00Z")),
                ("2026-05-02T07:00:00Z", None),
                ("2026-05-01T21:59:59Z", None),
            ],
        );
    }

    #[test]
    fn midnight_is_inside_a_window_that_wraps() {
        assert_releases(
            night(0),
            &[("2026-05-02T00:00:00Z", Some("2026-05-02T07:00:00Z"))],
        );
    }

    #[test]
    fn window_within_one_day_holds_only_between_its_bounds() {
        assert_releases(
            QuietHours {
                start: hhmm(12, 0),
                end: hhmm(13, 30),
                tz_offset_minutes: 0,
            },
            &[
                ("2026-05-01T11:59:00Z", None),
                ("2026-05-01T12:00:00Z", Some("2026-05-01T13:30:00Z")),
                ("2026-05-01T13:29:59Z", Some("2026-05-01T13:30:00Z")),
                ("2026-05-01T13:30:00Z", None),
            ],
        );
    }

    #[test]
    fn local_offset_decides_whether_it_is_night() {
        assert_releases(
            night(120),
            &[
                // 20:30 UTC is 22:30 at UTC+02:00: quiet until 07:00 local = 05:00 UTC.
                ("2026-05-01T20:30:00Z", Some("2026-05-02T05:00:00Z")),
            ],
        );
        assert_releases(
            night(-300),
            &[
                // 04:00 UTC is 23:00 the previous day at UTC-05:00: quiet until 07:00 local = 12:00 UTC.
                ("2026-05-02T04:00:00Z", Some("2026-05-02T12:00:00Z")),
            ],
        );
        assert_releases(
            night(570),
            &[
                // 23:30 UTC is 09:00 the next day at UTC+09:30: not quiet.
                ("2026-05-01T23:30:00Z", None),
            ],
        );
    }

    #[test]
    fn local_date_change_is_handled_across_month_and_year_ends() {
        assert_releases(
            night(60),
            &[("2026-12-31T22:30:00Z", Some("2027-01-01T06:00:00Z"))],
        );
    }

    #[test]
    fn equal_start_and_end_mean_no_quiet_hours() {
        assert_releases(
            QuietHours {
                start: hhmm(8, 0),
                end: hhmm(8, 0),
                tz_offset_minutes: 0,
            },
            &[
                ("2026-05-01T08:00:00Z", None),
                ("2026-05-01T03:00:00Z", None),
            ],
        );
    }
}
