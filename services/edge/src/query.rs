//! The edge's query parameters: one extractor, [`ApiQuery`], whose rejection is a problem, and the
//! parameter groups the routes combine. Each group is both what a handler reads and, through
//! `IntoParams`, what the OpenAPI document says; its fields stay the raw strings so that a bad value is a
//! 422 naming the field, in the words the group's reader gives. A group names every bad field it has, and a
//! route reads its groups with `vwc_http::AllFields`, so one 422 names every bad parameter.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;
use vwc_contracts::{EventKind, FieldError};
use vwc_http::{AllFields, ApiError};

use crate::cursor;
use crate::read_model::CostGrouping;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

/// The query string read into `T`: a parameter the route does not document, or one given twice, is a 422
/// naming it (the extractor every service shares).
pub use vwc_http::Query as ApiQuery;

/// `limit` and `cursor` of a paged route, and the one place they are read.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1–200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The `nextCursor` of the previous page, as it was (empty: the first page).
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    cursor: Option<String>,
}

impl PageQuery {
    /// The page size, and where the page starts: the position the `cursor` this API issued encodes.
    /// A bad value of either is a 422 naming the field.
    pub fn read<C: DeserializeOwned>(&self) -> Result<(usize, Option<C>), ApiError> {
        let limit = vwc_http::count_param(self.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)
            .map_err(|m| ApiError::field("limit", m));
        let after = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => cursor::decode(c)
                .map(Some)
                .ok_or_else(|| ApiError::field("cursor", "is not a cursor this API issued")),
            None => Ok(None),
        };
        (limit, after).all_fields()
    }
}

/// `from` and `to`: an inclusive time range.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Only events at or after this RFC 3339 instant, or the start of this `YYYY-MM-DD` date (UTC).
    #[param(value_type = Option<InstantOrDate>, inline)]
    from: Option<String>,
    /// Only events at or before this RFC 3339 instant, or the end of this `YYYY-MM-DD` date (UTC).
    #[param(value_type = Option<InstantOrDate>, inline)]
    to: Option<String>,
}

/// An inclusive range's two ends, either open.
pub type Range = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

impl RangeQuery {
    /// `from` (a date: its start) and `to` (a date: its end). A range that ends before it starts is a 422
    /// naming both ends (it holds nothing, and the caller surely meant something else).
    pub fn read(&self) -> Result<Range, ApiError> {
        let from = self
            .from
            .as_deref()
            .map(|s| instant("from", s, false))
            .transpose();
        let to = self
            .to
            .as_deref()
            .map(|s| instant("to", s, true))
            .transpose();
        let (from, to) = (from, to).all_fields()?;
        if let (Some(start), Some(end)) = (from, to)
            && start > end
        {
            let (f, t) = (self.from.as_deref(), self.to.as_deref());
            let (f, t) = (f.unwrap_or_default(), t.unwrap_or_default());
            return Err(ApiError::Validation(vec![
                FieldError {
                    field: "from".into(),
                    message: format!(
                        "is after `to`: the range {f} … {t} ends before it starts (swap them?)"
                    ),
                },
                FieldError {
                    field: "to".into(),
                    message: format!("is before `from`: the range {f} … {t} ends before it starts"),
                },
            ]));
        }
        Ok((from, to))
    }
}

/// Accepts an RFC 3339 instant or a calendar date (`from` = its start, `to` = its end).
fn instant(field: &str, raw: &str, end_of_day: bool) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let time = if end_of_day {
            d.and_hms_micro_opt(23, 59, 59, 999_999)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        return Ok(time.expect("valid time").and_utc());
    }
    Err(ApiError::field(
        field,
        "must be an RFC 3339 timestamp or a YYYY-MM-DD date",
    ))
}

/// A `true`/`false` query flag (absent: false).
fn flag(field: &str, raw: Option<&str>) -> Result<bool, ApiError> {
    match raw {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::field(field, "must be true or false")),
    }
}

/// `kind`: the timeline's kind filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KindQuery {
    /// Only these event kinds (comma-separated, e.g. `maintenance,repair`).
    #[param(value_type = Option<Vec<EventKind>>, style = Form, explode = false, inline)]
    kind: Option<String>,
}

impl KindQuery {
    /// The kinds named (none: every kind).
    pub fn read(&self) -> Result<Vec<EventKind>, ApiError> {
        let Some(kinds) = self.kind.as_deref() else {
            return Ok(Vec::new());
        };
        kinds
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| {
                EventKind::parse(k)
                    .ok_or_else(|| ApiError::field("kind", format!("{k:?} is not an event kind")))
            })
            .collect()
    }
}

/// `includeVoided`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VoidedQuery {
    /// `true` lists voided records too, marked `voided` (they are left out otherwise).
    #[serde(rename = "includeVoided")]
    #[param(rename = "includeVoided", value_type = Option<bool>)]
    include_voided: Option<String>,
}

impl VoidedQuery {
    pub fn read(&self) -> Result<bool, ApiError> {
        flag("includeVoided", self.include_voided.as_deref())
    }
}

/// `unread` of the notification feed.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnreadQuery {
    /// `true`: only unread notifications.
    #[param(value_type = Option<bool>)]
    unread: Option<String>,
}

impl UnreadQuery {
    pub fn read(&self) -> Result<bool, ApiError> {
        flag("unread", self.unread.as_deref())
    }
}

