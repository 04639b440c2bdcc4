#!/usr/bin/env bash
# run_fuzzer.sh NAME... - runs the libFuzzer harnesses built by mk/fuzz.mk, one after the other,
# each for FUZZ_SECONDS of wall time at nice 10, and prints per harness the executions run, the
# crash inputs written and the distinct crash sites among them. Called by `make fuzz`.
#
# libFuzzer runs in fork mode with -ignore_crashes=1: a crash (a sanitizer report or a broken
# harness contract) is saved to $FUZZ_BUILD/crashes/NAME/crash-<sha1> and fuzzing goes on, so a
# known, still open bug does not stop the search for others. New corpus entries are kept in
# $FUZZ_BUILD/corpus/NAME/ (read first next time; the committed seeds in tests/fuzz/corpus/NAME/
# are never written). The full log is $FUZZ_BUILD/fuzz_NAME.log. FUZZ_FLAGS adds libFuzzer
# options. Exits 1 when any harness crashed, so CI can use it.
set -u
cd "$(dirname "$0")/../.."
B=${FUZZ_BUILD:-build/fuzz}
S=${FUZZ_SECONDS:-60}
FLAGS=${FUZZ_FLAGS:-}
any_crash=0
summary=$(mktemp) seen=$(mktemp) sites_f=$(mktemp)
trap 'rm -f "$summary" "$seen" "$sites_f"' EXIT
printf '%-11s %11s %8s %13s %13s %11s\n' harness executions exec/s crash-inputs crash-sites \
    corpus >"$summary"
for h in "$@"; do
    bin=$B/fuzz_$h corpus=$B/corpus/$h crashes=$B/crashes/$h log=$B/fuzz_$h.log
    if [ ! -x "$bin" ]; then
        echo "run_fuzzer.sh: $bin is not built (make fuzz-build)" >&2
        exit 2
    fi
    mkdir -p "$corpus" "$crashes"
    dict=()
    [ -f "tests/fuzz/$h.dict" ] && dict=("-dict=tests/fuzz/$h.dict")
    find "$crashes" -type f | sort >"$seen"
    echo "== fuzz_$h: ${S}s, log $log"
    # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of options
    nice -n 10 "$bin" -fork=1 -ignore_crashes=1 -max_total_time="$S" -rss_limit_mb=2048 \
        -artifact_prefix="$crashes/" "${dict[@]}" $FLAGS "$corpus" "tests/fuzz/corpus/$h" \
        </dev/null >"$log" 2>&1
    rc=$?
    last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1)
    execs=$(echo "$last" | sed -nE 's/^#([0-9]+):.*/\1/p')
    rate=$(echo "$last" | sed -nE 's/.*exec\/s ([0-9]+).*/\1/p')
    # Each new crash input is run once more to name its site: the sanitizer's SUMMARY line or
    # the harness's broken contract (fork mode does not log crashes met while loading seeds).
    : >"$sites_f"
    for f in $(find "$crashes" -type f | sort | comm -13 "$seen" -); do
        site=$("$bin" -runs=1 "$f" </dev/null 2>&1 |
               grep -m 1 -E '^SUMMARY: |fuzz contract broken|ERROR: libFuzzer' |
               sed -E 's/0x[0-9a-f]+//g; s/(fuzz contract broken: [^:]*):.*/\1/')
        echo "${site:-$(basename "$f" | cut -d- -f1): does not reproduce alone}" >>"$sites_f"
    done
    inputs=$(wc -l <"$sites_f")
    sites=$(sort -u "$sites_f" | wc -l)
    echo "$last"
    sort "$sites_f" | uniq -c | sort -rn
    if [ "$rc" -ne 0 ] && [ -z "$execs" ]; then
        echo "fuzz_$h failed to start (exit $rc); see $log"
        any_crash=1
    fi
    [ "$inputs" -gt 0 ] && any_crash=1
    printf '%-11s %11s %8s %13s %13s %11s\n' "$h" "${execs:-0}" "${rate:-0}" "$inputs" "$sites" \
        "$(find "$corpus" -type f | wc -l)" >>"$summary"
done
echo
cat "$summary"
[ "$any_crash" -eq 0 ]
