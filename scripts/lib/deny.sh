#!/usr/bin/env bash
# cargo-deny: licences (permissive only), bans (no OpenSSL/native-tls; wildcards) and sources (crates.io
# only), per deny.toml. Advisories need the RustSec database and run in the GitHub workflow instead.
# Installs a pinned cargo-deny when missing (about two minutes on a fresh machine, once); `--install-only`
# stops there (scripts/test installs it in the background while it sets up moto and runs the infra checks).
set -euo pipefail
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
CARGO_DENY_VERSION="${CARGO_DENY_VERSION:-0.20.2}"
if ! cargo deny --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
    echo "cargo-deny: installing $CARGO_DENY_VERSION" >&2
    # cargo-deny's own release profile links with fat LTO in one codegen unit: 203 s on a 2-core
    # machine (crates already downloaded), against 124 s this way, for a check that then takes 1.3 s instead
    # of 1.1 s.
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
        cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked --quiet
fi
[[ "${1:-}" == "--install-only" ]] && exit 0
cd "$REPO"
cargo deny --log-level error check bans licenses sources
