//! HTTP routes of the edge (the read side of the API), each documented for the OpenAPI document by its
//! `#[utoipa::path]`: [`routes`] registers handler and documentation together, so neither can go missing.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vwc_auth::{Permission, TokenVerifier};
use vwc_contracts::maintenance::{MaintenanceItemView, OdometerEstimateView};
use vwc_contracts::valuation::Valuation;
use vwc_contracts::{EventKind, VehicleEvent};
use vwc_http::openapi::{
    BadRequest, Forbidden, InternalServerError, NotFound, ServiceUnavailable, TooManyRequests,
    Unauthorized, UnprocessableEntity,
};
use vwc_http::{ApiError, Auth, HasVerifier, Json};

use crate::EdgeStore;
use crate::cursor;
use crate::read_model::{
    self, CostGroup, CostGrouping, CostSummary, CurrencyTotal, FleetFuelRow, OdometerSnapshot,
    last_12_months_since, summarise_costs,
};
use crate::store::{
    CostKey, CostTotal, EventFilter, FleetRow, FleetValue, NotificationView, TimelinePosition,
    VehicleView,
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

/// The edge's routes and their OpenAPI documentation; the composition merges them and adds the state.
pub fn routes() -> OpenApiRouter<EdgeState> {
    OpenApiRouter::with_openapi(vwc_http::openapi::components())
        .routes(routes!(list_vehicles))
        .routes(routes!(get_vehicle))
        .routes(routes!(list_events))
        .routes(routes!(overview))
        .routes(routes!(maintenance))
        .routes(routes!(valuations))
        .routes(routes!(notifications))
        .routes(routes!(mark_read))
        .routes(routes!(fleet_overview))
        .routes(routes!(fleet_costs))
}

pub fn router(state: EdgeState) -> Router {
    Router::from(routes()).with_state(state)
}

/// A page of items and the cursor of the next page (`null` on the last page).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
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

/// `limit` and `cursor` of a paged route, and the one place they are read.
#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

impl PageQuery {
    /// The page size, and where the page starts: the position the `cursor` this API issued encodes.
    /// A bad value of either is a 422 naming the field.
    fn read<C: serde::de::DeserializeOwned>(&self) -> Result<(usize, Option<C>), ApiError> {
        let limit = limit(self.limit.as_deref())?;
        let after = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => Some(
                cursor::decode(c)
                    .ok_or_else(|| ApiError::field("cursor", "is not a cursor this API issued"))?,
            ),
            None => None,
        };
        Ok((limit, after))
    }
}

/// A `true`/`false` query flag (absent: false).
fn flag(field: &str, raw: Option<&str>) -> Result<bool, ApiError> {
    match raw {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::field(field, "must be true or false")),
    }
}

