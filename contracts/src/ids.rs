//! Resource ids: a short type prefix and a UUID v7, so ids sort by creation time and say what they name.

use uuid::Uuid;

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::now_v7().simple())
}
