#!/usr/bin/env bash
# make bench-ui: does the page at /ui slow /recommend? /recommend with wrk (1 thread,
# CONNS=32 connections, varied known users, --latency) in alternating segments of SEG seconds,
# side by side in one run: nobody polling; the page's polling (GET /model and
# GET /metrics?format=json every 2 s, what server/ui/app.js does per open tab); and TABS=10
# tabs polling. Each mode runs ROUNDS times (off, page, tabs, off, ...) so drift shows. Prints
# one line per segment and the p99 ratios to the unpolled segments.
# Environment: BUILD (build), SEG (10), CONNS (32), TABS (10), ROUNDS (2).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SEG=${SEG:-10}; CONNS=${CONNS:-32}; TABS=${TABS:-10}; ROUNDS=${ROUNDS:-2}
T=$(mktemp -d /tmp/nclrec-bench-ui.XXXXXX)
PID=""; POLLERS=()
cleanup() { for p in "${POLLERS[@]}"; do kill "$p" 2>/dev/null; done; [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
command -v wrk >/dev/null || { echo "bench-ui: wrk is needed (apt-get install wrk)" >&2; exit 1; }

"$BUILD/nclrec" serve --listen 127.0.0.1:0 --data-dir "$T/d" --seed-synthetic --synth-users 2000 --synth-items 1000 \
    --embedding-size 32 --epochs 20 --min-epochs 5 --num-clusters 50 --warm-up-step 2 --retrain-interval 0 \
    --http-threads 1 2>"$T/log" &
PID=$!
port=""
for _ in $(seq 1 1200); do
    port=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$T/log" | head -n 1)
    [ -n "$port" ] && break; kill -0 "$PID" 2>/dev/null || break; sleep 0.1
done
[ -n "$port" ] || { echo "bench-ui: the daemon did not start: $(tail -n 3 "$T/log")" >&2; exit 1; }
B=http://127.0.0.1:$port
for _ in $(seq 1 600); do curl -sf --max-time 2 "$B/readyz" >/dev/null && break; sleep 0.1; done
seq 1 2000 | sed 's/^/u/' >"$T/users"

# poll_tab END: what one open page fetches, every 2 s until the time END (bounded in count too).
poll_tab() {
    local n=0
    while [ "$(date +%s)" -lt "$1" ] && [ $n -lt 1000 ]; do
        curl -s --max-time 2 "$B/model" >/dev/null; curl -s --max-time 2 "$B/metrics?format=json" >/dev/null
        n=$((n + 1)); sleep 2
    done
}

# segment MODE TABS: wrk for SEG seconds with TABS pollers; prints "MODE rps p50_ms p99_ms".
segment() {
    local mode=$1 tabs=$2 end=$(( $(date +%s) + SEG + 1 ))
    POLLERS=()
    for _ in $(seq 1 "$tabs"); do poll_tab "$end" & POLLERS+=($!); done
    wrk -t1 -c"$CONNS" -d"${SEG}s" --latency -s bench/serve_recommend.lua "$B" -- "$T/users" 10 >"$T/wrk" 2>&1
    for p in "${POLLERS[@]}"; do kill "$p" 2>/dev/null; done; wait "${POLLERS[@]}" 2>/dev/null; POLLERS=()
    ms() { awk -v q="$1" '$1 == q {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) sub(/ms$/,"",v); else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' "$T/wrk"; }
    echo "$mode $(awk '/^Requests\/sec/ {print $2}' "$T/wrk") $(ms 50%) $(ms 99%)"
}

echo "bench-ui: $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); SEG=$SEG CONNS=$CONNS TABS=$TABS"
echo "mode rps p50_ms p99_ms"
for _ in $(seq 1 "$ROUNDS"); do
    segment off 0; segment page 1; segment tabs "$TABS"
done | tee "$T/rows"
awk '{n[$1]++; p[$1]+=$4; m[$1] = (n[$1] == 1 || $4 < m[$1]) ? $4 : m[$1]} END {off=p["off"]/n["off"]; printf "p99 mean: off %.3f ms, page %.3f ms (x%.2f), %s tabs %.3f ms (x%.2f); p99 best segment: off %.3f, page %.3f (x%.2f), tabs %.3f (x%.2f)\n", off, p["page"]/n["page"], p["page"]/n["page"]/off, "'"$TABS"'", p["tabs"]/n["tabs"], p["tabs"]/n["tabs"]/off, m["off"], m["page"], m["page"]/m["off"], m["tabs"], m["tabs"]/m["off"]}' "$T/rows"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
