#!/usr/bin/env bash
# Schemathesis against a seeded `vwc up` (issue 12, "keep them closed"): generated requests for every
# operation of the served OpenAPI document must get no server error and only responses the document
# declares (status, content type, headers, body schema). Bounded: a fixed seed, 10 examples an operation,
# one worker (Python 3.11's ast.parse is not thread-safe: two workers crash hypothesis now and then with
# "AST constructor recursion depth mismatch"), and a hard time limit. A second, informational pass, beside
# the first against a server of its own, lists the schema-valid requests the server rejects;
# docs/reliability.md explains each kind. Neither server may log an error or a panic.
#
# Runs on its own (`scripts/lib/schemathesis.sh`) or from scripts/test. Installs a pinned schemathesis into
# the git-ignored $REPO/.venv/schemathesis (its own venv, so its dependencies never meet moto's);
# `--install-only` only does that (scripts/test, in the background while it builds).
#
#   SCHEMATHESIS_VERSION  pinned release (default below)
#   SCHEMATHESIS_SEED     generation seed (default 42)
#   SCHEMATHESIS_EXAMPLES examples per operation (default 10)
set -euo pipefail
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
# shellcheck source=vwc-binary.sh
source "$REPO/scripts/lib/vwc-binary.sh"
# shellcheck source=python.sh
source "$REPO/scripts/lib/python.sh"
# shellcheck source=server.sh
source "$REPO/scripts/lib/server.sh"
SEED="${SCHEMATHESIS_SEED:-42}"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-10}"
VENV="$REPO/.venv/schemathesis"

schemathesis_ensure_venv() {
    if [[ -x "$VENV/bin/st" && "$(python_installed_version "$VENV" schemathesis)" == "$SCHEMATHESIS_VERSION" ]]; then
        return 0
    fi
    python_install schemathesis "$VENV" "schemathesis==$SCHEMATHESIS_VERSION"
}

# Starts a seeded `vwc up` of $work/vwc on a free port with its data in $work/$1; sets SERVER_PID and
# SERVER_BASE. Fails (with the server's log, the server stopped) when it does not become ready in 30 s.
schemathesis_server() {
    local name=$1 port
    port="$(server_free_port)" || return 1
    SERVER_BASE="http://127.0.0.1:$port"
    VWC_LOG_JSON=true RUST_BACKTRACE=1 "$work/vwc" up --data-dir "$work/$name" --listen "127.0.0.1:$port" \
        --rate-limit 0 >"$work/$name.log" 2>&1 &
    SERVER_PID=$!
    server_wait "schemathesis: vwc up ($name)" "$SERVER_PID" "$work/$name.log" 30 0.2 schemathesis_server_stop \
        "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('$SERVER_BASE/readyz', timeout=1)"
}

schemathesis_server_stop() { server_stop "$SERVER_PID"; }

# An owner's and fleet manager's token for the server whose data is in $1/$2.
schemathesis_token() {
    "$1/vwc" token --org org_demo --sub schemathesis --role owner --role fleet_manager --data-dir "$1/$2" \
        2>/dev/null | tail -1
}

schemathesis_main() {
    schemathesis_ensure_venv
    local work
    work="$(mktemp -d "${TMPDIR:-/tmp}/vwc-schemathesis.XXXXXX")"
    # A private copy of this tree's debug binary, as the test run built it (scripts/lib/vwc-binary.sh).
    vwc_test_binary "$work/vwc"
    # Two servers, one a pass: the informational pass runs beside the gate (≈ 55 s of a 130 s step otherwise)
    # and must not touch the gate's data — on one shared server its webhooks spent a dealer's allowance and
    # the gate's got 429s.
    local gate_pid accept_pid gate_base accept_base
    schemathesis_server gate || return 1
    gate_pid=$SERVER_PID gate_base=$SERVER_BASE
    # shellcheck disable=SC2064
    trap "kill $gate_pid 2>/dev/null || true; wait $gate_pid 2>/dev/null || true" RETURN
    schemathesis_server accept || return 1
    accept_pid=$SERVER_PID accept_base=$SERVER_BASE
    # shellcheck disable=SC2064
    trap "kill $gate_pid $accept_pid 2>/dev/null || true; wait $gate_pid $accept_pid 2>/dev/null || true" RETURN
    local common=(--seed "$SEED" -n "$EXAMPLES" --workers 1 --no-shrink --request-timeout 10 --output-truncate true)

    echo "schemathesis: seed $SEED, $EXAMPLES examples an operation, against $gate_base (seeded)"
    local status=0
    # schemathesis keeps its state (.schemathesis/) in the working directory: keep it out of the tree.
    cd "$work"
    # Informational, beside the gate: schema-valid requests the server rejects (each kind is explained in
    # docs/reliability.md). Not a gate: some rules (issued cursors, public https hosts, the moving year
    # bound) cannot be written in JSON Schema.
    mkdir -p "$work/accept-state"
    (cd "$work/accept-state" && timeout 60 "$VENV/bin/st" run "$accept_base/openapi.json" \
        -H "Authorization: Bearer $(schemathesis_token "$work" accept)" "${common[@]}" \
        --checks positive_data_acceptance --phases examples,coverage,fuzzing >"$work/accept.txt" 2>&1) &
    local accept=$!
    timeout 110 "$VENV/bin/st" run "$gate_base/openapi.json" -H "Authorization: Bearer $(schemathesis_token "$work" gate)" "${common[@]}" \
        --checks all --exclude-checks positive_data_acceptance \
        --report junit --report-junit-path "$work/junit.xml" >"$work/gate.txt" 2>&1 || status=$?
    sed -n '/SUMMARY/,$p' "$work/gate.txt"
    if ((status != 0)); then
        sed -n '/FAILURES/,/SUMMARY/p' "$work/gate.txt" | head -200
        echo "schemathesis: FAILED (exit $status); full output in $work/gate.txt" >&2
        kill "$accept" 2>/dev/null || true
        return 1
    fi
    wait "$accept" || true
    if grep -qE '"level":"ERROR"|panicked' "$work/gate.log" "$work/accept.log"; then
        echo "schemathesis: the server logged errors or panics under fuzzing:" >&2
        grep -hE '"level":"ERROR"|panicked' "$work/gate.log" "$work/accept.log" | head -20 >&2
        return 1
    fi
    echo "schemathesis: schema-valid requests rejected (see docs/reliability.md):"
    grep -oE '"field":"[^"]*","message":"[^"]{0,60}|"detail":"the Idempotency-Key[^"]*' "$work/accept.txt" |
        sort | uniq -c | sed 's/^/    /' || true
    cd "$REPO"
    rm -rf "$work"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    if [[ "${1:-}" == "--install-only" ]]; then
        schemathesis_ensure_venv
    else
        schemathesis_main "$@"
    fi
fi
