#!/usr/bin/env bash
# concurrency.sh - runs only the tests that exercise the daemon's threads, for `make tsan`
# (mk/tsan.mk builds them with -fsanitize=thread and sets TSAN_OPTIONS), or on any build.
#
#   tests/soak/concurrency.sh [NAME...]
#
# NAMEs are test binaries of $BUILD/tests (test_live_model, test_store, ...) or shell tests:
# tests/test_*.sh by base name, or tests/soak/*.sh by path. Shell tests get BUILD, so the
# daemons they start are $BUILD/nclrec. With no NAME: test_live_model (the refcounted model
# swap), test_store (group commit, concurrent appends), every test_concurrency_*, every
# changefeed (feed) or replica test there is, tests/soak/swap_load.sh (retrains and swaps while
# clients read, write and delete), tests/test_api.sh (its swap under a client loop, SIGTERM
# during writes, and every route once) and tests/test_hostile.sh (slow, oversized and flooding
# clients: connection churn across the HTTP threads, and shutdown with connections open).
#
# SAN_LOG_DIR: a directory the sanitizer writes its reports to (log_path); a test after which
# a report file appears fails, and the reports are printed. Each test's output and summary line
# are shown as tests/run.sh shows them; the last line is "N passed, N failed", and the exit
# status is 1 when anything failed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SAN_LOG_DIR=${SAN_LOG_DIR:-}
passed=0; failed=0

# Default selection, by name pattern so tests added later are picked up.
default_tests() {
    local t
    echo test_live_model
    echo test_store
    for t in tests/test_concurrency_*.c tests/test_*feed*.c tests/test_*replica*.c \
             tests/test_*feed*.sh tests/test_*replica*.sh; do
        [ -f "$t" ] && basename "$t" .c
    done
    echo tests/soak/swap_load.sh
    echo test_api.sh
    echo test_hostile.sh
}

# Sanitizer reports written so far (files under SAN_LOG_DIR).
reports() { [ -n "$SAN_LOG_DIR" ] && find "$SAN_LOG_DIR" -type f 2>/dev/null | sort; }

run_one() { # run_one NAME COMMAND...
    local name=$1; shift
    local out rc line p f before after new
    out=$(mktemp)
    before=$(reports)
    "$@" >"$out" 2>&1; rc=$?
    cat "$out"
    line=$(grep -E ': [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    rm -f "$out"
    p=0; f=0
    if [ -z "$line" ]; then
        echo "FAIL $name: exited $rc without a summary line"; f=1
    else
        p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
        f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then echo "FAIL $name: exited $rc"; f=1; fi
    fi
    after=$(reports)
    new=$(comm -13 <(echo "$before") <(echo "$after") | grep . || true)
    if [ -n "$new" ]; then
        echo "FAIL $name: sanitizer reports:"
        for r in $new; do echo "---- $r"; head -n 80 "$r"; done
        f=$((f + 1))
    fi
    passed=$((passed + p)); failed=$((failed + f))
}

[ $# -gt 0 ] && set -- "$@" || set -- $(default_tests)
for name in "$@"; do
    echo "== $name"
    case $name in
        *.sh)
            if [ -f "$name" ]; then run_one "$name" env BUILD="$BUILD" bash "$name"
            else run_one "$name" env BUILD="$BUILD" bash "tests/$name"; fi ;;
        *)
            if [ -x "$BUILD/tests/$name" ]; then run_one "$name" "$BUILD/tests/$name"
            else echo "FAIL $name: $BUILD/tests/$name was not built"; failed=$((failed + 1)); fi ;;
    esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
