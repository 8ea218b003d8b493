//! AWS mode: RS256/ES256 tokens checked against a JWKS given inline or as a file. (Fetching from a URL and
//! the cache timing are tested beside the code, in `src/jwks/tests.rs`.)

use crate::common;

use common::*;
use serde_json::json;
use vwc_auth::{AuthError, Caller, JwksKeys, JwksVerifier, Role, TokenVerifier};

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST";

fn verifier() -> JwksVerifier {
    JwksVerifier::new(JwksKeys::Json(JWKS), ISSUER, "vwc-api").unwrap()
}

fn single_key_verifier() -> JwksVerifier {
    JwksVerifier::new(JwksKeys::Json(JWKS_RSA2), ISSUER, "vwc-api").unwrap()
}

fn expected_caller() -> Caller {
    Caller {
        sub: "usr_42".into(),
        org: "org_7".into(),
        roles: vec![Role::Owner, Role::Viewer],
    }
}

#[tokio::test]
async fn valid_rs256_token_with_kid_yields_the_right_caller() {
    let token = sign_rs256(RSA1_KEY, Some("rsa-1"), &claims(ISSUER));
    assert_eq!(verifier().verify(&token).await.unwrap(), expected_caller());
}

#[tokio::test]
async fn valid_es256_token_with_kid_yields_the_right_caller() {
    let token = sign_es256(EC1_KEY, Some("ec-1"), &claims(ISSUER));
    assert_eq!(verifier().verify(&token).await.unwrap(), expected_caller());
}

#[tokio::test]
async fn tokens_no_key_of_the_jwks_vouches_for_are_rejected() {
    let es256 = sign_es256(EC1_KEY, Some("ec-1"), &claims(ISSUER));
    let cases = [
        (
            "hs256 under an rsa kid",
            sign_hs256_with_kid(HS_SECRET, Some("rsa-1"), &claims(ISSUER)),
        ),
        (
            "an unknown kid",
            sign_rs256(RSA1_KEY, Some("rsa-9"), &claims(ISSUER)),
        ),
        (
            "no kid among several keys",
            sign_rs256(RSA1_KEY, None, &claims(ISSUER)),
        ),
        (
            "another key under a known kid",
            sign_rs256(RSA2_KEY, Some("rsa-1"), &claims(ISSUER)),
        ),
        (
            "es256 naming an rsa key",
            sign_es256(EC1_KEY, Some("rsa-1"), &claims(ISSUER)),
        ),
        (
            "tampered rs256 signature",
            with_tampered_signature(&sign_rs256(RSA1_KEY, Some("rsa-1"), &claims(ISSUER))),
        ),
        (
            "tampered es256 payload",
            with_swapped_payload(&es256, &with(claims(ISSUER), "org", json!("org_other"))),
        ),
    ];
    for (what, token) in cases {
        assert_rejected_as(what, verifier().verify(&token).await);
    }
}

/// RFC 7519 lets `aud` be an array (some identity providers always send one): a token is for us when
/// ours is among its audiences. It was refused as "invalid type: sequence, expected a string".
#[tokio::test]
async fn an_audience_array_that_names_ours_is_accepted() {
    for aud in [json!(["vwc-api"]), json!(["other-app", "vwc-api"])] {
        let token = sign_rs256(
            RSA1_KEY,
            Some("rsa-1"),
            &with(claims(ISSUER), "aud", aud.clone()),
        );
        assert_eq!(
            verifier().verify(&token).await.unwrap(),
            expected_caller(),
            "{aud}"
        );
    }
}

#[tokio::test]
async fn jwks_verifier_checks_issuer_audience_expiry_and_required_claims() {
    let mut cases = vec![
        with(claims(ISSUER), "iss", json!("vwc")),
        with(claims(ISSUER), "aud", json!("x")),
        with(claims(ISSUER), "aud", json!(["x", "y"])),
        with(claims(ISSUER), "aud", json!([])),
        with(claims(ISSUER), "exp", json!(now() - 45)),
        with(claims(ISSUER), "nbf", json!(now() + 45)),
    ];
    for field in ["iss", "aud", "sub", "org", "roles", "exp", "iat"] {
        cases.push(without(claims(ISSUER), field));
    }
    let verifier = verifier();
    for claims in cases {
        for token in [
            sign_rs256(RSA1_KEY, Some("rsa-1"), &claims),
            sign_es256(EC1_KEY, Some("ec-1"), &claims),
        ] {
            assert_rejected_as(&claims.to_string(), verifier.verify(&token).await);
        }
    }
}

