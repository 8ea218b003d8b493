//! HTTP routes of the edge (the read side of the API), each documented for the OpenAPI document by its
//! `#[route]`: [`routes`] registers handler and documentation together, so neither can go missing.

use std::sync::Arc;

use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use vwc_auth::TokenVerifier;
use vwc_clock::SharedClock;
use vwc_contracts::lifecycle::VehicleStatus;
use vwc_contracts::maintenance::{MaintenanceItemView, OdometerEstimateView};
use vwc_contracts::valuation::Valuation;
use vwc_contracts::{OrgId, VehicleEvent, VehicleId};
use vwc_http::openapi::{BearerQuery, ResourceBody, ResourceQuery, ResourceRoute};
use vwc_http::{
    Admitted, AllFields, ApiError, CallerVehicle, FindVehicle, Json, JsonBody, VehiclePath,
    VehicleScope, route,
};

use crate::EdgeStore;
use crate::cursor;
use crate::query::{
    ApiQuery, GroupByQuery, KindQuery, PageQuery, RangeQuery, UnreadQuery, VoidedQuery,
};
use crate::read_model::{
    self, CostGroup, CostGrouping, CostSummary, CurrencyTotal, FleetFuelRow, OdometerSnapshot,
    last_12_months_since, summarise_costs,
};
use crate::store::{
    CostKey, CostTotal, EventFilter, Feed, FleetRow, FleetValue, NotificationRef, NotificationView,
    TimelinePosition, TimelineQuery, VehicleRef, VehicleView,
};

pub use crate::query::{DEFAULT_LIMIT, MAX_LIMIT};

/// The gates of the edge's routes: the one permission each needs (docs/roles.md).
pub(crate) mod gate {
    pub use vwc_http::gate::{ConfigureNotifications, ReadVehicles};

    vwc_http::permission_gate!(ReadFleet);
    vwc_http::permission_gate!(ReadNotifications);
}

use gate::{ReadFleet, ReadNotifications, ReadVehicles};

#[derive(Clone)]
pub struct EdgeState {
    pub store: Arc<dyn EdgeStore>,
    pub verifier: Arc<dyn TokenVerifier>,
    /// The system's clock: "the last 12 months" and a notification's read time are read from it.
    pub clock: SharedClock,
    /// Timeline pages kept under their vehicle's timeline version (`--timeline-cache-mib`).
    pub pages: Arc<crate::page_cache::PageCache>,
    /// The records' files for `GET …/export?format=zip` (the data dir's or the bucket's); `None` in a router
    /// that serves no export (the chat function's).
    pub files: Option<Arc<dyn crate::export::RecordFiles>>,
}

/// The request's `If-None-Match` header, when it came (the one header a conditional page reads; taking it
/// alone spares copying the others).
pub struct IfNoneMatch(Option<axum::http::HeaderValue>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(IfNoneMatch(
            parts
                .headers
                .get(axum::http::header::IF_NONE_MATCH)
                .cloned(),
        ))
    }
}

impl IfNoneMatch {
    /// Whether the client holds the representation `etag` (weak comparison, as RFC 9110 §13.1.2 asks of
    /// `If-None-Match`: a `W/` prefix on either side does not matter; `*` matches any).
    pub fn matches(&self, etag: &str) -> bool {
        let Some(value) = self.0.as_ref().and_then(|v| v.to_str().ok()) else {
            return false;
        };
        fn opaque(tag: &str) -> &str {
            tag.trim().trim_start_matches("W/")
        }
        let ours = opaque(etag);
        value
            .split(',')
            .any(|tag| tag.trim() == "*" || opaque(tag) == ours)
    }
}

/// The `ETag` of a timeline page read at `version` of its vehicle's timeline: this build's version is part
/// of it, as a new build may write the same rows differently.
pub fn timeline_etag(version: u64) -> String {
    format!("\"{}-{version}\"", env!("CARGO_PKG_VERSION"))
}

/// What every timeline page answer says about caching: only the caller may keep it (it is behind a
/// token), and must ask again before using it (`If-None-Match` makes that cheap).
const TIMELINE_CACHE_CONTROL: &str = "private, no-cache";

