//! Every route that takes query parameters answers a bad one the same way: 422 problem+json naming the
//! parameter in `errors` with a sentence (contracts/schemas/field-error.json), never a 400 in serde's
//! words, never a parameter ignored — and the request changes nothing. The routes are the ones
//! `/openapi.json` documents with query parameters, so a new one is walked too.

use reqwest::Method;
use serde_json::{Value, json};
use vwc_auth::Role;
use vwc_testkit::json as body;

use super::common::{record, spawn_with_vehicle, stored_events};

/// A value each query parameter refuses. A parameter the API gains must be added here (the test says so).
fn bad_value(name: &str) -> Option<String> {
    Some(
        match name {
            "limit" => "0",
            "cursor" => "not-a-cursor",
            "from" => "yesterday",
            "to" => "2025-13-01",
            "kind" => "warp",
            "includeVoided" => "yes",
            "unread" => "maybe",
            "groupBy" => "year",
            "status" => "lost",
            "months" => "61",
            "format" => "xml",
            "q" => "",
            "dryRun" => "perhaps",
            "volumeUnit" => "pint",
            "currency" => "XXX",
            "reason" => " ",
            "fileName" => return Some("x".repeat(201)),
            _ => return None,
        }
        .to_string(),
    )
}

/// A value each parameter takes (the parameter given twice is refused all the same).
fn good_value(name: &str) -> &'static str {
    match name {
        "limit" => "5",
        "from" => "2025-01-01",
        "to" => "2025-12-31",
        "kind" => "repair",
        "includeVoided" | "unread" | "dryRun" => "true",
        "groupBy" => "kind",
        "status" => "pending",
        "months" => "6",
        "format" => "json",
        "q" => "oil",
        "volumeUnit" => "gal",
        "reason" => "a typo",
        "fileName" => "receipt.pdf",
        "currency" => "EUR",
        _ => "",
    }
}

/// Parameters that name a resource rather than hold a value: one that does not exist is a 404, as its
/// path would be.
const NAMING_A_RESOURCE: [&str; 1] = ["vehicleId"];

/// Every documented operation with query parameters: method, path template and parameter names.
fn query_routes(document: &Value) -> Vec<(Method, String, Vec<String>)> {
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let names: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            if !names.is_empty() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                routes.push((method, path.clone(), names));
            }
        }
    }
    routes
}