#[tokio::test]
async fn hs256_token_keyed_with_the_rsa_public_key_pem_is_rejected() {
    // The classic confusion attack: the public key is public, so anyone can compute this HMAC.
    for kid in [Some("rsa-1"), None] {
        let token = sign_hs256_with_kid(RSA1_PUB, kid, &claims(ISSUER));
        assert_rejected(verifier().verify(&token).await);
    }
    let token = sign_hs256_with_kid(
        include_bytes!("fixtures/rsa2.pub.pem"),
        None,
        &claims(ISSUER),
    );
    assert_rejected(single_key_verifier().verify(&token).await);
}

#[tokio::test]
async fn symmetric_keys_published_in_the_jwks_are_never_used() {
    let jwks = json!({ "keys": [
        { "kty": "oct", "kid": "shared", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY" },
        serde_json::from_str::<serde_json::Value>(JWKS_RSA2).unwrap()["keys"][0],
    ]});
    let verifier = JwksVerifier::new(JwksKeys::Json(&jwks.to_string()), ISSUER, "vwc-api").unwrap();
    let token = sign_hs256_with_kid(HS_SECRET, Some("shared"), &claims(ISSUER));
    assert_rejected(verifier.verify(&token).await);
}

#[tokio::test]
async fn token_with_alg_none_is_rejected_by_the_jwks_verifier() {
    assert_rejected(
        verifier()
            .verify(&unsigned(Some("rsa-1"), &claims(ISSUER)))
            .await,
    );
    assert_rejected(
        single_key_verifier()
            .verify(&unsigned(None, &claims(ISSUER)))
            .await,
    );
}

#[tokio::test]
async fn token_without_kid_is_accepted_when_the_jwks_holds_exactly_one_key() {
    let token = sign_rs256(RSA2_KEY, None, &claims(ISSUER));
    assert_eq!(
        single_key_verifier().verify(&token).await.unwrap(),
        expected_caller()
    );
}

#[tokio::test]
async fn key_whose_own_alg_differs_from_the_token_header_is_rejected() {
    let mut jwks: serde_json::Value = serde_json::from_str(JWKS_RSA2).unwrap();
    jwks["keys"][0]["alg"] = json!("RS512");
    let verifier = JwksVerifier::new(JwksKeys::Json(&jwks.to_string()), ISSUER, "vwc-api").unwrap();
    let token = sign_rs256(RSA2_KEY, Some("rsa-2"), &claims(ISSUER));
    assert_rejected(verifier.verify(&token).await);
}

#[tokio::test]
async fn key_without_its_own_alg_accepts_the_matching_family() {
    let mut jwks: serde_json::Value = serde_json::from_str(JWKS_RSA2).unwrap();
    jwks["keys"][0].as_object_mut().unwrap().remove("alg");
    let verifier = JwksVerifier::new(JwksKeys::Json(&jwks.to_string()), ISSUER, "vwc-api").unwrap();
    let token = sign_rs256(RSA2_KEY, Some("rsa-2"), &claims(ISSUER));
    assert_eq!(verifier.verify(&token).await.unwrap(), expected_caller());
}

#[tokio::test]
async fn jwks_file_verifies_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, JWKS).unwrap();
    let verifier = JwksVerifier::new(JwksKeys::File(&path), ISSUER, "vwc-api").unwrap();
    let token = sign_es256(EC1_KEY, Some("ec-1"), &claims(ISSUER));
    assert_eq!(verifier.verify(&token).await.unwrap(), expected_caller());
}

#[test]
fn jwks_without_a_usable_signature_key_is_refused_at_construction() {
    for jwks in [
        "not json",
        r#"{"keys": []}"#,
        r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#,
        r#"{"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}]}"#,
    ] {
        let err = JwksVerifier::new(JwksKeys::Json(jwks), ISSUER, "vwc-api").unwrap_err();
        assert!(
            matches!(err, AuthError::KeysUnavailable(_)),
            "{jwks}: {err}"
        );
    }
    let missing = JwksVerifier::new(
        JwksKeys::File(std::path::Path::new("/nonexistent/jwks.json")),
        ISSUER,
        "vwc-api",
    )
    .unwrap_err();
    assert!(matches!(missing, AuthError::KeysUnavailable(_)));
}