vwc_http::has_verifier!(EdgeState);

/// Implements [`FindVehicle`] for an edge router state with a `store` field: the vehicle as the read
/// model has it (both the edge's and the calendar's routes start from it).
macro_rules! finds_vehicles_in_read_model {
    ($state:ty) => {
        impl vwc_http::FindVehicle<crate::store::VehicleView> for $state {
            async fn find_vehicle(
                &self,
                org: &vwc_contracts::OrgId,
                id: &vwc_contracts::VehicleId,
            ) -> Result<Option<crate::store::VehicleView>, vwc_http::ApiError> {
                let vehicle = crate::store::VehicleRef::new(org.clone(), id.clone());
                Ok(self.store.vehicle(&vehicle).await?)
            }
        }
    };
}
pub(crate) use finds_vehicles_in_read_model;

finds_vehicles_in_read_model!(EdgeState);

/// The vehicle `{id}` of the caller's organisation as the read model has it, once gate `G` has admitted
/// the caller (another organisation's is a 404 like a missing one).
pub(crate) type VehicleOf<G> = CallerVehicle<VehicleView, G>;

/// The edge's routes (with their OpenAPI documentation as `docs` says); the composition merges them and
/// adds the state.
pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<EdgeState> {
    vwc_http::service_routes![docs;
        list_vehicles,
        get_vehicle,
        list_events,
        overview,
        maintenance,
        valuations,
        notifications,
        mark_read,
        mark_all_read,
        fleet_overview,
        fleet_costs,
    ]
}

/// A page of items and the cursor of the next page (`null` on the last page).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The page of `limit` items out of `items`, read with one extra (see [`cursor::next_page`]); the
    /// cursor of the next page is `position` of its last item.
    fn cut<P: Serialize>(mut items: Vec<T>, limit: usize, position: impl Fn(&T) -> P) -> Page<T> {
        let next_cursor = cursor::next_page(&mut items, limit, position);
        Page { items, next_cursor }
    }
}

/// List the organisation's vehicles
///
/// In registration order, `limit` at a time; follow `nextCursor` for the next page.
#[route(get "/v1/vehicles", tag = "vehicles", params(PageQuery),
    ok(200, "A page of vehicles.", Page<VehicleView>), errors(BearerQuery))]
async fn list_vehicles(
    State(state): State<EdgeState>,
    Admitted { org, .. }: Admitted<ReadVehicles>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<VehicleView>>, ApiError> {
    let (limit, after) = page.read::<VehicleListCursor>()?;
    let after = after.map(|c| c.r);
    let items = state
        .store
        .vehicles(&org, vwc_store::Page::after(after.as_ref(), limit + 1))
        .await?;
    Ok(Json(Page::cut(items, limit, |v| VehicleListCursor {
        r: v.vehicle.id.clone(),
    })))
}

/// Get a vehicle
///
/// The vehicle with its latest odometer reading and timeline counts.
#[route(get "/v1/vehicles/{id}", tag = "vehicles", params(VehiclePath),
    ok(200, "The vehicle.", VehicleView), errors(ResourceRoute))]
async fn get_vehicle(caller: VehicleOf<ReadVehicles>) -> Json<VehicleView> {
    Json(caller.vehicle)
}

/// A position in one vehicle's timeline: the vehicle is part of it, so a cursor of another vehicle's
/// timeline (or of another list) is refused rather than read as a position in this one.
#[derive(Debug, Serialize, Deserialize)]
struct TimelineCursor {
    v: String,
    t: DateTime<Utc>,
    i: String,
}

/// A position in the organisation's vehicles, in registration order (a field name of its own, so no other
/// list's cursor reads as one).
#[derive(Debug, Serialize, Deserialize)]
struct VehicleListCursor {
    r: VehicleId,
}

/// A position in the fleet overview (its own field name, though it lists vehicles too).
#[derive(Debug, Serialize, Deserialize)]
struct FleetCursor {
    f: VehicleId,
}

