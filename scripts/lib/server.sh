# shellcheck shell=bash
# Running a local test server in the background (moto, the MongoDB surrogate): a free loopback port, a
# readiness wait that notices the server dying, and a stop that never hangs. Sourced by moto.sh and mongo.sh.
#
#   REPO   repository root: the servers' venv is $REPO/.venv

REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

# Prints a loopback port nothing listens on (any Python 3 will do: schemathesis.sh asks before .venv exists).
server_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# server_wait NAME PID LOG SECONDS INTERVAL STOP PROBE…: runs PROBE (a command) every INTERVAL seconds until it
# succeeds. When the process PID exits first (its log is printed) or SECONDS pass without an answer, runs STOP
# (the server's own stop function) and fails.
server_wait() {
    local name="$1" pid="$2" log="$3" seconds="$4" interval="$5" stop="$6"
    shift 6
    local deadline=$((SECONDS + seconds))
    until "$@" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name exited during start; log: $log" >&2
            cat "$log" >&2
            "$stop"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "$name did not answer within ${seconds}s; log: $log" >&2
            "$stop"
            return 1
        fi
        sleep "$interval"
    done
}

# server_stop PID: SIGTERM, then after five seconds SIGKILL (a wedged server ignores SIGTERM; see
# docs/mongodb-testing.md), so a run never hangs at its end.
server_stop() {
    local pid="$1" i
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