/// The query string of `pairs`, each name and value percent-encoded.
fn query_string(pairs: &[(String, String)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// What a case must answer: 422 problem+json naming every parameter in `fields`, each with a sentence
/// (one containing `saying` when given).
fn assert_names(
    what: &str,
    status: u16,
    content_type: &str,
    problem: &Value,
    fields: &[&str],
    saying: Option<&str>,
) {
    assert_eq!(status, 422, "{what}: {problem}");
    assert_eq!(content_type, "application/problem+json", "{what}");
    assert_eq!(problem["status"], 422, "{what}: {problem}");
    let errors = problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: {problem}"));
    for field in fields {
        let error = errors
            .iter()
            .find(|e| e["field"] == *field)
            .unwrap_or_else(|| panic!("{what}: {field} is not named: {problem}"));
        let message = error["message"].as_str().unwrap();
        assert!(
            message.len() > 8 && !message.contains("Failed to deserialize"),
            "{what}: {message:?}"
        );
        if let Some(saying) = saying {
            assert!(message.contains(saying), "{what}: {message:?}");
        }
    }
}

#[tokio::test]
async fn every_query_parameter_of_every_route_refuses_a_bad_value_an_unknown_name_and_a_repeat_alike()
 {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner, Role::FleetManager], 451).await;
    let event = record(
        &app,
        &token,
        &vehicle,
        json!({"kind": "repair", "occurredAt": "2025-03-01T10:00:00Z", "title": "Brake pads",
            "costCents": 12000, "currency": "USD"}),
    )
    .await;
    app.settle().await;
    let document: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let routes = query_routes(&document);
    assert!(routes.len() >= 12, "{routes:?}");
    let send = |method: Method, path: String, pairs: Vec<(String, String)>| {
        let (app, token) = (&app, &token);
        async move {
            let url = app.url(&format!("{path}?{}", query_string(&pairs)));
            let response = app
                .http
                .request(method, url)
                .bearer_auth(token)
                .header("content-type", "text/csv")
                .body("")
                .send()
                .await
                .unwrap();
            body(response).await
        }
    };
    for (method, template, names) in &routes {
        let path = template
            .replace("{id}", &vehicle)
            .replace("{eventId}", &event);
        assert!(!path.contains('{'), "{template}: a path parameter to fill");
        let route = format!("{method} {template}");
        // What the route needs besides the parameter at test (search needs its words).
        let needed: Vec<(String, String)> = names
            .iter()
            .filter(|n| *n == "q")
            .map(|n| (n.clone(), good_value(n).to_string()))
            .collect();
        let with = |pairs: &[(&str, &str)]| {
            let mut all: Vec<(String, String)> = needed
                .iter()
                .filter(|(n, _)| !pairs.iter().any(|(p, _)| p == n))
                .cloned()
                .collect();
            all.extend(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())));
            all
        };
        // A parameter the route does not take: refused, listing those it does.
        let (status, ct, problem) =
            send(method.clone(), path.clone(), with(&[("sort", "sideways")])).await;
        let listed = names.last().unwrap();
        assert_names(
            &format!("{route} ?sort"),
            status,
            &ct,
            &problem,
            &["sort"],
            Some(listed.as_str()),
        );
        for name in names {
            if NAMING_A_RESOURCE.contains(&name.as_str()) {
                let (status, ct, problem) = send(
                    method.clone(),
                    path.clone(),
                    with(&[(name.as_str(), "veh_none")]),
                )
                .await;
                assert_eq!(
                    (status, ct.as_str()),
                    (404, "application/problem+json"),
                    "{route} {name}: {problem}"
                );
                continue;
            }
            let bad = bad_value(name)
                .unwrap_or_else(|| panic!("{route}: add a bad value of `{name}` to this test"));
            let (status, ct, problem) = send(
                method.clone(),
                path.clone(),
                with(&[(name.as_str(), bad.as_str())]),
            )
            .await;
            assert_names(
                &format!("{route} {name}={bad:?}"),
                status,
                &ct,
                &problem,
                &[name.as_str()],
                None,
            );
            let good = good_value(name);
            let (status, ct, problem) = send(
                method.clone(),
                path.clone(),
                with(&[(name.as_str(), good), (name.as_str(), good)]),
            )
            .await;
            assert_names(
                &format!("{route} {name} twice"),
                status,
                &ct,
                &problem,
                &[name.as_str()],
                Some("more than once"),
            );
        }
    }
    // Several bad parameters: one problem naming each.
    let (status, ct, problem) = send(
        Method::GET,
        format!("/v1/vehicles/{vehicle}/events"),
        vec![
            ("kind".into(), "warp".into()),
            ("from".into(), "yesterday".into()),
            ("limit".into(), "0".into()),
            ("cursor".into(), "junk".into()),
            ("includeVoided".into(), "yes".into()),
        ],
    )
    .await;
    assert_names(
        "the timeline with five bad parameters",
        status,
        &ct,
        &problem,
        &["kind", "from", "limit", "cursor", "includeVoided"],
        None,
    );
    let (status, ct, problem) = send(
        Method::GET,
        "/v1/fleet/costs".into(),
        vec![
            ("groupBy".into(), "year".into()),
            ("to".into(), "soon".into()),
            ("limit".into(), "500".into()),
        ],
    )
    .await;
    assert_names(
        "fleet costs with three bad parameters",
        status,
        &ct,
        &problem,
        &["groupBy", "to", "limit"],
        None,
    );
    // Nothing changed: the one event is stored, not voided, with no attachment.
    app.settle().await;
    assert_eq!(stored_events(&app, "org_a", &vehicle).await, 1);
    let timeline = app
        .get_ok(&token, &format!("/v1/vehicles/{vehicle}/events"))
        .await;
    assert_eq!(timeline["items"].as_array().unwrap().len(), 1, "{timeline}");
    let attachments = app
        .get_ok(
            &token,
            &format!("/v1/vehicles/{vehicle}/events/{event}/attachments"),
        )
        .await;
    assert_eq!(attachments["items"], json!([]), "{attachments}");
    app.stop().await;
}

/// A range that ends before it starts holds nothing: every route taking `from` and `to` refuses it, naming
/// both, rather than answering an empty page; a range of one day is a range.
#[tokio::test]
async fn a_range_that_ends_before_it_starts_is_refused_naming_both_ends() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::FleetManager], 452).await;
    record(
        &app,
        &token,
        &vehicle,
        json!({"kind": "repair", "occurredAt": "2025-03-01T10:00:00Z", "title": "Brake pads",
            "costCents": 12000, "currency": "USD"}),
    )
    .await;
    app.settle().await;
    let timeline = format!("/v1/vehicles/{vehicle}/events");
    for path in [timeline.as_str(), "/v1/fleet/costs"] {
        for (from, to) in [
            ("2025-04-01", "2025-03-01"),
            ("2025-03-01T10:00:01Z", "2025-03-01T10:00:00Z"),
        ] {
            let (status, ct, problem) =
                super::common::get(&app, &token, &format!("{path}?from={from}&to={to}")).await;
            assert_names(
                &format!("{path} {from} … {to}"),
                status,
                &ct,
                &problem,
                &["from", "to"],
                Some(from),
            );
        }
        let (status, _, day) = super::common::get(
            &app,
            &token,
            &format!("{path}?from=2025-03-01&to=2025-03-01"),
        )
        .await;
        assert_eq!(status, 200, "{path}: {day}");
    }
    let day = app
        .get_ok(&token, &format!("{timeline}?from=2025-03-01&to=2025-03-01"))
        .await;
    assert_eq!(day["items"].as_array().unwrap().len(), 1, "{day}");
    app.stop().await;
}
