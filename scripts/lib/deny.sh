#!/usr/bin/env bash
# cargo-deny: licences (permissive only), bans (no OpenSSL/native-tls; wildcards) and sources (crates.io
# only), per deny.toml. Advisories need the RustSec database and run in the GitHub workflow instead.
# Installs a pinned cargo-deny when missing (under two minutes on a fresh machine, once); `--install-only`
# stops there (scripts/test installs it in the background while clippy runs).
set -euo pipefail
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
CARGO_DENY_VERSION="${CARGO_DENY_VERSION:-0.20.2}"
if ! cargo deny --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
    echo "cargo-deny: installing $CARGO_DENY_VERSION" >&2
    # Built without optimisation (and without cargo-deny's own fat LTO in one codegen unit): on a 2-core
    # machine, crates already downloaded, 107 s and 180 s of CPU against 183 s and 334 s at opt-level 1 (and
    # 203 s with its own profile); the check then takes 4.3 s instead of 1.6 s. On a fresh machine the install
    # runs beside clippy, so its CPU is what the run waits for.
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 CARGO_PROFILE_RELEASE_OPT_LEVEL=0 \
        CARGO_PROFILE_RELEASE_DEBUG=false \
        cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked --quiet
fi
[[ "${1:-}" == "--install-only" ]] && exit 0
cd "$REPO"
cargo deny --log-level error check bans licenses sources
