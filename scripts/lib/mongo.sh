# shellcheck shell=bash
# A local MongoDB-wire server for the MongoDB conformance suites and the end-to-end MongoDB test.
# No real mongod can be installed on these machines; SecantusDB (PyPI, pure Python over WiredTiger) speaks
# the wire protocol, presents itself as a one-node replica set and supports transactions. It is a surrogate:
# the GitHub workflow's real MongoDB 7 replica set stays the reference (docs/mongodb-testing.md).
# Source this file after scripts/lib/moto.sh (it shares moto's venv), then:
#   mongo_ensure_surrogate; mongo_start; ...; mongo_stop
#
#   REPO               repository root
#   SECANTUS_VERSION   SecantusDB release to install (pinned)
#   VWC_TEST_MONGODB_URI  when already set (a real server), nothing is started: a real server wins.

SECANTUS_VERSION="${SECANTUS_VERSION:-0.7.0b3}"
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck source=server.sh
source "$(dirname "${BASH_SOURCE[0]}")/server.sh"

# Installs the pinned SecantusDB into $REPO/.venv (created by moto_ensure_venv).
mongo_ensure_surrogate() {
    local venv="$REPO/.venv"
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "mongo: $venv is missing; call moto_ensure_venv first" >&2
        return 1
    fi
    if [[ -x "$venv/bin/secantusd-py" && "$(python_installed_version "$venv" SecantusDB)" == "$SECANTUS_VERSION" ]]; then
        return 0
    fi
    python_install mongo "$venv" "SecantusDB==$SECANTUS_VERSION"
}

# Starts the surrogate on a free loopback port with a fresh storage dir; exports VWC_TEST_MONGODB_URI,
# VWC_TEST_MONGODB_SERVER (what it is, for the report) and MONGO_PID.
mongo_start() {
    local venv="$REPO/.venv"
    local port
    port="$(server_free_port)" || return 1
    MONGO_DIR="$(mktemp -d "${TMPDIR:-/tmp}/vwc-secantus.XXXXXX")"
    export MONGO_DIR
    local log="$MONGO_DIR.log"
    "$venv/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path "$MONGO_DIR/data" \
        --log-level WARNING >"$log" 2>&1 &
    MONGO_PID=$!
    export MONGO_PID
    local uri="mongodb://127.0.0.1:$port/?replicaSet=secantus&directConnection=true"
    server_wait "mongo: SecantusDB" "$MONGO_PID" "$log" 50 0.5 mongo_stop "$venv/bin/python" -c \
        "import pymongo; pymongo.MongoClient('$uri', serverSelectionTimeoutMS=500).admin.command('ping')" || return 1
    export VWC_TEST_MONGODB_URI="$uri"
    export VWC_TEST_MONGODB_SERVER="SecantusDB $SECANTUS_VERSION (surrogate)"
    echo "mongo: SecantusDB $SECANTUS_VERSION listening at $uri (pid $MONGO_PID, log $log)" >&2
}

# Stops the server started by mongo_start and removes its storage.
mongo_stop() {
    if [[ -n "${MONGO_PID:-}" ]]; then
        # A wedged surrogate (docs/mongodb-testing.md: its lock-order deadlock) ignores SIGTERM: server_stop
        # kills it after a few seconds.
        server_stop "$MONGO_PID"
        unset MONGO_PID
    fi
    if [[ -n "${MONGO_DIR:-}" && -d "$MONGO_DIR" ]]; then
        rm -rf "$MONGO_DIR"
    fi
}
