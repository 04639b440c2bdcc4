#!/usr/bin/env bash
# soak.sh - the daemon under steady mixed load for a bounded time (make soak): does it keep
# answering, keep swapping models, and keep its memory and its write-ahead log bounded?
#
# One daemon on 127.0.0.1 (port 0, a temporary data dir) with a store seeded with a small
# synthetic data set (SOAK_USERS x SOAK_ITEMS) and a quick model; SOAK_CLIENTS client loops,
# each round one keep-alive curl call with 4 /recommend and 2 /similar reads and one POST
# /interactions of 3 events (known users, and a pool of 40 new users per loop), then a pause
# of SOAK_PAUSE s. Every SOAK_RETRAIN_EVERY s a POST /admin/retrain (with the API key). Every
# SOAK_SAMPLE_EVERY s a sample: the daemon's VmRSS, the WAL file size, answers and errors so
# far, the served model version and the swap counter.
#
# At the end it asserts:
#   - zero errors: every client answer, retrain request and sample request was 2xx;
#   - at least SOAK_MIN_SWAPS swaps (default: one per two retrain requests; a retrain asked for
#     while one runs is not queued, and the margin is disabled with --retrain-margin 1, so
#     every finished retrain swaps: the soak tests the swapping, not model quality);
#   - RSS flat after warm-up: the mean VmRSS of the last third of the samples is at most
#     SOAK_RSS_TOL percent (default 10) above the mean of the middle third. The first third
#     is warm-up (the first retrains' buffers, per-thread malloc arenas, SQLite's page cache
#     filling). After it, a steady state stays flat: the data grow by a few percent only (a
#     bounded user pool) and every retrain frees what the previous one allocated. A leak shows
#     as a steady climb; the summary says how large a per-request or per-retrain leak the
#     tolerance lets through in this run;
#   - the WAL bounded: its largest sample below SOAK_WAL_CAP_MB MiB (default 64, the store's
#     wal_max_bytes, above which the writer truncates it; with SQLite's checkpoint every 1000
#     pages it normally stays near 4 MiB).
# Then it prints the sample table and one summary line, and writes both to SOAK_OUT (default
# $BUILD/soak) as samples.tsv and summary.txt. Last line: "soak: P passed, F failed"; exit
# status 1 on any failure.
#
# Bounds: SOAK_SECONDS (default 600) of load; each client loop also stops after
# SOAK_SECONDS * 200 requests; start-up and shutdown waits are bounded.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BIN=${NCLREC_BIN:-$BUILD/nclrec}
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_CLIENTS=${SOAK_CLIENTS:-3}
SOAK_PAUSE=${SOAK_PAUSE:-0.1}
SOAK_RETRAIN_EVERY=${SOAK_RETRAIN_EVERY:-30}
SOAK_SAMPLE_EVERY=${SOAK_SAMPLE_EVERY:-10}
SOAK_RSS_TOL=${SOAK_RSS_TOL:-10}
SOAK_WAL_CAP_MB=${SOAK_WAL_CAP_MB:-64}
SOAK_USERS=${SOAK_USERS:-2000}
SOAK_ITEMS=${SOAK_ITEMS:-1000}
SOAK_MIN_SWAPS=${SOAK_MIN_SWAPS:-$(( SOAK_SECONDS / SOAK_RETRAIN_EVERY / 2 > 0 ? SOAK_SECONDS / SOAK_RETRAIN_EVERY / 2 : 1 ))}
SOAK_OUT=${SOAK_OUT:-$BUILD/soak}
T=$(mktemp -d /tmp/nclrec-soak.XXXXXX)
KEY=soak-key-$$
. tests/soak/lib.sh
SOAK_NAME=soak

if ! [[ $SOAK_SECONDS =~ ^[0-9]+$ ]] || [ "$SOAK_SECONDS" -lt 30 ]; then
    echo "not ok SOAK_SECONDS must be a whole number of seconds >= 30, got '$SOAK_SECONDS'" >&2
    fail=1; finish
fi
mkdir -p "$SOAK_OUT"

START_WAIT=600
check "daemon starts" start_daemon "$T/daemon.log" --data-dir "$T/data" --api-key "$KEY" \
    --seed-synthetic --synth-users "$SOAK_USERS" --synth-items "$SOAK_ITEMS" --synth-per-user 20 \
    --embedding-size 32 --epochs 6 --min-epochs 2 --stopping-step 2 --num-clusters 20 \
    --warm-up-step 1 --train-batch-size 2048 --retrain-threads 1 --http-threads 2 \
    --retrain-interval 0 --retrain-margin 1 --shutdown-deadline 60
if [ -z "$PORT" ]; then tail -n 20 "$T/daemon.log" >&2; finish; fi
check "ready" wait_ready 120
check "item ids collected" known_items 30 "$T/items"
[ -s "$T/items" ] || finish

# sample ELAPSED: one row of the table (and counts a failed sample request as an error).
: >"$T/admin"
sample() {
    local rss wal v s
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PID/status" 2>/dev/null)
    wal=$(stat -c %s "$T/data/nclrec.db-wal" 2>/dev/null || echo 0)
    v=$(model_version); echo "$CODE /model" >>"$T/admin"
    s=$(metric nclrec_model_swaps_total); echo "$CODE /metrics" >>"$T/admin"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "${rss:-0}" "$wal" "$(count_answers "$T"/load*)" \
        "$(( $(count_errors "$T"/load*) + $(count_errors "$T/admin") ))" "$v" "$s" >>"$SOAK_OUT/samples.tsv"
}

