//! Calendar routes: the feeds with a bearer token, their signed URLs (per vehicle from the maintenance
//! view, per fleet from the notification preferences, where the owner rotates them), and the signed,
//! token-free feeds calendar apps subscribe to under `/calendar/…`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use vwc_auth::TokenVerifier;
use vwc_contracts::OrgId;
use vwc_http::openapi::{
    BearerRoute, InternalServerError, NotFound, ResourceRoute, ServiceUnavailable, TooManyRequests,
};
use vwc_http::route;
use vwc_http::{
    Admitted, ApiError, Auth, Disposition, FileHeaders, FindVehicle, Json, VehiclePath,
    file_response,
};

use super::ics::{self, VehicleCalendar};
use super::keys::{CalendarKeyStore, FeedSecret};
use super::signing::{self, FeedScope};
use crate::EdgeStore;
use crate::http::VehicleOf;
use crate::http::gate::{ConfigureNotifications, ReadFleet, ReadVehicles};
use crate::store::{VehicleRef, VehicleView};

/// Most vehicles a fleet feed lists.
pub const MAX_FLEET_VEHICLES: usize = 5_000;

#[derive(Clone)]
pub struct CalendarState {
    pub store: Arc<dyn EdgeStore>,
    pub keys: Arc<dyn CalendarKeyStore>,
    pub verifier: Arc<dyn TokenVerifier>,
    /// Where subscribers reach this service (`https://vwc.example.com`, `--public-url`): the signed URLs
    /// start with it. Without it they name the host the request named (`X-Forwarded-Host`, else `Host`),
    /// which a client chooses — fine on one machine, not behind a proxy that passes such headers on.
    pub public_url: Option<Arc<str>>,
}

vwc_http::has_verifier!(CalendarState);
crate::http::finds_vehicles_in_read_model!(CalendarState);

vwc_http::response_set! {
    /// A feed reached through a signed URL, without a token: 404 for a wrong or revoked signature as for
    /// no such resource, and the rate limit and server failures any route may answer.
    SignedUrl {
        404 => NotFound,
        429 => TooManyRequests,
        500 => InternalServerError,
        503 => ServiceUnavailable,
    }
}

pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<CalendarState> {
    vwc_http::service_routes![docs;
        vehicle_feed,
        fleet_feed,
        vehicle_feed_url,
        fleet_feed_url,
        rotate_feed_urls,
        signed_vehicle_feed,
        signed_fleet_feed,
    ]
}

/// A signed feed URL: subscribe to it in a calendar app; it needs no token. Rotating the organisation's
/// calendar secret (`POST /v1/notifications/preferences/calendar/rotate`) revokes it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarFeed {
    /// Absolute URL, from the request's `Host` (and `X-Forwarded-Proto`, else `http`).
    #[schema(format = "uri")]
    pub calendar_url: String,
    /// The same URL without scheme and host.
    pub calendar_path: String,
    /// When the organisation's calendar secret was last created or rotated.
    pub rotated_at: DateTime<Utc>,
}

/// The subscription URL of `scope`'s calendar under the organisation's current secret (created on first
/// use).
async fn current_feed_url(
    state: &CalendarState,
    auth: &Auth,
    headers: &HeaderMap,
    scope: FeedScope,
) -> Result<Json<CalendarFeed>, ApiError> {
    let secret = (state.keys.secret_or_create(auth.org()).await).map_err(ApiError::internal)?;
    Ok(Json(signed_feed(
        state.origin(headers),
        auth.org(),
        &scope,
        &secret,
    )))
}

impl CalendarState {
    /// Where the signed URLs point: the configured public URL, else the request's host.
    fn origin(&self, headers: &HeaderMap) -> String {
        match &self.public_url {
            Some(url) => url.to_string(),
            None => request_origin(headers),
        }
    }
}

/// The subscription URL of `scope`'s calendar, signed with `secret`.
fn signed_feed(origin: String, org: &str, scope: &FeedScope, secret: &FeedSecret) -> CalendarFeed {
    let signature = signing::sign(&secret.secret, org, scope);
    let path = scope.path(org, &signature);
    CalendarFeed {
        calendar_url: format!("{origin}{path}"),
        calendar_path: path,
        rotated_at: secret.rotated_at,
    }
}

/// Whether `host` is a host name or address with an optional port, nothing else: a forwarded header such as
/// `evil.example/phish#` or `x"><script>` made calendar URLs pointing elsewhere.
fn is_host(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        // An IPv6 literal, `[::1]` or `[::1]:8080`.
        Some(rest) => {
            let Some((address, after)) = rest.split_once(']') else {
                return false;
            };
            let literal = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
            if address.is_empty() || !address.bytes().all(literal) {
                return false;
            }
            match after.strip_prefix(':') {
                _ if after.is_empty() => return true,
                Some(port) => ("ipv6", Some(port)),
                None => return false,
            }
        }
        None => match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = (1..=253).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    port_ok && name_ok
}

