# shellcheck shell=bash
# Helpers to run a local moto server (the AWS emulator for EventBridge + SQS) for the distributed-local tests.
# Source this file, then: moto_ensure_venv; moto_start; ...; moto_stop.
#
#   REPO          repository root (defaults to two levels above this file)
#   MOTO_VERSION  moto release to install (pinned; override only to try another)
#   MOTO_PYTHON   interpreter for the venv (default python3.11, then python3)

MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

# Creates (or reuses) the git-ignored venv at $REPO/.venv with the pinned moto[server].
moto_ensure_venv() {
    local venv="$REPO/.venv"
    local python="${MOTO_PYTHON:-}"
    if [[ -z "$python" ]]; then
        if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
    fi
    if [[ -x "$venv/bin/moto_server" ]] &&
        [[ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" == "$MOTO_VERSION" ]]; then
        return 0
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "moto: creating $venv with $python" >&2
        "$python" -m venv "$venv" || return 1
    fi
    echo "moto: installing moto[server]==$MOTO_VERSION into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" || return 1
}

# Starts moto_server on a free loopback port; exports VWC_TEST_AWS_ENDPOINT and MOTO_PID.
moto_start() {
    local venv="$REPO/.venv"
    if [[ -n "${MOTO_PID:-}" ]] && kill -0 "$MOTO_PID" 2>/dev/null; then
        return 0
    fi
    local port
    port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')" || return 1
    local log="${MOTO_LOG:-${TMPDIR:-/tmp}/vwc-moto-$port.log}"
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    MOTO_PID=$!
    export MOTO_PID
    export VWC_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
    local tries=0
    # /moto-api/ is moto's own dashboard endpoint: it answers 200 once the server is up.
    until "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$VWC_TEST_AWS_ENDPOINT/moto-api/', timeout=1)" 2>/dev/null; do
        if ! kill -0 "$MOTO_PID" 2>/dev/null; then
            echo "moto: server exited during start; log: $log" >&2
            cat "$log" >&2
            unset MOTO_PID VWC_TEST_AWS_ENDPOINT
            return 1
        fi
        tries=$((tries + 1))
        if ((tries > 100)); then
            echo "moto: server did not answer within 20s; log: $log" >&2
            moto_stop
            return 1
        fi
        sleep 0.2
    done
    echo "moto: listening at $VWC_TEST_AWS_ENDPOINT (pid $MOTO_PID, log $log)" >&2
}

# Stops the server started by moto_start.
moto_stop() {
    if [[ -n "${MOTO_PID:-}" ]]; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
    unset MOTO_PID VWC_TEST_AWS_ENDPOINT
}
