//! `GET /v1/search`: the organisation's records ranked against a query, highlighted, paged.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use vwc_contracts::OrgId;
use vwc_http::openapi::ResourceQuery;
use vwc_http::route;
use vwc_http::{Admitted, AllFields, ApiError, FindVehicle, Json};

use super::{Highlight, document, highlights, searchable_fields};
use crate::calendar::ics::vehicle_label;
use crate::cursor;
use crate::http::EdgeState;
use crate::http::gate::ReadVehicles;
use crate::query::ApiQuery;
use crate::store::{EventFilter, Page, TimelinePosition, TimelineQuery, VehicleRef, VehicleView};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 50;
pub const MAX_QUERY_CHARS: usize = 200;
/// Most records one search reads; beyond it the answer says `truncated`.
pub const MAX_RECORDS: usize = 20_000;

pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<EdgeState> {
    vwc_http::service_routes![docs; search]
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to look for (1–200 characters). Case, plural and -ing/-ed endings do not matter; common
    /// words (the, and, …) are ignored.
    #[param(min_length = 1, max_length = 200)]
    q: Option<String>,
    /// Only this vehicle's records.
    vehicle_id: Option<String>,
    /// Results per page, 1–50 (20 when absent).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50)]
    limit: Option<String>,
    /// `nextCursor` of the previous page, with the same `q` and `vehicleId`.
    cursor: Option<String>,
}

/// One matching record.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub vehicle_id: String,
    /// The vehicle as people name it: nickname, year, make and model.
    pub vehicle: String,
    pub event_id: String,
    /// The event's `kind`.
    pub kind: String,
    /// RFC 3339.
    pub occurred_at: String,
    pub title: String,
    /// BM25 relevance; higher is better, comparable only within one search.
    pub score: f64,
    /// Every field that matched, with the matched words.
    pub highlights: Vec<Highlight>,
}

/// `200` of `GET /v1/search`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    /// Best first.
    pub items: Vec<SearchHit>,
    /// Pass as `cursor` (with the same query) for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Matching records in all pages.
    pub total: usize,
    /// More than 20,000 records would have to be read: only the newest of each vehicle were searched.
    pub truncated: bool,
}

#[derive(Serialize, Deserialize)]
struct Position {
    /// Offset of the next page.
    o: usize,
    /// The query it belongs to.
    f: String,
    /// When the first page was read: records recorded after it are left out of the later pages, so a
    /// record arriving while the pages are read does not push one already shown onto the next page.
    t: chrono::DateTime<chrono::Utc>,
}

fn fingerprint(q: &str, vehicle: Option<&str>) -> String {
    let digest = Sha256::digest(format!("{q}\n{}", vehicle.unwrap_or("")));
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Records of the organisation (or one vehicle), newest first per vehicle, up to [`MAX_RECORDS`].
async fn records(
    state: &EdgeState,
    org: &OrgId,
    vehicles: Vec<VehicleView>,
    recorded_by: chrono::DateTime<chrono::Utc>,
) -> Result<(Vec<(VehicleView, serde_json::Value)>, bool), ApiError> {
    let per_vehicle = (MAX_RECORDS / vehicles.len().max(1)).max(1);
    let mut out = Vec::new();
    let mut truncated = false;
    for v in vehicles {
        let vehicle = VehicleRef::new(org.clone(), v.vehicle.id.clone());
        let mut after: Option<TimelinePosition> = None;
        let mut taken = 0;
        loop {
            let query = TimelineQuery {
                vehicle: &vehicle,
                filter: &EventFilter::default(),
                page: Page::after(after.as_ref(), 200),
            };
            let page = (state.store.events(&query))
                .await
                .map_err(ApiError::internal)?;
            let full = page.len() == 200;
            after = page.last().map(|e| TimelinePosition {
                occurred_at: e.occurred_at,
                id: e.id.to_string(),
            });
            for e in page.into_iter().filter(|e| e.recorded_at <= recorded_by) {
                if taken == per_vehicle {
                    truncated = true;
                    break;
                }
                out.push((
                    v.clone(),
                    serde_json::to_value(&e).map_err(ApiError::internal)?,
                ));
                taken += 1;
            }
            if !full || taken == per_vehicle {
                break;
            }
        }
    }
    Ok((out, truncated))
}

/// `q`, trimmed: 1–200 characters with at least one word to search for.
fn read_q(q: Option<&str>) -> Result<&str, ApiError> {
    let q = q.map(str::trim).unwrap_or("");
    if q.is_empty() {
        return Err(ApiError::field("q", "required: the words to look for"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::field(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    if vwc_search::terms(q).is_empty() {
        return Err(ApiError::field(
            "q",
            "has no word to search for (only common words or punctuation)",
        ));
    }
    Ok(q)
}

/// Search the organisation's records
///
/// Every timeline record of the caller's organisation (or of one vehicle) whose title, notes, vendor or
/// parts contain a word of `q`, best first by BM25 relevance, with each matching field highlighted
/// (character offsets into its fragment). Paged with `cursor`.
#[route(get "/v1/search", tag = "timeline", params(SearchQuery),
    ok(200, "The matching records, best first.", SearchResults), errors(ResourceQuery))]
async fn search(
    State(state): State<EdgeState>,
    Admitted { org, .. }: Admitted<ReadVehicles>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResults>, ApiError> {
    let q = read_q(query.q.as_deref());
    let limit = vwc_http::count_param(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)
        .map_err(|m| ApiError::field("limit", m));
    let not_ours = || ApiError::field("cursor", "is not a cursor this API issued for this query");
    let position = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => cursor::decode::<Position>(c).map(Some).ok_or_else(not_ours),
    };
    let (q, limit, position) = (q, limit, position).all_fields()?;
    let vehicle = query.vehicle_id.as_deref().filter(|v| !v.is_empty());
    let print = fingerprint(q, vehicle);
    let (offset, as_of) = match position {
        None => (0, state.clock.now()),
        Some(p) if p.f == print => (p.o, p.t),
        Some(_) => return Err(not_ours()),
    };
    let vehicles = match vehicle {
        Some(id) => vec![state.vehicle_of(&org, &id.into()).await?],
        None => state
            .store
            .vehicles_up_to(&org, |_| true, MAX_RECORDS)
            .await
            .map_err(ApiError::internal)?,
    };
    let terms = vwc_search::terms(q);
    let (records, truncated) = records(&state, &org, vehicles, as_of).await?;
    let fields: Vec<_> = records.iter().map(|(_, e)| searchable_fields(e)).collect();
    let documents: Vec<String> = fields.iter().map(|f| document(f)).collect();
    let index = vwc_search::Bm25Index::build(documents.iter().map(String::as_str));
    let ranked = index.search(q, usize::MAX);
    let total = ranked.len();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let items: Vec<SearchHit> = ranked
        .iter()
        .skip(offset)
        .take(limit)
        .map(|&(i, score)| {
            let (view, event) = &records[i];
            SearchHit {
                vehicle_id: view.vehicle.id.to_string(),
                vehicle: vehicle_label(&view.vehicle),
                event_id: text(&event["id"]),
                kind: text(&event["kind"]),
                occurred_at: text(&event["occurredAt"]),
                title: text(&event["title"]),
                score: (score * 1000.0).round() / 1000.0,
                highlights: highlights(&fields[i], &terms),
            }
        })
        .collect();
    let next = offset + items.len();
    let next_cursor = (next < total).then(|| {
        cursor::encode(&Position {
            o: next,
            f: print,
            t: as_of,
        })
    });
    Ok(Json(SearchResults {
        items,
        next_cursor,
        total,
        truncated,
    }))
}
