# tests/lib.sh - what the shell tests share (sourced, not run): pass/fail counting in the
# tests/run.sh format, starting and stopping a real `nclrec serve` on 127.0.0.1 (port 0, the
# port read back from the "listening" log line), and requests with curl.
#
# The caller sets BIN (the nclrec binary) and T (a scratch directory it removes itself) before
# calling anything here. Every curl call has --max-time and every wait loop a bound in count
# and time, so a daemon that dies or hangs fails the test instead of hanging it.
# Knobs (environment or variables set by the caller):
#   START_PREFIX  array put before the binary (unshare, prlimit, ...); default none
#   START_WAIT    seconds start_server waits for the listener (default 60: the first model
#                 is trained before listening)
#   STOP_WAIT     seconds stop_server waits before SIGKILL (default 30)
#   REQ_TIMEOUT   curl's --max-time in req (default 10)

pass=0; fail=0
PID=""; PORT=""; B=""; CODE=""; BODY=""; STOP_RC=""
PIDS=()      # every daemon start_server started
LOOPS=()     # background client loops the caller started (it appends their pids)
STOP_FILE="" # touched first on exit, for client loops that watch it

# On exit: client loops told to stop and stopped, every daemon started here killed, the
# scratch directory removed. Installed here; a caller needs nothing else.
lib_cleanup() {
    [ -n "$STOP_FILE" ] && touch "$STOP_FILE" 2>/dev/null
    for p in "${LOOPS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap lib_cleanup EXIT

check() { # check NAME COMMAND...: passes when the command succeeds
    [ -n "${API_TIMING:-}" ] && echo "[$SECONDS s] $1" >&2
    local name=$1; shift
    if "$@"; then
        pass=$((pass + 1)); echo "ok $name"
    else
        fail=$((fail + 1)); echo "not ok $name (last status=$CODE body=${BODY:0:300})" >&2
    fi
}
has() { grep -q -- "$1" <<<"$BODY"; }       # the last body contains a string
hasnt() { ! grep -q -- "$1" <<<"$BODY"; }
is() { [ "$CODE" = "$1" ]; }
ok_if() { eval "$1"; }                       # a condition written as a string, run here
problem() { # the last answer is a problem+json with this status
    is "$1" && grep -qi '^content-type: application/problem+json' "$T/hdrs" && has "\"status\":$1" && has '"detail":'
}
alive() { [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; }

# start_server LOG ARGS...: starts `nclrec serve` in the background; sets PID, PORT and B.
start_server() {
    local log=$1; shift
    : >"$log"
    "${START_PREFIX[@]}" "$BIN" serve --listen 127.0.0.1:0 "$@" 2>>"$log" &
    PID=$!; PIDS+=("$PID"); PORT=""
    local end=$((SECONDS + ${START_WAIT:-60}))
    while [ $SECONDS -lt "$end" ]; do
        PORT=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$log" | head -n 1)
        [ -n "$PORT" ] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    B=http://127.0.0.1:$PORT
    [ -n "$PORT" ]
}

# stop_server [SIGNAL]: signals the daemon (TERM by default) and waits for it, SIGKILL after
# STOP_WAIT seconds; sets STOP_RC (124 when it had to be killed).
stop_server() {
    [ -n "$PID" ] || { STOP_RC=0; return; }
    kill -"${1:-TERM}" "$PID" 2>/dev/null
    local end=$((SECONDS + ${STOP_WAIT:-30}))
    while [ $SECONDS -lt "$end" ] && kill -0 "$PID" 2>/dev/null; do sleep 0.1; done
    if kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID"; STOP_RC=124; wait "$PID" 2>/dev/null
    else wait "$PID"; STOP_RC=$?; fi
}

# cfg_refused TEXT ARGS...: `nclrec serve ARGS` (data in $T/cfg) stops within 10 s with exit
# status 2 and TEXT (grep) on stderr: a setting refused at start. Sets CODE and BODY.
cfg_refused() {
    local text=$1; shift
    "$BIN" serve --data-dir "$T/cfg" "$@" >"$T/cfg.out" 2>"$T/cfg.err" </dev/null & local p=$!
    for _ in $(seq 1 100); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
    kill -KILL $p 2>/dev/null
    wait $p; local rc=$?
    BODY=$(cat "$T/cfg.err"); CODE=$rc
    [ "$rc" = 2 ] && grep -q -- "$text" "$T/cfg.err"
}

# req METHOD PATH [CURL ARGS...]: sets CODE and BODY; headers in $T/hdrs.
req() {
    local m=$1 p=$2; shift 2
    CODE=$(curl -s --max-time "${REQ_TIMEOUT:-10}" -X "$m" -o "$T/body" -D "$T/hdrs" -w '%{http_code}' \
           "$@" "$B$p" 2>/dev/null)
    BODY=$(cat "$T/body" 2>/dev/null)
}
post_json() { local p=$1 d=$2; shift 2; req POST "$p" -H 'Content-Type: application/json' --data-binary "$d" "$@"; }

# A JSON field of the last body: json_field NAME (first occurrence, strings or numbers).
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$BODY" | head -n 1; }
items_of() { sed 's/.*"items":\[//; s/\].*//' <<<"$BODY" | grep -o '"item":"[^"]*"' | sed 's/"item":"//; s/"$//'; }
items_all() { items_of | tr '\n' ' '; }     # the items of the last answer on one line

# wait_ready [SECONDS]: until /readyz answers 200 (default at most 60 s) or the daemon dies.
wait_ready() {
    local end=$((SECONDS + ${1:-60}))
    while [ $SECONDS -lt "$end" ]; do
        req GET /readyz; is 200 && return 0
        alive || return 1
        sleep 0.1
    done
    return 1
}

# spec_triples SPEC: the sorted "METHOD PATH STATUS" lines an OpenAPI file documents.
spec_triples() {
    awk '
      /^paths:/ {inp = 1; next}
      inp && /^[^ ]/ {inp = 0}
      inp && /^  \/[^ ]*:$/ {path = $1; sub(":$", "", path); next}
      inp && /^    (get|post|delete|put|patch):$/ {m = toupper($1); sub(":$", "", m); next}
      inp && /^        .[0-9][0-9][0-9].:$/ {st = $1; gsub(/[^0-9]/, "", st); print m, path, st}
    ' "$1" | sort -u
}

# seen_triples LOG...: the sorted "METHOD ROUTE STATUS" lines daemons answered (access logs).
seen_triples() {
    cat "$@" | sed -n 's/.*"event":"request","method":"\([A-Z]*\)","route":"\(\/[^"]*\)","status":\([0-9]*\).*/\1 \2 \3/p' |
        sort -u
}
