//! HTTP routes of the edge (the read side of the API).

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use vwc_auth::{Permission, TokenVerifier};
use vwc_contracts::{EventKind, VehicleEvent};
use vwc_http::{ApiError, Auth, HasVerifier, Json};

use crate::EdgeStore;
use crate::cursor;
use crate::store::{EventFilter, TimelinePosition, VehicleView};

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
