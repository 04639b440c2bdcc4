#!/usr/bin/env bash
# test_feedback_api.sh - feedback types against real daemons on 127.0.0.1: the configuration
# (--feedback-types, --exclude-types and their NCLREC_ variables, refused values naming the
# setting), POST /interactions with and without "type" (default view; an unknown or non-string
# type is 422 problem+json naming it and the allowed set), /metrics counting ingested events by
# type, the retrain training with the weights, types durable across a restart and carried by
# `nclrec export`/`import`, a replica following a primary's typed changefeed, and
# --exclude-types limiting the seen items /recommend leaves out to those types (a standalone
# daemon, after a restart, and a replica).
# Every daemon listens on a port the kernel picks; every curl call and wait is bounded.
# Prints "test_feedback_api.sh: P passed, F failed" and exits 1 on any failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=${NCLREC_BIN:-$BUILD/nclrec}
T=$(mktemp -d /tmp/nclrec-feedback.XXXXXX)
. tests/lib.sh

TRAIN=(--embedding-size 16 --epochs 4 --min-epochs 1 --stopping-step 2 --num-clusters 5 --warm-up-step 1
       --train-batch-size 512 --retrain-threads 1 --http-threads 2 --retrain-interval 0 --shutdown-deadline 20)
SEED=(--seed-synthetic --synth-users 120 --synth-items 80 --synth-per-user 12)
TYPES=(--feedback-types click=1,purchase=3,dislike=0)
wait_for() { # wait_for SECONDS CONDITION: polls every 0.1 s
    local end=$((SECONDS + $1)); shift
    while [ $SECONDS -le $end ]; do eval "$1" && return 0; sleep 0.1; done
    return 1
}
metric() { req GET /metrics; sed -n "s/^nclrec_ingested_events_total{type=\"$1\"} \([0-9]*\)$/\1/p" <<<"$BODY"; }

# ============================ configuration ============================
check "config: a bad weight is refused naming the setting" cfg_refused "setting 'feedback_types'.*weight '9x'" \
    --feedback-types click=9x
check "config: a type given twice is refused" cfg_refused "given twice" --feedback-types click=1,click=2
types_env_refused() { NCLREC_FEEDBACK_TYPES=a=1,a=1 cfg_refused "setting 'feedback_types'.*given twice"; }
check "config: NCLREC_FEEDBACK_TYPES is read" types_env_refused
"$BIN" serve --help >"$T/help" 2>&1
check "config: an unknown excluded type names the allowed set" \
    cfg_refused "setting 'exclude_types': 'buy' is not a feedback type (allowed: click=1,view=1)" \
    --feedback-types click=1 --exclude-types buy
check "config: --help lists both settings" ok_if 'grep -q -- "--feedback-types" "$T/help" && grep -q NCLREC_EXCLUDE_TYPES "$T/help"'

# ============================ ingest with types ============================
check "daemon: starts with click, purchase, dislike" start_server "$T/d.log" --data-dir "$T/d" "${TRAIN[@]}" "${SEED[@]}" \
    "${TYPES[@]}"
check "daemon: ready" wait_ready 60
check "metrics: every configured type (and view) has a counter at 0" ok_if \
    '[ "$(metric purchase)" = 0 ] && [ "$(metric view)" = 0 ] && [ "$(metric dislike)" = 0 ]'
post_json /interactions '{"user":"fb1","item":"i1"}'
check "post: no type is a view" ok_if 'is 200 && [ "$(metric view)" = 1 ]'
post_json /interactions '[{"user":"fb1","item":"i2","type":"purchase"},{"user":"fb1","item":"i3","type":"purchase"},
                          {"user":"fb2","item":"i2","type":"dislike","timestamp":1700000000},{"user":"fb2","item":"i4","type":null}]'
check "post: typed events accepted" ok_if 'is 200 && has "\"accepted\":4"'
check "metrics: counted by type" ok_if '[ "$(metric purchase)" = 2 ] && [ "$(metric dislike)" = 1 ] && [ "$(metric view)" = 2 ]'
post_json /interactions '[{"user":"fb3","item":"i1"},{"user":"fb3","item":"i2","type":"like"}]'
check "post: an unknown type is 422 problem+json" problem 422
check "post: the problem names the type, the event and the allowed set" \
    has "events\[1\].type: unknown feedback type 'like' (allowed: click=1,purchase=3,dislike=0,view=1)"
