#!/usr/bin/env bash
# test_faults.sh - `nclrec serve` under real faults: each must be answered with a clear 503
# (problem+json whose detail names the fault) or a log line, AND show in /metrics; the current
# model must go on being served; and the daemon must recover by itself once the fault is gone.
#
# Faults and how they are made (real system behaviour, no test hooks in the daemon):
#   disk full          the data directory is a 4 MiB tmpfs mounted in a private mount
#                      namespace of the daemon (unshare -m), filled up with a file; writes then
#                      fail with ENOSPC. Without permission to mount, the part is NOT RUN.
#   read-only database chattr +i on nclrec.db and nclrec.db-wal (root ignores permission bits;
#                      an immutable file refuses root too: EPERM). Also at start: refused with
#                      exit status 1 and "read-only" named. NOT RUN where chattr +i fails.
#   model dir unwritable  chattr +i on DATA_DIR/models: a retrain cannot write its checkpoint;
#                      after a restart the next model's version is above the unwritten one.
#   corrupt checkpoints   a flipped byte in the newest (checksum mismatch), a file of garbage
#                      and a temporary file left by a dead writer; then every checkpoint corrupt.
#   failing retrain    the daemon's address-space limit (prlimit --as) lowered to what it uses
#                      plus 2 MiB, so training cannot allocate its matrices (ENOMEM); raised
#                      again to recover. NOT RUN where prlimit cannot change the limit.
#   cancelled retrain  SIGTERM while a retrain runs: exit 0 within the deadline, the run logged
#                      as cancelled, no checkpoint written, the previous model served after.
#
# Prints "test_faults.sh: P passed, F failed" and exits 1 on any failure; a part that cannot
# run on this machine prints "skip NAME (NOT RUN here): REASON", is not counted as passed, and
# tests/run.sh counts it among the skips of the run's last lines.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$(realpath "${NCLREC_BIN:-$BUILD/nclrec}") # absolute: nsenter runs it from another directory
T=$(mktemp -d /tmp/nclrec-faults.XXXXXX)
START_PREFIX=()
. tests/crash/lib.sh

# tests/lib.sh's cleanup, after the immutable flags this test sets are cleared.
cleanup() {
    chattr -R -i "$T" 2>/dev/null
    lib_cleanup
}
trap cleanup EXIT

if ! "$BIN" serve --help >/dev/null 2>&1; then
    echo "not ok $BIN has no working 'serve' command" >&2
    echo "test_faults.sh: 0 passed, 1 failed"
    exit 1
fi

# wait_for COMMAND...: retries the command every 0.1 s for at most 15 s.
wait_for() {
    for _ in $(seq 1 150); do "$@" && return 0; alive || return 1; sleep 0.1; done
    return 1
}
ready_now() { req GET /readyz; is 200; }
writable_now() { [ "$(metric nclrec_store_writable)" = 1 ]; }
model_version() { req GET /model; grep -o '"version":[0-9]*' <<<"$BODY" | head -n 1 | cut -d: -f2; }
retrain_ends() { grep -c '"event":"retrain_end"' "$1"; }
# retrain_and_wait LOG: asks for a retrain and waits (at most 30 s) for its retrain_end line.
retrain_and_wait() {
    local n0; n0=$(retrain_ends "$1")
    req POST /admin/retrain
    for _ in $(seq 1 300); do [ "$(retrain_ends "$1")" -gt "$n0" ] && return 0; alive || return 1; sleep 0.1; done
    return 1
}
# post_until_refused: batches of 50 new rows until one is refused (at most 60 posts); the
# acknowledged rows go to $T/acked.
post_until_refused() {
    local n=0 batch j
    while [ $n -lt 60 ]; do
        batch=$(for j in $(seq 1 50); do printf '{"user":"full%d","item":"fill-%d-%d-%s"},' "$n" "$n" "$j" padding-padding-padding; done)
        post_json /interactions "[${batch%,}]"
        is 200 || return 0
        for j in $(seq 1 50); do echo "full$n,fill-$n-$j-padding-padding-padding"; done >>"$T/acked"
        n=$((n + 1))
    done
}
: >"$T/acked"

# ============================ disk full ============================
MNT=$T/tmpfs
mkdir -p "$MNT"
if ! unshare -m --propagation private sh -c 'mount -t tmpfs -o size=1m nclrec-probe "$0" && umount "$0"' "$MNT" 2>"$T/mount.err"; then
    not_run "disk full" "cannot mount a tmpfs in a private mount namespace here: $(head -c 200 "$T/mount.err")"
