//! Token forging for the verifier tests: claims as JSON so any field can be dropped or bent, signed with the
//! fixture keys under `tests/fixtures/` (test-only keys; `generate.sh` rebuilds them).
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use vwc_auth::{AuthError, Caller};

pub const JWKS: &str = include_str!("../fixtures/jwks.json");
pub const JWKS_RSA2: &str = include_str!("../fixtures/jwks-rsa2.json");
pub const RSA1_KEY: &[u8] = include_bytes!("../fixtures/rsa1.key.pem");
pub const RSA1_PUB: &[u8] = include_bytes!("../fixtures/rsa1.pub.pem");
pub const RSA2_KEY: &[u8] = include_bytes!("../fixtures/rsa2.key.pem");
pub const EC1_KEY: &[u8] = include_bytes!("../fixtures/ec1.key.pem");

/// 32 bytes: the shortest HS256 secret the crate accepts.
pub const HS_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

pub fn now() -> i64 {
    vwc_clock::now().timestamp()
}

/// A complete, currently valid set of claims for `iss`.
pub fn claims(iss: &str) -> Value {
    json!({
        "sub": "usr_42",
        "org": "org_7",
        "roles": ["owner", "viewer"],
        "iss": iss,
        "aud": "vwc-api",
        "exp": now() + 3600,
        "iat": now(),
    })
}

pub fn without(mut claims: Value, field: &str) -> Value {
    claims.as_object_mut().unwrap().remove(field);
    claims
}

pub fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

fn header(alg: Algorithm, kid: Option<&str>) -> Header {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    header
}

pub fn sign_hs256(secret: &[u8], claims: &Value) -> String {
    sign_hs256_with_kid(secret, None, claims)
}

pub fn sign_hs256_with_kid(secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret).unwrap();
    jsonwebtoken::encode(&header(Algorithm::HS256, kid), claims, &key).unwrap()
}

pub fn sign_rs256(pem: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(pem).unwrap();
    jsonwebtoken::encode(&header(Algorithm::RS256, kid), claims, &key).unwrap()
}

pub fn sign_es256(pem: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let key = EncodingKey::from_ec_pem(pem).unwrap();
    jsonwebtoken::encode(&header(Algorithm::ES256, kid), claims, &key).unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// An unsigned token: `{"alg":"none"}` with an empty signature.
pub fn unsigned(kid: Option<&str>, claims: &Value) -> String {
    let mut header = json!({ "alg": "none", "typ": "JWT" });
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    format!("{}.{}.", b64(&header), b64(claims))
}

/// The token with one character of its signature changed.
pub fn with_tampered_signature(token: &str) -> String {
    let (message, signature) = token.rsplit_once('.').unwrap();
    let mut signature: Vec<char> = signature.chars().collect();
    let middle = signature.len() / 2;
    signature[middle] = if signature[middle] == 'A' { 'B' } else { 'A' };
    format!("{message}.{}", signature.into_iter().collect::<String>())
}

/// The token with its payload replaced and the original signature kept.
pub fn with_swapped_payload(token: &str, claims: &Value) -> String {
    let mut parts = token.split('.');
    let (header, _, signature) = (parts.next().unwrap(), parts.next(), parts.next().unwrap());
    format!("{header}.{}.{signature}", b64(claims))
}

/// `result` is the 401 of a token the verifier refuses.
#[track_caller]
pub fn assert_rejected(result: Result<Caller, AuthError>) {
    assert_rejected_as("the token", result);
}

/// [`assert_rejected`], naming `what` was refused when it was not.
#[track_caller]
pub fn assert_rejected_as(what: &str, result: Result<Caller, AuthError>) {
    match result {
        Err(err @ AuthError::Invalid(_)) => assert_eq!(err.http_status(), 401, "{what}"),
        other => panic!("{what}: expected an invalid-token error, got {other:?}"),
    }
}
