#!/usr/bin/env bash
# cargo-deny: licences (permissive only), bans (no OpenSSL/native-tls; wildcards) and sources (crates.io
# only), per deny.toml. Advisories need the RustSec database and run in the GitHub workflow instead.
# Installs a pinned cargo-deny when missing (a few minutes on a fresh machine, once).
set -euo pipefail
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
CARGO_DENY_VERSION="${CARGO_DENY_VERSION:-0.20.2}"
if ! cargo deny --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
    echo "cargo-deny: installing $CARGO_DENY_VERSION" >&2
    cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked --quiet
fi
cd "$REPO"
cargo deny --log-level error check bans licenses sources