else
    START_PREFIX=(unshare -m --propagation private sh -c 'mount -t tmpfs -o size=4m nclrec-faults "$0" && exec "$@"' "$MNT")
    check "full: daemon starts on a 4 MiB tmpfs" start_server "$T/full.log" --data-dir "$MNT" "${TRAIN[@]}" "${SEED[@]}" \
        --retrain-margin 1
    START_PREFIX=()
    check "full: ready" wait_ready
    in_ns() { nsenter -t "$PID" -m "$@"; }
    v0=$(model_version)
    batch=$(for j in $(seq 1 50); do printf '{"user":"before-full","item":"b%d"},' "$j"; done)
    post_json /interactions "[${batch%,}]"; check "full: writes work before the disk fills" is 200
    for j in $(seq 1 50); do echo "before-full,b$j"; done >>"$T/acked"
    errs0=$(metric nclrec_store_errors_total)
    in_ns dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null
    BODY=$(in_ns df -k "$MNT" | tail -n 1)
    check "full: the file system is full" ok_if '[ "$(awk "{print \$4}" <<<"$BODY")" = 0 ]'
    post_until_refused
    check "full: a write is refused with 503 problem+json" problem 503
    check "full: the detail names the full disk" has 'full'
    check "full: the 503 has Retry-After" grep -qi '^retry-after:' "$T/hdrs"
    check "full: the log names the full disk" grep -q '"event":"store_error".*full' "$T/full.log"
    errs1=$(metric nclrec_store_errors_total)
    CODE=$errs1; check "full: nclrec_store_errors_total counts it ($errs0 -> $errs1)" [ "$errs1" -gt "$errs0" ]
    req GET "/recommend?user=u1&k=5"; check "full: /recommend still 200 from the current model" ok_if 'is 200 && has "\"version\":$v0,"'
    for _ in $(seq 1 20); do # a catalogue write on the full disk: refused as a store fault, never a 4xx
        req PUT /items/i1 -H 'Content-Type: application/json' --data-binary '{"categories":["full"]}'
        [ "$CODE" = 200 ] || break
    done
    check "full: a catalogue write is refused with 503 problem+json" problem 503
    req GET "/items/i1"; check "full: the catalogue still reads" is 200
    # a retrain on the full disk cannot record its model's version in the store (nor write a
    # checkpoint): it fails, logged and counted, and the current model goes on serving
    f0=$(metric 'nclrec_retrain_runs_total{outcome="failed"}')
    check "full: a retrain finishes" retrain_and_wait "$T/full.log"
    check "full: it fails, saying the new model's version could not be recorded" \
        grep -q '"event":"retrain_end".*"outcome":"failed".*cannot record the new model' "$T/full.log"
    CODE=$(metric 'nclrec_retrain_runs_total{outcome="failed"}')
    check "full: nclrec_retrain_runs_total{outcome=\"failed\"} counts it" is $((f0 + 1))
    req GET "/recommend?user=u1&k=5"; check "full: /recommend 200 from the same model after the retrain" \
        ok_if 'is 200 && has "\"version\":$v0,"'
    # the fault goes away: the store is writable again by itself, writes and checkpoints work
    in_ns rm -f "$MNT/filler"
    check "full: writable again without any client write" wait_for writable_now
    check "full: /readyz 200 again" wait_for ready_now
    post_json /interactions '{"user":"after-full","item":"i1"}'; check "full: writes accepted again" is 200
    req PUT /items/i1 -H 'Content-Type: application/json' --data-binary '{"categories":["after-full"]}'
    check "full: catalogue writes accepted again" ok_if 'is 200 && has after-full'
    echo "after-full,i1" >>"$T/acked"
    check "full: a retrain after the fault" retrain_and_wait "$T/full.log"
    v1=$(model_version)
    check "full: its checkpoint is on disk (version $v1)" in_ns test -s "$(printf '%s/models/model-%020d.nclrec' "$MNT" "$v1")"
    CODE=$(metric nclrec_checkpoint_write_errors_total); check "full: no checkpoint write failed" is 0
    # every acknowledged row is there and the file is sound
    in_ns "$BIN" export --data-dir "$MNT" --out /dev/stdout 2>"$T/export.err" | tail -n +2 | cut -d, -f1,2 | sort >"$T/stored"
    sort "$T/acked" >"$T/acked.s"
    missing=$(comm -23 "$T/acked.s" "$T/stored" | wc -l)
    BODY=$(tail -c 300 "$T/export.err")
    check "full: all $(wc -l <"$T/acked") acknowledged rows are stored (missing=$missing)" [ "$missing" = 0 ]
    if command -v sqlite3 >/dev/null; then
        BODY=$(in_ns sqlite3 "$MNT/nclrec.db" 'PRAGMA integrity_check' 2>&1)
        check "full: integrity_check ok after the full disk" [ "$BODY" = ok ]
    else
        not_run "full: integrity_check" "the sqlite3 command-line tool is not installed"
    fi
    stop_server TERM; check "full: SIGTERM exits 0" [ "$STOP_RC" = 0 ]
