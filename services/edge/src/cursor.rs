//! Opaque cursors: base64url of a small JSON position. Clients treat them as tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Serialize, de::DeserializeOwned};

pub fn encode<T: Serialize>(position: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).expect("cursor serialises"))
}

pub fn decode<T: DeserializeOwned>(cursor: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Pages are read with one extra row: when it came, it is dropped and the last kept row's position
/// becomes the next page's cursor.
pub fn next_page<T, P: Serialize>(
    items: &mut Vec<T>,
    limit: usize,
    position: impl Fn(&T) -> P,
) -> Option<String> {
    if items.len() <= limit {
        return None;
    }
    items.truncate(limit);
    items.last().map(|last| encode(&position(last)))
}
