//! The demo seed (`seeds/demo`), loaded through the public HTTP write paths with real tokens, so a seeded
//! system is exactly what a client would have built.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, NaiveTime};
use serde::Deserialize;
use tower::ServiceExt;
use vwc_auth::{Hs256Keys, Role};

pub const DEMO_SEED: &str = include_str!("../../../seeds/demo/fleet.json");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seed {
    pub organisations: Vec<SeedOrg>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedOrg {
    pub org: String,
    pub name: String,
    pub login: SeedLogin,
    pub vehicles: Vec<SeedVehicle>,
}

#[derive(Debug, Deserialize)]
pub struct SeedLogin {
    pub sub: String,
    pub roles: Vec<Role>,
}

#[derive(Debug, Deserialize)]
pub struct SeedVehicle {
    pub vehicle: serde_json::Value,
    #[serde(default)]
    pub events: Vec<serde_json::Value>,
}

#[derive(Debug, Default)]
pub struct SeedReport {
    pub vehicles: usize,
    pub events: usize,
}

pub fn demo() -> Seed {
    serde_json::from_str(DEMO_SEED).expect("seeds/demo/fleet.json is valid")
}

/// Replaces `daysAgo` with an `occurredAt` relative to now, so the demo always looks current.
fn dated(mut event: serde_json::Value) -> serde_json::Value {
    if let Some(obj) = event.as_object_mut()
        && let Some(days) = obj.remove("daysAgo").and_then(|d| d.as_i64())
    {
        let at = (vwc_clock::now() - Duration::days(days))
            .date_naive()
            .and_time(NaiveTime::from_hms_opt(10, 0, 0).expect("valid time"))
            .and_utc();
        obj.insert("occurredAt".into(), serde_json::json!(at));
    }
    event
}

async fn post(
    router: &Router,
    token: &str,
    path: &str,
    body: &serde_json::Value,
    idempotency_key: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let mut req = Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(k) = idempotency_key {
        req = req.header("idempotency-key", k);
    }
    let response = router
        .clone()
        .oneshot(req.body(Body::from(serde_json::to_vec(body)?))?)
        .await?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if status != StatusCode::CREATED {
        anyhow::bail!("seeding {path} answered {status}: {json}");
    }
    Ok(json)
}

/// Loads `seed` through `router`, printing progress.
pub async fn load(router: &Router, keys: &Hs256Keys, seed: &Seed) -> anyhow::Result<SeedReport> {
    let mut report = SeedReport::default();
    for org in &seed.organisations {
        let (token, _) = keys.issue(
            "seed-loader",
            &org.org,
            &[Role::FleetManager],
            Duration::minutes(10),
        );
        for v in &org.vehicles {
            let vehicle = post(router, &token, "/v1/vehicles", &v.vehicle, None).await?;
            let id = vehicle["id"].as_str().unwrap_or_default().to_string();
            let vin = vehicle["vin"].as_str().unwrap_or_default().to_string();
            for (i, event) in v.events.iter().enumerate() {
                let key = format!("seed-{vin}-{i}");
                post(
                    router,
                    &token,
                    &format!("/v1/vehicles/{id}/events"),
                    &dated(event.clone()),
                    Some(&key),
                )
                .await?;
                report.events += 1;
            }
            report.vehicles += 1;
            crate::say!(
                "  seeded {} ({}): {} events",
                org.name,
                vehicle["model"].as_str().unwrap_or(""),
                v.events.len()
            );
        }
    }
    Ok(report)
}
