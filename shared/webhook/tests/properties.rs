//! Properties of the verifier on stable (the same invariants `fuzz/` checks with libFuzzer): anything
//! signed with a current secret verifies within the tolerance, any change to the body or a wrong secret
//! fails, and no header text makes it panic.

use proptest::prelude::*;
use vwc_webhook::{TOLERANCE_SECS, WebhookHeaders, WebhookSecret, sign, verify};

const NOW: i64 = 1_767_000_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn what_is_signed_verifies_and_any_other_body_does_not(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        flip in any::<prop::sample::Index>(),
        skew in -(TOLERANCE_SECS as i64)..=(TOLERANCE_SECS as i64),
        id in "[a-zA-Z0-9_]{1,64}",
    ) {
        let secret = WebhookSecret::generate();
        let sent_at = NOW + skew;
        let signature = sign(&secret, &id, sent_at, &body);
        let stamp = sent_at.to_string();
        let headers = WebhookHeaders { id: Some(&id), timestamp: Some(&stamp), signature: Some(&signature) };
        prop_assert!(verify(&[&secret], headers, &body, NOW).is_ok());
        prop_assert!(verify(&[&WebhookSecret::generate()], headers, &body, NOW).is_err());
        if !body.is_empty() {
            let mut tampered = body.clone();
            tampered[flip.index(body.len())] ^= 0x01;
            prop_assert!(verify(&[&secret], headers, &tampered, NOW).is_err());
        }
    }

    #[test]
    fn arbitrary_headers_are_refused_without_panicking(
        id in proptest::option::of(".{0,80}"),
        timestamp in proptest::option::of(".{0,30}"),
        signature in proptest::option::of(".{0,200}"),
        body in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let secret = WebhookSecret::generate();
        let headers = WebhookHeaders {
            id: id.as_deref(),
            timestamp: timestamp.as_deref(),
            signature: signature.as_deref(),
        };
        prop_assert!(verify(&[&secret], headers, &body, NOW).is_err());
    }
}
