//! Token parsing on stable (the invariants `fuzz/` checks with libFuzzer): no `Authorization` value makes
//! the parser or the verifier panic, nothing the keys did not issue verifies, and what they issue does.

use proptest::prelude::*;
use vwc_auth::{Hs256Keys, Role, Secret, TokenVerifier, bearer_token};

fn keys() -> Hs256Keys {
    Hs256Keys::new(&Secret::from_bytes([42u8; 32]).unwrap())
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_authorization_values_never_verify(value in ".{0,300}") {
        if let Ok(token) = bearer_token(Some(&value)) {
            prop_assert!(block_on(keys().verify(token)).is_err());
        }
    }

    #[test]
    fn jwt_shaped_garbage_never_verifies(
        header in "[A-Za-z0-9_-]{0,60}", claims in "[A-Za-z0-9_-]{0,200}", sig in "[A-Za-z0-9_-]{0,60}",
    ) {
        let token = format!("{header}.{claims}.{sig}");
        prop_assert!(block_on(keys().verify(&token)).is_err());
    }

    #[test]
    fn issued_tokens_verify_whatever_the_scheme_case(sub in "[a-z0-9]{1,20}", org in "org_[a-z0-9]{1,20}", upper in any::<bool>()) {
        let (token, _) = keys().issue(&sub, &org, &[Role::Viewer], chrono::Duration::minutes(5));
        let header = format!("{} {token}", if upper { "BEARER" } else { "bearer" });
        let caller = block_on(keys().verify(bearer_token(Some(&header)).unwrap())).unwrap();
        prop_assert_eq!(caller.org, org);
        prop_assert_eq!(caller.sub, sub);
    }
}
