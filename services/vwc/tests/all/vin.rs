//! Offline VIN decoding (issue 14, item 6): North American check digits verified on registration, `make`
//! and `year` taken from the VIN when omitted, and `GET /v1/vin/{vin}`. Check digits are computed by hand
//! in the comments (49 CFR 565.15(c): transliterate, weigh 8 7 6 5 4 3 2 10 0 9 8 7 6 5 4 3 2, sum,
//! mod 11, 10 → X).

use serde_json::json;
use vwc::testing::TestApp;
use vwc_auth::Role;

use super::common;
use common::{get, pluck, post, register, registered, spawn_as};

/// The demo RAV4's old VIN: 2 T3P1RFV 8 MW123456, transliterated 2 3 3 7 1 9 6 5 (8) 4 6 1 2 3 4 5 6:
/// 16+21+18+35+4+27+12+50+0+36+48+7+12+15+16+15+12 = 344; 344 mod 11 = 3, so position 9 must be 3.
const BAD_CHECK_DIGIT: &str = "2T3P1RFV8MW123456";
const GOOD_RAV4: &str = "2T3P1RFV3MW123456";

#[tokio::test]
async fn a_north_american_vin_with_a_wrong_check_digit_is_refused_and_nothing_is_registered() {
    let (app, token) = spawn_as(&[Role::Owner]).await;
    let request = json!({"vin": BAD_CHECK_DIGIT, "year": 2021, "make": "Toyota", "model": "RAV4"});
    let (status, ct, problem) = post(&app, &token, "/v1/vehicles", &request).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(ct, "application/problem+json");
    assert_eq!(problem["errors"][0]["field"], "vin");
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("position 9 is '8'") && message.contains("give '3'"),
        "{message}"
    );
    assert!(
        message.contains("vinCheck"),
        "the message names the way out: {message}"
    );
    assert_eq!(app.get_ok(&token, "/v1/vehicles").await["items"], json!([]));

    // "vinCheck": "skip" registers it as written; the corrected VIN registers without it.
    let mut skip = request.clone();
    skip["vinCheck"] = json!("skip");
    let (status, _, vehicle) = post(&app, &token, "/v1/vehicles", &skip).await;
    assert_eq!(status, 201, "{vehicle}");
    assert_eq!(vehicle["vin"], BAD_CHECK_DIGIT);
    app.register(&token, GOOD_RAV4).await;

    let mut unknown = request.clone();
    unknown["vinCheck"] = json!("maybe");
    let (status, ct, _) = post(&app, &token, "/v1/vehicles", &unknown).await;
    assert_eq!((status, ct.as_str()), (422, "application/problem+json"));
    app.stop().await;
}

#[tokio::test]
async fn vins_from_outside_north_america_are_not_held_to_a_check_digit() {
    let (app, token) = spawn_as(&[Role::Owner]).await;
    // A German Golf: position 9 is Z, which no check digit can be (the computed one is 1).
    let golf = json!({"vin": "WVWZZZAUZHP123456", "model": "Golf", "odometerUnit": "km"});
    let vehicle = registered(&app, &token, &golf).await;
    // Position 10 H: 1987 or 2017; outside North America the most recent plausible year.
    assert_eq!(vehicle["year"], 2017);
    assert_eq!(vehicle["make"], "Volkswagen");
    app.stop().await;
}

#[tokio::test]
async fn make_and_year_come_from_the_vin_when_the_registration_omits_them() {
    let (app, token) = spawn_as(&[Role::Owner]).await;
    // 19X FC2F5 6 NE012345 (the demo Civic): 1 9 7 6 3 2 6 5 (6) 5 5 0 1 2 3 4 5
    // = 8+63+42+30+12+6+12+50+0+45+40+0+6+10+12+12+10 = 358; 358 mod 11 = 6 ✓.
    // Position 7 is F, a letter: 2010–2039, so N is 2022 (not 1992). WMI 19X is Honda (USA).
    let civic = json!({"vin": "19xfc2f56ne012345", "model": "Civic"});
    let vehicle = registered(&app, &token, &civic).await;
    assert_eq!(vehicle["vin"], "19XFC2F56NE012345");
    assert_eq!(vehicle["year"], 2022);
    assert_eq!(vehicle["make"], "Honda");

    // What the request says wins over the VIN.
    let rav4 = json!({"vin": GOOD_RAV4, "model": "RAV4", "make": "Toyota Motor", "year": 2021});
    let vehicle = registered(&app, &token, &rav4).await;
    assert_eq!(vehicle["make"], "Toyota Motor");

    // 1C4 is shared by Chrysler, Dodge and Jeep: the make must be given.
    // 1C4RJFBG ? EC123456: 1 3 4 9 1 6 2 7 (?) 5 3 1 2 3 4 5 6
    // = 8+21+24+45+4+18+4+70+0+45+24+7+12+15+16+15+12 = 340; 340 mod 11 = 10 → X.
    let jeep_or_dodge = json!({"vin": "1C4RJFBGXEC123456", "model": "Grand Cherokee"});
    let (status, problem) = register(&app, &token, &jeep_or_dodge).await;
    assert_eq!(status, 422, "{problem}");
    let fields = pluck(&problem["errors"], "field");
    assert_eq!(fields, ["make"], "{problem}");
    app.stop().await;
}