/// List the organisation's vehicles
///
/// In registration order, `limit` at a time; follow `nextCursor` for the next page.
#[utoipa::path(
    get,
    path = "/v1/vehicles",
    tag = "vehicles",
    security(("bearer" = [])),
    params(LimitParam, CursorParam),
    responses(
        (status = 200, description = "A page of vehicles.", body = Page<VehicleView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalServerError),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn list_vehicles(
    State(state): State<EdgeState>,
    auth: Auth,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<VehicleView>>, ApiError> {
    auth.require(Permission::ReadVehicles)?;
    let (limit, after): (usize, Option<String>) = query(q)?.read()?;
    let mut items = state
        .store
        .vehicles(auth.org(), after.as_deref(), limit + 1)
        .await?;
    let next_cursor = cursor::next_page(&mut items, limit, |v| v.vehicle.id.clone());
    Ok(Json(Page { items, next_cursor }))
}

/// Get a vehicle
///
/// The vehicle with its latest odometer reading and timeline counts.
#[utoipa::path(
    get,
    path = "/v1/vehicles/{id}",
    tag = "vehicles",
    security(("bearer" = [])),
    params(VehicleIdParam),
    responses(
        (status = 200, description = "The vehicle.", body = VehicleView),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalServerError),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn get_vehicle(
    State(state): State<EdgeState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<VehicleView>, ApiError> {
    auth.require(Permission::ReadVehicles)?;
    state
        .store
        .vehicle(auth.org(), &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("vehicle"))
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    #[serde(rename = "includeVoided")]
    include_voided: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
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

/// List a vehicle's timeline
///
/// Events newest first (by `occurredAt`, then id), optionally filtered by kind and time range.
#[utoipa::path(
    get,
    path = "/v1/vehicles/{id}/events",
    tag = "timeline",
    security(("bearer" = [])),
    params(VehicleIdParam, KindParam, FromParam, ToParam, LimitParam, CursorParam, IncludeVoidedParam),
    responses(
        (status = 200, description = "A page of events, newest first; a corrected record shows its current version, marked.", body = Page<crate::corrections::TimelineItem>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalServerError),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn list_events(
    State(state): State<EdgeState>,
    auth: Auth,
    Path(id): Path<String>,
    q: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    auth.require(Permission::ReadVehicles)?;
    let q = query(q)?;
    let (limit, after) = q.page.read::<TimelineCursor>()?;
    let after = after.map(|c| TimelinePosition {
        occurred_at: c.t,
        id: c.i,
    });
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
    filter.include_voided = flag("includeVoided", q.include_voided.as_deref())?;
    let mut items = state
        .store
        .timeline_page(auth.org(), &id, &filter, after.as_ref(), limit + 1)
        .await?
        .ok_or(ApiError::NotFound("vehicle"))?;
    let next_cursor = cursor::next_page(&mut items, limit, |e| TimelineCursor {
        t: e.occurred_at,
        i: e.id.clone(),
    });
    // The stored JSON goes out as it is: the `Page<VehicleEvent>` shape without decoding and re-encoding
    // every event.
    let mut body =
        String::with_capacity(64 + items.iter().map(|e| e.json.len() + 1).sum::<usize>());
    body.push_str("{\"items\":[");
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&e.json);
    }
    body.push_str("],\"nextCursor\":");
    body.push_str(&serde_json::to_string(&next_cursor).map_err(ApiError::internal)?);
    body.push('}');
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

async fn vehicle_in_org(state: &EdgeState, org: &str, id: &str) -> Result<VehicleView, ApiError> {
    state
        .store
        .vehicle(org, id)
        .await?
        .ok_or(ApiError::NotFound("vehicle"))
}

/// `GET /v1/vehicles/{id}/overview`: everything the vehicle page shows at once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub vehicle: VehicleView,
    /// The scheduler's estimate when it is at least as recent as the last reading, else the last reading.
    pub odometer: Option<OdometerSnapshot>,
    /// The current value with its factors; `null` until the valuation service has valued the vehicle.
    pub valuation: Option<Valuation>,
    pub maintenance: Vec<MaintenanceItemView>,
    /// One summary per currency.
    pub costs: Vec<CostSummary>,
    /// The 5 newest events.
    pub recent_events: Vec<VehicleEvent>,
    /// Fuel economy (mpg or L/100 km, per the vehicle's unit), cost per distance and a drop flag;
    /// `null` until a `fuel` event is recorded (docs/fuel.md).
    pub fuel: Option<crate::fuel::FuelEconomy>,
}

/// `GET /v1/vehicles/{id}/maintenance`: the scheduler's last evaluation of the vehicle.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VehicleMaintenance {
    pub vehicle_id: String,
    /// Empty until the scheduler has evaluated the vehicle.
    pub items: Vec<MaintenanceItemView>,
    pub odometer: Option<OdometerEstimateView>,
    /// `null` until the scheduler has evaluated the vehicle.
    pub evaluated_at: Option<DateTime<Utc>>,
}

/// Get a vehicle's overview
///
/// Odometer, valuation, maintenance items, costs (lifetime, last 12 months, by kind) and the 5 newest events.
#[utoipa::path(
    get,
    path = "/v1/vehicles/{id}/overview",
    tag = "vehicles",
    security(("bearer" = [])),
    params(VehicleIdParam),
    responses(
        (status = 200, description = "The overview.", body = Overview),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalServerError),
        (status = 503, response = ServiceUnavailable),
    )
)]
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
    let (maintenance, buckets, recent, valuation, fuel_events) = tokio::try_join!(
        store.maintenance(&org, &id),
        store.cost_buckets(&org, Some(&id), None, None),
        store.events(&org, &id, &everything, None, 5),
        store.current_valuation(&org, &id),
        store.fuel_events(&org, &id),
    )?;
    let fuel = crate::fuel::economy(vehicle.vehicle.odometer_unit, &fuel_events);
    let odometer = OdometerSnapshot::of(maintenance.as_ref(), vehicle.odometer.as_ref());
    Ok(Json(Overview {
        odometer,
        valuation,
        maintenance: maintenance.map(|m| m.items).unwrap_or_default(),
        costs: summarise_costs(&buckets, &last_12_months_since(vwc_clock::now())),
        recent_events: recent,
        fuel,
        vehicle,
    }))
}