fi

# ============================ read-only database ============================
D=$T/main
check "main: daemon starts" start_server "$T/main.log" --data-dir "$D" "${TRAIN[@]}" "${SEED[@]}"
check "main: ready" wait_ready
touch "$T/chattr-probe"
if ! chattr +i "$T/chattr-probe" 2>"$T/chattr.err"; then
    not_run "read-only database and model directory" "chattr +i does not work on $T: $(head -c 200 "$T/chattr.err")"
    CHATTR=0
else
    chattr -i "$T/chattr-probe"; CHATTR=1
fi
if [ "$CHATTR" = 1 ]; then
    v0=$(model_version)
    post_json /interactions '{"user":"ro","item":"i1"}'   # the WAL exists and has room
    errs0=$(metric nclrec_store_errors_total)
    chattr +i "$D/nclrec.db" "$D/nclrec.db-wal"
    post_json /interactions '{"user":"ro","item":"i2"}'
    check "ro: a write is refused with 503 problem+json" problem 503
    check "ro: the detail names the read-only file" has 'read-only'
    check "ro: the log names it" grep -q '"event":"store_error".*read-only' "$T/main.log"
    errs1=$(metric nclrec_store_errors_total)
    CODE=$errs1; check "ro: nclrec_store_errors_total counts it ($errs0 -> $errs1)" [ "$errs1" -gt "$errs0" ]
    CODE=$(metric nclrec_store_writable); check "ro: nclrec_store_writable is 0" is 0
    req GET /readyz; check "ro: /readyz 503 says the store is not writable" ok_if 'problem 503 && has "not writable"'
    req GET "/recommend?user=u1&k=5"; check "ro: /recommend still 200 from the current model" ok_if 'is 200 && has "\"version\":$v0,"'
    req GET "/recommend?user=ro&k=5"; check "ro: reads of the store still work" is 200
    chattr -i "$D/nclrec.db" "$D/nclrec.db-wal"
    check "ro: writable again without any client write" wait_for writable_now
    check "ro: /readyz 200 again" wait_for ready_now
    post_json /interactions '{"user":"ro","item":"i3"}'; check "ro: writes accepted again" is 200
    stop_server TERM; check "ro: SIGTERM exits 0" [ "$STOP_RC" = 0 ]
    # at start: refused, naming the problem
    chattr +i "$D/nclrec.db"
    start_server "$T/ro-start.log" --data-dir "$D" "${TRAIN[@]}"
    for _ in $(seq 1 100); do alive || break; sleep 0.1; done
    alive && kill -KILL "$PID"
    wait "$PID" 2>/dev/null; CODE=$?; BODY=$(tail -n 2 "$T/ro-start.log")
    check "ro: a daemon on a read-only database exits 1 at start" is 1
    check "ro: saying the database is read-only" has 'read-only'
    chattr -i "$D/nclrec.db"
fi

