//! A cursor is whatever a client sends back: decoding arbitrary text never panics, and what the API
//! encodes decodes to the same position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vwc_edge::cursor;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = cursor::decode::<serde_json::Value>(&text);
    let _ = cursor::decode::<(String, String)>(&text);
    let position = (text.to_string(), data.len() as u64);
    assert_eq!(cursor::decode::<(String, u64)>(&cursor::encode(&position)), Some(position));
});
