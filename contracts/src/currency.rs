//! ISO 4217 active currency codes (list as published by the ISO 4217 maintenance agency, SIX Group), one
//! code a line in `contracts/data/iso4217.txt`, sorted so a lookup is a binary search.

use std::sync::LazyLock;

static CODES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    include_str!("../data/iso4217.txt")
        .split_whitespace()
        .collect()
});

/// Every active code, sorted.
pub fn codes() -> &'static [&'static str] {
    &CODES
}

pub fn is_iso4217(code: &str) -> bool {
    codes().binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_sorted_for_binary_search() {
        let codes = super::codes();
        assert!(codes.len() > 150, "iso4217.txt lost codes: {}", codes.len());
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
        assert!(super::is_iso4217("USD"));
        assert!(!super::is_iso4217("usd"));
    }
}