/// Get a vehicle's maintenance items
///
/// Each item's interval, last service, due date and odometer, projection and status.
#[utoipa::path(
    get,
    path = "/v1/vehicles/{id}/maintenance",
    tag = "maintenance",
    security(("bearer" = [])),
    params(VehicleIdParam),
    responses(
        (status = 200, description = "The maintenance items.", body = VehicleMaintenance),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalServerError),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn maintenance(
    State(state): State<EdgeState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<VehicleMaintenance>, ApiError> {
    auth.require(Permission::ReadVehicles)?;
    vehicle_in_org(&state, auth.org(), &id).await?;
    let view = state.store.maintenance(auth.org(), &id).await?;
    Ok(Json(match view {
        Some(v) => VehicleMaintenance {
            vehicle_id: id,
            items: v.items,
            odometer: v.odometer,
            evaluated_at: Some(v.evaluated_at),
        },
        None => VehicleMaintenance {
            vehicle_id: id,
            items: Vec::new(),
            odometer: None,
            evaluated_at: None,
        },
    }))
}

/// List a vehicle's valuations
///
/// The valuation history with its factors, newest first: a point on every day an event moved the value
/// and on the first of every month. The current value is the overview's `valuation`.
#[utoipa::path(
    get,
    path = "/v1/vehicles/{id}/valuations",
    tag = "vehicles",
    security(("bearer" = [])),
    params(VehicleIdParam, LimitParam, CursorParam),
    responses(
        (status = 200, description = "The valuation history, newest first.", body = Page<Valuation>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalServerError),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn valuations(
    State(state): State<EdgeState>,
    auth: Auth,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<Valuation>>, ApiError> {
    auth.require(Permission::ReadVehicles)?;
    let (limit, before): (usize, Option<NaiveDate>) = query(q)?.read()?;
    vehicle_in_org(&state, auth.org(), &id).await?;
    let mut items = state
        .store
        .valuations(auth.org(), &id, before, limit + 1)
        .await?;
    let next_cursor = cursor::next_page(&mut items, limit, |v| v.as_of);
    Ok(Json(Page { items, next_cursor }))
}

#[derive(Debug, Deserialize)]
struct FeedQuery {
    unread: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

/// List the organisation's in-app notifications
///
/// Newest first; `unread=true` leaves out the ones already read.
#[utoipa::path(
    get,
    path = "/v1/notifications",
    tag = "notifications",
    security(("bearer" = [])),
    params(UnreadParam, LimitParam, CursorParam),
    responses(
        (status = 200, description = "A page of notifications, newest first.", body = Page<NotificationView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalServerError),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn notifications(
    State(state): State<EdgeState>,
    auth: Auth,
    q: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Json<Page<NotificationView>>, ApiError> {
    auth.require(Permission::ReadNotifications)?;
    let q = query(q)?;
    let (limit, after) = q.page.read::<TimelineCursor>()?;
    let after = after.map(|c| (c.t, c.i));
    let unread = flag("unread", q.unread.as_deref())?;
    let mut items = state
        .store
        .notifications(auth.org(), unread, after.as_ref(), limit + 1)
        .await?;
    let next_cursor = cursor::next_page(&mut items, limit, |n| TimelineCursor {
        t: n.created_at,
        i: n.id.clone(),
    });
    Ok(Json(Page { items, next_cursor }))
}

/// Mark a notification read
#[utoipa::path(
    post,
    path = "/v1/notifications/{id}/read",
    tag = "notifications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The notification's id.")),
    responses(
        (status = 204, description = "Marked read (again, if it already was)."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalServerError),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn mark_read(
    State(state): State<EdgeState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    auth.require(Permission::ReadNotifications)?;
    if state
        .store
        .mark_notification_read(auth.org(), &id, vwc_clock::now())
        .await?
    {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("notification"))
    }
}

/// Fleet totals of the whole fleet (every vehicle of the organisation, not only this page): how many
/// vehicles, how many items need attention, and what the fleet is worth.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetTotals {
    /// Vehicles in the fleet.
    pub vehicles: u64,
    /// Enabled maintenance items due soon, over the whole fleet.
    pub due_soon: u64,
    /// Enabled maintenance items overdue, over the whole fleet.
    pub overdue: u64,
    /// The whole fleet's current value (every vehicle of the organisation, not only this page), one
    /// total per currency.
    pub value: Vec<FleetValue>,
}

/// `GET /v1/fleet/overview`: a page of vehicles with their maintenance counts, and the whole fleet's
/// totals.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetOverview {
    pub items: Vec<FleetRow>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    pub totals: FleetTotals,
}

/// Get the fleet overview
///
/// Every vehicle of the organisation (paged) with its due-soon and overdue maintenance counts, and the
/// whole fleet's totals.
#[utoipa::path(
    get,
    path = "/v1/fleet/overview",
    tag = "fleet",
    security(("bearer" = [])),
    params(LimitParam, CursorParam),
    responses(
        (status = 200, description = "A page of the fleet.", body = FleetOverview),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalServerError),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn fleet_overview(
    State(state): State<EdgeState>,
    auth: Auth,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<FleetOverview>, ApiError> {
    auth.require(Permission::ReadFleet)?;
    let (limit, after): (usize, Option<String>) = query(q)?.read()?;
    let mut items: Vec<FleetRow> = state
        .store
        .fleet(auth.org(), after.as_deref(), limit + 1)
        .await?;
    let next_cursor = cursor::next_page(&mut items, limit, |v| v.vehicle.vehicle.id.clone());
    // The totals come from the fleet aggregates (kept with the projection), not from this page.
    let (counts, value) = tokio::try_join!(
        state.store.fleet_counts(auth.org()),
        state.store.fleet_value(auth.org()),
    )?;
    Ok(Json(FleetOverview {
        totals: FleetTotals {
            vehicles: counts.vehicles,
            due_soon: counts.due_soon,
            overdue: counts.overdue,
            value,
        },
        items,
        next_cursor,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CostsQuery {
    group_by: Option<String>,
    from: Option<String>,
    to: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

/// `GET /v1/fleet/costs`: cost totals per group and currency.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetCosts {
    pub group_by: CostGrouping,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// By month or kind every group; by vehicle a page of `limit` groups (by vehicle id, then currency).
    pub items: Vec<CostGroup>,
    /// By vehicle: pass as `cursor` to get the next page; `null` on the last page (and by month or kind).
    pub next_cursor: Option<String>,
    /// The whole fleet's costs in [`from`, `to`] per currency (every vehicle, not only this page).
    pub totals: Vec<CurrencyTotal>,
    /// Fuel per vehicle with fill-ups in [`from`, `to`]: economy and cost per distance over the
    /// full-to-full intervals that close in the range (fuel spending itself is in `items`, kind `fuel`).
    pub fuel: Vec<FleetFuelRow>,
}

/// The fleet's fuel rows: every vehicle with fill-ups in the range, by vehicle id.
async fn fleet_fuel(
    store: &dyn EdgeStore,
    org: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<FleetFuelRow>, ApiError> {
    let mut rows = Vec::new();
    // Only the vehicles with fill-ups: one query each, not one per vehicle of the fleet.
    for id in store.fuel_vehicles(org).await? {
        let Some(v) = store.vehicle(org, &id).await? else {
            continue;
        };
        let events = store.fuel_events(org, &id).await?;
        rows.extend(read_model::fleet_fuel_row(
            &id,
            v.vehicle.odometer_unit,
            &events,
            from,
            to,
        ));
    }
    Ok(rows)
}

/// Get the fleet's costs
///
/// Costs of every vehicle of the organisation with `occurredAt` in [`from`, `to`], grouped by month, event
/// kind or vehicle, one row per group and currency; `fuel` adds each vehicle's fuel economy and cost per
/// distance (docs/fuel.md).
#[utoipa::path(
    get,
    path = "/v1/fleet/costs",
    tag = "fleet",
    security(("bearer" = [])),
    params(GroupByParam, FromParam, ToParam, LimitParam, CursorParam),
    responses(
        (status = 200, description = "Cost totals.", body = FleetCosts),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalServerError),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn fleet_costs(
    State(state): State<EdgeState>,
    auth: Auth,
    q: Result<Query<CostsQuery>, QueryRejection>,
) -> Result<Json<FleetCosts>, ApiError> {
    auth.require(Permission::ReadFleet)?;
    let q = query(q)?;
    let grouping = match q.group_by.as_deref().unwrap_or("month") {
        "month" => CostGrouping::Month,
        "kind" => CostGrouping::Kind,
        "vehicle" => CostGrouping::Vehicle,
        _ => return Err(ApiError::field("groupBy", "must be month, kind or vehicle")),
    };
    let from = q
        .from
        .as_deref()
        .map(|s| instant("from", s, false))
        .transpose()?;
    let to =
        q.to.as_deref()
            .map(|s| instant("to", s, true))
            .transpose()?;
    // The organisation's buckets give the whole fleet's totals and, by month or kind, the groups; by
    // vehicle, a page of each vehicle's totals comes from the per-vehicle aggregates.
    // Checked whatever the grouping, though only a page by vehicle uses them.
    let (limit, after): (usize, Option<CostKey>) = q.page.read()?;
    let buckets = state.store.fleet_cost_buckets(auth.org(), from, to).await?;
    let (items, next_cursor) = match grouping {
        CostGrouping::Vehicle => {
            let mut totals = state
                .store
                .fleet_costs_by_vehicle(auth.org(), from, to, after.as_ref(), limit + 1)
                .await?;
            let next_cursor = cursor::next_page(&mut totals, limit, CostTotal::key);
            (
                totals.into_iter().map(CostGroup::from).collect(),
                next_cursor,
            )
        }
        CostGrouping::Month | CostGrouping::Kind => (
            read_model::group_fleet_costs(&buckets, grouping == CostGrouping::Month),
            None,
        ),
    };
    let fuel = fleet_fuel(state.store.as_ref(), auth.org(), from, to).await?;
    Ok(Json(FleetCosts {
        group_by: grouping,
        from,
        to,
        items,
        next_cursor,
        totals: read_model::currency_totals(&buckets),
        fuel,
    }))
}

/// Query and path parameters as the OpenAPI document describes them. The handlers parse the raw strings
/// themselves (so a bad value is a 422 naming the field); these only document the accepted values.
mod params {
    use utoipa::IntoParams;
    use vwc_contracts::EventKind;

    /// `{id}` of a vehicle.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    #[allow(dead_code)]
    pub struct VehicleIdParam {
        /// The vehicle's id (`veh_…`).
        id: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    #[allow(dead_code)]
    pub struct LimitParam {
        /// Page size, 1–200 (default 50).
        #[param(minimum = 1, maximum = 200)]
        limit: Option<u32>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    #[allow(dead_code)]
    pub struct IncludeVoidedParam {
        /// `true` lists voided records too, marked `voided` (they are left out otherwise).
        #[param(rename = "includeVoided")]
        include_voided: Option<bool>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    #[allow(dead_code)]
    pub struct CursorParam {
        /// The `nextCursor` of the previous page, as it was (empty: the first page).
        #[param(pattern = "^[A-Za-z0-9_-]*$")]
        cursor: Option<String>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    #[allow(dead_code)]
    pub struct KindParam {
        /// Only these event kinds (comma-separated, e.g. `maintenance,repair`).
        #[param(style = Form, explode = false, inline)]
        kind: Option<Vec<EventKind>>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    #[allow(dead_code)]
    pub struct FromParam {
        /// Only events at or after this RFC 3339 instant, or the start of this `YYYY-MM-DD` date (UTC).
        #[param(value_type = Option<super::InstantOrDate>, inline)]
        from: Option<String>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    #[allow(dead_code)]
    pub struct ToParam {
        /// Only events at or before this RFC 3339 instant, or the end of this `YYYY-MM-DD` date (UTC).
        #[param(value_type = Option<super::InstantOrDate>, inline)]
        to: Option<String>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    #[allow(dead_code)]
    pub struct UnreadParam {
        /// `true`: only unread notifications.
        unread: Option<bool>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query, rename_all = "camelCase")]
    #[allow(dead_code)]
    pub struct GroupByParam {
        /// How to group the costs (default `month`).
        #[param(inline)]
        group_by: Option<crate::read_model::CostGrouping>,
    }
}

use params::{
    CursorParam, FromParam, GroupByParam, IncludeVoidedParam, KindParam, LimitParam, ToParam,
    UnreadParam, VehicleIdParam,
};

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

impl ToSchema for InstantOrDate {}
