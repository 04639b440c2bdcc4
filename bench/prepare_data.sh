#!/usr/bin/env bash
# Turns the public datasets in $DATA_DIR (default ../shared/data) into files nclrec reads, under
# $OUT (default build/data). Nothing here is committed; it is re-created when missing.
#   ml100k.csv        ML-100K ratings >= 3 as user,item,timestamp
#   ml100k-rated.csv  all ML-100K ratings as user,item,timestamp,rating (bench_feedback.sh)
#   ml1m/{train,valid,test}.txt  ML-1M implicit, the given split (adjacency lists)
#   ml1m/all.txt      the union of the three, for a fresh 80/10/10 split
set -euo pipefail
DATA_DIR=${DATA_DIR:-../shared/data}
OUT=${OUT:-build/data}
mkdir -p "$OUT/ml1m"
if [ -f "$DATA_DIR/ml-100k/u.data.xz" ] && [ ! -s "$OUT/ml100k.csv" ]; then
    xz -dc "$DATA_DIR/ml-100k/u.data.xz" | awk -F'\t' '$3 >= 3 { print $1 "," $2 "," $4 }' \
        > "$OUT/ml100k.csv.tmp" && mv "$OUT/ml100k.csv.tmp" "$OUT/ml100k.csv"
fi
if [ -f "$DATA_DIR/ml-100k/u.data.xz" ] && [ ! -s "$OUT/ml100k-rated.csv" ]; then
    xz -dc "$DATA_DIR/ml-100k/u.data.xz" | awk -F'\t' '{ print $1 "," $2 "," $4 "," $3 }' \
        > "$OUT/ml100k-rated.csv.tmp" && mv "$OUT/ml100k-rated.csv.tmp" "$OUT/ml100k-rated.csv"
fi
if [ -f "$DATA_DIR/ml-1m-implicit/train.txt.xz" ] && [ ! -s "$OUT/ml1m/all.txt" ]; then
    for f in train valid test; do
        xz -dc "$DATA_DIR/ml-1m-implicit/$f.txt.xz" > "$OUT/ml1m/$f.txt"
    done
    cat "$OUT/ml1m/train.txt" "$OUT/ml1m/valid.txt" "$OUT/ml1m/test.txt" > "$OUT/ml1m/all.txt.tmp"
    mv "$OUT/ml1m/all.txt.tmp" "$OUT/ml1m/all.txt"
fi
ls "$OUT" "$OUT/ml1m" >/dev/null