/// A position in one vehicle's valuation history, newest first: the vehicle is part of it, as in
/// [`TimelineCursor`].
#[derive(Debug, Serialize, Deserialize)]
struct ValuationsCursor {
    v: String,
    d: NaiveDate,
}

/// A position in the organisation's notification feed (field names of its own, so a timeline's cursor does
/// not read as one).
#[derive(Debug, Serialize, Deserialize)]
struct FeedCursor {
    n: DateTime<Utc>,
    i: String,
}

/// List a vehicle's timeline
///
/// Events newest first (by `occurredAt`, then id), optionally filtered by kind and time range.
#[route(get "/v1/vehicles/{id}/events", tag = "timeline",
    params(VehiclePath, KindQuery, RangeQuery, PageQuery, VoidedQuery,
        ("If-None-Match" = Option<String>, Header,
            description = "The `ETag` of a page the caller holds: a 304 while the vehicle's timeline has not changed.")),
    ok(200, "A page of events, newest first; a corrected record shows its current version, marked.",
        Page<crate::corrections::TimelineItem>,
        headers(("ETag" = String, description = "The page's version: send it back as `If-None-Match` to be answered 304 while the vehicle's timeline has not changed (SQLite store).")),
        ),
    ok(304, "The vehicle's timeline has not changed since the page whose `ETag` the request's `If-None-Match` names: keep using it.",
        headers(("ETag" = String, description = "The page's version, as before."))),
    errors(ResourceQuery))]
#[allow(clippy::too_many_arguments)]
async fn list_events(
    State(state): State<EdgeState>,
    // The page's one read checks the vehicle too: another organisation's is a 404 like a missing one.
    VehicleScope { vehicle, .. }: VehicleScope<ReadVehicles>,
    ApiQuery(kinds): ApiQuery<KindQuery>,
    ApiQuery(range): ApiQuery<RangeQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(voided): ApiQuery<VoidedQuery>,
    axum::extract::RawQuery(raw_query): axum::extract::RawQuery,
    if_none_match: IfNoneMatch,
) -> Result<axum::response::Response, ApiError> {
    let page = page.read::<TimelineCursor>().and_then(|(limit, after)| {
        if after
            .as_ref()
            .is_some_and(|c| c.v != vehicle.vehicle_id.as_str())
        {
            return Err(ApiError::field(
                "cursor",
                "is a cursor of another vehicle's timeline",
            ));
        }
        Ok((limit, after))
    });
    let (kinds, (from, to), (limit, after), include_voided) =
        (kinds.read(), range.read(), page, voided.read()).all_fields()?;
    let after = after.map(|c| TimelinePosition {
        occurred_at: c.t,
        id: c.i,
    });
    let filter = EventFilter {
        kinds,
        from,
        to,
        include_voided,
    };
    // The vehicle's timeline version first (a store that counts none answers `None`): while it stays, the
    // page kept under it is the page, and a client holding its `ETag` is told so (docs/api.md).
    let version = state.store.timeline_version(&vehicle).await?;
    let etag = version.map(timeline_etag);
    let key = (version.is_some() && state.pages.enabled()).then(|| {
        crate::page_cache::PageCache::key(
            vehicle.org_id.as_str(),
            vehicle.vehicle_id.as_str(),
            raw_query.as_deref(),
        )
    });
    if let Some(etag) = &etag
        && if_none_match.matches(etag)
    {
        return Ok(timeline_answer(
            axum::http::StatusCode::NOT_MODIFIED,
            axum::body::Body::empty(),
            Some(etag),
        ));
    }
    if let (Some(version), Some(key), Some(etag)) = (version, &key, &etag)
        && let Some(kept) = state.pages.get(key, version)
    {
        return Ok(timeline_answer(
            axum::http::StatusCode::OK,
            axum::body::Body::from(kept),
            Some(etag),
        ));
    }
    // The stored JSON goes out as it is, written into the response by the store: the
    // `Page<TimelineItem>` shape without decoding and re-encoding every event (docs/bench.md).
    let query = TimelineQuery {
        vehicle: &vehicle,
        filter: &filter,
        page: vwc_store::Page::after(after.as_ref(), limit),
    };
    let page = state
        .store
        .timeline_page(&query)
        .await?
        .ok_or(ApiError::NotFound("vehicle"))?;
    let next_cursor = page.next.as_ref().map(|p| {
        cursor::encode(&TimelineCursor {
            v: vehicle.vehicle_id.to_string(),
            t: p.occurred_at,
            i: p.id.clone(),
        })
    });
    let json = axum::body::Bytes::from(page.into_json(next_cursor.as_deref()));
    // Read after the version was, the page is at least as new as it: kept under it, it is never older.
    if let (Some(version), Some(key)) = (version, key) {
        state.pages.put(key, version, json.clone());
    }
    Ok(timeline_answer(
        axum::http::StatusCode::OK,
        axum::body::Body::from(json),
        etag.as_deref(),
    ))
}