post_json /interactions '{"user":"fb3","item":"i1","type":3}'
check "post: a type that is not a string is 422" ok_if 'problem 422 && has "must be a string, one of: click=1"'
check "post: a refused batch stores nothing" ok_if '[ "$(metric view)" = 2 ]'
req GET "/recommend?user=fb1&k=50"
check "recommend: purchased and viewed items excluded by default" ok_if 'is 200 && ! items_of | grep -qxE "i1|i2|i3"'
post_json /interactions '{"user":"fb1","item":"i1","type":"click"}' -H 'Idempotency-Key: k1'
post_json /interactions '{"user":"fb1","item":"i1","type":"purchase"}' -H 'Idempotency-Key: k1'
check "post: the type is part of the idempotent request" ok_if 'problem 422 && has "different request"'

# ============================ retrain with weights ============================
req POST /admin/retrain
check "retrain: trains with the weights (repeated positives)" \
    wait_for 60 'grep -q "\"msg\":\"weighted positives: [0-9]* distinct pairs sampled as [0-9]* per epoch\"" "$T/d.log"'
check "retrain: leaves the weight-0 pair out" wait_for 60 'grep -q "left out 1 training pairs of weight 0" "$T/d.log"'

# ============================ durable, export and import ============================
stop_server
check "restart: stopped cleanly" ok_if '[ "$STOP_RC" = 0 ]'
"$BIN" export --data-dir "$T/d" --out "$T/typed.csv" 2>/dev/null
check "export: types written" ok_if 'head -n 1 "$T/typed.csv" | grep -qx "user,item,timestamp,type" &&
    grep -qx "fb1,i2,[0-9]*,purchase" "$T/typed.csv" && grep -qx "fb2,i2,1700000000,dislike" "$T/typed.csv" &&
    grep -qx "fb1,i1,[0-9]*,view" "$T/typed.csv"'
check "export: the seeded rows are views" ok_if '[ "$(grep -c ",view$" "$T/typed.csv")" -gt 1000 ]'
out=$("$BIN" import "$T/typed.csv" --data-dir "$T/copy" 2>&1); CODE=$?; BODY=$out
check "import: a type outside the set is refused naming line and set" ok_if \
    '[ "$CODE" = 2 ] && has "unknown feedback type .* in column 4 (allowed: view=1)"'
out=$(NCLREC_FEEDBACK_TYPES=click=1,purchase=3,dislike=0 "$BIN" import "$T/typed.csv" --data-dir "$T/copy" 2>&1)
CODE=$?; BODY=$out
check "import: with the daemon's set (environment)" ok_if '[ "$CODE" = 0 ] && has "imported="'
"$BIN" export --data-dir "$T/copy" --out "$T/copy.csv" 2>/dev/null
check "import: the copy exports the same rows and types" cmp -s "$T/typed.csv" "$T/copy.csv"
printf 'u,i,1,view\nu,j,2\n' >"$T/old.csv"
out=$("$BIN" import "$T/old.csv" --data-dir "$T/old" 2>&1); CODE=$?; BODY=$out
"$BIN" export --data-dir "$T/old" --out "$T/old-out.csv" 2>/dev/null
check "import: a row without the type column is a view" ok_if '[ "$CODE" = 0 ] && grep -qx "u,j,2,view" "$T/old-out.csv"'
check "restart: starts again on the same store" start_server "$T/d2.log" --data-dir "$T/d" "${TRAIN[@]}" "${TYPES[@]}"
check "restart: ready" wait_ready 60
req GET "/recommend?user=fb1&k=50"
check "restart: the typed rows are still seen" ok_if 'is 200 && ! items_of | grep -qxE "i1|i2|i3"'
stop_server

