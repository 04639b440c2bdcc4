#!/usr/bin/env bash
# swap_load.sh - retrains and model swaps while clients read, write and delete: the daemon's
# threads (HTTP workers, the store's writer and reader pool, the retrain thread, metrics and
# status scrapes) all at work at once. Written to run under ThreadSanitizer (make tsan), where
# the point is the race report, but it asserts the behaviour too, so it also runs on a plain
# build.
#
# One daemon on 127.0.0.1 (port 0) with a small seeded store; three client loops (reads,
# writes, deletions) and a scraper of /metrics, /model and /readyz; two POST /admin/retrain,
# each waited for until the new version is served. Checks: every answer 2xx, both swaps seen
# in /model and in the swap counter, clients answered after each swap, and an orderly SIGTERM
# exit (status 0: a sanitizer that found something exits otherwise).
#
# Bounds: every loop at most SWAP_MAX_REQ requests (default 3000) and SWAP_SECONDS seconds
# (default 240; the clients stop as soon as both swaps are done); every wait is bounded.
# NCLREC_BIN overrides the binary ($BUILD/nclrec). Prints "swap_load: P passed, F failed" and
# exits 1 on any failure.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BIN=${NCLREC_BIN:-$BUILD/nclrec}
SWAP_SECONDS=${SWAP_SECONDS:-240}
SWAP_MAX_REQ=${SWAP_MAX_REQ:-3000}
T=$(mktemp -d /tmp/nclrec-swapload.XXXXXX)
KEY=swapload-key-$$
. tests/soak/lib.sh
SOAK_NAME=swap_load

USERS=150
check "daemon starts" start_daemon "$T/daemon.log" --data-dir "$T/data" --api-key "$KEY" \
    --seed-synthetic --synth-users $USERS --synth-items 90 --synth-per-user 12 \
    --embedding-size 16 --epochs 3 --min-epochs 1 --stopping-step 2 --num-clusters 5 \
    --warm-up-step 1 --train-batch-size 512 --retrain-threads 1 --http-threads 4 \
    --retrain-interval 0 --retrain-margin 1 --shutdown-deadline 60
if [ -z "$PORT" ]; then tail -n 20 "$T/daemon.log" >&2; finish; fi
check "ready" wait_ready 120
v0=$(model_version)
check "a first model is served (version $v0)" [ "$v0" != none ]
[ "$v0" != none ] || finish
check "item ids collected" known_items 20 "$T/items"
[ -s "$T/items" ] || finish

end=$(($(date +%s) + SWAP_SECONDS))
for id in 1 2 3; do
    : >"$T/load$id"
    client_loop $id "$T/load$id" $end "$SWAP_MAX_REQ" $USERS "$T/items" 0.05 1 &
    LOOPS+=($!)
done
# The scraper: metrics, model status and readiness, read while everything else runs.
( while [ ! -e "$T/stop" ] && [ "$(date +%s)" -lt $end ]; do
      for p in /metrics /model /readyz; do
          curl -s --max-time 20 -o /dev/null -w "%{http_code} $p\n" "$B$p" >>"$T/scrape" 2>/dev/null
      done
      sleep 0.3
  done ) &
LOOPS+=($!)

# wait_lines N: every client has logged at least N answers (at most 60 s).
wait_lines() {
    local lim=$((SECONDS + 60)) f ok
    while [ $SECONDS -lt $lim ]; do
        ok=1
        for f in "$T/load1" "$T/load2" "$T/load3"; do [ "$(wc -l <"$f")" -ge "$1" ] || ok=0; done
        [ $ok = 1 ] && return 0
        alive || return 1
        sleep 0.2
    done
    return 1
}
# swap_to V: asks for a retrain and waits (bounded by the clients' end) until V is served.
swap_to() {
    req POST /admin/retrain -H "Authorization: Bearer $KEY"
    [ "$CODE" = 202 ] || return 1
    while [ "$(date +%s)" -lt $end ]; do
        [ "$(model_version)" = "$1" ] && return 0
        alive || return 1
        sleep 0.3
    done
    return 1
}
check "clients running before the first retrain" wait_lines 14
check "first retrain swaps in version $((v0 + 1))" swap_to $((v0 + 1))
check "clients answered after the first swap" wait_lines $(( $(wc -l <"$T/load1") + 14 ))
check "second retrain swaps in version $((v0 + 2))" swap_to $((v0 + 2))
check "clients answered after the second swap" wait_lines $(( $(wc -l <"$T/load1") + 14 ))
# A loop deletes on every tenth round: on a fast machine the swaps are over sooner than that.
deleted() {
    local lim=$((SECONDS + 60))
    while [ $SECONDS -lt $lim ]; do grep -q ' /users' "$T"/load? && return 0; alive || return 1; sleep 0.2; done
    return 1
}
check "clients reached their deletions" deleted
touch "$T/stop"
wait "${LOOPS[@]}" 2>/dev/null
LOOPS=()

total=$(count_answers "$T"/load?); bad=$(count_errors "$T"/load?)
check "clients got answers ($total)" [ "$total" -gt 60 ]
check "zero non-2xx answers to the clients (bad=$bad)" [ "$bad" = 0 ]
if [ "$bad" != 0 ]; then grep -hv '^2' "$T"/load? | sort | uniq -c | head >&2; fi
check "writes and deletions were among them" \
    bash -c "grep -q '^200 /interactions' $T/load1 && grep -q '^200 /users' $T/load1 $T/load2 $T/load3"
sbad=$(count_errors "$T/scrape")
check "scrapes answered 2xx ($(count_answers "$T/scrape") scrapes, bad=$sbad)" [ "$sbad" = 0 ]
swaps=$(metric nclrec_model_swaps_total)
check "the swap counter saw both swaps (swaps_total=$swaps)" [ "$swaps" = 3 ]
stop_daemon
check "SIGTERM exits 0 (status $STOP_RC)" [ "$STOP_RC" = 0 ]
[ "$STOP_RC" = 0 ] || tail -n 20 "$T/daemon.log" >&2
finish
