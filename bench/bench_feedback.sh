#!/usr/bin/env bash
# make bench-feedback: does weighting feedback types help? ML-100K's ratings used as types,
# trained weighted and unweighted on the same split (seed 2020) and the same model seeds; test
# Recall/NDCG@K of the best valid epoch.
#   SEEDS="2020 2021 2022" (model seeds), THREADS=1 per run; the runs of a seed go side by side.
#   RUNS="unweighted weighted doubled" (the default) picks the runs.
# Types are the ratings "1".."5" of bench/prepare_data.sh's ml100k-rated.csv (weight column 3):
#   unweighted  1=0,2=0,3=1,4=1,5=1  (ratings >= 3, every one a positive of weight 1: the rows,
#                                      split and numbers of bench_quality.sh ml100k's NCL)
#   weighted    1=0,2=0,3=1,4=2,5=3  (a 4 is sampled twice as often as a 3, a 5 three times)
#   doubled     1=0,2=0,3=2,4=2,5=2  (every positive twice: as many steps per epoch as weighted,
#                                      x2.00 against x1.93, without favouring any rating)
# Weight 0 leaves a row out before the split, so every run splits the same rows the same way and
# valid/test positives are the ratings >= 3 in all. Logs: $BUILD/feedback/<run>-<seed>.log.
set -euo pipefail
BUILD=${BUILD:-build}
SEEDS=${SEEDS:-2020 2021 2022}
THREADS=${THREADS:-1}
RUNS=${RUNS:-unweighted weighted doubled}
bench/prepare_data.sh
D=${OUT:-$BUILD/data}
Q=$BUILD/feedback
mkdir -p "$Q"
[ -s "$D/ml100k-rated.csv" ] || { echo "ml100k: data not found"; exit 1; }

declare -A TYPES=([unweighted]=1=0,2=0,3=1,4=1,5=1 [weighted]=1=0,2=0,3=1,4=2,5=3 [doubled]=1=0,2=0,3=2,4=2,5=2)

# run NAME SEED : one training, its stdout metrics line in NAME-SEED.log.out
run() {
    local name=$1 seed=$2 log=$Q/$1-$2.log
    "$BUILD/nclrec" train --train "$D/ml100k-rated.csv" --weight-col 3 \
        --feedback-types "${TYPES[$name]}" --split 0.8,0.1,0.1 --num-clusters 100 \
        --seed "$seed" --threads "$THREADS" --quiet --out "$Q/$name-$seed.ncl" \
        > "$log.out" 2> "$log"
}

echo "$(date -u) machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $SEEDS; do
    pids=()
    for n in $RUNS; do run "$n" "$s" & pids+=($!); done
    i=0
    for n in $RUNS; do
        wait "${pids[$i]}" || { echo "$n seed $s failed: $(tail -n 1 "$Q/$n-$s.log")"; exit 1; }
        i=$((i + 1))
    done
    for n in $RUNS; do echo "$n seed=$s $(cat "$Q/$n-$s.log.out")"; done
done
echo "$(date -u) load $(cut -d' ' -f1-3 /proc/loadavg)"
# mean over SEEDS of each metric per run, and its ratio to the unweighted run's mean
for n in $RUNS; do for s in $SEEDS; do tr ' ' '\n' < "$Q/$n-$s.log.out" | sed "s/^/$n /"; done; done |
awk -v runs="$RUNS" '$2 ~ /^(recall|ndcg)@(10|20|50)=|^best_epoch=|^seconds=/ {
         split($2, kv, "="); s[$1, kv[1]] += kv[2]; c[$1, kv[1]]++; if (!(kv[1] in seen)) { seen[kv[1]] = 1; key[++k] = kv[1] } }
     END { nr = split(runs, r, " ");
           for (i = 1; i <= k; i++) { line = sprintf("%-12s", key[i]); base = 0;
               if (c["unweighted", key[i]]) base = s["unweighted", key[i]] / c["unweighted", key[i]];
               for (j = 1; j <= nr; j++) { m = s[r[j], key[i]] / c[r[j], key[i]];
                   line = line sprintf(" %s %.4f", r[j], m); if (base && r[j] != "unweighted") line = line sprintf(" (x%.3f)", m / base) }
               print line } }'
