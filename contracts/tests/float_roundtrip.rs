//! Numbers in events read back exactly as they were written: an in-process consumer gets the envelope the
//! publisher built, a redelivery after a restart gets its stored JSON parsed, and both must compute the same
//! projection (the workspace turns on `serde_json`'s `float_roundtrip` for this).

#[test]
fn every_f64_written_as_json_parses_back_to_the_same_bits() {
    // xorshift64*: a fixed sequence of bit patterns across the whole range, plus money-like decimals.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut checked = 0;
    for i in 0..200_000u64 {
        let x = if i % 2 == 0 {
            f64::from_bits(next())
        } else {
            (next() % 100_000_000) as f64 / 100.0 * 1.000_000_1
        };
        if !x.is_finite() {
            continue;
        }
        let text = serde_json::to_string(&x).unwrap();
        let back: f64 = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back.to_bits(),
            x.to_bits(),
            "{x:e} was written as {text} and read back as {back:e}"
        );
        checked += 1;
    }
    assert!(checked > 190_000);
}