/// A timeline answer: a page (`200`, JSON) or a `304` without a body; with the page's `ETag` and
/// [`TIMELINE_CACHE_CONTROL`] when its store counts versions.
fn timeline_answer(
    status: axum::http::StatusCode,
    body: axum::body::Body,
    etag: Option<&str>,
) -> axum::response::Response {
    let mut response = axum::response::Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if status == axum::http::StatusCode::OK {
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
    }
    if let Some(value) = etag.and_then(|e| axum::http::HeaderValue::from_str(e).ok()) {
        headers.insert(axum::http::header::ETAG, value);
        headers.insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static(TIMELINE_CACHE_CONTROL),
        );
    }
    response
}

/// `GET /v1/vehicles/{id}/overview`: everything the vehicle page shows at once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub vehicle: VehicleView,
    /// The scheduler's estimate when it is at least as recent as the highest reading, else the highest reading.
    /// A sold vehicle's is the reading at its sale (`vehicle.sale.odometer` as of `soldAt`), never an estimate.
    pub odometer: Option<OdometerSnapshot>,
    /// The current value with its factors; `null` until the valuation service has valued the vehicle, and
    /// `null` for a sold vehicle: its final value is the sale (`vehicle.sale`, with the realised total
    /// cost of ownership), and it is valued no further (its history ends at the sale).
    pub valuation: Option<Valuation>,
    /// The scheduler's items; empty for a sold or archived vehicle, which has nothing due.
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
    /// Empty until the scheduler has evaluated the vehicle, and empty for a sold or archived vehicle
    /// (`status`), which has nothing due — as its overview's `maintenance`.
    pub items: Vec<MaintenanceItemView>,
    /// The scheduler's odometer estimate; `null` for a sold or archived vehicle (a sold one's last reading
    /// is its sale's, `vehicle.sale.odometer` in the overview).
    pub odometer: Option<OdometerEstimateView>,
    /// `null` until the scheduler has evaluated the vehicle. A sold or archived vehicle keeps the time of
    /// its last evaluation, made while it was in the fleet.
    pub evaluated_at: Option<DateTime<Utc>>,
    /// The vehicle's lifecycle status: only an `active` vehicle has maintenance items.
    pub status: VehicleStatus,
    /// When a sold vehicle was sold (its `sale.soldAt`); `null` for an active or archived one.
    pub sold_at: Option<DateTime<Utc>>,
}

/// Get a vehicle's overview
///
/// Odometer, valuation, maintenance items, costs (lifetime, last 12 months, by kind) and the 5 newest events.
/// A sold vehicle's overview shows it as sold: the odometer at the sale, no current value (the sale is in
/// `vehicle.sale`) and no maintenance items.
#[route(get "/v1/vehicles/{id}/overview", tag = "vehicles", params(VehiclePath),
    ok(200, "The overview.", Overview), errors(ResourceRoute))]
