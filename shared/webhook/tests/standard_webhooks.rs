//! Sign and verify through the public API, as a dealer system and the ingestion service would.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use vwc_webhook::{VerifyError, WebhookHeaders, WebhookSecret, sign, verify};

const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const ID: &str = "msg_2Zx8example";
const BODY: &[u8] = br#"{"type":"service_record","vin":"1HGCM82633A004352"}"#;

fn headers<'a>(id: &'a str, timestamp: &'a str, signature: &'a str) -> WebhookHeaders<'a> {
    WebhookHeaders {
        id: Some(id),
        timestamp: Some(timestamp),
        signature: Some(signature),
    }
}

fn signed(secret: &WebhookSecret, timestamp: i64) -> (String, String) {
    (timestamp.to_string(), sign(secret, ID, timestamp, BODY))
}

/// `result` is the refusal of a signature that is not one of ours over exactly these bytes.
#[track_caller]
fn assert_refused(result: Result<(), VerifyError>) {
    assert_eq!(result, Err(VerifyError::NoValidSignature));
}

/// What the receiver answers at `NOW` for `BODY` sent as message `ID` with these two headers.
fn received(
    secrets: &[&WebhookSecret],
    timestamp: &str,
    signature: &str,
) -> Result<(), VerifyError> {
    verify(secrets, headers(ID, timestamp, signature), BODY, NOW)
}

#[test]
fn signed_webhook_verifies_with_the_same_secret() {
    let secret = WebhookSecret::generate();
    let (ts, sig) = signed(&secret, NOW);
    assert_eq!(received(&[&secret], &ts, &sig), Ok(()));
}

#[test]
fn signature_matches_the_published_standard_webhooks_vector() {
    // Test vector from the Standard Webhooks reference libraries.
    let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let body = br#"{"test": 2432232314}"#;
    let sig = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
    assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[test]
fn signature_matches_an_independently_computed_hmac() {
    let secret = WebhookSecret::generate();
    let key = STANDARD
        .decode(secret.expose().strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{ID}.{NOW}.").as_bytes());
    mac.update(BODY);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(sign(&secret, ID, NOW, BODY), expected);
}

#[test]
fn webhook_signed_with_another_secret_is_rejected() {
    let (ts, sig) = signed(&WebhookSecret::generate(), NOW);
    let ours = WebhookSecret::generate();
    assert_refused(received(&[&ours], &ts, &sig));
}

#[test]
fn webhook_signed_with_the_old_secret_verifies_during_rotation() {
    let old = WebhookSecret::generate();
    let new = WebhookSecret::generate();
    let (ts, by_old) = signed(&old, NOW);
    let (_, by_new) = signed(&new, NOW);
    assert_eq!(received(&[&new, &old], &ts, &by_old), Ok(()));
    assert_eq!(received(&[&new, &old], &ts, &by_new), Ok(()));
}

#[test]
fn header_with_several_signatures_verifies_when_one_is_valid() {
    let secret = WebhookSecret::generate();
    let (ts, good) = signed(&secret, NOW);
    let (_, foreign) = signed(&WebhookSecret::generate(), NOW);
    let header = format!("v1,Zm9v {foreign} v2,whatever {good}");
    assert_eq!(received(&[&secret], &ts, &header), Ok(()));
}

#[test]
fn signature_of_another_version_is_ignored() {
    let secret = WebhookSecret::generate();
    let (ts, good) = signed(&secret, NOW);
    let other_version = good.replacen("v1,", "v1a,", 1);
    assert_refused(received(&[&secret], &ts, &other_version));
}

#[test]
fn missing_or_empty_header_is_rejected_by_its_name() {
    let secret = WebhookSecret::generate();
    let (ts, sig) = signed(&secret, NOW);
    let all = headers(ID, &ts, &sig);
    for (sent, missing) in [
        (WebhookHeaders { id: None, ..all }, "webhook-id"),
        (
            WebhookHeaders {
                timestamp: None,
                ..all
            },
            "webhook-timestamp",
        ),
        (
            WebhookHeaders {
                signature: None,
                ..all
            },
            "webhook-signature",
        ),
        (headers(ID, &ts, ""), "webhook-signature"),
    ] {
        assert_eq!(
            verify(&[&secret], sent, BODY, NOW),
            Err(VerifyError::MissingHeader(missing)),
            "{sent:?}"
        );
    }
}

#[test]
fn empty_malformed_or_truncated_signature_is_rejected() {
    let secret = WebhookSecret::generate();
    let (ts, sig) = signed(&secret, NOW);
    let mac = STANDARD.decode(&sig["v1,".len()..]).unwrap();
    let mut sent: Vec<String> = ["v1,", "v1, v1,", "v1", ",", "v1,***not-base64***"]
        .map(String::from)
        .into();
    sent.extend([0, 1, 16, 31].map(|len| format!("v1,{}", STANDARD.encode(&mac[..len]))));
    sent.push(format!(
        "v1,{}",
        STANDARD.encode([mac.as_slice(), &[0]].concat())
    ));
    for header in sent {
        assert_eq!(
            received(&[&secret], &ts, &header),
            Err(VerifyError::NoValidSignature),
            "header {header:?}"
        );
    }
}

#[test]
fn webhook_timestamp_may_be_at_most_300_seconds_off() {
    let secret = WebhookSecret::generate();
    for (sent, expected) in [
        (NOW - 301, Err(VerifyError::Stale { age_secs: 301 })),
        (NOW + 301, Err(VerifyError::Future { ahead_secs: 301 })),
        (NOW - 300, Ok(())),
        (NOW + 300, Ok(())),
    ] {
        let (ts, sig) = signed(&secret, sent);
        assert_eq!(received(&[&secret], &ts, &sig), expected, "sent at {sent}");
    }
}

#[test]
fn non_integer_timestamp_is_rejected() {
    let secret = WebhookSecret::generate();
    let sig = sign(&secret, ID, NOW, BODY);
    for ts in [
        "abc",
        "1767225600.0",
        "-1767225600",
        "+1767225600",
        " 1767225600",
        "99999999999999999999",
    ] {
        assert_eq!(
            received(&[&secret], ts, &sig),
            Err(VerifyError::BadTimestamp),
            "timestamp {ts:?}"
        );
    }
}

#[test]
fn webhook_with_tampered_body_is_rejected() {
    let secret = WebhookSecret::generate();
    let (ts, sig) = signed(&secret, NOW);
    let tampered = br#"{"type":"service_record","vin":"1HGCM82633A004353"}"#;
    assert_refused(verify(&[&secret], headers(ID, &ts, &sig), tampered, NOW));
}

#[test]
fn webhook_with_tampered_id_is_rejected() {
    let secret = WebhookSecret::generate();
    let (ts, sig) = signed(&secret, NOW);
    assert_refused(verify(
        &[&secret],
        headers("msg_other", &ts, &sig),
        BODY,
        NOW,
    ));
}

#[test]
fn webhook_with_tampered_timestamp_is_rejected() {
    let secret = WebhookSecret::generate();
    let (_, sig) = signed(&secret, NOW);
    let moved = (NOW + 1).to_string();
    assert_refused(received(&[&secret], &moved, &sig));
}

#[test]
fn verification_with_no_secrets_fails() {
    let (ts, sig) = signed(&WebhookSecret::generate(), NOW);
    assert_refused(received(&[], &ts, &sig));
}
