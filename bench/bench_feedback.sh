#!/usr/bin/env bash
# make bench-feedback: does weighting feedback types help? ML-100K's ratings used as types,
# trained weighted and unweighted on the same split (seed 2020) and the same model seeds; test
# Recall/NDCG@K of the best valid epoch.
#   SEEDS="2020 2021" (model seeds), THREADS=1 per run; the two runs of a seed go side by side.
# Types are the ratings "1".."5" of bench/prepare_data.sh's ml100k-rated.csv (weight column 3):
#   unweighted  1=0,2=0,3=1,4=1,5=1  (ratings >= 3, every one a positive of weight 1: the rows,
#                                      split and numbers of bench_quality.sh ml100k's NCL)
#   weighted    1=0,2=0,3=1,4=2,5=3  (a 4 is sampled twice as often as a 3, a 5 three times)
# Weight 0 leaves a row out before the split, so both runs split the same rows the same way and
# valid/test positives are the ratings >= 3 in both. Logs: $BUILD/feedback/<run>-<seed>.log.
set -euo pipefail
BUILD=${BUILD:-build}
SEEDS=${SEEDS:-2020 2021}
THREADS=${THREADS:-1}
bench/prepare_data.sh
D=${OUT:-$BUILD/data}
Q=$BUILD/feedback
mkdir -p "$Q"
[ -s "$D/ml100k-rated.csv" ] || { echo "ml100k: data not found"; exit 1; }

declare -A TYPES=([unweighted]=1=0,2=0,3=1,4=1,5=1 [weighted]=1=0,2=0,3=1,4=2,5=3)

# run NAME SEED : one training in the background, its stdout metrics line in NAME-SEED.log.out
run() {
    local name=$1 seed=$2 log=$Q/$1-$2.log
    "$BUILD/nclrec" train --train "$D/ml100k-rated.csv" --weight-col 3 \
        --feedback-types "${TYPES[$name]}" --split 0.8,0.1,0.1 --num-clusters 100 \
        --seed "$seed" --threads "$THREADS" --quiet --out "$Q/$name-$seed.ncl" \
        > "$log.out" 2> "$log"
}

echo "$(date -u) machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $SEEDS; do
    run unweighted "$s" & a=$!
    run weighted "$s" & b=$!
    wait $a || { echo "unweighted seed $s failed: $(tail -n 1 "$Q/unweighted-$s.log")"; exit 1; }
    wait $b || { echo "weighted seed $s failed: $(tail -n 1 "$Q/weighted-$s.log")"; exit 1; }
    for n in unweighted weighted; do echo "$n seed=$s $(cat "$Q/$n-$s.log.out")"; done
done
echo "$(date -u) load $(cut -d' ' -f1-3 /proc/loadavg)"
# mean over the seeds of each metric, and weighted / unweighted
for n in unweighted weighted; do cat "$Q/$n"-*.log.out | tr ' ' '\n' | sed "s/^/$n /"; done |
awk '$2 ~ /^(recall|ndcg)@(10|20|50)=|^best_epoch=|^seconds=/ {
         split($2, kv, "="); s[$1, kv[1]] += kv[2]; c[$1, kv[1]]++; if (!(kv[1] in seen)) { seen[kv[1]] = 1; key[++k] = kv[1] } }
     END { for (i = 1; i <= k; i++) { u = s["unweighted", key[i]] / c["unweighted", key[i]];
                                      w = s["weighted", key[i]] / c["weighted", key[i]];
                                      printf "%-12s unweighted %.4f  weighted %.4f  ratio %.3f\n", key[i], u, w, u ? w / u : 0 } }'
