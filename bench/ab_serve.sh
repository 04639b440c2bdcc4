#!/bin/bash
# ab_serve.sh - two nclrec binaries side by side on the same data, for a change that must not
# move the serving figures (a refactoring, a compiler flag):
#
#   bench/ab_serve.sh BIN_A BIN_B        (make bench-ab BIN_A=... BIN_B=...)
#
# One data directory is made with BIN_A (`nclrec synth`, USERS users, imported, a model
# trained at start) and copied for BIN_B, so both serve the same checkpoint and store. Then,
# ROUNDS times, A then B: GET /recommend from 64 connections and single-event POST
# /interactions from 32 (bench/serve_recommend.lua, serve_ingest.lua; wrk, 1 thread,
# RUN_SECONDS each; 1 HTTP thread per daemon). Prints each run and the B/A ratios of the
# medians of requests/s and p99. Every non-2xx answer is an error.
# Environment: USERS (20000), EPOCHS (10), RUN_SECONDS (8), ROUNDS (3), W (a new temporary
# directory).
set -euo pipefail
cd "$(dirname "$0")/.."
A=$(readlink -f "${1:?usage: bench/ab_serve.sh BIN_A BIN_B}")
Bb=$(readlink -f "${2:?usage: bench/ab_serve.sh BIN_A BIN_B}")
USERS=${USERS:-20000}
EPOCHS=${EPOCHS:-10}
RUN_SECONDS=${RUN_SECONDS:-8}
ROUNDS=${ROUNDS:-3}
W=${W:-$(mktemp -d /tmp/nclrec-ab.XXXXXX)}
command -v wrk >/dev/null || sh tools/debs.sh bench-ab wrk
say() { echo "[ab ${SECONDS}s] $*"; }
die() { echo "ab_serve: $*" >&2; exit 1; }

DPID=""
stop() { [ -z "$DPID" ] || { kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null || true; DPID=""; }; }
trap stop EXIT
# start BIN DATA LOG [FLAGS...]: a daemon on a free loopback port; sets DPID and URL.
start() {
    local bin=$1 data=$2 log=$3; shift 3
    "$bin" serve --listen 127.0.0.1:0 --data-dir "$data" --api-key-file "$W/api.key" --http-threads 1 \
        --retrain-interval 0 "$@" 2>"$log" &
    DPID=$!
    local port=""
    for _ in $(seq 1 6000); do
        port=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$log" | head -n 1)
        [ -n "$port" ] && break
        kill -0 "$DPID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] || die "$bin did not start: $(tail -n 3 "$log")"
    URL=http://127.0.0.1:$port
}
# run NAME CONNS SCRIPT ARGS...: one wrk run; prints "NAME rps p99_ms".
run() {
    local name=$1 c=$2 s=$3; shift 3
    wrk -t1 -c"$c" -d"${RUN_SECONDS}"s --latency -s "bench/$s" "$URL" -- "$@" >"$W/$name.wrk" 2>&1
    local line
    line=$(grep '^wrk_result' "$W/$name.wrk") || die "wrk failed: $(tail -n 3 "$W/$name.wrk")"
    local non2xx
    non2xx=$(sed -n 's/.* non2xx=\([0-9]*\).*/\1/p' <<<"$line")
    [ "$non2xx" = 0 ] || die "$name: $non2xx non-2xx answers"
    echo "$name $(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<"$line") $(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
}

say "work dir $W; A=$A B=$Bb; load $(cut -d' ' -f1-3 /proc/loadavg)"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/api.key"
"$A" synth --users "$USERS" --items $((USERS / 2)) --out "$W/synth.csv"
"$A" import "$W/synth.csv" --data-dir "$W/data-a" 2>"$W/import.log" || die "import: $(tail -n 3 "$W/import.log")"
cut -d, -f1 "$W/synth.csv" | sed 1d | sort -u | awk 'NR <= 5000' >"$W/users.txt" # not head: pipefail
cut -d, -f2 "$W/synth.csv" | sed 1d | sort -u >"$W/items.txt"
say "training the shared model with A"
start "$A" "$W/data-a" "$W/train.log" --epochs "$EPOCHS" --min-epochs "$EPOCHS" --num-clusters 100
stop
cp -a "$W/data-a" "$W/data-b"

: >"$W/runs.txt"
for r in $(seq 1 "$ROUNDS"); do
    for side in a b; do
        bin=$A; [ $side = b ] && bin=$Bb
        start "$bin" "$W/data-$side" "$W/serve-$side-$r.log"
        run "warm_$side" 64 serve_recommend.lua "$W/users.txt" 10 >/dev/null
        run "recommend_$side" 64 serve_recommend.lua "$W/users.txt" 10 | tee -a "$W/runs.txt"
        run "ingest_$side" 32 serve_ingest.lua "$W/items.txt" "$W/api.key" "ab-$side-$r-$$" | tee -a "$W/runs.txt"
        stop
    done
done
# median NAME FIELD(2 rps, 3 p99)
median() { awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$W/runs.txt" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for what in recommend ingest; do
    ra=$(median "${what}_a" 2) rb=$(median "${what}_b" 2) pa=$(median "${what}_a" 3) pb=$(median "${what}_b" 3)
    echo "$what: A $ra rps p99 $pa ms | B $rb rps p99 $pb ms | B/A rps $(awk "BEGIN { printf \"%.3f\", $rb / $ra }") p99 $(awk "BEGIN { printf \"%.3f\", $pb / $pa }")"
done
say "load after $(cut -d' ' -f1-3 /proc/loadavg)"
