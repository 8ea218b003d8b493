//! Embedded mode: HS256 tokens issued by `Hs256Keys` and everything the verifier must refuse.

use crate::common;

use chrono::Duration;
use common::*;
use serde_json::json;
use vwc_auth::{AuthError, Caller, Hs256Keys, ISSUER, Role, Secret, TokenVerifier};

fn keys() -> Hs256Keys {
    Hs256Keys::new(&Secret::from_bytes(HS_SECRET).unwrap())
}

async fn verify(claims: &serde_json::Value) -> Result<Caller, AuthError> {
    keys().verify(&sign_hs256(HS_SECRET, claims)).await
}

#[tokio::test]
async fn issued_token_verifies_to_the_caller_it_was_issued_for() {
    let keys = keys();
    let (token, _) = keys.issue(
        "usr_1",
        "org_1",
        &[Role::FleetManager, Role::Technician],
        Duration::hours(1),
    );
    let caller = keys.verify(&token).await.unwrap();
    assert_eq!(
        caller,
        Caller {
            sub: "usr_1".into(),
            org: "org_1".into(),
            roles: vec![Role::FleetManager, Role::Technician],
        }
    );
}

#[tokio::test]
async fn issued_token_expires_at_the_returned_instant() {
    let before = vwc_clock::now();
    let (token, expires_at) =
        keys().issue("usr_1", "org_1", &[Role::Viewer], Duration::minutes(15));
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["exp"], json!(expires_at.timestamp()));
    assert_eq!(claims["iss"], json!(ISSUER));
    assert_eq!(claims["aud"], json!("vwc-api"));
    assert!(claims["iat"].as_i64().unwrap() >= before.timestamp());
    let ttl = expires_at - before;
    assert!(
        ttl <= Duration::minutes(15) && ttl > Duration::minutes(14),
        "{ttl}"
    );
}

#[tokio::test]
async fn valid_hs256_token_yields_the_right_caller() {
    let caller = verify(&claims(ISSUER)).await.unwrap();
    assert_eq!(caller.sub, "usr_42");
    assert_eq!(caller.org, "org_7");
    assert_eq!(caller.roles, [Role::Owner, Role::Viewer]);
}

#[tokio::test]
async fn forged_foreign_or_malformed_tokens_are_rejected() {
    let token = sign_hs256(HS_SECRET, &claims(ISSUER));
    let escalated = with(claims(ISSUER), "roles", json!(["fleet_manager"]));
    let mut cases = vec![
        ("alg none", unsigned(None, &claims(ISSUER))),
        (
            "rs256",
            sign_rs256(RSA1_KEY, Some("rsa-1"), &claims(ISSUER)),
        ),
        ("es256", sign_es256(EC1_KEY, Some("ec-1"), &claims(ISSUER))),
        (
            "another secret",
            sign_hs256(b"another secret that is 32+ bytes long!!", &claims(ISSUER)),
        ),
        ("tampered signature", with_tampered_signature(&token)),
        ("tampered payload", with_swapped_payload(&token, &escalated)),
    ];
    for malformed in ["", "abc", "a.b", "a.b.c", "a.b.c.d"] {
        cases.push(("malformed", malformed.to_string()));
    }
    for (what, token) in cases {
        assert_rejected_as(&format!("{what}: {token}"), keys().verify(&token).await);
    }
}

#[tokio::test]
async fn a_token_without_any_one_required_claim_is_rejected() {
    for claim in ["aud", "iss", "sub", "org", "roles", "exp", "iat"] {
        let result = verify(&without(claims(ISSUER), claim)).await;
        assert_rejected_as(&format!("without {claim}"), result);
    }
}

#[tokio::test]
async fn a_token_with_a_wrong_empty_or_out_of_time_claim_is_rejected() {
    for (claim, value) in [
        ("aud", json!("other-api")),
        ("aud", json!(["other-api"])),
        ("iss", json!("evil")),
        // Expired more than the 30 seconds of leeway ago.
        ("exp", json!(now() - 45)),
        ("exp", json!(now() - 86_400)),
        // Not valid yet, beyond the leeway.
        ("nbf", json!(now() + 45)),
        ("sub", json!("")),
        ("org", json!(" ")),
        // Not an organisation id: it travels in URL paths (calendar feeds) and stored keys.
        ("org", json!("org/../x\"")),
        ("org", json!("org_a\u{0}")),
        ("org", json!("x".repeat(65))),
        ("roles", json!([])),
        // An unknown role, or roles not as a list.
        ("roles", json!(["owner", "admin"])),
        ("roles", json!("owner")),
    ] {
        let result = verify(&with(claims(ISSUER), claim, value.clone())).await;
        assert_rejected_as(&format!("{claim} = {value}"), result);
    }
}

#[tokio::test]
async fn token_expired_within_the_30_second_leeway_is_accepted() {
    verify(&with(claims(ISSUER), "exp", json!(now() - 5)))
        .await
        .unwrap();
}

#[tokio::test]
async fn token_whose_nbf_has_passed_is_accepted() {
    verify(&with(claims(ISSUER), "nbf", json!(now() - 10)))
        .await
        .unwrap();
}

#[test]
fn hs256_keys_do_not_print_the_secret() {
    let printed = format!("{:?}", keys());
    assert!(!printed.contains("0123456789abcdef"), "{printed}");
}

/// The verifier remembers tokens it verified (`verified.rs`): the same token answers the same caller
/// again, but a remembered token does not vouch for any other text — another signature on the same
/// header and claims is refused — and a token past its expiry (beyond the leeway) is refused every time.
#[tokio::test]
async fn a_remembered_token_vouches_only_for_its_exact_text_and_never_outlives_its_expiry() {
    let keys = keys();
    let (token, _) = keys.issue("usr_1", "org_1", &[Role::Viewer], Duration::hours(1));
    let first = keys.verify(&token).await.unwrap();
    for _ in 0..3 {
        assert_eq!(keys.verify(&token).await.unwrap(), first);
    }
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{signed}.{flipped}{}", &signature[1..]);
    assert!(matches!(
        keys.verify(&forged).await,
        Err(AuthError::Invalid(_))
    ));
    let unsigned_copy = format!("{signed}.");
    assert!(keys.verify(&unsigned_copy).await.is_err());
    assert_eq!(keys.verify(&token).await.unwrap(), first);

    let (expired, _) = keys.issue("usr_1", "org_1", &[Role::Viewer], Duration::seconds(-120));
    for _ in 0..2 {
        assert!(matches!(
            keys.verify(&expired).await,
            Err(AuthError::Invalid(_))
        ));
    }
}

/// RFC 7519's NumericDate may have a fraction: `iat`, `nbf` and `exp` written as `1.7e9 + 0.5` are read
/// (a probe's token with `iat` half a second ahead was refused as malformed).
#[tokio::test]
async fn times_with_a_fraction_of_a_second_are_read() {
    let now = now() as f64;
    for (field, value) in [
        ("iat", now + 0.5),
        ("iat", now - 10.25),
        ("nbf", now - 1.5),
        ("exp", now + 3_600.75),
    ] {
        let c = with(claims(ISSUER), field, json!(value));
        let verified = verify(&c).await;
        assert!(verified.is_ok(), "{field} = {value}: {verified:?}");
    }
    // Still checked: an expiry with a fraction, past the leeway, is expired.
    let expired = with(claims(ISSUER), "exp", json!(now - 120.5));
    assert!(verify(&expired).await.is_err());
    let ahead = with(claims(ISSUER), "iat", json!(now + 120.5));
    assert!(verify(&ahead).await.is_err());
}
