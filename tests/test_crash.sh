#!/usr/bin/env bash
# test_crash.sh - crash safety of `nclrec serve`: SIGKILL at random moments under write load,
# and kills in the middle of a checkpoint write.
#
# Rounds (CRASH_ROUNDS, default 20): the daemon runs on one data directory while three client
# loops POST interactions (single events, and batches with an Idempotency-Key) and one of them
# also asks for retrains; each loop records every row that got a 200. After a random delay
# (CRASH_SEED seeds it; printed) the daemon gets SIGKILL, and the next round restarts it on the
# same directory. Afterwards:
#   - every round restarted and became ready, no client ever got a status other than 200 or no
#     answer (000) at all, no checkpoint was ever skipped as unreadable;
#   - every acknowledged row is in the store exactly once (`nclrec export`), and every
#     acknowledged Idempotency-Key is still remembered (a retry is answered as a replay);
#   - PRAGMA integrity_check and foreign_key_check pass, and the counters row and the items'
#     popularity agree with the tables (sqlite3);
#   - the daemon serves /readyz 200 and /recommend 200 after the last kill, every checkpoint on
#     disk loads, and no temporary checkpoint file is left behind.
# Checkpoint writes: strace attached to the daemon kills it (SIGKILL injected) at the rename
# that publishes a new checkpoint, and again at the second write() into the temporary file;
# a truncated newest checkpoint is also tried. Each time the restarted daemon removes the
# leftover temporary file with a log line, skips the bad file with a log line, and serves the
# previous checkpoint.
#
# Every loop is bounded in count and time; the whole test takes about 30-60 s.
# Prints "test_crash.sh: P passed, F failed" and exits 1 on any failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=${NCLREC_BIN:-$BUILD/nclrec}
T=$(mktemp -d /tmp/nclrec-crash.XXXXXX)
ROUNDS=${CRASH_ROUNDS:-20}
CRASH_SEED=${CRASH_SEED:-$$}
RANDOM=$CRASH_SEED
START_PREFIX=()
WRITERS=()
. tests/crash/lib.sh

# tests/lib.sh's cleanup, after this round's writers.
cleanup() {
    for p in "${WRITERS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    lib_cleanup
}
trap cleanup EXIT

if ! "$BIN" serve --help >/dev/null 2>&1; then
    echo "not ok $BIN has no working 'serve' command" >&2
    echo "test_crash.sh: 0 passed, 1 failed"
    exit 1
fi
echo "# crash seed $CRASH_SEED (CRASH_SEED=$CRASH_SEED reproduces the kill delays), $ROUNDS rounds"

D=$T/data
# A little more data than the other tests, so a retrain takes long enough to be killed in.
ARGS=(--data-dir "$D" "${TRAIN[@]}" --seed-synthetic --synth-users 300 --synth-items 60 --synth-per-user 10
      --keep-checkpoints 3 --retrain-margin 1)

# ============================ random SIGKILL under write load ============================

# writer ROUND W: POSTs until the daemon is gone (3 failures in a row), at most 400 posts or
# 30 s. Every 4th post is a batch of 3 with an Idempotency-Key; writer 1 asks for a retrain
# every 15 posts. Acknowledged rows go to $T/acked.W ("user,item"), acknowledged keys with
# their body to $T/keys.W, statuses other than 200 and 000 to $T/odd.W.
writer() {
    local r=$1 w=$2 i=0 fails=0 code body key end=$((SECONDS + 30)) u
    while [ $i -lt 400 ] && [ $fails -lt 3 ] && [ $SECONDS -lt $end ]; do
        u="c$r-$w"
        key=""
        if [ $((i % 4)) = 3 ]; then
            key="key-$r-$w-$i"
            body="[{\"user\":\"$u\",\"item\":\"x$r-$w-$i-a\"},{\"user\":\"$u\",\"item\":\"x$r-$w-$i-b\"},{\"user\":\"$u\",\"item\":\"i$((i % 40 + 1))\"}]"
            code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
                   -H "Idempotency-Key: $key" --data-binary "$body" "$B/interactions" 2>/dev/null)
        else
            body="{\"user\":\"$u\",\"item\":\"x$r-$w-$i\"}"
            code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
                   --data-binary "$body" "$B/interactions" 2>/dev/null)
        fi
        case $code in
        200)
            fails=0
            if [ -n "$key" ]; then
                printf '%s,x%s-%s-%s-a\n%s,x%s-%s-%s-b\n%s,i%s\n' "$u" "$r" "$w" "$i" "$u" "$r" "$w" "$i" \
                    "$u" "$((i % 40 + 1))" >>"$T/acked.$w"
                printf '%s\t%s\n' "$key" "$body" >>"$T/keys.$w"
            else
                echo "$u,x$r-$w-$i" >>"$T/acked.$w"
            fi ;;
        000) fails=$((fails + 1)) ;;
        *) fails=0; echo "round $r writer $w post $i: $code" >>"$T/odd.$w" ;;
        esac
        if [ "$w" = 1 ] && [ $((i % 15)) = 7 ]; then
            code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -X POST "$B/admin/retrain" 2>/dev/null)
            case $code in 202|000) ;; *) echo "round $r retrain request: $code" >>"$T/odd.$w" ;; esac
        fi
        i=$((i + 1))
    done
}