async fn overview(
    State(state): State<EdgeState>,
    caller: VehicleOf<ReadVehicles>,
) -> Result<Json<Overview>, ApiError> {
    let (org, vehicle) = (caller.org(), caller.vehicle);
    let store = &state.store;
    let of = VehicleRef::new(org, vehicle.vehicle.id.clone());
    let recent = TimelineQuery {
        vehicle: &of,
        filter: &EventFilter::default(),
        page: vwc_store::Page::first(5),
    };
    let (maintenance, buckets, recent, valuation, fuel_events) = tokio::try_join!(
        store.maintenance(&of),
        store.cost_buckets(&of.org_id, Some(&of.vehicle_id), None, None),
        store.events(&recent),
        store.current_valuation(&of),
        store.fuel_events(&of),
    )?;
    let fuel = crate::fuel::economy(vehicle.vehicle.odometer_unit, &fuel_events);
    let retired = vehicle.vehicle.status != VehicleStatus::Active;
    let (odometer, valuation) = match &vehicle.vehicle.sale {
        Some(sale) => (
            Some(OdometerSnapshot::at_sale(
                vehicle.vehicle.odometer_unit,
                sale,
            )),
            None,
        ),
        None => (
            OdometerSnapshot::of(maintenance.as_ref(), vehicle.odometer.as_ref()),
            valuation,
        ),
    };
    Ok(Json(Overview {
        odometer,
        valuation,
        maintenance: maintenance
            .filter(|_| !retired)
            .map(|m| m.items)
            .unwrap_or_default(),
        costs: summarise_costs(&buckets, &last_12_months_since(state.clock.now())),
        recent_events: recent,
        fuel,
        vehicle,
    }))
}

/// Get a vehicle's maintenance items
///
/// Each item's interval, last service, due date and odometer, projection and status. A sold or archived
/// vehicle has nothing due: no items and no odometer estimate, its `status` (and a sold one's `soldAt`)
/// saying why — as its overview shows it.
#[route(get "/v1/vehicles/{id}/maintenance", tag = "maintenance", params(VehiclePath),
    ok(200, "The maintenance items.", VehicleMaintenance), errors(ResourceRoute))]
async fn maintenance(
    State(state): State<EdgeState>,
    caller: VehicleOf<ReadVehicles>,
) -> Result<Json<VehicleMaintenance>, ApiError> {
    let vehicle = &caller.vehicle.vehicle;
    let of = VehicleRef::new(caller.org(), vehicle.id.clone());
    let (view, id) = (state.store.maintenance(&of).await?, &of.vehicle_id);
    let evaluated_at = view.as_ref().map(|v| v.evaluated_at);
    // A sold or archived vehicle is no longer maintained: the scheduler's last items and estimate (made
    // while it was in the fleet) no longer hold, as the overview leaves them out.
    let retired = vehicle.status != VehicleStatus::Active;
    let (items, odometer) = view
        .filter(|_| !retired)
        .map(|v| (v.items, v.odometer))
        .unwrap_or_default();
    Ok(Json(VehicleMaintenance {
        vehicle_id: id.to_string(),
        items,
        odometer,
        evaluated_at,
        status: vehicle.status,
        sold_at: vehicle.sale.as_ref().map(|s| s.sold_at),
    }))
}

/// List a vehicle's valuations
///
/// The valuation history with its factors, newest first: a point on every day an event moved the value
/// and on the first of every month. The current value is the overview's `valuation`. A sold vehicle's
/// history ends on the day of its sale.
#[route(get "/v1/vehicles/{id}/valuations", tag = "vehicles", params(VehiclePath, PageQuery),
    ok(200, "The valuation history, newest first.", Page<Valuation>), errors(ResourceQuery))]
