# tests/crash/lib.sh - what tests/test_crash.sh and tests/test_faults.sh share beyond
# tests/lib.sh: a small quick training, checks this machine cannot do, metrics. Sourced, not run.
# The caller sets T (a temporary directory it removes) and BIN before sourcing.

. tests/lib.sh
notrun=0
STOP_WAIT=20

# not_run NAME REASON: a check this machine cannot do; never counted as passed. Printed as a
# "skip" line, which tests/run.sh counts and reports in the run's last lines.
not_run() {
    notrun=$((notrun + 1)); echo "skip $1 (NOT RUN here): $2"
}

# Small, quick training: these tests check crash and fault handling, not model quality.
TRAIN=(--embedding-size 8 --epochs 2 --min-epochs 1 --stopping-step 1 --num-clusters 4
       --warm-up-step 1 --train-batch-size 512 --retrain-threads 1 --http-threads 4
       --retrain-interval 0 --shutdown-deadline 10 --retrain-nice 0)
SEED=(--seed-synthetic --synth-users 60 --synth-items 40 --synth-per-user 8)

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
