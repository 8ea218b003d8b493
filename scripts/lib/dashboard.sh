#!/usr/bin/env bash
# The dashboard's checks (run by scripts/test, or on its own): npm ci, ESLint, Prettier, tsc against the API
# types generated from the contract, Vitest, the committed bundle against its sources, and the browser
# end-to-end tests (headless Debian chromium driven by playwright-core against `vwc up`: embedded sign-in,
# then OpenID Connect sign-in through a local provider). Installs what it needs: chromium through apt-get
# when it is missing and this runs as root; Node and npm likewise (`--install-only`: only that). Fails, never
# skips, when it cannot.

# shellcheck source=vwc-binary.sh
source "$(dirname "${BASH_SOURCE[0]}")/vwc-binary.sh"

dashboard_fail() {
    echo "!!! dashboard: $*" >&2
    return 1
}

# The browser: $CHROMIUM, else Debian's chromium, else a Chrome already on the machine (GitHub's runners).
dashboard_find_chromium() {
    local c
    for c in "${CHROMIUM:-}" /usr/bin/chromium "$(command -v chromium || true)" \
        "$(command -v google-chrome || true)" "$(command -v google-chrome-stable || true)"; do
        if [[ -n "$c" && -x "$c" ]]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

dashboard_ensure_tools() {
    local missing=()
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    dashboard_find_chromium >/dev/null || missing+=(chromium)
    if ((${#missing[@]})); then
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
            echo "installing ${missing[*]} with apt-get"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
                dashboard_fail "apt-get install ${missing[*]} failed" || return 1
        else
            dashboard_fail "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]}), or run as root so this script can" || return 1
        fi
    fi
    CHROMIUM=$(dashboard_find_chromium) || dashboard_fail "no chromium found after installing it" || return 1
    export CHROMIUM
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    ((major >= 20)) || dashboard_fail "Node $(node -v) is too old: the dashboard's tools need Node 20 or newer" || return 1
}

# The vwc binary the browser test runs: the debug build of this checkout (as the test run built it),
# copied to $1.
dashboard_vwc_binary() {
    local copy="$1" js
    vwc_test_binary "$copy" || return 1
    # It must embed this checkout's bundle (a target dir shared between checkouts can hold another's build).
    js=$(cd "$REPO/dashboard/dist/assets" && ls index-*.js | head -1)
    grep -qF "$js" "$copy" ||
        dashboard_fail "the debug vwc does not embed this checkout's dashboard/dist ($js): rebuild it (cargo build -p vwc)" ||
        return 1
}

dashboard_checks() {
    local dir="$REPO/dashboard" tmp
    dashboard_ensure_tools || return 1
    tmp=$(mktemp -d)
    # The checks run in a subshell started on its own (`&`, then `wait`): a subshell written as `( … ) || …`
    # runs with `set -e` ignored — bash ignores it for every command of a `||` list but the last — so a
    # failing step (Vitest, ESLint, tsc) went on to the next and the checks passed.
    (
        set -euo pipefail
        cd "$dir"
        echo "-- npm ci"
        npm ci --no-audit --no-fund --loglevel=error
        echo "-- eslint"
        npm run --silent lint
        echo "-- prettier --check"
        npm run --silent format:check
        # The API types (src/api/schema.d.ts, not committed) are generated from contracts/openapi.json
        # first, so tsc checks the dashboard against the contract as it is now.
        echo "-- tsc --noEmit (after generating the API types)"
        npm run --silent typecheck
        echo "-- vitest"
        npm test --silent
        echo "-- committed bundle against its sources"
        VWC_DASHBOARD_OUT="$tmp/dist" npx vite build --logLevel warn
        diff -r "$tmp/dist" dist >/dev/null || {
            diff -r "$tmp/dist" dist | head -5 >&2
            dashboard_fail "dashboard/dist does not match its sources: run 'npm run build' in dashboard/ and commit dist/"
        }
        # Initial = the scripts index.html loads; chunks loaded on demand (the OpenID Connect client, only
        # when a provider is configured) are reported apart.
        gz=0 lazy=0
        for f in dist/assets/*.js; do
            n=$(gzip -9c "$f" | wc -c)
            if grep -qF "/assets/$(basename "$f")" dist/index.html; then gz=$((gz + n)); else lazy=$((lazy + n)); fi
        done
        echo "initial JavaScript: $((gz / 1024)) KiB gzipped (budget 200 KiB); loaded on demand: $((lazy / 1024)) KiB"
        ((gz > 0)) || dashboard_fail "index.html loads no script from dist/assets"
        ((gz <= 200 * 1024)) || dashboard_fail "the initial JavaScript is over 200 KiB gzipped"
    ) &
    wait $! || { rm -rf "$tmp"; return 1; }
    echo "-- browser end-to-end (chromium, vwc up with the demo seed)"
    local rc=0
    dashboard_vwc_binary "$tmp/vwc" &&
        (cd "$dir" && VWC_BIN="$tmp/vwc" VWC_E2E_OUT="$REPO/target/dashboard-e2e" timeout 300 node e2e/run.mjs) ||
        rc=1
    if ((rc == 0)); then
        echo "-- browser end-to-end: OpenID Connect sign-in (a local provider, vwc up trusting its JWKS)"
        (cd "$dir" && VWC_BIN="$tmp/vwc" VWC_E2E_OUT="$REPO/target/dashboard-e2e" timeout 300 node e2e/oidc.mjs) ||
            rc=1
    fi
    rm -rf "$tmp"
    return $rc
}

# Run as a script (scripts/test calls it so): do the checks. Sourced: only define the functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
    if [[ "${1:-}" == "--install-only" ]]; then
        # Only what dashboard_ensure_tools installs (scripts/test does this in the background).
        dashboard_ensure_tools
        exit
    fi
    echo "== dashboard (npm ci, eslint, prettier, tsc, vitest, bundle drift, browser e2e)"
    start=$(date +%s)
    dashboard_checks
    echo "dashboard checks passed in $(($(date +%s) - start)) s"
fi