async fn valuations(
    State(state): State<EdgeState>,
    VehicleScope { vehicle, .. }: VehicleScope<ReadVehicles>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Valuation>>, ApiError> {
    let (limit, before) = page.read::<ValuationsCursor>()?;
    if before
        .as_ref()
        .is_some_and(|c| c.v != vehicle.vehicle_id.as_str())
    {
        return Err(ApiError::field(
            "cursor",
            "is a cursor of another vehicle's valuations",
        ));
    }
    let found = state
        .vehicle_of(&vehicle.org_id, &vehicle.vehicle_id)
        .await?;
    // A sold vehicle's history ends on its sale's day: points dated after it (valued before a back-dated
    // sale was recorded) are not its history.
    let end = found
        .vehicle
        .sale
        .as_ref()
        .and_then(|s| s.sold_at.date_naive().succ_opt());
    let before = match (before.map(|c| c.d), end) {
        (Some(b), Some(e)) => Some(b.min(e)),
        (b, e) => b.or(e),
    };
    let page = vwc_store::Page::after(before.as_ref(), limit + 1);
    let items = state.store.valuations(&vehicle, page).await?;
    Ok(Json(Page::cut(items, limit, |v| ValuationsCursor {
        v: vehicle.vehicle_id.to_string(),
        d: v.as_of,
    })))
}

/// List the organisation's in-app notifications
///
/// Newest first; `unread=true` leaves out the ones already read.
#[route(get "/v1/notifications", tag = "notifications", params(UnreadQuery, PageQuery),
    ok(200, "A page of notifications, newest first.", Page<NotificationView>), errors(BearerQuery))]
async fn notifications(
    State(state): State<EdgeState>,
    Admitted { org, .. }: Admitted<ReadNotifications>,
    ApiQuery(unread): ApiQuery<UnreadQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<NotificationView>>, ApiError> {
    let (unread, (limit, after)) = (unread.read(), page.read::<FeedCursor>()).all_fields()?;
    let after = after.map(|c| (c.n, c.i));
    let feed = Feed {
        org_id: &org,
        unread_only: unread,
        page: vwc_store::Page::after(after.as_ref(), limit + 1),
    };
    let items = state.store.notifications(feed).await?;
    Ok(Json(Page::cut(items, limit, |n| FeedCursor {
        n: n.created_at,
        i: n.id.clone(),
    })))
}

/// Mark a notification read
#[route(post "/v1/notifications/{id}/read", tag = "notifications",
    params(("id" = String, Path, description = "The notification's id.")),
    ok(204, "Marked read (again, if it already was)."), errors(ResourceRoute))]
async fn mark_read(
    State(state): State<EdgeState>,
    Admitted { org, .. }: Admitted<ReadNotifications>,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    if state
        .store
        .mark_notification_read(
            NotificationRef {
                org_id: &org,
                id: &id,
            },
            state.clock.now(),
        )
        .await?
    {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("notification"))
    }
}

/// `POST /v1/notifications/read`: which notifications to mark read.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarkAllRead {
    /// The newest notification the reader has seen: it and every older one are marked read, and nothing
    /// that arrived after it. Left out, every notification of the organisation is.
    #[schema(example = "ntf_0192f0c4e5a87d3b9c1e2f3a4b5c6d7e")]
    pub through: Option<String>,
}

/// How many notifications were marked read.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarkedRead {
    /// Notifications that were unread and now are read (those already read are left as they were).
    pub marked: u64,
}

/// Mark every notification read
///
/// Every unread notification of the organisation — or, with `through`, that one and every older one, so
/// a notification that arrived after the reader looked stays unread. Those already read keep their time.
/// The body may be left out.
#[route(post "/v1/notifications/read", tag = "notifications",
    request_body(content = Option<MarkAllRead>, content_type = "application/json",
        description = "Optional: `through` the newest notification seen."),
    ok(200, "How many were marked read.", MarkedRead), errors(ResourceBody))]
async fn mark_all_read(
    State(state): State<EdgeState>,
    Admitted { org, .. }: Admitted<ReadNotifications>,
    body: JsonBody,
) -> Result<Json<MarkedRead>, ApiError> {
    let MarkAllRead { through } = body.parse_or_default()?;
    match state
        .store
        .mark_notifications_read(&org, through.as_deref(), state.clock.now())
        .await?
    {
        Some(marked) => Ok(Json(MarkedRead { marked })),
        None => Err(ApiError::NotFound("notification")),
    }
}

