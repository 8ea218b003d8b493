# shellcheck shell=bash
# Work that needs the network and little CPU (or CPU while the foreground waits on the network) started
# early and waited for where it is needed, so that on a fresh machine scripts/test's installs overlap
# instead of running one after the other. Each job's output goes to a log that is shown when it is waited
# for. Source this file, then:
#   background_start NAME COMMAND [ARG...]   start COMMAND in the background
#   background_wait NAME                     wait for it, show its output; its exit status
#   background_wait_all                      wait for every job still running (scripts/test's EXIT trap:
#                                            an install is never left half done, e.g. apt-get's)

declare -A BACKGROUND_PID=() BACKGROUND_LOG=() BACKGROUND_STARTED=()

background_start() {
    local name=$1 log
    shift
    log="$(mktemp "${TMPDIR:-/tmp}/vwc-background-$name.XXXXXX")"
    (
        set +e
        "$@"
        rc=$?
        date +%s >"$log.end"
        exit "$rc"
    ) >"$log" 2>&1 </dev/null &
    BACKGROUND_PID[$name]=$!
    BACKGROUND_LOG[$name]=$log
    BACKGROUND_STARTED[$name]=$(date +%s)
    echo "started in the background: $name ($*)"
}

background_wait() {
    local name=$1 rc=0 waited ended
    local pid=${BACKGROUND_PID[$name]:-}
    [[ -n "$pid" ]] || return 0
    waited=$(date +%s)
    wait "$pid" || rc=$?
    ended=$(cat "${BACKGROUND_LOG[$name]}.end" 2>/dev/null || date +%s)
    echo "-- $name (in the background): took $((ended - BACKGROUND_STARTED[$name])) s, \
waited for $(($(date +%s) - waited)) s, exit status $rc"
    sed 's/^/   /' "${BACKGROUND_LOG[$name]}"
    rm -f "${BACKGROUND_LOG[$name]}" "${BACKGROUND_LOG[$name]}.end"
    unset "BACKGROUND_PID[$name]"
    return "$rc"
}

background_wait_all() {
    local name
    for name in "${!BACKGROUND_PID[@]}"; do
        background_wait "$name" >/dev/null 2>&1 || true
    done
}
