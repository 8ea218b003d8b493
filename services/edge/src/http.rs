//! HTTP routes of the edge (the read side of the API).

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use vwc_auth::{Permission, TokenVerifier};
use vwc_contracts::{EventKind, VehicleEvent};
use vwc_http::{ApiError, Auth, HasVerifier, Json};

use crate::EdgeStore;
use crate::cursor;
use crate::store::{
    CostBucket, EventFilter, FleetRow, NotificationView, TimelinePosition, VehicleView,
};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

#[derive(Clone)]
pub struct EdgeState {
    pub store: Arc<dyn EdgeStore>,
    pub verifier: Arc<dyn TokenVerifier>,
}

impl HasVerifier for EdgeState {
    fn verifier(&self) -> &Arc<dyn TokenVerifier> {
        &self.verifier
    }
}

pub fn router(state: EdgeState) -> Router {
    Router::new()
        .route("/v1/vehicles", get(list_vehicles))
        .route("/v1/vehicles/{id}", get(get_vehicle))
        .route("/v1/vehicles/{id}/events", get(list_events))
        .route("/v1/vehicles/{id}/overview", get(overview))
        .route("/v1/vehicles/{id}/maintenance", get(maintenance))
        .route("/v1/vehicles/{id}/valuations", get(valuations))
        .route("/v1/notifications", get(notifications))
        .route("/v1/notifications/{id}/read", post(mark_read))
        .route("/v1/fleet/overview", get(fleet_overview))
        .route("/v1/fleet/costs", get(fleet_costs))
        .with_state(state)
}

/// A page of items and the cursor of the next page (absent on the last page).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

