# tests/crash/lib.sh - what tests/test_crash.sh and tests/test_faults.sh share: starting and
# stopping a real `nclrec serve` on 127.0.0.1 (port 0, read from the "listening" log line),
# requests with curl, and pass/fail counting in the tests/run.sh format. Sourced, not run.
#
# The caller sets T (a temporary directory it removes) and BIN before sourcing. Every curl call
# has --max-time and every wait loop a bound in count and time, so a daemon that dies or hangs
# fails the test instead of hanging it.

pass=0; fail=0; notrun=0
PID=""; PORT=""; B=""; CODE=""; BODY=""
PIDS=()

check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1; shift
    if "$@"; then
        pass=$((pass + 1)); echo "ok $name"
    else
        fail=$((fail + 1)); echo "not ok $name (last status=$CODE body=${BODY:0:300})" >&2
    fi
}
not_run() { # not_run NAME REASON: a check this machine cannot do; printed, never counted as passed
    notrun=$((notrun + 1)); echo "NOT RUN $1: $2" >&2
}
has() { grep -q -- "$1" <<<"$BODY"; }
is() { [ "$CODE" = "$1" ]; }
ok_if() { eval "$1"; }
problem() { # the last answer is a problem+json with this status
    is "$1" && grep -qi '^content-type: application/problem+json' "$T/hdrs" && has "\"status\":$1" && has '"detail":'
}
alive() { kill -0 "$PID" 2>/dev/null; }

# Small, quick training: these tests check crash and fault handling, not model quality.
TRAIN=(--embedding-size 8 --epochs 2 --min-epochs 1 --stopping-step 1 --num-clusters 4
       --warm-up-step 1 --train-batch-size 512 --retrain-threads 1 --http-threads 4
       --retrain-interval 0 --shutdown-deadline 10 --retrain-nice 0)
SEED=(--seed-synthetic --synth-users 60 --synth-items 40 --synth-per-user 8)

# start_server LOG ARGS...: starts a daemon in the background; sets PID, PORT and B.
# START_PREFIX (an array, may be empty) is put before the binary (e.g. unshare, prlimit).
start_server() {
    local log=$1; shift
    : >"$log"
    "${START_PREFIX[@]}" "$BIN" serve --listen 127.0.0.1:0 "$@" 2>>"$log" &
    PID=$!; PIDS+=("$PID"); PORT=""
    for _ in $(seq 1 600); do # at most 60 s (training the first model included)
        PORT=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$log" | head -n 1)
        [ -n "$PORT" ] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    B=http://127.0.0.1:$PORT
    [ -n "$PORT" ]
}

# stop_server [SIGNAL]: signals the daemon and waits (at most 20 s) for it; sets STOP_RC.
stop_server() {
    kill -"${1:-TERM}" "$PID" 2>/dev/null
    for _ in $(seq 1 200); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID"; STOP_RC=124; wait "$PID" 2>/dev/null; return; fi
    wait "$PID"; STOP_RC=$?
}

# req METHOD PATH [CURL ARGS...]: sets CODE and BODY; headers in $T/hdrs.
req() {
    local m=$1 p=$2; shift 2
    CODE=$(curl -s --max-time 10 -X "$m" -o "$T/body" -D "$T/hdrs" -w '%{http_code}' "$@" "$B$p" 2>/dev/null)
    BODY=$(cat "$T/body" 2>/dev/null)
}
post_json() { local p=$1 d=$2; shift 2; req POST "$p" -H 'Content-Type: application/json' --data-binary "$d" "$@"; }

wait_ready() { # at most 60 s
    for _ in $(seq 1 600); do req GET /readyz; is 200 && return 0; alive || return 1; sleep 0.1; done
    return 1
}

# metric NAME: the value of an unlabelled (or fully spelled) series in a fresh /metrics scrape.
metric() {
    curl -s --max-time 10 "$B/metrics" 2>/dev/null | awk -v n="$1" '$1 == n {print $2; exit}'
}

# finish NAME: the closing line tests/run.sh reads, and the exit status.
finish() {
    [ "$notrun" -gt 0 ] && echo "$1: $notrun check(s) NOT RUN here (reasons above; not counted as passed)" >&2
    echo "$1: $pass passed, $fail failed"
    [ "$fail" = 0 ]
}
