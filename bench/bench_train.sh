#!/usr/bin/env bash
# make bench-train: seconds per ML-1M training epoch split by part, the epoch's FLOP rate next to
# the machine's sgemm rate measured in the same run, and peak RSS.
#   EPOCHS (default 5) epochs are run with the proto term on from epoch 0 (--warm-up-step 0) so
#   every epoch pays for the E-step and all four losses; the median epoch is reported.
set -euo pipefail
BUILD=${BUILD:-build}
EPOCHS=${EPOCHS:-5}
THREADS=${THREADS:-0}
OUT=${OUT:-$BUILD/data}
bench/prepare_data.sh
D=$OUT/ml1m
[ -s "$D/train.txt" ] || { echo "bench-train: ML-1M not found under ${DATA_DIR:-../shared/data}"; exit 1; }
LOG=$BUILD/bench-train.log
"$BUILD/bench/sgemm_rate" 4096 6040 64 "$THREADS" | tee "$LOG.sgemm"
"$BUILD/nclrec" train --train "$D/train.txt" --valid "$D/valid.txt" --test "$D/test.txt" \
    --out "$BUILD/bench-train.ncl" --epochs "$EPOCHS" --warm-up-step 0 --threads "$THREADS" \
    --timings 2> "$LOG" > "$LOG.out"
"$BUILD/bench/sgemm_rate" 4096 6040 64 "$THREADS" | tee -a "$LOG.sgemm"
# median of one key=value field over the epochs' timing lines
median() { grep '^timing' "$LOG" | tr ' ' '\n' | grep "^$1=" | cut -d= -f2 | sort -g |
           awk '{a[NR] = $1} END { if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
line="median over $(grep -c '^timing' "$LOG") epochs (s):"
for k in total prop ssl proto bpr kmeans adam sample eval; do line="$line $k=$(median $k)"; done
echo "$line"
sg=$(cut -d' ' -f1 "$LOG.sgemm" | cut -d= -f2 | sort -g | tail -n 1)
fl=$(median flops)
if [ -n "$fl" ]; then
    awk -v f="$fl" -v t="$(median total)" -v s="$sg" 'BEGIN { r = f / t / 1e9;
        printf "epoch %.0f GFLOP in %.2f s = %.1f GFLOP/s; sgemm %.1f GFLOP/s in the same run (ratio %.2f)\n", f / 1e9, t, r, s, r / s }'
fi
cat "$LOG.out"
