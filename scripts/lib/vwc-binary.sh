# shellcheck shell=bash
# The debug `vwc` the browser tests and schemathesis run, built as scripts/test's `cargo test` builds it.
#
# `cargo build --bin vwc` would resolve features without the dev-dependencies, and they add features to
# crates low in the graph (chrono, regex-syntax: proptest and icalendar's parser, test-only), so it built a
# second copy of nearly everything: ≈ 150 s of a fresh run. `cargo test --no-run --test all` resolves as the
# test run did: after it, a no-op that puts that run's `vwc` back at target/debug/vwc.
#
#   vwc_test_binary DEST   builds (when needed) and copies the binary to DEST (a private copy: another
#                          checkout sharing the target dir cannot swap it mid-run)
#   vwc_target_dir         prints cargo's target dir (scripts/bench uses it too)

REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

vwc_test_binary() {
    local dest="$1" target
    # Built as scripts/test builds, unless told otherwise: without incremental state, the workspace compiled by
    # clippy-driver (either setting is part of what cargo fingerprints; the other would compile it again).
    (cd "$REPO" && CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}" \
        RUSTC_WORKSPACE_WRAPPER="${RUSTC_WORKSPACE_WRAPPER-$REPO/scripts/lib/clippy-rustc}" \
        cargo test --workspace --all-features --locked --no-run --quiet --test all) >&2 || return 1
    target=$(vwc_target_dir) || return 1
    cp "$target/debug/vwc" "$dest"
}

# Where cargo puts things: $CARGO_TARGET_DIR, a `target-dir` in .cargo/config.toml, or $REPO/target.
vwc_target_dir() {
    (cd "$REPO" && cargo metadata --format-version 1 --no-deps) |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}