fn limit(raw: Option<&str>) -> Result<usize, ApiError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::field(
                "limit",
                format!("must be an integer from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

async fn list_vehicles(
    State(state): State<EdgeState>,
    auth: Auth,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<VehicleView>>, ApiError> {
    auth.require(Permission::ReadVehicles)?;
    let q = query(q)?;
    let limit = limit(q.limit.as_deref())?;
    let after: Option<String> = match q.cursor.as_deref() {
        Some(c) => Some(
            cursor::decode(c)
                .ok_or_else(|| ApiError::field("cursor", "is not a cursor this API issued"))?,
        ),
        None => None,
    };
    let mut items = state
        .store
        .vehicles(auth.org(), after.as_deref(), limit + 1)
        .await
        .map_err(ApiError::internal)?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|v| cursor::encode(&v.vehicle.id))
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

async fn get_vehicle(
    State(state): State<EdgeState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<VehicleView>, ApiError> {
    auth.require(Permission::ReadVehicles)?;
    state
        .store
        .vehicle(auth.org(), &id)
        .await
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or(ApiError::NotFound("vehicle"))
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TimelineCursor {
    t: DateTime<Utc>,
    i: String,
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

async fn list_events(
    State(state): State<EdgeState>,
    auth: Auth,
    Path(id): Path<String>,
    q: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<Page<VehicleEvent>>, ApiError> {
    auth.require(Permission::ReadVehicles)?;
    let q = query(q)?;
    let limit = limit(q.limit.as_deref())?;
    let mut filter = EventFilter::default();
    if let Some(kinds) = q.kind.as_deref() {
        for k in kinds.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            filter.kinds.push(
                EventKind::parse(k).ok_or_else(|| {
                    ApiError::field("kind", format!("{k:?} is not an event kind"))
                })?,
            );
        }
    }
    filter.from = q
        .from
        .as_deref()
        .map(|s| instant("from", s, false))
        .transpose()?;
    filter.to =
        q.to.as_deref()
            .map(|s| instant("to", s, true))
            .transpose()?;
    let after = match q.cursor.as_deref() {
        Some(c) => {
            let c: TimelineCursor = cursor::decode(c)
                .ok_or_else(|| ApiError::field("cursor", "is not a cursor this API issued"))?;
            Some(TimelinePosition {
                occurred_at: c.t,
                id: c.i,
            })
        }
        None => None,
    };
    if state
        .store
        .vehicle(auth.org(), &id)
        .await
        .map_err(ApiError::internal)?
        .is_none()
    {
        return Err(ApiError::NotFound("vehicle"));
    }
    let mut items = state
        .store
        .events(auth.org(), &id, &filter, after.as_ref(), limit + 1)
        .await
        .map_err(ApiError::internal)?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|e| {
            cursor::encode(&TimelineCursor {
                t: e.occurred_at,
                i: e.id.clone(),
            })
        })
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

async fn vehicle_in_org(state: &EdgeState, org: &str, id: &str) -> Result<VehicleView, ApiError> {
    state
        .store
        .vehicle(org, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("vehicle"))
}

/// Costs in one currency.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostSummary {
    pub currency: String,
    pub lifetime_cents: u64,
    pub last12_months_cents: u64,
    pub by_kind: std::collections::BTreeMap<String, u64>,
}

/// Folds cost buckets into per-currency summaries; `since` bounds "last 12 months" (by calendar month).
pub fn summarise_costs(buckets: &[CostBucket], since_month: &str) -> Vec<CostSummary> {
    let mut by_currency: std::collections::BTreeMap<String, CostSummary> = Default::default();
    for b in buckets {
        let s = by_currency
            .entry(b.currency.clone())
            .or_insert_with(|| CostSummary {
                currency: b.currency.clone(),
                lifetime_cents: 0,
                last12_months_cents: 0,
                by_kind: Default::default(),
            });
        s.lifetime_cents += b.total_cents;
        if b.month.as_str() >= since_month {
            s.last12_months_cents += b.total_cents;
        }
        *s.by_kind.entry(b.kind.as_str().to_string()).or_default() += b.total_cents;
    }
    by_currency.into_values().collect()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub vehicle: VehicleView,
    pub odometer: Option<serde_json::Value>,
    /// Filled once the valuation service exists.
    pub valuation: Option<serde_json::Value>,
    pub maintenance: Vec<vwc_contracts::maintenance::MaintenanceItemView>,
    pub costs: Vec<CostSummary>,
    pub recent_events: Vec<VehicleEvent>,
}

async fn overview(
    State(state): State<EdgeState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Overview>, ApiError> {
    auth.require(Permission::ReadVehicles)?;
    let org = auth.org().to_string();
    let vehicle = vehicle_in_org(&state, &org, &id).await?;
    let store = &state.store;
    let everything = EventFilter::default();
    let (maintenance, buckets, recent) = tokio::try_join!(
        store.maintenance(&org, &id),
        store.cost_buckets(&org, Some(&id), None, None),
        store.events(&org, &id, &everything, None, 5),
    )
    .map_err(ApiError::internal)?;
    let since = (Utc::now() - chrono::Months::new(11))
        .format("%Y-%m")
        .to_string();
    // The scheduler's estimate (projected from usage) when it is at least as recent as the last reading.
    let odometer = match (&maintenance, &vehicle.odometer) {
        (Some(m), reading)
            if m.odometer.as_ref().is_some_and(|e| {
                reading
                    .as_ref()
                    .is_none_or(|r| e.as_of >= r.as_of.date_naive() && e.value >= r.value)
            }) =>
        {
            m.odometer
                .as_ref()
                .map(|e| serde_json::to_value(e).expect("serialises"))
        }
        (_, Some(r)) => Some(serde_json::to_value(r).expect("serialises")),
        _ => None,
    };
    Ok(Json(Overview {
        odometer,
        valuation: None,
        maintenance: maintenance.map(|m| m.items).unwrap_or_default(),
        costs: summarise_costs(&buckets, &since),
        recent_events: recent,
        vehicle,
    }))
}

async fn maintenance(
    State(state): State<EdgeState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require(Permission::ReadVehicles)?;
    vehicle_in_org(&state, auth.org(), &id).await?;
    let view = state
        .store
        .maintenance(auth.org(), &id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(match view {
        Some(v) => {
            serde_json::json!({"vehicleId": id, "items": v.items, "odometer": v.odometer, "evaluatedAt": v.evaluated_at})
        }
        None => {
            serde_json::json!({"vehicleId": id, "items": [], "odometer": null, "evaluatedAt": null})
        }
    }))
}

async fn valuations(
    State(state): State<EdgeState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Page<serde_json::Value>>, ApiError> {
    auth.require(Permission::ReadVehicles)?;
    vehicle_in_org(&state, auth.org(), &id).await?;
    // The valuation service does not exist yet: the history is empty until it publishes.
    Ok(Json(Page {
        items: Vec::new(),
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize)]
struct FeedQuery {
    unread: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn notifications(
    State(state): State<EdgeState>,
    auth: Auth,
    q: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Json<Page<NotificationView>>, ApiError> {
    auth.require(Permission::ReadNotifications)?;
    let q = query(q)?;
    let limit = limit(q.limit.as_deref())?;
    let unread = match q.unread.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::field("unread", "must be true or false")),
    };
    let after = match q.cursor.as_deref() {
        Some(c) => {
            let c: TimelineCursor = cursor::decode(c)
                .ok_or_else(|| ApiError::field("cursor", "is not a cursor this API issued"))?;
            Some((c.t, c.i))
        }
        None => None,
    };
    let mut items = state
        .store
        .notifications(auth.org(), unread, after.as_ref(), limit + 1)
        .await
        .map_err(ApiError::internal)?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|n| {
            cursor::encode(&TimelineCursor {
                t: n.created_at,
                i: n.id.clone(),
            })
        })
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

async fn mark_read(
    State(state): State<EdgeState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    auth.require(Permission::ReadNotifications)?;
    if state
        .store
        .mark_notification_read(auth.org(), &id, Utc::now())
        .await
        .map_err(ApiError::internal)?
    {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("notification"))
    }
}

async fn fleet_overview(
    State(state): State<EdgeState>,
    auth: Auth,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require(Permission::ReadFleet)?;
    let q = query(q)?;
    let limit = limit(q.limit.as_deref())?;
    let after: Option<String> = match q.cursor.as_deref() {
        Some(c) => Some(
            cursor::decode(c)
                .ok_or_else(|| ApiError::field("cursor", "is not a cursor this API issued"))?,
        ),
        None => None,
    };
    let mut items: Vec<FleetRow> = state
        .store
        .fleet(auth.org(), after.as_deref(), limit + 1)
        .await
        .map_err(ApiError::internal)?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|v| cursor::encode(&v.vehicle.vehicle.id))
    } else {
        None
    };
    let due_soon: u32 = items.iter().map(|r| r.due_soon).sum();
    let overdue: u32 = items.iter().map(|r| r.overdue).sum();
    Ok(Json(serde_json::json!({
        "items": items,
        "nextCursor": next_cursor,
        "totals": {"vehicles": items.len(), "dueSoon": due_soon, "overdue": overdue},
    })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CostsQuery {
    group_by: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CostGroup {
    key: String,
    currency: String,
    total_cents: u64,
    events: u64,
}

async fn fleet_costs(
    State(state): State<EdgeState>,
    auth: Auth,
    q: Result<Query<CostsQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require(Permission::ReadFleet)?;
    let q = query(q)?;
    let group_by = q.group_by.as_deref().unwrap_or("month");
    if !["month", "kind", "vehicle"].contains(&group_by) {
        return Err(ApiError::field("groupBy", "must be month, kind or vehicle"));
    }
    let from = q
        .from
        .as_deref()
        .map(|s| instant("from", s, false))
        .transpose()?;
    let to =
        q.to.as_deref()
            .map(|s| instant("to", s, true))
            .transpose()?;
    let buckets = state
        .store
        .cost_buckets(auth.org(), None, from, to)
        .await
        .map_err(ApiError::internal)?;
    let mut groups: std::collections::BTreeMap<(String, String), CostGroup> = Default::default();
    for b in &buckets {
        let key = match group_by {
            "month" => b.month.clone(),
            "kind" => b.kind.as_str().to_string(),
            _ => b.vehicle_id.clone(),
        };
        let g = groups
            .entry((key.clone(), b.currency.clone()))
            .or_insert_with(|| CostGroup {
                key,
                currency: b.currency.clone(),
                total_cents: 0,
                events: 0,
            });
        g.total_cents += b.total_cents;
        g.events += b.events;
    }
    Ok(Json(serde_json::json!({
        "groupBy": group_by,
        "from": from,
        "to": to,
        "items": groups.into_values().collect::<Vec<_>>(),
    })))
}
