//! Cursors are client input: decoding any text never panics, and what the API encodes comes back intact.

use proptest::prelude::*;
use vwc_edge::cursor;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_cursor_text_decodes_to_nothing_or_a_value(text in ".{0,200}") {
        let _ = cursor::decode::<serde_json::Value>(&text);
        let _ = cursor::decode::<(String, String)>(&text);
    }

    #[test]
    fn an_encoded_position_decodes_to_itself(at in ".{0,40}", id in "[a-z_0-9]{0,40}", n in any::<u64>()) {
        let position = (at, id, n);
        prop_assert_eq!(cursor::decode::<(String, String, u64)>(&cursor::encode(&position)), Some(position));
    }
}