# ============================ a replica follows ============================
check "primary: starts" start_server "$T/p.log" --data-dir "$T/p" --role primary "${TRAIN[@]}" "${SEED[@]}" "${TYPES[@]}"
check "primary: ready" wait_ready 60
P=$PID; BP=$B
check "replica: starts" start_server "$T/r.log" --data-dir "$T/r" --role replica --primary "$BP" --http-threads 2 \
    --replica-poll 0.2 --replica-timeout 2 --shutdown-deadline 20 "${TYPES[@]}"
R=$PID; BR=$B
B=$BP; post_json /interactions '[{"user":"rf","item":"i5","type":"purchase"},{"user":"rf","item":"i6"}]'
check "primary: typed events accepted" is 200
req GET "/replication/changes?after=0&limit=10000"
check "changefeed: carries each interaction's feedback type" ok_if \
    'has "\"user\":\"rf\",\"item\":\"i5\",\"timestamp\":[0-9]*,\"feedback\":\"purchase\"" && has "\"item\":\"i6\",\"timestamp\":[0-9]*,\"feedback\":\"view\""'
B=$BR
check "replica: ready" wait_ready 60
check "replica: follows the typed events" wait_for 20 'req GET "/recommend?user=rf&k=50"; is 200 && has "\"source\":\"fold-in\""'
check "replica: excludes the user's items of every type" ok_if '! items_of | grep -qxE "i5|i6"'
check "replica: applied the changefeed without errors" ok_if '! grep -q "replica_poll_failed" "$T/r.log"'
kill -TERM "$R" "$P" 2>/dev/null
for p in "$R" "$P"; do for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done

# ============================ --exclude-types ============================
EXCL=(--exclude-types purchase,click)
check "exclude: a primary excluding purchases and clicks starts" start_server "$T/x.log" --data-dir "$T/x" --role primary \
    "${TRAIN[@]}" "${SEED[@]}" "${TYPES[@]}" "${EXCL[@]}"
check "exclude: ready" wait_ready 60
P=$PID; BP=$B
req GET "/recommend?user=u1&k=3"
read -r VIEWED BOUGHT CLICKED <<<"$(items_all)"
check "exclude: u1 has three recommendations to act on" ok_if '[ -n "$CLICKED" ]'
post_json /interactions "[{\"user\":\"u1\",\"item\":\"$VIEWED\"},{\"user\":\"u1\",\"item\":\"$BOUGHT\",\"type\":\"purchase\"},
                          {\"user\":\"u1\",\"item\":\"$CLICKED\",\"type\":\"click\"}]"
check "exclude: view, purchase and click stored" is 200
shown() { req GET "/recommend?user=u1&k=80"; is 200 && items_of | grep -qx "$VIEWED" && ! items_of | grep -qxE "$BOUGHT|$CLICKED"; }
check "exclude: the viewed item is still recommended, the purchased and clicked ones are not" shown
check "exclude: a replica with the same setting starts" start_server "$T/xr.log" --data-dir "$T/xr" --role replica \
    --primary "$BP" --http-threads 2 --replica-poll 0.2 --replica-timeout 2 --shutdown-deadline 20 "${TYPES[@]}" "${EXCL[@]}"
R=$PID
check "exclude: the replica is ready" wait_ready 60
check "exclude: the replica leaves out the same items" wait_for 20 shown
kill -TERM "$R" 2>/dev/null; for _ in $(seq 1 300); do kill -0 "$R" 2>/dev/null || break; sleep 0.1; done
PID=$P; B=$BP; stop_server
check "exclude: restarts on the same store" start_server "$T/x2.log" --data-dir "$T/x" "${TRAIN[@]}" "${TYPES[@]}" "${EXCL[@]}"
check "exclude: ready again" wait_ready 60
check "exclude: the same answer after the restart" shown
stop_server
check "exclude: without the setting every type is excluded" start_server "$T/x3.log" --data-dir "$T/x" "${TRAIN[@]}" \
    "${TYPES[@]}"
check "exclude: ready (every type)" wait_ready 60
req GET "/recommend?user=u1&k=80"
check "exclude: by default the viewed item is left out too" ok_if 'is 200 && ! items_of | grep -qxE "$VIEWED|$BOUGHT|$CLICKED"'
stop_server

echo "test_feedback_api.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
