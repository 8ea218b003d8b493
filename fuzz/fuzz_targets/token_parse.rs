//! Any `Authorization` header value is refused or verified, never a panic, and never accepted unless it
//! is a token the keys issued.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vwc_auth::{Hs256Keys, Secret, TokenVerifier, bearer_token};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let keys = Hs256Keys::new(&Secret::from_bytes([42u8; 32]).unwrap());
    if let Ok(token) = bearer_token(Some(&text)) {
        let verified = futures::executor::block_on(keys.verify(token));
        assert!(verified.is_err(), "a token nobody issued verified: {token}");
    }
});
