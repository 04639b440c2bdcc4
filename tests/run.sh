#!/usr/bin/env bash
# Runs every test binary in build/tests (and every tests/test_*.sh) and adds up their
# "<name>: P passed, F failed" lines. A binary that crashes or prints no summary counts as one
# failure; "skip ..." lines are counted and reported. Ends with the line "N passed, N failed" and exits 1 if anything failed.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
passed=0; failed=0; skipped=0
run_one() {
    local name=$1; shift
    local out rc line p f
    out=$(mktemp)
    "$@" >"$out" 2>&1; rc=$?
    cat "$out"
    skipped=$((skipped + $(grep -c '^skip ' "$out")))
    line=$(grep -E ': [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    rm -f "$out"
    if [ -z "$line" ]; then
        echo "FAIL $name: exited $rc without a summary line"
        failed=$((failed + 1)); return
    fi
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
    f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited $rc"; f=1
    fi
    passed=$((passed + p)); failed=$((failed + f))
}
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    echo "== $(basename "$t")"
    run_one "$(basename "$t")" "$t"
done
for t in tests/test_*.sh; do
    [ -f "$t" ] || continue
    echo "== $(basename "$t")"
    run_one "$(basename "$t")" env BUILD="$BUILD" bash "$t"
done
[ "$skipped" -gt 0 ] && echo "$skipped skipped (the lines starting with \"skip \" above say why)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