# ============================ model directory unwritable ============================
if [ "$CHATTR" = 1 ]; then
    check "models: daemon starts" start_server "$T/models.log" --data-dir "$D" "${TRAIN[@]}" --retrain-margin 1
    check "models: ready" wait_ready
    v0=$(model_version)
    n0=$(ls "$D/models" | wc -l)
    chattr +i "$D/models"
    check "models: a retrain finishes" retrain_and_wait "$T/models.log"
    check "models: the failed checkpoint write is logged, naming the file" \
        grep -q "\"event\":\"checkpoint_write_failed\".*model-0*$((v0 + 1))\.nclrec" "$T/models.log"
    CODE=$(metric nclrec_checkpoint_write_errors_total); check "models: nclrec_checkpoint_write_errors_total is 1" is 1
    req GET "/recommend?user=u1&k=5"; check "models: /recommend still 200" is 200
    check "models: nothing was added to the directory" [ "$(ls "$D/models" | wc -l)" = "$n0" ]
    chattr -i "$D/models"
    # after a restart the newest file (v0) is served; the next model must not reuse v0 + 1,
    # which was served (and seen by clients) but never written
    stop_server TERM
    check "models: restart" start_server "$T/models2.log" --data-dir "$D" "${TRAIN[@]}" --retrain-margin 1
    check "models: ready after the restart" wait_ready
    CODE=$(model_version); check "models: the newest file is served after the restart (version $v0)" is "$v0"
    check "models: a retrain once the directory is writable" retrain_and_wait "$T/models2.log"
    v2=$(model_version)
    check "models: its version ($v2) is above the one served without a file ($((v0 + 1)))" [ "$v2" = $((v0 + 2)) ]
    check "models: its checkpoint is written (version $v2)" [ -s "$(printf '%s/models/model-%020d.nclrec' "$D" "$v2")" ]
    CODE=$(metric nclrec_checkpoint_write_errors_total); check "models: no checkpoint error after the restart" is 0
    stop_server TERM
fi

# ============================ corrupt checkpoints at start ============================
# Needs two checkpoints (a damaged newest and a sound previous one): where the read-only part
# could not run (chattr unsupported) only one exists yet, so make one more.
if [ "$(ls "$D"/models/model-*.nclrec | wc -l)" -lt 2 ]; then
    check "corrupt: a second checkpoint to fall back on" ok_if \
        'start_server "$T/second.log" --data-dir "$D" "${TRAIN[@]}" --retrain-margin 1 && wait_ready && retrain_and_wait "$T/second.log"'
    stop_server TERM
fi
ck() { printf '%s/models/model-%020d.nclrec' "$D" "$1"; }
newest=$(ls "$D"/models/model-*.nclrec | sort | tail -n 1)
vn=$(basename "$newest" .nclrec | sed 's/^model-0*//')
prev=$(ls "$D"/models/model-*.nclrec | sort | tail -n 2 | head -n 1)
vp=$(basename "$prev" .nclrec | sed 's/^model-0*//')
size=$(stat -c %s "$newest")
printf '\xff' | dd of="$newest" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null # one byte in the middle
head -c 5000 /dev/urandom >"$(ck $((vn + 1)))"                                      # garbage, newer still
cp "$prev" "$(ck $((vn + 2))).tmp.999999"                                            # a dead writer's temp file
# and one named with the daemon's own pid, as a container's daemon (always pid 1) leaves it
START_PREFIX=(sh -c 'cp "$1" "$2.tmp.$$" && shift 2 && exec "$@"' own-pid "$prev" "$(ck $((vn + 3)))")
check "corrupt: daemon starts" start_server "$T/corrupt.log" --data-dir "$D" "${TRAIN[@]}"
START_PREFIX=()
check "corrupt: the garbage file is skipped with a log line" \
    grep -q "\"event\":\"checkpoint_skipped\".*model-0*$((vn + 1))\.nclrec.*not an nclrec checkpoint" "$T/corrupt.log"
check "corrupt: the damaged newest is skipped with a log line" \
    grep -q "\"event\":\"checkpoint_skipped\".*model-0*$vn\.nclrec.*checksum" "$T/corrupt.log"
check "corrupt: the dead writer's temporary file is removed with a log line" \
    ok_if '[ ! -e "$(ck $((vn + 2))).tmp.999999" ] && grep -q "\"event\":\"checkpoint_temp_removed\".*tmp.999999" "$T/corrupt.log"'
check "corrupt: so is a temporary file named with the daemon's own pid ($PID)" \
    ok_if '[ ! -e "$(ck $((vn + 3))).tmp.$PID" ] && grep -q "\"event\":\"checkpoint_temp_removed\".*tmp.$PID\"" "$T/corrupt.log"'