#[tokio::test]
async fn the_vin_route_decodes_check_digit_model_year_manufacturer_and_country() {
    let (app, token) = spawn_as(&[Role::Viewer]).await;
    // 1HG CM8263 3 A004352: 1 8 7 3 4 8 2 6 (3) 3 1 0 0 4 3 5 2
    // = 8+56+42+15+16+24+4+60+0+27+8+0+0+20+12+15+4 = 311; 311 mod 11 = 3 ✓.
    // Position 7 is 2, a digit: 1980–2009, so 3 is 2003 (the 2033 reading is ruled out).
    let d = app.get_ok(&token, "/v1/vin/1hgcm82633a004352").await;
    assert_eq!(d["vin"], "1HGCM82633A004352");
    assert_eq!(d["wmi"], "1HG");
    assert_eq!(d["vds"], "CM8263");
    assert_eq!(d["vis"], "3A004352");
    assert_eq!(d["make"], "Honda");
    assert_eq!(d["country"], "United States");
    assert_eq!(d["region"], "North America");
    assert_eq!(
        d["checkDigit"],
        json!({"actual": "3", "expected": "3", "valid": true, "required": true})
    );
    assert_eq!(d["modelYear"], 2003);
    assert_eq!(d["modelYearBasis"], "position_7");
    assert_eq!(d["plantCode"], "A");
    assert_eq!(d["serialNumber"], "004352");

    // A mismatch is reported, not refused.
    let d = app
        .get_ok(&token, &format!("/v1/vin/{BAD_CHECK_DIGIT}"))
        .await;
    assert_eq!(d["checkDigit"]["valid"], false);
    assert_eq!(d["checkDigit"]["expected"], "3");
    assert_eq!(d["country"], "Canada");
    // Position 7 R is a letter: M is 2021, not 1991.
    assert_eq!(d["modelYear"], 2021);

    // 1FTBR2C8 X LKA22222 (a demo Transit): 1 6 3 2 9 2 3 8 (X) 3 2 1 2 2 2 2 2
    // = 8+42+18+10+36+6+6+80+0+27+16+7+12+10+8+6+4 = 296; 296 mod 11 = 10 → X ✓.
    let d = app.get_ok(&token, "/v1/vin/1FTBR2C8XLKA22222").await;
    assert_eq!(d["checkDigit"]["valid"], true);
    assert_eq!(
        (d["make"].as_str(), d["modelYear"].as_u64()),
        (Some("Ford"), Some(2020))
    );

    for bad in [
        "1HGCM82633A00435",
        "1HGCM82633A00435I",
        "1HGCM82633A0043%2F",
    ] {
        let (status, ct, problem) = get(&app, &token, &format!("/v1/vin/{bad}")).await;
        assert_eq!(status, 422, "{bad}: {problem}");
        assert_eq!(ct, "application/problem+json");
    }
    let anonymous =
        vwc_testkit::get_anonymous(&app.http, app.url("/v1/vin/1HGCM82633A004352")).await;
    assert_eq!(anonymous.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn every_north_american_vin_of_the_demo_fleet_passes_its_check_digit_and_seeds() {
    let seed = vwc::seed::demo();
    let mut checked = 0;
    for org in &seed.organisations {
        for v in &org.vehicles {
            let vin = v.vehicle["vin"].as_str().unwrap();
            let d = vwc_contracts::vin::decode(vin, 2026).unwrap();
            if d.north_american {
                assert!(d.check_digit.valid, "{vin}: {:?}", d.check_digit);
                checked += 1;
            }
            assert_eq!(
                Some(v.vehicle["year"].as_u64().unwrap() as u16),
                d.model_year,
                "{vin}: the seed's year is what the VIN says"
            );
        }
    }
    assert!(checked >= 5, "{checked}");
    let app = TestApp::spawn().await;
    let report = vwc::seed::load(&app.system().router, &app.system().keys, &seed)
        .await
        .expect("the demo seeds");
    assert!(report.vehicles >= 6);
    app.stop().await;
}
