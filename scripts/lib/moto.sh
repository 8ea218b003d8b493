# shellcheck shell=bash
# Helpers to run a local moto server (the AWS emulator for EventBridge + SQS) for the distributed-local tests.
# Source this file, then: moto_ensure_venv; moto_start; ...; moto_stop.
#
#   REPO          repository root (defaults to two levels above this file)
#   MOTO_VERSION  moto release to install (pinned; override only to try another)
#   MOTO_PYTHON   interpreter for the venv (default python3.11, then python3)

MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck source=server.sh
source "$(dirname "${BASH_SOURCE[0]}")/server.sh"
# shellcheck source=python.sh
source "$(dirname "${BASH_SOURCE[0]}")/python.sh"

# Creates (or reuses) the git-ignored venv at $REPO/.venv with the pinned moto[server].
moto_ensure_venv() {
    local venv="$REPO/.venv"
    if [[ -x "$venv/bin/moto_server" && "$(python_installed_version "$venv" moto)" == "$MOTO_VERSION" ]]; then
        return 0
    fi
    PYTHON="${MOTO_PYTHON:-${PYTHON:-}}" python_install moto "$venv" "moto[server]==$MOTO_VERSION"
}

# Starts moto_server on a free loopback port; exports VWC_TEST_AWS_ENDPOINT and MOTO_PID.
moto_start() {
    local venv="$REPO/.venv"
    if [[ -n "${MOTO_PID:-}" ]] && kill -0 "$MOTO_PID" 2>/dev/null; then
        return 0
    fi
    local port
    port="$(server_free_port)" || return 1
    local log="${MOTO_LOG:-${TMPDIR:-/tmp}/vwc-moto-$port.log}"
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    MOTO_PID=$!
    export MOTO_PID
    export VWC_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
    # /moto-api/ is moto's own dashboard endpoint: it answers 200 once the server is up.
    server_wait "moto: server" "$MOTO_PID" "$log" 20 0.2 moto_stop "$venv/bin/python" -c \
        "import urllib.request; urllib.request.urlopen('$VWC_TEST_AWS_ENDPOINT/moto-api/', timeout=1)" || return 1
    echo "moto: listening at $VWC_TEST_AWS_ENDPOINT (pid $MOTO_PID, log $log)" >&2
}

# Stops the server started by moto_start.
moto_stop() {
    if [[ -n "${MOTO_PID:-}" ]]; then
        server_stop "$MOTO_PID"
    fi
    unset MOTO_PID VWC_TEST_AWS_ENDPOINT
}