check "corrupt: ready" wait_ready
CODE=$(metric nclrec_checkpoint_read_errors_total); check "corrupt: nclrec_checkpoint_read_errors_total counts both" is 2
req GET /model; check "corrupt: the previous checkpoint (version $vp) is served" has "\"version\":$vp,"
req GET "/recommend?user=u1&k=5"; check "corrupt: /recommend 200" is 200
stop_server TERM
# every checkpoint corrupt: the daemon trains a new model from the store, numbered above them
for f in "$D"/models/model-*.nclrec; do truncate -s 100 "$f"; done
n_bad=$(ls "$D"/models/model-*.nclrec | wc -l)
check "all-corrupt: daemon starts" start_server "$T/allbad.log" --data-dir "$D" "${TRAIN[@]}"
check "all-corrupt: every one of the $n_bad files is skipped" [ "$(grep -c '"event":"checkpoint_skipped"' "$T/allbad.log")" = "$n_bad" ]
check "all-corrupt: ready with a model trained from the store" wait_ready
CODE=$(metric nclrec_checkpoint_read_errors_total)
check "all-corrupt: nclrec_checkpoint_read_errors_total counts every file" is "$n_bad"
req GET /model; check "all-corrupt: its version is above every file's ($((vn + 2)))" has "\"version\":$((vn + 2)),"
stop_server TERM

# ============================ a retrain that fails: out of memory ============================
# The daemon serves the dim-8 checkpoint; a retrain at dim 4096 needs a few MiB of new
# matrices, which the lowered address-space limit refuses.
check "oom: daemon starts" start_server "$T/oom.log" --data-dir "$D" "${TRAIN[@]}" --embedding-size 4096 --retrain-margin 1
check "oom: ready" wait_ready
v0=$(model_version)
vm=$(awk '/^VmSize:/ {print $2}' "/proc/$PID/status")
if grep -qa __asan_init "$BIN"; then
    not_run "failing retrain" "this binary is built with AddressSanitizer, whose allocator aborts instead of failing an allocation under an address-space limit"
elif ! prlimit --pid "$PID" --as=$(((vm + 2048) * 1024)):unlimited 2>"$T/prlimit.err"; then
    not_run "failing retrain" "prlimit cannot lower the daemon's address-space limit: $(head -c 200 "$T/prlimit.err")"
else
    check "oom: the retrain finishes" retrain_and_wait "$T/oom.log"
    check "oom: it is logged as failed, out of memory" grep -q '"event":"retrain_end","outcome":"failed".*out of memory' "$T/oom.log"
    CODE=$(metric 'nclrec_retrain_runs_total{outcome="failed"}'); check "oom: nclrec_retrain_runs_total{outcome=\"failed\"} is 1" is 1
    req GET "/recommend?user=u1&k=5"; check "oom: /recommend 200 from the current model" ok_if 'is 200 && has "\"version\":$v0,"'
    req GET /readyz; check "oom: still ready" is 200
    prlimit --pid "$PID" --as=unlimited:unlimited
    check "oom: a retrain once memory is back" retrain_and_wait "$T/oom.log"
    CODE=$(metric 'nclrec_retrain_runs_total{outcome="swapped"}'); check "oom: it swapped a new model in" is 1
    req GET /model; check "oom: the new model is served" has "\"version\":$((v0 + 1)),"
fi
stop_server TERM; check "oom: SIGTERM exits 0" [ "$STOP_RC" = 0 ]

# ============================ a retrain cancelled by SIGTERM ============================
# --warm-patience 0: the retrain must still be running when SIGTERM comes. It starts warm from
# the newest model when that has the same width (not after the oom section's 4096-wide one,
# which ASan builds skip), and a warm start's patience ignores --min-epochs.
check "cancel: daemon starts" start_server "$T/cancel.log" --data-dir "$D" "${TRAIN[@]}" --epochs 100000 --min-epochs 100000 \
    --warm-patience 0
check "cancel: ready" wait_ready
v0=$(model_version)
files0=$(ls "$D/models")
req POST /admin/retrain
for _ in $(seq 1 100); do grep -q '"event":"retrain_start"' "$T/cancel.log" && break; sleep 0.1; done
sleep 0.5 # well into its 100000 epochs
req GET /readyz; check "cancel: ready while retraining" is 200
t0=$(date +%s%N)
stop_server TERM
ms=$((($(date +%s%N) - t0) / 1000000))
check "cancel: SIGTERM during a retrain exits 0" [ "$STOP_RC" = 0 ]
check "cancel: within the shutdown deadline of 10 s (${ms} ms)" [ "$ms" -lt 10000 ]
check "cancel: the run is logged as cancelled" grep -q '"event":"retrain_end","outcome":"cancelled"' "$T/cancel.log"
check "cancel: no checkpoint was written" [ "$(ls "$D/models")" = "$files0" ]
check "cancel: restart" start_server "$T/cancel2.log" --data-dir "$D" "${TRAIN[@]}"
req GET /model; check "cancel: the same model (version $v0) is served after the restart" has "\"version\":$v0,"
stop_server TERM

finish test_faults.sh