printf 't_s\trss_kib\twal_bytes\tanswers\terrors\tversion\tswaps\n' >"$SOAK_OUT/samples.tsv"
swaps0=$(metric nclrec_model_swaps_total)
v_start=$(model_version)
t0=$(date +%s); end=$((t0 + SOAK_SECONDS))
for id in $(seq 1 "$SOAK_CLIENTS"); do
    : >"$T/load$id"
    client_loop "$id" "$T/load$id" $end $((SOAK_SECONDS * 200)) "$SOAK_USERS" "$T/items" "$SOAK_PAUSE" 0 &
    LOOPS+=($!)
done
retrains=0
next_retrain=$((t0 + SOAK_RETRAIN_EVERY)); next_sample=$t0
while :; do
    now=$(date +%s)
    [ "$now" -ge "$end" ] && break
    alive || break
    if [ "$now" -ge "$next_sample" ]; then sample $((now - t0)); next_sample=$((next_sample + SOAK_SAMPLE_EVERY)); fi
    if [ "$now" -ge "$next_retrain" ]; then
        req POST /admin/retrain -H "Authorization: Bearer $KEY"; echo "$CODE /admin/retrain" >>"$T/admin"
        retrains=$((retrains + 1)); next_retrain=$((next_retrain + SOAK_RETRAIN_EVERY))
    fi
    sleep 1
done
touch "$T/stop"
wait "${LOOPS[@]}" 2>/dev/null
LOOPS=()
check "daemon alive to the end" alive
alive && sample $(( $(date +%s) - t0 ))
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$PID/status" 2>/dev/null)
swaps1=$(metric nclrec_model_swaps_total)
v_end=$(model_version)
stop_daemon
check "SIGTERM exits 0 (status $STOP_RC)" [ "$STOP_RC" = 0 ]

# ---- figures ----
answers=$(count_answers "$T"/load*)
errors=$(( $(count_errors "$T"/load*) + $(count_errors "$T/admin") ))
swaps=$(( ${swaps1:-0} - ${swaps0:-0} ))
writes=$(grep -hc ' /interactions$' "$T"/load* | awk '{s += $1} END {print s + 0}')
# mean RSS (KiB) of the middle and the last third of the samples, largest WAL, in one pass
read -r n_samples mid last wal_max < <(awk -F'\t' 'NR > 1 {r[n] = $2; if ($3 > w) w = $3; n++}
    END {a = int(n / 3); b = int(2 * n / 3); m = 0; l = 0
         for (i = a; i < b; i++) m += r[i]; for (i = b; i < n; i++) l += r[i]
         printf "%d %.0f %.0f %d\n", n, (b > a ? m / (b - a) : 0), (n > b ? l / (n - b) : 0), w + 0}' \
    "$SOAK_OUT/samples.tsv")
growth=$(awk -v m="$mid" -v l="$last" 'BEGIN {printf "%.2f", (m > 0 ? (l - m) * 100 / m : 0)}')
# what the tolerance lets through: the allowed growth spread over the requests / retrains of
# the last two thirds (a leak would have to stay under this per request / per retrain)
per_req=$(awk -v m="$mid" -v t="$SOAK_RSS_TOL" -v a="$answers" 'BEGIN {printf "%.0f", (a > 0 ? m * 1024 * t / 100 / (a * 2 / 3) : 0)}')
per_retrain=$(awk -v m="$mid" -v t="$SOAK_RSS_TOL" -v s="$swaps" 'BEGIN {printf "%.0f", (s > 0 ? m * t / 100 / (s * 2 / 3) : 0)}')

echo
echo "    t_s  rss_MiB  wal_KiB   answers  errors  version  swaps"
awk -F'\t' 'NR > 1 {printf "%7d %8.1f %8.0f %9d %7d %8s %6s\n", $1, $2 / 1024, $3 / 1024, $4, $5, $6, $7}' "$SOAK_OUT/samples.tsv"
echo

check "zero errors ($errors of $answers client answers and $(count_answers "$T/admin") admin/sample requests)" [ "$errors" = 0 ]
check "at least $SOAK_MIN_SWAPS swaps ($swaps swaps for $retrains retrain requests)" [ "$swaps" -ge "$SOAK_MIN_SWAPS" ]
check "enough samples for the RSS criterion ($n_samples)" [ "$n_samples" -ge 6 ]
check "RSS flat after warm-up: last third $((last / 1024)) MiB vs middle third $((mid / 1024)) MiB ($growth% <= $SOAK_RSS_TOL%)" \
    awk -v g="$growth" -v t="$SOAK_RSS_TOL" 'BEGIN {exit !(g <= t)}'
check "WAL bounded: max $((wal_max / 1024)) KiB <= $SOAK_WAL_CAP_MB MiB" [ "$wal_max" -le $((SOAK_WAL_CAP_MB * 1024 * 1024)) ]
check "traffic flowed ($answers answers, $writes writes)" test "$answers" -gt 100 -a "$writes" -gt 10

verdict=PASS; [ "$fail" -eq 0 ] || verdict=FAIL
summary="soak $verdict: ${SOAK_SECONDS}s, $SOAK_CLIENTS clients, $answers answers ($(( answers / SOAK_SECONDS ))/s, $writes POST /interactions), $errors errors, $swaps swaps of $retrains retrain requests (model v$v_start -> v$v_end), RSS middle third $((mid / 1024)) MiB -> last third $((last / 1024)) MiB ($growth%, limit $SOAK_RSS_TOL%; peak $(( ${hwm:-0} / 1024 )) MiB; the limit lets through at most ~$per_req B/request or ~$per_retrain KiB/retrain), WAL max $((wal_max / 1024)) KiB (cap $SOAK_WAL_CAP_MB MiB)"
echo "$summary" | tee "$SOAK_OUT/summary.txt"
finish
