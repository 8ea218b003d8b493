//! The Standard Webhooks verifier never panics on any header text or body, and accepts exactly what was
//! signed with the secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vwc_webhook::{WebhookHeaders, WebhookSecret, sign, verify};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let (id, timestamp, signature, body) = (parts.next(), parts.next(), parts.next(), parts.next());
    let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let now = 1_767_000_000;
    let headers = WebhookHeaders { id, timestamp, signature };
    let body = body.unwrap_or("").as_bytes();
    let _ = verify(&[&secret], headers, body, now);
    // Whatever the body, what is signed with the secret verifies.
    let good = sign(&secret, "msg_fuzz", now, body);
    let stamp = now.to_string();
    let signed = WebhookHeaders { id: Some("msg_fuzz"), timestamp: Some(&stamp), signature: Some(&good) };
    assert!(verify(&[&secret], signed, body, now).is_ok());
});
