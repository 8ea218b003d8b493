//! `CallerVehicle` over real HTTP: the gate's 403 comes before any lookup, another organisation's vehicle
//! is a 404 like a missing one, and `AfterLookup` leaves the role check to the route. `Admitted`: the
//! gate's 403 comes before the rest of the request is read, and the organisation is the token's.
//! `VehicleScope`: the same gate, and the path's vehicle named in the token's organisation, not looked up.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use vwc_auth::{Hs256Keys, Role, Secret, TokenVerifier};
use vwc_contracts::{OrgId, VehicleId};
use vwc_http::gate::{AfterLookup, ManageVehicles};
use vwc_http::{Admitted, ApiError, CallerVehicle, FindVehicle, Query, VehicleScope};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

#[derive(Clone)]
struct Fleet {
    verifier: Arc<dyn TokenVerifier>,
    /// (organisation, vehicle id) → the vehicle's name.
    vehicles: Arc<HashMap<(String, String), String>>,
}

vwc_http::has_verifier!(Fleet);

impl FindVehicle<String> for Fleet {
    async fn find_vehicle(&self, org: &OrgId, id: &VehicleId) -> Result<Option<String>, ApiError> {
        Ok(self
            .vehicles
            .get(&(org.to_string(), id.to_string()))
            .cloned())
    }
}

#[derive(serde::Deserialize)]
struct Greeting {
    greeting: Option<String>,
}

async fn manage(caller: CallerVehicle<String, ManageVehicles>) -> String {
    format!("{} of {}", caller.vehicle, caller.actor())
}

async fn after_lookup(
    caller: CallerVehicle<String, AfterLookup>,
    Query(q): Query<Greeting>,
) -> Result<String, ApiError> {
    caller.require(vwc_auth::Permission::ManageVehicles)?;
    Ok(format!(
        "{} {}",
        q.greeting.unwrap_or_default(),
        caller.vehicle
    ))
}

async fn fleet(caller: Admitted<ManageVehicles>, Query(q): Query<Greeting>) -> String {
    format!("{} {}", q.greeting.unwrap_or_default(), caller.org)
}

/// The query is read (after the gate) but not used.
async fn scoped(caller: VehicleScope<ManageVehicles>, _: Query<Greeting>) -> String {
    let v = &caller.vehicle;
    format!("{}/{} by {}", v.org_id, v.vehicle_id, caller.actor())
}

/// Serves the routes on a free port; answers the base URL.
async fn serve() -> String {
    let state = Fleet {
        verifier: Arc::new(Hs256Keys::new(&Secret::from_bytes(SECRET).unwrap())),
        vehicles: Arc::new(HashMap::from([
            (("org_a".into(), "veh_a".into()), "Accord".into()),
            (("org_b".into(), "veh_b".into()), "Civic".into()),
        ])),
    };
    let app = Router::new()
        .route("/v1/vehicles/{id}", get(manage))
        .route("/v1/vehicles/{id}/after", get(after_lookup))
        .route("/v1/fleet", get(fleet))
        .route("/s/{id}", get(scoped))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn token(org: &str, role: Role) -> String {
    let keys = Hs256Keys::new(&Secret::from_bytes(SECRET).unwrap());
    keys.issue("usr_1", org, &[role], chrono::Duration::minutes(5))
        .0
}

/// The status and body of `GET base + path`, with a token of `org` and `role` when given.
async fn get_as(base: &str, path: &str, caller: Option<(&str, Role)>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some((org, role)) = caller {
        request = request.bearer_auth(token(org, role));
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// `(path, caller, status, answer)`: `GET path` as `caller` (organisation and role, or no token) answers
/// `status` with the body `answer`, or with a problem of that status.
type Case<'a> = (&'a str, Option<(&'a str, Role)>, u16, Option<&'a str>);

async fn answers_each(base: &str, cases: &[Case<'_>]) {
    for &(path, caller, status, answer) in cases {
        let (got, body) = get_as(base, path, caller).await;
        assert_eq!(got, status, "{path} as {caller:?}: {body}");
        match answer {
            Some(answer) => assert_eq!(body, answer),
            None => assert!(body.contains(&format!("\"status\":{status}")), "{body}"),
        }
    }
}

#[tokio::test]
async fn the_gate_answers_before_the_lookup_and_another_organisations_vehicle_is_a_404() {
    let base = serve().await;
    let (owner, viewer) = (Some(("org_a", Role::Owner)), Some(("org_a", Role::Viewer)));
    let cases = [
        ("/v1/vehicles/veh_a", owner, 200, Some("Accord of usr_1")),
        // Another organisation's vehicle and a missing one answer the same.
        ("/v1/vehicles/veh_b", owner, 404, None),
        ("/v1/vehicles/veh_x", owner, 404, None),
        // Without the permission: 403 whether or not the vehicle exists, before any lookup.
        ("/v1/vehicles/veh_a", viewer, 403, None),
        ("/v1/vehicles/veh_x", viewer, 403, None),
        ("/v1/vehicles/veh_a", None, 401, None),
        // `AfterLookup`: the vehicle first (another organisation's is a 404 even for a caller the route
        // refuses), then the route's own check.
        (
            "/v1/vehicles/veh_a/after?greeting=hello",
            owner,
            200,
            Some("hello Accord"),
        ),
        ("/v1/vehicles/veh_b/after", viewer, 404, None),
        ("/v1/vehicles/veh_a/after", viewer, 403, None),
        // A parameter given twice is a 422 problem naming it.
        (
            "/v1/vehicles/veh_a/after?greeting=a&greeting=b",
            owner,
            422,
            None,
        ),
    ];
    answers_each(&base, &cases).await;
}

#[tokio::test]
async fn an_admitted_caller_is_checked_before_its_query_and_reads_its_own_organisation() {
    let base = serve().await;
    let (owner_a, owner_b) = (Some(("org_a", Role::Owner)), Some(("org_b", Role::Owner)));
    let viewer = Some(("org_a", Role::Viewer));
    let cases = [
        ("/v1/fleet?greeting=hi", owner_a, 200, Some("hi org_a")),
        ("/v1/fleet?greeting=hi", owner_b, 200, Some("hi org_b")),
        // Without the permission: 403, even where the query string is refused.
        ("/v1/fleet?greeting=hi", viewer, 403, None),
        ("/v1/fleet?greeting=a&greeting=b", viewer, 403, None),
        ("/v1/fleet?greeting=a&greeting=b", owner_a, 422, None),
        ("/v1/fleet", None, 401, None),
    ];
    answers_each(&base, &cases).await;
}

#[tokio::test]
async fn a_vehicle_scope_names_the_path_vehicle_in_the_callers_organisation_after_the_gate() {
    let base = serve().await;
    // Not looked up: whichever organisation asks, the path's id is named in its own.
    for org in ["org_a", "org_b", "org_c"] {
        let (status, body) = get_as(&base, "/s/veh_a", Some((org, Role::Owner))).await;
        assert_eq!((status, body), (200, format!("{org}/veh_a by usr_1")));
    }
    let viewer = Some(("org_a", Role::Viewer));
    let cases = [
        ("/s/veh_a", viewer, 403, None),
        // The gate first: 403 even where the query string is refused.
        ("/s/veh_a?greeting=a&greeting=b", viewer, 403, None),
        (
            "/s/veh_a?greeting=a&greeting=b",
            Some(("org_a", Role::Owner)),
            422,
            None,
        ),
        ("/s/veh_a", None, 401, None),
    ];
    answers_each(&base, &cases).await;
}