restarts_failed=0; not_ready=0; during_retrain=0; skipped_logs=0
for r in $(seq 1 "$ROUNDS"); do
    if ! start_server "$T/round$r.log" "${ARGS[@]}"; then
        restarts_failed=$((restarts_failed + 1)); echo "round $r: no start" >&2; tail -n 3 "$T/round$r.log" >&2
        continue
    fi
    wait_ready || { not_ready=$((not_ready + 1)); echo "round $r: not ready: $CODE $BODY" >&2; }
    WRITERS=()
    for w in 1 2 3; do writer "$r" "$w" & WRITERS+=($!); done
    delay_ms=$((300 + RANDOM % 1200))
    sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
    kill -KILL "$PID"; wait "$PID" 2>/dev/null
    wait "${WRITERS[@]}"; WRITERS=()
    # informational: was a retrain running when the kill came?
    starts=$(grep -c '"event":"retrain_start"' "$T/round$r.log"); ends=$(grep -c '"event":"retrain_end"' "$T/round$r.log")
    [ "$starts" -gt "$ends" ] && during_retrain=$((during_retrain + 1))
    grep -q '"event":"checkpoint_skipped"' "$T/round$r.log" && skipped_logs=$((skipped_logs + 1))
done
cat "$T"/acked.* 2>/dev/null | sort >"$T/acked"
cat "$T"/keys.* 2>/dev/null >"$T/keys"
cat "$T"/odd.* 2>/dev/null >"$T/odd"
n_acked=$(wc -l <"$T/acked")
echo "# $n_acked rows acknowledged over $ROUNDS rounds; $during_retrain kills landed during a retrain"
check "rounds: the daemon restarted after every SIGKILL ($restarts_failed failed)" [ "$restarts_failed" = 0 ]
check "rounds: ready after every restart ($not_ready not)" [ "$not_ready" = 0 ]
check "rounds: enough writes were acknowledged to mean something ($n_acked)" [ "$n_acked" -ge $((ROUNDS * 10)) ]
BODY=$(head -c 300 "$T/odd")
check "rounds: no answer other than 200 or none at all ($(wc -l <"$T/odd") odd)" [ ! -s "$T/odd" ]
check "rounds: no checkpoint was ever found unreadable at a restart ($skipped_logs)" [ "$skipped_logs" = 0 ]
BODY=$(grep -h '"event":"fatal"' "$T"/round*.log | head -c 300)
check "rounds: no fatal error at any start" [ -z "$BODY" ]

# ---- after the last kill: ready, serving, idempotency records survived ----
check "final: daemon starts after the last kill" start_server "$T/final.log" "${ARGS[@]}"
check "final: /readyz 200" wait_ready
req GET "/recommend?user=u1&k=5"; check "final: /recommend 200 for a seeded user" ok_if 'is 200 && has "\"items\":\[{"'
req GET "/recommend?user=c$ROUNDS-2&k=5"; check "final: /recommend 200 for a user written between kills" is 200
replays=0; keys_tried=0
while IFS=$'\t' read -r key body; do
    keys_tried=$((keys_tried + 1))
    post_json /interactions "$body" -H "Idempotency-Key: $key"
    is 200 && has '"replayed":true' && replays=$((replays + 1))
done < <(awk 'NR % 7 == 1' "$T/keys" | head -n 25)
check "final: acknowledged Idempotency-Keys survived the kills ($replays of $keys_tried retries replayed)" \
    ok_if '[ "$keys_tried" -gt 0 ] && [ "$replays" = "$keys_tried" ]'
