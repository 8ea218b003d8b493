//! Any dealer webhook body maps to a timeline event or to field errors, never to a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vwc_ingestion::dealers::DealerPayload;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = serde_json::from_slice::<DealerPayload>(data) {
        let _ = payload.to_new_event("dlr_1", "Main St Auto");
    }
});