/// `scheme://host` as the request named it (`X-Forwarded-Proto`/`-Host`, else `Host`); a header value that
/// is not a host (and port) is passed over.
fn request_origin(headers: &HeaderMap) -> String {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| is_host(v))
    };
    let scheme = match first("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    let host = first("x-forwarded-host")
        .or_else(|| first("host"))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

fn calendar_response(name: &str, body: String) -> Response {
    file_response(
        body,
        FileHeaders {
            content_type: "text/calendar; charset=utf-8",
            disposition: Disposition::Inline,
            file_name: &format!("{name}.ics"),
            cache_control: "private, max-age=300",
        },
    )
}

async fn vehicle_calendar(
    state: &CalendarState,
    org_id: &OrgId,
    view: VehicleView,
) -> Result<Response, ApiError> {
    let vehicle_id = &view.vehicle.id;
    let of = VehicleRef::new(org_id.clone(), vehicle_id.clone());
    let maintenance = (state.store.maintenance(&of))
        .await
        .map_err(ApiError::internal)?;
    // A sold or archived vehicle is reminded of nothing: its feed stays subscribable, and empty.
    let (items, evaluated_at) = match &maintenance {
        Some(m) if !view.vehicle.is_retired() => (m.items.as_slice(), m.evaluated_at),
        _ => (&[][..], view.vehicle.registered_at),
    };
    let name = format!("{} maintenance", ics::vehicle_label(&view.vehicle));
    let body = ics::render(
        &name,
        &[VehicleCalendar {
            vehicle: &view.vehicle,
            items,
            evaluated_at,
        }],
        vwc_clock::now().date_naive(),
    );
    Ok(calendar_response(
        &format!("{vehicle_id}-maintenance"),
        body,
    ))
}

async fn fleet_calendar(state: &CalendarState, org_id: &OrgId) -> Result<Response, ApiError> {
    // Sold and archived vehicles leave the fleet feed.
    let vehicles = state
        .store
        .vehicles_up_to(org_id, |v| !v.vehicle.is_retired(), MAX_FLEET_VEHICLES)
        .await
        .map_err(ApiError::internal)?;
    let mut views = Vec::with_capacity(vehicles.len());
    for v in &vehicles {
        let of = VehicleRef::new(org_id.clone(), v.vehicle.id.clone());
        let m = (state.store.maintenance(&of))
            .await
            .map_err(ApiError::internal)?;
        views.push(m);
    }
    let calendars: Vec<VehicleCalendar<'_>> = vehicles
        .iter()
        .zip(&views)
        .filter_map(|(v, m)| {
            m.as_ref().map(|m| VehicleCalendar {
                vehicle: &v.vehicle,
                items: &m.items,
                evaluated_at: m.evaluated_at,
            })
        })
        .collect();
    Ok(calendar_response(
        "fleet-maintenance",
        ics::render(
            "Fleet maintenance",
            &calendars,
            vwc_clock::now().date_naive(),
        ),
    ))
}

/// The organisation's secret, when the signature in a URL is one it made; otherwise the feed does not
/// exist (404, like an unknown vehicle).
async fn check_signature(
    state: &CalendarState,
    feed: &SignedFeedPath,
    scope: &FeedScope,
) -> Result<(), ApiError> {
    let secret = state
        .keys
        .secret(&feed.org)
        .await
        .map_err(ApiError::internal)?;
    match secret {
        Some(s) if signing::verify(&s.secret, &feed.org, scope, &feed.signature) => Ok(()),
        _ => Err(ApiError::NotFound("calendar feed")),
    }
}

/// A vehicle's maintenance calendar
///
/// Every enabled maintenance item with a date as an all-day iCalendar event (RFC 5545) on the date it
/// falls due, or on the date the vehicle's usage is projected to reach its due odometer, whichever comes
/// first. Each event's `UID` is the vehicle and the task, so a refreshed feed moves events rather than
/// adding them. Calendar apps use the signed URL of `GET /v1/vehicles/{id}/maintenance/calendar` instead.
#[route(get "/v1/vehicles/{id}/maintenance.ics", tag = "maintenance", params(VehiclePath),
    ok(200, "The calendar.", String, content_type = "text/calendar"), errors(ResourceRoute))]
async fn vehicle_feed(
    State(state): State<CalendarState>,
    caller: VehicleOf<ReadVehicles>,
) -> Result<Response, ApiError> {
    vehicle_calendar(&state, &caller.org(), caller.vehicle).await
}

/// The fleet's maintenance calendar
///
/// The maintenance calendar of every vehicle of the organisation (up to 5,000) in one feed.
#[route(get "/v1/fleet/maintenance.ics", tag = "fleet",
    ok(200, "The calendar.", String, content_type = "text/calendar"), errors(BearerRoute))]
async fn fleet_feed(
    State(state): State<CalendarState>,
    Admitted { org, .. }: Admitted<ReadFleet>,
) -> Result<Response, ApiError> {
    fleet_calendar(&state, &org).await
}

/// A vehicle's calendar subscription URL
///
/// The signed URL of the vehicle's maintenance calendar, for calendar apps that cannot send a token.
#[route(get "/v1/vehicles/{id}/maintenance/calendar", tag = "maintenance", params(VehiclePath),
    ok(200, "The signed URL.", CalendarFeed), errors(ResourceRoute))]