stop_server TERM
check "final: SIGTERM exits 0" [ "$STOP_RC" = 0 ]

# ---- every acknowledged row is in the store, once ----
"$BIN" export --data-dir "$D" --out "$T/export.csv" 2>"$T/export.err"; CODE=$?; BODY=$(head -c 300 "$T/export.err")
check "store: export works" is 0
tail -n +2 "$T/export.csv" | cut -d, -f1,2 | sort >"$T/stored"
missing=$(comm -23 "$T/acked" "$T/stored" | wc -l)
BODY=$(comm -23 "$T/acked" "$T/stored" | head -n 5 | tr '\n' ' ')
check "store: all $n_acked acknowledged rows are stored (missing=$missing)" [ "$missing" = 0 ]
# (rows with an "x" item are unique by construction; the "i" items repeat on purpose)
twice=$(uniq -d "$T/stored" | comm -12 - "$T/acked" | grep -c ',x')
check "store: no acknowledged row was stored twice ($twice)" [ "$twice" = 0 ]

# ---- the database file is consistent ----
DB=$D/nclrec.db
if command -v sqlite3 >/dev/null; then
    BODY=$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1)
    check "sqlite: integrity_check ok" [ "$BODY" = ok ]
    BODY=$(sqlite3 "$DB" 'PRAGMA foreign_key_check' 2>&1)
    check "sqlite: foreign_key_check finds nothing" [ -z "$BODY" ]
    BODY=$(sqlite3 "$DB" "SELECT (SELECT n_interactions FROM counters) = (SELECT count(*) FROM interactions),
        (SELECT n_users FROM counters) = (SELECT count(*) FROM users),
        (SELECT n_items FROM counters) = (SELECT count(*) FROM items),
        (SELECT last_seq FROM counters) >= max((SELECT coalesce(max(seq), 0) FROM interactions),
                                               (SELECT coalesce(max(seq), 0) FROM deletions))" 2>&1)
    check "sqlite: the counters row agrees with the tables" [ "$BODY" = "1|1|1|1" ]
    BODY=$(sqlite3 "$DB" "SELECT count(*) FROM items i WHERE pop <>
        (SELECT count(DISTINCT user_id) FROM interactions x WHERE x.item_id = i.id)" 2>&1)
    check "sqlite: every item's popularity agrees with its interactions" [ "$BODY" = 0 ]
else
    not_run "sqlite: integrity and consistency checks" "the sqlite3 command-line tool is not installed"
fi

# ---- checkpoints ----
bad_ckpt=""
for f in "$D"/models/model-*.nclrec; do
    "$BIN" eval --model "$f" --train "$T/export.csv" >/dev/null 2>&1 || bad_ckpt="$bad_ckpt $(basename "$f")"
done
BODY=$(ls "$D/models")
check "checkpoints: every checkpoint on disk loads [$bad_ckpt]" ok_if '[ -z "$bad_ckpt" ] && ls "$D"/models/model-*.nclrec >/dev/null 2>&1'
check "checkpoints: no temporary file is left after a restart" ok_if '! ls "$D/models" | grep -q "\.tmp\."'

# ============================ SIGKILL inside a checkpoint write ============================

newest() { ls "$D"/models/model-*.nclrec | sort | tail -n 1; }
LAST_KILLED="" # version of the previous kill's unwritten checkpoint
version_of() { basename "$1" .nclrec | sed 's/^model-0*//'; }

# kill_in_write NAME STRACE_ARGS...: starts the daemon, attaches strace with the given
# injection, asks for a retrain and expects the daemon to die by SIGKILL; then checks what a
# restart makes of the leftovers. The newest checkpoint before the kill must be served again.
kill_in_write() {
    local tag=$1; shift
    local before; before=$(newest)
    cp "$before" "$T/before.nclrec"
    check "$tag: daemon starts" start_server "$T/$tag.log" "${ARGS[@]}" || return
    local v; v=$(version_of "$before")
    # the new model's version is above v and above every version the store recorded as
    # handed out, which includes those of retrains killed before their checkpoint was
    # written (at most one per kill above): watch the temporary files of the next 40
    local paths=() n
    for n in $(seq $((v + 1)) $((v + 40))); do
        paths+=(-P "$(printf '%s/models/model-%020d.nclrec.tmp.%d' "$D" "$n" "$PID")")
    done
    strace -f -qq -o /dev/null -p "$PID" "$@" "${paths[@]}" 2>"$T/strace.err" & local sp=$!
    local traced=0
    for _ in $(seq 1 100); do # every thread traced (at most 10 s)
        traced=1
        for s in /proc/"$PID"/task/*/status; do
            grep -q '^TracerPid:[[:space:]]*0$' "$s" 2>/dev/null && traced=0
        done
        [ "$traced" = 1 ] && break
        sleep 0.1
    done
    CODE=$traced; BODY=$(head -c 300 "$T/strace.err")
    check "$tag: strace attached to every thread" [ "$traced" = 1 ]
    exec 3>&2 2>/dev/null # the shell's own "Killed" notice about the daemon is expected here
    req POST /admin/retrain
    for _ in $(seq 1 300); do alive || break; sleep 0.1; done # at most 30 s
    local survived=0
    alive && survived=1 && kill -KILL "$PID"
    wait "$PID"; local rc=$?
    wait "$sp"
    exec 2>&3 3>&-
    CODE=$rc; BODY=$(tail -n 2 "$T/$tag.log")
    check "$tag: the daemon died by the injected SIGKILL inside the write (status $rc)" \
        ok_if '[ "$rc" = 137 ] && [ "$survived" = 0 ]' 
    local tmp; tmp=$(ls "$D"/models/model-*.nclrec.tmp."$PID" 2>/dev/null | head -n 1)
    check "$tag: the temporary file was left behind ($(basename "${tmp:-none}"))" ok_if '[ -n "$tmp" ] && [ -f "$tmp" ]'
    local kv; kv=$(basename "${tmp:-x}" | sed -n 's/^model-0*\([0-9]*\)\.nclrec\.tmp\..*/\1/p')
    [ -n "$LAST_KILLED" ] && check "$tag: its version ($kv) is above the killed one before it ($LAST_KILLED), never written" \
        ok_if '[ -n "$kv" ] && [ "$kv" -gt "$LAST_KILLED" ]'
    LAST_KILLED=$kv
    check "$tag: the previous checkpoint is untouched" cmp -s "$before" "$T/before.nclrec"
    check "$tag: no new checkpoint appeared" [ "$(newest)" = "$before" ]
    check "$tag: restart after the kill" start_server "$T/$tag-restart.log" "${ARGS[@]}"
    check "$tag: restart is ready" wait_ready
    check "$tag: the leftover temporary file was removed with a log line" \
        ok_if '[ -n "$tmp" ] && [ ! -e "$tmp" ] && grep -q "\"event\":\"checkpoint_temp_removed\".*$(basename "$tmp")" "$T/$tag-restart.log"'
    req GET /model; check "$tag: the previous checkpoint (version $v) is served" has "\"version\":$v,"
    stop_server TERM
}

if ! command -v strace >/dev/null; then
    not_run "checkpoint kills" "strace is not installed (it injects the SIGKILL at the write)"
elif ! strace -qq -o /dev/null true 2>/dev/null; then
    not_run "checkpoint kills" "strace cannot trace here (ptrace is not permitted)"
else
    # killed at the rename that would publish the new checkpoint: the file is complete but
    # not yet in place
    kill_in_write "kill-at-rename" -e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:signal=KILL
    # killed at the second write() into the temporary file: a partial file
    kill_in_write "kill-mid-write" -e trace=write -e inject=write:signal=KILL:when=2
fi

# ---- a truncated newest checkpoint (a disk that lost the end of a file) ----
prev=$(ls "$D"/models/model-*.nclrec | sort | tail -n 2 | head -n 1)
cur=$(newest)
truncate -s $(($(stat -c %s "$cur") / 2)) "$cur"
check "truncated: daemon starts" start_server "$T/trunc.log" "${ARGS[@]}"
check "truncated: the bad file is skipped with a log line" grep -q "\"event\":\"checkpoint_skipped\".*$(basename "$cur")" "$T/trunc.log"
req GET /model; check "truncated: the previous checkpoint is served" has "\"version\":$(version_of "$prev"),"
CODE=$(metric nclrec_checkpoint_read_errors_total); check "truncated: nclrec_checkpoint_read_errors_total is 1" is 1
req GET "/recommend?user=u1&k=3"; check "truncated: /recommend 200" is 200
stop_server TERM

echo "# $SECONDS s"
finish test_crash.sh