/// Fleet totals of the whole fleet (every vehicle of the organisation, not only this page): how many
/// vehicles, how many items need attention, and what the fleet is worth.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetTotals {
    /// Vehicles in the fleet: the active ones (sold and archived vehicles leave the fleet's rows and
    /// every total here).
    pub vehicles: u64,
    /// Enabled maintenance items due soon, over the whole fleet.
    pub due_soon: u64,
    /// Enabled maintenance items overdue, over the whole fleet.
    pub overdue: u64,
    /// Vehicles with at least one enabled item overdue: how many need attention now (`overdue` counts
    /// items; a vehicle with three overdue items is three there and one here).
    pub vehicles_overdue: u64,
    /// The whole fleet's current value, one total per currency: the rows' `currentValue` summed over
    /// every page (each the value the vehicle's overview shows; a vehicle not valued yet adds nothing).
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
#[route(get "/v1/fleet/overview", tag = "fleet", params(PageQuery),
    ok(200, "A page of the fleet.", FleetOverview), errors(BearerQuery))]
async fn fleet_overview(
    State(state): State<EdgeState>,
    Admitted { org, .. }: Admitted<ReadFleet>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<FleetOverview>, ApiError> {
    let (limit, after) = page.read::<FleetCursor>()?;
    let after = after.map(|c| c.f);
    let page = vwc_store::Page::after(after.as_ref(), limit + 1);
    let mut items: Vec<FleetRow> = state.store.fleet(&org, page).await?;
    let next_cursor = cursor::next_page(&mut items, limit, |v| FleetCursor {
        f: v.vehicle.vehicle.id.clone(),
    });
    // The totals come from the fleet aggregates (kept with the projection), not from this page.
    let (counts, value) = tokio::try_join!(
        state.store.fleet_counts(&org),
        state.store.fleet_value(&org),
    )?;
    Ok(Json(FleetOverview {
        totals: FleetTotals {
            vehicles: counts.vehicles,
            due_soon: counts.due_soon,
            overdue: counts.overdue,
            vehicles_overdue: counts.vehicles_overdue,
            value,
        },
        items,
        next_cursor,
    }))
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
    org: &OrgId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<FleetFuelRow>, ApiError> {
    let mut rows = Vec::new();
    // Only the vehicles with fill-ups: one query each, not one per vehicle of the fleet.
    for id in store.fuel_vehicles(org).await? {
        let of = VehicleRef::new(org.clone(), id);
        let Some(v) = store.vehicle(&of).await? else {
            continue;
        };
        let events = store.fuel_events(&of).await?;
        rows.extend(read_model::fleet_fuel_row(
            &of.vehicle_id,
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
#[route(get "/v1/fleet/costs", tag = "fleet", params(GroupByQuery, RangeQuery, PageQuery),
    ok(200, "Cost totals.", FleetCosts), errors(BearerQuery))]
async fn fleet_costs(
    State(state): State<EdgeState>,
    Admitted { org, .. }: Admitted<ReadFleet>,
    ApiQuery(group_by): ApiQuery<GroupByQuery>,
    ApiQuery(range): ApiQuery<RangeQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<FleetCosts>, ApiError> {
    // The page is checked whatever the grouping, though only a page by vehicle uses it.
    let (grouping, (from, to), (limit, after)) =
        (group_by.read(), range.read(), page.read::<CostKey>()).all_fields()?;
    // The organisation's buckets give the whole fleet's totals and, by month or kind, the groups; by
    // vehicle, a page of each vehicle's totals comes from the per-vehicle aggregates.
    let buckets = state.store.fleet_cost_buckets(&org, from, to).await?;
    let (items, next_cursor) = match grouping {
        CostGrouping::Vehicle => {
            let mut totals = state
                .store
                .fleet_costs_by_vehicle(&org, from, to, after.as_ref(), limit + 1)
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
    let fuel = fleet_fuel(state.store.as_ref(), &org, from, to).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_keeps_limit_items_and_its_cursor_points_past_the_last_kept_one() {
        let page = Page::cut(vec![10, 20, 30], 2, |n| *n);
        assert_eq!(page.items, vec![10, 20]);
        let next = page
            .next_cursor
            .expect("a row beyond the limit means a next page");
        assert_eq!(cursor::decode::<i32>(&next), Some(20));

        let last = Page::cut(vec![10, 20], 2, |n| *n);
        assert_eq!(last.items, vec![10, 20]);
        assert_eq!(last.next_cursor, None);
    }
}