async fn vehicle_feed_url(
    State(state): State<CalendarState>,
    caller: VehicleOf<ReadVehicles>,
    headers: HeaderMap,
) -> Result<Json<CalendarFeed>, ApiError> {
    let scope = FeedScope::Vehicle(caller.vehicle.vehicle.id.to_string());
    current_feed_url(&state, &caller.auth, &headers, scope).await
}

/// The fleet's calendar subscription URL
///
/// The signed URL of the fleet's maintenance calendar (part of the notification preferences).
#[route(get "/v1/notifications/preferences/calendar", tag = "notifications",
    ok(200, "The signed URL.", CalendarFeed), errors(BearerRoute))]
async fn fleet_feed_url(
    State(state): State<CalendarState>,
    caller: Admitted<ReadFleet>,
    headers: HeaderMap,
) -> Result<Json<CalendarFeed>, ApiError> {
    current_feed_url(&state, &caller.auth, &headers, FeedScope::Fleet).await
}

/// Rotate the calendar URLs
///
/// Replaces the organisation's calendar secret: every signed calendar URL issued before (fleet and
/// vehicles) stops working at once. Answers the fleet's new URL; vehicles' new URLs come from
/// `GET /v1/vehicles/{id}/maintenance/calendar`.
#[route(post "/v1/notifications/preferences/calendar/rotate", tag = "notifications",
    ok(200, "The fleet's new signed URL.", CalendarFeed), errors(BearerRoute))]
async fn rotate_feed_urls(
    State(state): State<CalendarState>,
    caller: Admitted<ConfigureNotifications>,
    headers: HeaderMap,
) -> Result<Json<CalendarFeed>, ApiError> {
    let secret = state
        .keys
        .rotate(caller.auth.org())
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(org = caller.auth.org(), "calendar secret rotated");
    Ok(Json(signed_feed(
        state.origin(&headers),
        caller.auth.org(),
        &FeedScope::Fleet,
        &secret,
    )))
}

/// `{org}` and `{signature}` of a signed feed URL: what the handlers read and the OpenAPI parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct SignedFeedPath {
    /// The organisation the URL was issued to.
    org: String,
    /// The URL's signature.
    signature: String,
}

/// A vehicle's calendar (signed URL)
///
/// What `GET /v1/vehicles/{id}/maintenance.ics` answers, for whoever holds the signed URL: no token. A
/// signature that is wrong, or revoked by a rotation, is a 404.
#[route(get "/calendar/{org}/{signature}/vehicles/{id}/maintenance.ics", tag = "maintenance",
    params(SignedFeedPath, VehiclePath),
    ok(200, "The calendar.", String, content_type = "text/calendar"), errors(SignedUrl))]
async fn signed_vehicle_feed(
    State(state): State<CalendarState>,
    Path(feed): Path<SignedFeedPath>,
    Path(VehiclePath { id }): Path<VehiclePath>,
) -> Result<Response, ApiError> {
    check_signature(&state, &feed, &FeedScope::Vehicle(id.to_string())).await?;
    let org = OrgId::from(feed.org);
    let vehicle = state.vehicle_of(&org, &id).await?;
    vehicle_calendar(&state, &org, vehicle).await
}

/// The fleet's calendar (signed URL)
///
/// What `GET /v1/fleet/maintenance.ics` answers, for whoever holds the signed URL: no token. A signature
/// that is wrong, or revoked by a rotation, is a 404.
#[route(get "/calendar/{org}/{signature}/fleet/maintenance.ics", tag = "fleet",
    params(SignedFeedPath), ok(200, "The calendar.", String, content_type = "text/calendar"),
    errors(SignedUrl))]
async fn signed_fleet_feed(
    State(state): State<CalendarState>,
    Path(feed): Path<SignedFeedPath>,
) -> Result<Response, ApiError> {
    check_signature(&state, &feed, &FeedScope::Fleet).await?;
    fleet_calendar(&state, &feed.org.into()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A forwarded host that is not a host (and port) is passed over: `X-Forwarded-Host: evil.example/phish#`
    /// made calendar URLs pointing elsewhere.
    #[test]
    fn the_origin_comes_only_from_headers_that_name_a_host() {
        let origin = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, value.parse().unwrap());
            }
            request_origin(&headers)
        };
        assert_eq!(
            origin(&[("host", "vwc.example:8080")]),
            "http://vwc.example:8080"
        );
        assert_eq!(
            origin(&[
                ("x-forwarded-host", "app.example"),
                ("x-forwarded-proto", "https"),
                ("host", "10.0.0.5")
            ]),
            "https://app.example"
        );
        assert_eq!(origin(&[("host", "[::1]:3000")]), "http://[::1]:3000");
        for bad in [
            "evil.example/phish#",
            "x\"><script>",
            "a b",
            "host:99999x",
            "[::1",
            "user@host",
        ] {
            assert_eq!(
                origin(&[("x-forwarded-host", bad), ("host", "vwc.example")]),
                "http://vwc.example",
                "{bad}"
            );
        }
        assert_eq!(origin(&[("host", "evil.example/x")]), "http://localhost");
    }
}
