//! Corrections and voids of timeline records, black-box over HTTP on the real server: a correction and a
//! void flowing into the timeline, the costs, the maintenance due state and the chat; the record's history;
//! who may change a dealer's record; other organisations' ids; bad input that changes nothing.

use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::{json as body, vin};
use vwc_webhook::{WebhookSecret, sign};

use super::common;
use common::{
    ask, days_ago, delete, detail_mentions, names_field, patch, pluck, poll_get, post, record,
    send_raw, spawn_as, spawn_with_vehicle,
};
use reqwest::Method;

fn cited(answer: &Value) -> Vec<String> {
    pluck(&answer["citations"], "eventId")
}

fn oil_change(days: i64, odometer: u64, cents: u64) -> Value {
    json!({"kind": "maintenance", "occurredAt": days_ago(days), "odometer": odometer,
        "costCents": cents, "currency": "USD", "title": "Oil change",
        "vendor": {"name": "Main St Auto"}, "details": {"tasks": ["oil_change"]}})
}

async fn oil_item(app: &TestApp, token: &str, vehicle: &str) -> Value {
    let m = app
        .get_ok(token, &format!("/v1/vehicles/{vehicle}/maintenance"))
        .await;
    m["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["task"] == "oil_change")
        .cloned()
        .expect("the oil change item")
}

fn usd_costs(overview: &Value) -> Value {
    overview["costs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["currency"] == "USD")
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_correction_and_a_void_flow_into_timeline_costs_due_state_and_chat() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 301).await;
    let first = record(&app, &token, &vehicle, oil_change(60, 40_000, 8_999)).await;
    let repair = record(
        &app,
        &token,
        &vehicle,
        json!({"kind": "repair", "occurredAt": days_ago(30), "costCents": 45_000, "currency": "USD",
            "title": "Brake pads", "details": {"system": "brakes", "parts": ["front brake pads"]}}),
    )
    .await;
    let second = record(&app, &token, &vehicle, oil_change(10, 43_000, 9_999)).await;
    app.settle().await;

    // Before: both oil changes count.
    let overview = app
        .get_ok(&token, &format!("/v1/vehicles/{vehicle}/overview"))
        .await;
    assert_eq!(
        usd_costs(&overview)["lifetimeCents"],
        8_999 + 45_000 + 9_999
    );
    assert_eq!(
        oil_item(&app, &token, &vehicle).await["lastDoneOdometer"],
        43_000
    );
    let when_was_the_oil_changed = || {
        ask(
            &app,
            &token,
            &vehicle,
            "When was the oil last changed?",
            None,
        )
    };
    let answer = when_was_the_oil_changed().await;
    assert!(cited(&answer).contains(&second), "{answer}");

    // Correct the first oil change's cost; void the second one (recorded by mistake).
    let (status, _, corrected) = patch(
        &app,
        &token,
        &format!("/v1/vehicles/{vehicle}/events/{first}"),
        &json!({"costCents": 7_999, "notes": "the receipt says 79.99", "reason": "typed the wrong price"}),
    )
    .await;
    assert_eq!(status, 200, "{corrected}");
    assert_eq!(corrected["current"]["costCents"], 7_999);
    assert_eq!(corrected["current"]["id"], first.as_str());
    assert_eq!(corrected["voided"], false);
    let revisions = corrected["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[0]["change"], "recorded");
    assert_eq!(revisions[0]["event"]["costCents"], 8_999);
    assert_eq!(revisions[1]["change"], "corrected");
    assert_eq!(revisions[1]["changed"], json!(["costCents", "notes"]));
    assert_eq!(revisions[1]["reason"], "typed the wrong price");

    let (status, _, voided) = delete(
        &app,
        &token,
        &format!(
            "/v1/vehicles/{vehicle}/events/{second}?reason=recorded%20for%20the%20wrong%20car"
        ),
    )
    .await;
    assert_eq!(status, 200, "{voided}");
    assert_eq!(voided["voided"], true);
    assert_eq!(voided["revisions"][1]["change"], "voided");
    app.settle().await;

    // Timeline: the corrected record, marked; the voided one only on request, marked.
    let items = app.timeline_of_len(&token, &vehicle, 2).await;
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [repair.as_str(), first.as_str()]);
    assert_eq!(items[1]["costCents"], 7_999);
    assert_eq!(items[1]["corrected"], true);
    assert_eq!(items[1]["revision"], 2);
    assert!(items[0].get("corrected").is_none(), "{}", items[0]);
    let all = app
        .get_ok(
            &token,
            &format!("/v1/vehicles/{vehicle}/events?includeVoided=true"),
        )
        .await;
    let all = all["items"].as_array().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["id"], second.as_str());
    assert_eq!(all[0]["voided"], true);
    assert_eq!(all[0]["voidReason"], "recorded for the wrong car");

    // The record's history on request.
    let history = app
        .get_ok(
            &token,
            &format!("/v1/vehicles/{vehicle}/events/{first}/history"),
        )
        .await;
    assert_eq!(history["current"]["costCents"], 7_999);
    assert_eq!(history["revisions"].as_array().unwrap().len(), 2);

    // Costs, counts and odometer follow: 79.99 + 450.00, the voided 99.99 gone.
    let overview = app
        .get_ok(&token, &format!("/v1/vehicles/{vehicle}/overview"))
        .await;
    let costs = usd_costs(&overview);
    assert_eq!(costs["lifetimeCents"], 7_999 + 45_000);
    assert_eq!(costs["byKind"]["maintenance"], 7_999);
    let view = app.get_ok(&token, &format!("/v1/vehicles/{vehicle}")).await;
    assert_eq!(view["eventCount"], 2);
    assert_eq!(view["odometer"]["value"], 40_000);
    let fleet = app.get_ok(&token, "/v1/fleet/costs?groupBy=kind").await;
    let maintenance = fleet["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "maintenance")
        .cloned()
        .unwrap();
    assert_eq!(
        (
            maintenance["totalCents"].as_u64(),
            maintenance["events"].as_u64()
        ),
        (Some(7_999), Some(1))
    );

    // Due state: the voided oil change no longer counts as done.
    let item = oil_item(&app, &token, &vehicle).await;
    assert_eq!(item["lastDoneOdometer"], 40_000, "{item}");

    // Chat: cites the remaining oil change, with its corrected cost, never the voided record.
    let answer = when_was_the_oil_changed().await;
    assert!(!cited(&answer).contains(&second), "{answer}");
    assert!(cited(&answer).contains(&first), "{answer}");
    let spent = ask(
        &app,
        &token,
        &vehicle,
        "How much have I spent on oil changes?",
        None,
    )
    .await;
    assert!(
        spent["answer"].as_str().unwrap().contains("79.99"),
        "{spent}"
    );
    assert!(!cited(&spent).contains(&second), "{spent}");
    app.stop().await;
}

#[tokio::test]
async fn bad_corrections_and_voids_are_refused_and_change_nothing() {
    let (app, owner, vehicle) = spawn_with_vehicle(&[Role::Owner], 302).await;
    let other_vehicle = app.register(&owner, &vin(303)).await;
    let reading = record(
        &app,
        &owner,
        &vehicle,
        json!({"kind": "odometer_reading", "occurredAt": days_ago(3), "odometer": 1_000}),
    )
    .await;
    let collision = record(
        &app,
        &owner,
        &vehicle,
        json!({"kind": "collision", "occurredAt": days_ago(2), "details": {"severity": "minor"}}),
    )
    .await;
    let path = format!("/v1/vehicles/{vehicle}/events/{reading}");

    // Invalid corrections: 422 (or 400 for JSON that is not JSON), each naming the problem.
    for (bad, field) in [
        (json!({}), "body"),
        (json!({"reason": "nothing else"}), "body"),
        (json!({"odometer": null}), "odometer"),
        (json!({"costCents": 500}), "currency"),
        (json!({"occurredAt": days_ago(-30)}), "occurredAt"),
        (json!({"odometer": 1_000}), "body"),
        (json!({"colour": "red"}), "body"),
        (json!({"kind": "teleport"}), "body"),
        (json!({"odometer": 2_000, "reason": 7}), "reason"),
    ] {
        let (status, ctype, problem) = patch(&app, &owner, &path, &bad).await;
        assert_eq!(status, 422, "{bad}: {problem}");
        assert!(ctype.starts_with("application/problem+json"), "{ctype}");
        assert!(names_field(&problem, field), "{bad}: {problem}");
    }
    let (status, _, _) = body(
        send_raw(
            &app,
            Method::PATCH,
            &owner,
            &path,
            "application/json",
            "{not json",
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, problem) = delete(&app, &owner, &path).await;
    assert_eq!(status, 422, "a void needs a reason: {problem}");

    // Unknown ids, a record of another vehicle, another organisation: 404.
    let stranger = app.token("org_b", &[Role::FleetManager]);
    for (token, record) in [
        (&owner, format!("/v1/vehicles/{vehicle}/events/evt_nope")),
        (
            &owner,
            format!("/v1/vehicles/{other_vehicle}/events/{reading}"),
        ),
        (&stranger, path.clone()),
    ] {
        let (status, _, _) = patch(&app, token, &record, &json!({"odometer": 5})).await;
        assert_eq!(status, 404, "{record}");
    }
    let (status, _, _) = delete(&app, &stranger, &format!("{path}?reason=mine")).await;
    assert_eq!(status, 404);
    let status = app
        .get(&stranger, &format!("{path}/history"))
        .await
        .status();
    assert_eq!(status, 404);

    // Roles: a viewer changes nothing; a technician may not change a collision record.
    let viewer = app.token("org_a", &[Role::Viewer]);
    let (status, _, _) = patch(&app, &viewer, &path, &json!({"odometer": 5})).await;
    assert_eq!(status, 403);
    let technician = app.token("org_a", &[Role::Technician]);
    let void = format!("/v1/vehicles/{vehicle}/events/{collision}?reason=x");
    assert_eq!(delete(&app, &technician, &void).await.0, 403);

    // Nothing changed.
    let history = app.get_ok(&owner, &format!("{path}/history")).await;
    assert_eq!(
        history["revisions"].as_array().unwrap().len(),
        1,
        "{history}"
    );
    assert_eq!(history["current"]["odometer"], 1_000);

    // Void, then: voiding again and correcting the voided record are 409s with a clear message.
    let (status, _, _) = delete(&app, &owner, &format!("{path}?reason=duplicate")).await;
    assert_eq!(status, 200);
    let (status, _, problem) = delete(&app, &owner, &format!("{path}?reason=again")).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("voided"),
        "{problem}"
    );
    let (status, _, problem) = patch(&app, &owner, &path, &json!({"odometer": 1_200})).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        detail_mentions(&problem, "cannot be corrected"),
        "{problem}"
    );
    let history = app.get_ok(&owner, &format!("{path}/history")).await;
    assert_eq!(history["revisions"].as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_dealer_record_is_corrected_only_by_the_roles_allowed() {
    let (app, fleet) = spawn_as(&[Role::FleetManager]).await;
    let (status, _, created) = post(
        &app,
        &fleet,
        "/v1/dealers",
        &json!({"name": "Main St Toyota"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let dealer_id = created["dealerId"].as_str().unwrap().to_string();
    let secret = WebhookSecret::parse(created["webhookSecret"].as_str().unwrap()).unwrap();
    let car_vin = vin(304);
    let vehicle = app.register(&fleet, &car_vin).await;
    let payload = json!({"type": "service_record", "vin": car_vin, "occurredAt": days_ago(5),
        "odometer": 12_000, "totalCents": 12_999, "currency": "USD", "reference": "RO-77",
        "lines": [{"description": "Synthetic oil change", "task": "oil_change", "amountCents": 8_999},
                  {"description": "Tire rotation", "task": "tire_rotation", "amountCents": 4_000}]});
    let raw = serde_json::to_vec(&payload).unwrap();
    let now = app.system().clock.now().timestamp();
    let (status, _, answer) = body(
        app.http
            .post(app.url(&format!("/webhooks/dealers/{dealer_id}")))
            .header("content-type", "application/json")
            .header("webhook-id", "msg_corrections_1")
            .header("webhook-timestamp", now.to_string())
            .header(
                "webhook-signature",
                sign(&secret, "msg_corrections_1", now, &raw),
            )
            .body(raw)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let event = answer["eventId"].as_str().unwrap().to_string();
    let path = format!("/v1/vehicles/{vehicle}/events/{event}");
    let items = app.timeline_of_len(&fleet, &vehicle, 1).await;
    assert_eq!(items[0]["source"], "dealer");

    // An owner and a technician may record maintenance, but not change a dealer's record.
    for role in [Role::Owner, Role::Technician] {
        let token = app.token("org_a", &[role]);
        let (status, _, problem) = patch(&app, &token, &path, &json!({"odometer": 12_100})).await;
        assert_eq!(status, 403, "{role}: {problem}");
        let (status, _, _) = delete(&app, &token, &format!("{path}?reason=wrong")).await;
        assert_eq!(status, 403, "{role}");
    }
    let history = app.get_ok(&fleet, &format!("{path}/history")).await;
    assert_eq!(history["revisions"].as_array().unwrap().len(), 1);

    // A fleet manager may.
    let (status, _, corrected) = patch(
        &app,
        &fleet,
        &path,
        &json!({"odometer": 12_100, "reason": "the RO had a typo"}),
    )
    .await;
    assert_eq!(status, 200, "{corrected}");
    assert_eq!(corrected["current"]["source"], "dealer");
    assert_eq!(corrected["current"]["odometer"], 12_100);
    let events = format!("/v1/vehicles/{vehicle}/events");
    poll_get(&app, &fleet, &events, "the corrected odometer", |items| {
        (items["items"][0]["odometer"] == 12_100).then_some(())
    })
    .await;
    let (status, _, _) = delete(&app, &fleet, &format!("{path}?reason=duplicate RO")).await;
    assert_eq!(status, 200);
    app.settle().await;
    app.timeline_of_len(&fleet, &vehicle, 0).await;
    app.stop().await;
}

/// A change sent with `If-Match: "<revision>"` is made only to the record as the caller read it: a form
/// opened before another change answers 409 and changes nothing (it silently undid the other change: a
/// stale dashboard dialog put back a claim id another tab had corrected).
#[tokio::test]
async fn a_change_based_on_an_older_revision_is_refused_and_changes_nothing() {
    let (app, owner, vehicle) = spawn_with_vehicle(&[Role::Owner], 304).await;
    let event = record(
        &app,
        &owner,
        &vehicle,
        json!({"kind": "odometer_reading", "occurredAt": days_ago(3), "odometer": 1_000}),
    )
    .await;
    let path = format!("/v1/vehicles/{vehicle}/events/{event}");
    let send_if = |method: Method, path: String, tag: &'static str, json: Option<Value>| {
        let (app, owner) = (&app, &owner);
        async move {
            let mut request = app
                .http
                .request(method, app.url(&path))
                .bearer_auth(owner)
                .header("if-match", tag);
            if let Some(json) = json {
                request = request.json(&json);
            }
            body(request.send().await.unwrap()).await
        }
    };
    // Read at revision 1; corrected at revision 1: fine, now at 2.
    let (status, _, after) = send_if(
        Method::PATCH,
        path.clone(),
        "\"1\"",
        Some(json!({"odometer": 1_100})),
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["revisions"].as_array().unwrap().len(), 2);
    // A second form opened at revision 1: 409, naming both revisions; nothing changed.
    let (status, ctype, problem) = send_if(
        Method::PATCH,
        path.clone(),
        "\"1\"",
        Some(json!({"odometer": 1_050})),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert!(ctype.starts_with("application/problem+json"));
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("changed since revision 1 (it is now at revision 2)"),
        "{problem}"
    );
    let (status, _, voided) =
        send_if(Method::DELETE, format!("{path}?reason=typo"), "\"1\"", None).await;
    assert_eq!(status, 409, "{voided}");
    let (_, _, history) = common::get(&app, &owner, &format!("{path}/history")).await;
    assert_eq!(history["revisions"].as_array().unwrap().len(), 2);
    assert_eq!(history["current"]["odometer"], 1_100);
    // Not a revision: 400. The current one (or `*`): the void goes through.
    let (status, _, _) = send_if(Method::DELETE, format!("{path}?reason=typo"), "abc", None).await;
    assert_eq!(status, 400);
    let (status, _, voided) =
        send_if(Method::DELETE, format!("{path}?reason=typo"), "\"2\"", None).await;
    assert_eq!(status, 200, "{voided}");
    assert_eq!(voided["voided"], true);
    app.stop().await;
}

/// Probe p44 M6 for corrections: an odometer corrected to below an earlier reading is told so, as a new
/// record is; a correction that leaves the odometer and the date alone says nothing about them.
#[tokio::test]
async fn a_correction_of_the_odometer_below_an_earlier_reading_is_made_with_a_warning() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 41).await;
    app.record_odometer(&token, &vehicle, 30, 41_250).await;
    let record = app.record_odometer(&token, &vehicle, 10, 41_900).await;
    let path = format!("/v1/vehicles/{vehicle}/events/{record}");
    let (status, _, typo) = patch(&app, &token, &path, &json!({"odometer": 4_190})).await;
    assert_eq!(status, 200, "{typo}");
    assert_eq!(typo["current"]["odometer"], 4_190, "corrected as asked");
    assert_eq!(typo["revisions"].as_array().map(Vec::len), Some(2));
    let message = typo["warnings"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("4,190 mi is lower than the 41,250 mi recorded on "),
        "{typo}"
    );
    let (status, _, notes) = patch(&app, &token, &path, &json!({"notes": "typo"})).await;
    assert_eq!(status, 200, "{notes}");
    assert!(notes.get("warnings").is_none(), "{notes}");
    let (status, _, fixed) = patch(&app, &token, &path, &json!({"odometer": 41_900})).await;
    assert_eq!(status, 200, "{fixed}");
    assert!(fixed.get("warnings").is_none(), "{fixed}");
    app.stop().await;
}
