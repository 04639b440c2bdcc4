#!/usr/bin/env bash
# make bench-quality: test Recall/NDCG@K of NCL and LightGCN (the same engine with ssl_reg =
# proto_reg = 0) on the public MovieLens data, against REFERENCE figures.
#   bench/bench_quality.sh [SUITE...]   SUITE: ml100k (default), ml1m-leaderboard, ml1m-default,
#                                       ml1m-lightgcn, ml1m-fixed
#   SEEDS="2020 2021 2022" sets the model seeds for ml100k (the split seed stays 2020).
# Each run writes $BUILD/quality/<suite>-<model>-<seed>.log; a summary line per model gives the
# mean and the spread (max - min) over seeds.
set -euo pipefail
BUILD=${BUILD:-build}
SEEDS=${SEEDS:-2020 2021 2022}
THREADS=${THREADS:-0}
bench/prepare_data.sh
Q=$BUILD/quality
mkdir -p "$Q"
D=${OUT:-$BUILD/data}

# run NAME SEED ARGS... : one training, its stdout metrics line kept in the log's last line
run() {
    local name=$1 seed=$2; shift 2
    local log=$Q/$name-$seed.log
    if [ -z "${FORCE:-}" ] && grep -q 'recall@10=' "$log.out" 2>/dev/null; then
        echo "$name seed=$seed $(cat "$log.out") (kept from an earlier run; FORCE=1 re-runs)"
        return 0
    fi
    "$BUILD/nclrec" train --seed "$seed" --threads "$THREADS" --out "$Q/$name-$seed.ncl" "$@" \
        > "$log.out" 2> "$log" || { echo "$name seed $seed failed: $(tail -n 1 "$log")"; return 1; }
    cat "$log.out" >> "$log"
    echo "$name seed=$seed $(cat "$log.out")"
}

# summary NAME : mean and spread of each metric over the seeds' logs
summary() {
    cat "$Q/$1"-*.log.out | tr ' ' '\n' | grep -E '^(recall|ndcg)@|^seconds=|^best_epoch=' |
    awk -F= -v name="$1" '{ s[$1] += $2; n[$1]++; if (!($1 in lo) || $2 < lo[$1]) lo[$1] = $2;
                            if (!($1 in hi) || $2 > hi[$1]) hi[$1] = $2; if (!($1 in o)) { o[$1] = ++k; key[k] = $1 } }
        END { printf "%s (%d runs):", name, n[key[1]];
              for (i = 1; i <= k; i++) printf " %s=%.4f±%.4f", key[i], s[key[i]] / n[key[i]], (hi[key[i]] - lo[key[i]]) / 2;
              printf "\n" }'
}

suite_ml100k() {
    [ -s "$D/ml100k.csv" ] || { echo "ml100k: data not found"; return 1; }
    for s in $SEEDS; do
        run ml100k-ncl "$s" --train "$D/ml100k.csv" --split 0.8,0.1,0.1 --num-clusters 100
        run ml100k-lightgcn "$s" --train "$D/ml100k.csv" --split 0.8,0.1,0.1 --ssl-reg 0 --proto-reg 0
    done
    summary ml100k-ncl
    summary ml100k-lightgcn
}

ml1m() { [ -s "$D/ml1m/all.txt" ] || { echo "ml1m: data not found"; return 1; }; }
suite_ml1m_leaderboard() { ml1m; run ml1m-leaderboard 2020 --train "$D/ml1m/all.txt" --split 0.8,0.1,0.1 \
    --learning-rate 2e-3 --ssl-reg 1e-6 --alpha 1.5 ${EXTRA:-}; }
suite_ml1m_default() { ml1m; run ml1m-default 2020 --train "$D/ml1m/all.txt" --split 0.8,0.1,0.1 ${EXTRA:-}; }
suite_ml1m_lightgcn() { ml1m; run ml1m-lightgcn 2020 --train "$D/ml1m/all.txt" --split 0.8,0.1,0.1 \
    --learning-rate 2e-3 --ssl-reg 0 --proto-reg 0 ${EXTRA:-}; }
suite_ml1m_fixed() { ml1m; run ml1m-fixed 2020 --train "$D/ml1m/train.txt" --valid "$D/ml1m/valid.txt" \
    --test "$D/ml1m/test.txt" --learning-rate 2e-3 --ssl-reg 1e-6 --alpha 1.5 ${EXTRA:-}; }

[ $# -gt 0 ] || set -- ml100k
for s in "$@"; do "suite_${s//-/_}"; done
