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

#[test]
fn signed_webhook_verifies_with_the_same_secret() {
    let secret = WebhookSecret::generate();
    let (ts, sig) = signed(&secret, NOW);
    assert_eq!(
        verify(&[&secret], headers(ID, &ts, &sig), BODY, NOW),
        Ok(())
    );
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
    assert_eq!(
        verify(&[&ours], headers(ID, &ts, &sig), BODY, NOW),
        Err(VerifyError::NoValidSignature)
    );
}

#[test]
fn webhook_signed_with_the_old_secret_verifies_during_rotation() {
    let old = WebhookSecret::generate();
    let new = WebhookSecret::generate();
    let (ts, by_old) = signed(&old, NOW);
    let (_, by_new) = signed(&new, NOW);
    assert_eq!(
        verify(&[&new, &old], headers(ID, &ts, &by_old), BODY, NOW),
        Ok(())
    );
    assert_eq!(
        verify(&[&new, &old], headers(ID, &ts, &by_new), BODY, NOW),
        Ok(())
    );
}

#[test]
fn header_with_several_signatures_verifies_when_one_is_valid() {
    let secret = WebhookSecret::generate();
    let (ts, good) = signed(&secret, NOW);
    let (_, foreign) = signed(&WebhookSecret::generate(), NOW);
    let header = format!("v1,Zm9v {foreign} v2,whatever {good}");
    assert_eq!(
        verify(&[&secret], headers(ID, &ts, &header), BODY, NOW),
        Ok(())
    );
}

#[test]
fn signature_of_another_version_is_ignored() {
    let secret = WebhookSecret::generate();
    let (ts, good) = signed(&secret, NOW);
    let other_version = good.replacen("v1,", "v1a,", 1);
    assert_eq!(
        verify(&[&secret], headers(ID, &ts, &other_version), BODY, NOW),
        Err(VerifyError::NoValidSignature)
    );
}

#[test]
fn empty_v1_signature_is_rejected() {
    let secret = WebhookSecret::generate();
    let ts = NOW.to_string();
    for header in ["v1,", "v1, v1,", "v1", ","] {
        assert_eq!(
            verify(&[&secret], headers(ID, &ts, header), BODY, NOW),
            Err(VerifyError::NoValidSignature),
            "header {header:?}"
        );
    }
}

#[test]
fn empty_or_missing_signature_header_is_rejected() {
    let secret = WebhookSecret::generate();
    let ts = NOW.to_string();
    assert_eq!(
        verify(&[&secret], headers(ID, &ts, ""), BODY, NOW),
        Err(VerifyError::MissingHeader("webhook-signature"))
    );
    let missing = WebhookHeaders {
        signature: None,
        ..headers(ID, &ts, "")
    };
    assert_eq!(
        verify(&[&secret], missing, BODY, NOW),
        Err(VerifyError::MissingHeader("webhook-signature"))
    );
}

#[test]
fn missing_id_or_timestamp_header_is_rejected() {
    let secret = WebhookSecret::generate();
    let (ts, sig) = signed(&secret, NOW);
    let no_id = WebhookHeaders {
        id: None,
        ..headers(ID, &ts, &sig)
    };
    let no_ts = WebhookHeaders {
        timestamp: None,
        ..headers(ID, &ts, &sig)
    };
    assert_eq!(
        verify(&[&secret], no_id, BODY, NOW),
        Err(VerifyError::MissingHeader("webhook-id"))
    );
    assert_eq!(
        verify(&[&secret], no_ts, BODY, NOW),
        Err(VerifyError::MissingHeader("webhook-timestamp"))
    );
}

#[test]
fn non_base64_signature_is_rejected() {
    let secret = WebhookSecret::generate();
    let ts = NOW.to_string();
    assert_eq!(
        verify(
            &[&secret],
            headers(ID, &ts, "v1,***not-base64***"),
            BODY,
            NOW
        ),
        Err(VerifyError::NoValidSignature)
    );
}

#[test]
fn truncated_signature_is_rejected() {
    let secret = WebhookSecret::generate();
    let (ts, sig) = signed(&secret, NOW);
    let mac = STANDARD.decode(&sig["v1,".len()..]).unwrap();
    for len in [0, 1, 16, 31] {
        let truncated = format!("v1,{}", STANDARD.encode(&mac[..len]));
        assert_eq!(
            verify(&[&secret], headers(ID, &ts, &truncated), BODY, NOW),
            Err(VerifyError::NoValidSignature),
            "{len} bytes"
        );
    }
    let extended = format!("v1,{}", STANDARD.encode([mac.as_slice(), &[0]].concat()));
    assert_eq!(
        verify(&[&secret], headers(ID, &ts, &extended), BODY, NOW),
        Err(VerifyError::NoValidSignature)
    );
}

#[test]
fn webhook_with_stale_timestamp_is_rejected() {
    let secret = WebhookSecret::generate();
    let (ts, sig) = signed(&secret, NOW - 301);
    assert_eq!(
        verify(&[&secret], headers(ID, &ts, &sig), BODY, NOW),
        Err(VerifyError::Stale { age_secs: 301 })
    );
}

#[test]
fn webhook_with_future_timestamp_is_rejected() {
    let secret = WebhookSecret::generate();
    let (ts, sig) = signed(&secret, NOW + 301);
    assert_eq!(
        verify(&[&secret], headers(ID, &ts, &sig), BODY, NOW),
        Err(VerifyError::Future { ahead_secs: 301 })
    );
}

#[test]
fn webhook_exactly_300_seconds_off_is_accepted() {
    let secret = WebhookSecret::generate();
    for sent in [NOW - 300, NOW + 300] {
        let (ts, sig) = signed(&secret, sent);
        assert_eq!(
            verify(&[&secret], headers(ID, &ts, &sig), BODY, NOW),
            Ok(())
        );
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
            verify(&[&secret], headers(ID, ts, &sig), BODY, NOW),
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
    assert_eq!(
        verify(&[&secret], headers(ID, &ts, &sig), tampered, NOW),
        Err(VerifyError::NoValidSignature)
    );
}

#[test]
fn webhook_with_tampered_id_is_rejected() {
    let secret = WebhookSecret::generate();
    let (ts, sig) = signed(&secret, NOW);
    assert_eq!(
        verify(&[&secret], headers("msg_other", &ts, &sig), BODY, NOW),
        Err(VerifyError::NoValidSignature)
    );
}

#[test]
fn webhook_with_tampered_timestamp_is_rejected() {
    let secret = WebhookSecret::generate();
    let (_, sig) = signed(&secret, NOW);
    let moved = (NOW + 1).to_string();
    assert_eq!(
        verify(&[&secret], headers(ID, &moved, &sig), BODY, NOW),
        Err(VerifyError::NoValidSignature)
    );
}

#[test]
fn verification_with_no_secrets_fails() {
    let (ts, sig) = signed(&WebhookSecret::generate(), NOW);
    assert_eq!(
        verify(&[], headers(ID, &ts, &sig), BODY, NOW),
        Err(VerifyError::NoValidSignature)
    );
}