/// `groupBy` of the fleet's costs.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct GroupByQuery {
    /// How to group the costs (default `month`).
    #[param(value_type = Option<CostGrouping>, inline)]
    group_by: Option<String>,
}

impl GroupByQuery {
    pub fn read(&self) -> Result<CostGrouping, ApiError> {
        match self.group_by.as_deref().unwrap_or("month") {
            "month" => Ok(CostGrouping::Month),
            "kind" => Ok(CostGrouping::Kind),
            "vehicle" => Ok(CostGrouping::Vehicle),
            _ => Err(ApiError::field("groupBy", "must be month, kind or vehicle")),
        }
    }
}

/// An RFC 3339 instant or a `YYYY-MM-DD` date.
pub struct InstantOrDate;

impl utoipa::PartialSchema for InstantOrDate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
        };
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
            )
            .examples([serde_json::json!("2026-01-01")])
            .into()
    }
}

impl utoipa::ToSchema for InstantOrDate {}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(limit: Option<&str>, cursor: Option<&str>) -> PageQuery {
        PageQuery {
            limit: limit.map(str::to_string),
            cursor: cursor.map(str::to_string),
        }
    }

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::Validation(errors) => errors[0].field.clone(),
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn a_page_defaults_to_50_and_refuses_a_limit_outside_1_to_200_or_a_foreign_cursor() {
        let (limit, after) = page(None, Some("")).read::<String>().unwrap();
        assert_eq!((limit, after), (DEFAULT_LIMIT, None));
        let issued = cursor::encode(&"veh_9");
        let (limit, after) = page(Some("200"), Some(&issued)).read::<String>().unwrap();
        assert_eq!((limit, after.as_deref()), (200, Some("veh_9")));
        for bad in ["0", "201", "-1", "ten", ""] {
            let e = page(Some(bad), None).read::<String>().unwrap_err();
            assert_eq!(field_of(e), "limit", "{bad}");
        }
        let e = page(None, Some("not-ours")).read::<String>().unwrap_err();
        assert_eq!(field_of(e), "cursor");
    }

    #[test]
    fn a_range_takes_instants_or_whole_days_and_names_the_bad_end() {
        let range = RangeQuery {
            from: Some("2025-01-20".into()),
            to: Some("2025-03-02T12:00:00+01:00".into()),
        };
        let (from, to) = range.read().unwrap();
        assert_eq!(from.unwrap().to_rfc3339(), "2025-01-20T00:00:00+00:00");
        assert_eq!(to.unwrap().to_rfc3339(), "2025-03-02T11:00:00+00:00");
        let day_end = RangeQuery {
            to: Some("2025-02-28".into()),
            ..RangeQuery::default()
        };
        assert_eq!(
            day_end.read().unwrap().1.unwrap().to_rfc3339(),
            "2025-02-28T23:59:59.999999+00:00"
        );
        let bad = RangeQuery {
            to: Some("yesterday".into()),
            ..RangeQuery::default()
        };
        assert_eq!(field_of(bad.read().unwrap_err()), "to");
    }

    #[test]
    fn a_range_that_ends_before_it_starts_names_both_ends_and_one_day_is_a_range() {
        let range = |from: &str, to: &str| RangeQuery {
            from: Some(from.into()),
            to: Some(to.into()),
        };
        for (from, to) in [
            ("2025-03-02", "2025-03-01"),
            ("2025-03-01T12:00:00Z", "2025-03-01T11:59:59Z"),
            ("2025-03-02", "2025-03-01T23:59:59Z"),
        ] {
            match range(from, to).read() {
                Err(ApiError::Validation(errors)) => {
                    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
                    assert_eq!(fields, ["from", "to"], "{from} … {to}");
                    assert!(errors[0].message.contains(from), "{errors:?}");
                }
                other => panic!("{from} … {to}: {other:?}"),
            }
        }
        // One day (its start to its end), one instant, and open ends are ranges.
        for (from, to) in [
            ("2025-03-01", "2025-03-01"),
            ("2025-03-01T12:00:00Z", "2025-03-01T12:00:00Z"),
            ("2025-03-01T23:00:00Z", "2025-03-01"),
        ] {
            assert!(range(from, to).read().is_ok(), "{from} … {to}");
        }
        let open = RangeQuery {
            from: Some("2030-01-01".into()),
            ..RangeQuery::default()
        };
        assert!(open.read().is_ok());
    }

    #[test]
    fn kinds_flags_and_groupings_name_the_field_they_refuse() {
        let kinds = KindQuery {
            kind: Some("maintenance, repair,".into()),
        };
        assert_eq!(
            kinds.read().unwrap(),
            [EventKind::Maintenance, EventKind::Repair]
        );
        let unknown = KindQuery {
            kind: Some("maintenance,warp".into()),
        };
        assert_eq!(field_of(unknown.read().unwrap_err()), "kind");
        let voided = VoidedQuery {
            include_voided: Some("yes".into()),
        };
        assert_eq!(field_of(voided.read().unwrap_err()), "includeVoided");
        assert!(!UnreadQuery::default().read().unwrap());
        let group = GroupByQuery {
            group_by: Some("vehicle".into()),
        };
        assert_eq!(group.read().unwrap(), CostGrouping::Vehicle);
        assert_eq!(GroupByQuery::default().read().unwrap(), CostGrouping::Month);
        let bad = GroupByQuery {
            group_by: Some("year".into()),
        };
        assert_eq!(field_of(bad.read().unwrap_err()), "groupBy");
    }
}
