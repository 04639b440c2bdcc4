#!/usr/bin/env bash
# make bench-scaling: how NCL training time and memory grow with the data, and what the sampled
# structure term (--ssl-negatives) saves and costs. Figures and fits: docs/scaling.md.
#
# Parts (PARTS, default "catalogue interactions ml1m-epoch"):
#   catalogue     users and items grow together (items = users / 2) at PER_USER interactions per
#                 user on average: USERS="1250 2500 5000 10000 20000"
#   interactions  interactions per user grow (PER_USERS="10 20 40 80 160") at FIXED_USERS (6000)
#                 users and FIXED_ITEMS (3000) items
#                 Each point: `nclrec synth`, then `nclrec train --epochs EPOCHS (2)
#                 --warm-up-step 0 --num-clusters 100` (every term on from epoch 0), THREADS (2)
#                 threads, each run at `nice -n NICE` (0: the caller's niceness, e.g.
#                 `nice -n 10 make bench-scaling`); the last epoch's timing line is kept, with
#                 peak RSS, wall time and the load average before and after.
#   ml1m-epoch    seconds per ML-1M epoch (given split, as bench-train), exact structure term
#                 against --ssl-negatives NEGATIVES ("1024 256"), same minute, same settings.
#   fits          nothing new: rebuild the tables and fits from the points already under OUT.
#   quality       (not by default: minutes to tens of minutes per run) the RecBole-GNN
#                 leaderboard setting on ML-1M (bench/RESULTS.md: all.txt re-split 80/10/10,
#                 seed 2020) with --ssl-negatives N for each N in NEGATIVES (0 = the exact term),
#                 QUALITY_EPOCHS (45) epochs with no early stop, so runs compare epoch by epoch.
# Then least-squares fits of each part's seconds per epoch and of peak RSS against the cost
# model (docs/scaling.md), with every point's residual.
#
# Output under OUT (default $BUILD/scaling): points.tsv (one row per synthetic point),
# ml1m.tsv, quality.tsv, fits.txt; logs per run. Points with a result are kept unless FORCE=1,
# and the tables are rebuilt from every point under OUT (runs of single parts add up).
# Every run is bounded by TIMEOUT seconds (default 900; QUALITY_TIMEOUT 7200 for quality).
set -euo pipefail
BUILD=${BUILD:-build}
OUT=${OUT:-$BUILD/scaling}
PARTS=${PARTS:-catalogue interactions ml1m-epoch}
EPOCHS=${EPOCHS:-2}
THREADS=${THREADS:-2}
NICE=${NICE:-0}
TIMEOUT=${TIMEOUT:-900}
QUALITY_EPOCHS=${QUALITY_EPOCHS:-45}
QUALITY_TIMEOUT=${QUALITY_TIMEOUT:-7200}
USERS=${USERS:-1250 2500 5000 10000 20000}
PER_USER=${PER_USER:-40}
PER_USERS=${PER_USERS:-10 20 40 80 160}
FIXED_USERS=${FIXED_USERS:-6000}
FIXED_ITEMS=${FIXED_ITEMS:-3000}
NEGATIVES=${NEGATIVES:-1024 256}
ML1M=${ML1M:-$BUILD/data/ml1m}
FORCE=${FORCE:-0}
NCLREC=$BUILD/nclrec
mkdir -p "$OUT/data"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

load() { cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/'; }

# field K=V of the last `timing` line of a log
last_timing() { grep '^timing' "$1" | tail -n 1 | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }

# E[distinct users] and E[distinct items] in a batch of B training pairs drawn without
# replacement from the CSV's rows, ~ sum_x 1 - (1 - c_x / R)^B (the split keeps shares).
distinct_per_batch() {
    awk -F, -v B="$2" 'NR > 1 { u[$1]++; i[$2]++; n++ }
        END { bb = B < 0.8 * n ? B : 0.8 * n; su = 0; si = 0
              for (k in u) su += 1 - exp(bb * log(1 - u[k] / n))
              for (k in i) si += 1 - exp(bb * log(1 - i[k] / n))
              printf "%.1f %.1f\n", su, si }' "$1"
}

# One synthetic point: sweep name, users, items, mean interactions per user.
run_point() {
    local sweep=$1 U=$2 I=$3 X=$4 tag="$1-u$2-i$3-x$4"
    local csv="$OUT/data/u$U-i$I-x$X.csv" log="$OUT/$tag.err" res="$OUT/$tag.row"
    if [ "$FORCE" != 1 ] && [ -s "$res" ]; then return; fi
    [ -s "$csv" ] || "$NCLREC" synth --users "$U" --items "$I" --mean-per-user "$X" --out "$csv"
    local before t0 t1 rc=0
    before=$(load)
    t0=$(date +%s.%N)
    timeout "$TIMEOUT" nice -n "$NICE" "$NCLREC" train --train "$csv" --split 0.8,0.1,0.1 \
        --epochs "$EPOCHS" --warm-up-step 0 --timings --threads "$THREADS" --num-clusters 100 \
        --out "$OUT/$tag.ncl" > "$OUT/$tag.out" 2> "$log" || rc=$?
    t1=$(date +%s.%N)
    if [ "$rc" != 0 ]; then echo "bench-scaling: $tag failed (exit $rc), see $log"; return; fi
    rm -f "$OUT/$tag.ncl"
    # "data: U users, I items; train N, valid N, test N interactions"
    local users items ntrain rss nd
    read -r users items ntrain < <(sed -n 's/^data: \([0-9]*\) users, \([0-9]*\) items; train \([0-9]*\),.*/\1 \2 \3/p' "$log")
    rss=$(tail -n 1 "$OUT/$tag.out" | tr ' ' '\n' | grep '^peak_rss_mb=' | cut -d= -f2)
    nd=$(distinct_per_batch "$csv" 4096)
    local row="$sweep $users $items $X $ntrain $(( (ntrain + 4095) / 4096 )) $nd"
    for k in total prop ssl proto bpr kmeans adam sample eval flops; do
        row="$row $(last_timing "$log" "$k")"
    done
    row="$row $rss $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') $before $(load)"
    echo "$row" | tr ' ' '\t' | tee "$res"
}

# train_to TAG TIMEOUT ARGS...: `nclrec train ARGS --out $OUT/TAG.ncl` at NICE, output in
# $OUT/TAG.out and $OUT/TAG.err; the model file is removed. Fails (with a line) when train did.
train_to() {
    local tag=$1 tmo=$2 rc=0
    shift 2
    timeout "$tmo" nice -n "$NICE" "$NCLREC" train "$@" --out "$OUT/$tag.ncl" \
        > "$OUT/$tag.out" 2> "$OUT/$tag.err" || rc=$?
    if [ "$rc" != 0 ]; then echo "bench-scaling: $tag failed (exit $rc)"; return 1; fi
    rm -f "$OUT/$tag.ncl"
}

# Seconds per ML-1M epoch with the structure term exact (N = 0) or sampled (N > 0).
run_ml1m_epoch() {
    local N=$1 tag="ml1m-epoch-n$1" res="$OUT/ml1m-epoch-n$1.row"
    if [ "$FORCE" != 1 ] && [ -s "$res" ]; then return; fi
    local before
    before=$(load)
    train_to "$tag" "$TIMEOUT" --train "$ML1M/train.txt" --valid "$ML1M/valid.txt" --test "$ML1M/test.txt" \
        --epochs "$EPOCHS" --warm-up-step 0 --timings --threads "$THREADS" --ssl-negatives "$N" || return 0
    local row="$N"
    for k in total prop ssl proto bpr flops; do row="$row $(last_timing "$OUT/$tag.err" "$k")"; done
    row="$row $(tail -n 1 "$OUT/$tag.out" | tr ' ' '\n' | grep '^peak_rss_mb=' | cut -d= -f2)"
    echo "$row $before $(load)" | tr ' ' '\t' | tee "$res"
}

# The leaderboard setting (bench/RESULTS.md) with a sampled structure term, QUALITY_EPOCHS
# epochs without early stopping (so every N is compared at the same epochs). Keeps the run's
# last line, the median seconds per epoch and valid NDCG@10 at epochs 0, 10, 13, 15, 20, 30, 42
# (the exact term's published curve) plus the last.
run_quality() {
    local N=$1 tag="ml1m-leaderboard-n$1" res="$OUT/ml1m-leaderboard-n$1.row"
    if [ "$FORCE" != 1 ] && [ -s "$res" ]; then return; fi
    local before
    before=$(load)
    train_to "$tag" "$QUALITY_TIMEOUT" --train "$ML1M/all.txt" --split 0.8,0.1,0.1 --learning-rate 2e-3 \
        --ssl-reg 1e-6 --alpha 1.5 --epochs "$QUALITY_EPOCHS" --min-epochs "$QUALITY_EPOCHS" \
        --threads "$THREADS" --timings --seed 2020 --ssl-negatives "$N" || return 0
    local spe curve
    spe=$(grep '^timing' "$OUT/$tag.err" | tr ' ' '\n' | grep '^total=' | cut -d= -f2 | sort -g |
          awk '{a[NR] = $1} END { print a[int((NR + 1) / 2)] }')
    curve=$(awk '$1 == "epoch" && $2 ~ /^[0-9]+$/ { for (j = 3; j < NF; j++)
                     if ($j == "ndcg@10") { v[$2] = $(j + 1); last = $2 } }
                 END { split("0 10 13 15 20 30 42", e, " "); s = ""
                       for (k = 1; k <= 7; k++) if (e[k] in v) s = s " valid_ndcg10@" e[k] "=" v[e[k]]
                       print s " valid_ndcg10@" last "=" v[last] }' "$OUT/$tag.err")
    echo "$N $(tail -n 1 "$OUT/$tag.out") median_epoch_s=$spe$curve load_before=$before load_after=$(load)" |
        tee "$res"
}

# Least squares of relative errors (weights 1 / y^2: the points span orders of magnitude)
# y ~ sum_j b_j x_j (no intercept unless a column of ones is given), printing the
# coefficients and each point's relative residual. Input lines: label y x1 x2 ...; points with
# y = 0 (below the timer's resolution) are left out.
FIT_AWK='
{ lab[NR] = $1; y[NR] = $2; p = NF - 2; for (j = 1; j <= p; j++) x[NR, j] = $(j + 2) }
END {
    n = NR
    for (a = 1; a <= p; a++) { r[a] = 0; for (b = 1; b <= p; b++) m[a, b] = 0 }
    for (k = 1; k <= n; k++) { w = y[k] > 0 ? 1 / (y[k] * y[k]) : 0   # relative errors
        for (a = 1; a <= p; a++) {
            r[a] += w * x[k, a] * y[k]; for (b = 1; b <= p; b++) m[a, b] += w * x[k, a] * x[k, b] } }
    for (a = 1; a <= p; a++) {            # Gauss-Jordan with partial pivoting
        piv = a; for (b = a + 1; b <= p; b++) if ((m[b, a] < 0 ? -m[b, a] : m[b, a]) > (m[piv, a] < 0 ? -m[piv, a] : m[piv, a])) piv = b
        for (c = 1; c <= p; c++) { t = m[a, c]; m[a, c] = m[piv, c]; m[piv, c] = t }
        t = r[a]; r[a] = r[piv]; r[piv] = t
        for (b = 1; b <= p; b++) if (b != a) { f = m[b, a] / m[a, a]
            for (c = 1; c <= p; c++) m[b, c] -= f * m[a, c]; r[b] -= f * r[a] } }
    printf "%s:", name; for (a = 1; a <= p; a++) { coef[a] = r[a] / m[a, a]; printf " %s=%.4g", names[a], coef[a] }
    printf "\n"; worst = 0
    for (k = 1; k <= n; k++) { f = 0; for (a = 1; a <= p; a++) f += coef[a] * x[k, a]
        if (y[k] <= 0) { printf "    %-28s measured %10.4g  fit %10.4g  (not fitted)\n", lab[k], y[k], f; continue }
        res = (y[k] - f) / y[k]; printf "    %-28s measured %10.4g  fit %10.4g  residual %+6.1f%%\n", lab[k], y[k], f, 100 * res
        if ((res < 0 ? -res : res) > worst) worst = res < 0 ? -res : res }
    printf "    worst |residual| %.1f%%\n", 100 * worst
}'

# fit NAME "coef names" < lines
fit() { awk -v name="$1" -v cn="$2" 'BEGIN { split(cn, names, " ") }'"$FIT_AWK"; }

# The cost model (d = 64, L = 3, B = 4096, k = 100; nu, ni distinct users / positive items
# of a batch; nb batches; N = U + I nodes; R training pairs):
#   ssl   ~ a * 6 d nb (nu U + ni I)     the all-users / all-items softmax (sgemm-bound)
#   prop  ~ b1 * nb R + b2 * nb N        2L sparse products over 2R edges, N x d buffer passes
#   eval  ~ e * U I                      full ranking of every valid user against every item
#   adam  ~ m * nb N                     dense Adam over all N x d parameters, every batch
#   kmeans ~ k * N                       the prototypes' clustering, once per epoch
#   rss   ~ m0 + m1 N + m2 R             N x d float tables, per-edge graph arrays, data
fits() {
    local P="$OUT/points.tsv"
    [ -s "$P" ] || return 0
    {
        echo "# fits over $(wc -l < "$P") points of $P ($(date -u +%Y-%m-%dT%H:%MZ))"
        echo "# columns: sweep U I per_user R batches nu ni total prop ssl proto bpr kmeans adam sample eval flops rss_mb wall load_before load_after"
        echo "# flops check: trainer's count vs the model's with the estimated nu, ni"
        awk -F'\t' '{ fl = 24 * $5 * 64 * $6 + 12 * $5 * 64 + 6 * 64 * $6 * ($7 * $2 + $8 * $3) + 4 * 64 * 100 * $6 * ($7 + $8)
              printf "    %-28s trainer %.4g  model %.4g  (%+.1f%%)\n", $1 "-u" $2 "-x" $4, $18, fl, 100 * (fl - $18) / $18 }' "$P"
        awk -F'\t' '{ print $1 "-u" $2 "-x" $4, $11, 6 * 64 * $6 * ($7 * $2 + $8 * $3) }' "$P" |
            fit "ssl seconds/epoch ~ a * ssl flops" "a(s/flop)"
        awk -F'\t' '{ print $1 "-u" $2 "-x" $4, $11, $5 * ($2 + $3) }' "$P" |
            fit "ssl seconds/epoch ~ a * R (U + I)  (the large-catalogue form, nu -> B)" "a"
        awk -F'\t' '{ print $1 "-u" $2 "-x" $4, $10, $6 * $5, $6 * ($2 + $3) }' "$P" |
            fit "prop seconds/epoch ~ b1 * nb R + b2 * nb (U + I)" "b1 b2"
        awk -F'\t' '{ print $1 "-u" $2 "-x" $4, $15, $6 * ($2 + $3) }' "$P" |
            fit "adam seconds/epoch ~ m * nb (U + I)  (dense Adam over every row, per batch)" "m"
        awk -F'\t' '{ print $1 "-u" $2 "-x" $4, $14, $2 + $3 }' "$P" |
            fit "kmeans seconds/epoch ~ k * (U + I)  (100 clusters per side)" "k"
        awk -F'\t' '{ print $1 "-u" $2 "-x" $4, $17, $2 * $3 }' "$P" |
            fit "eval seconds/epoch ~ e * U I" "e"
        awk -F'\t' '{ print $1 "-u" $2 "-x" $4, $9, 6 * 64 * $6 * ($7 * $2 + $8 * $3), $6 * $5, $2 * $3, 1 }' "$P" |
            fit "total seconds/epoch ~ a * ssl flops + b1 * nb R + e * U I + c" "a b1 e c"
        awk -F'\t' '$1 == "catalogue" { print $1 "-u" $2 "-x" $4, $19, 1, $2 + $3 }' "$P" |
            fit "peak RSS MiB ~ m0 + m1 (U + I)  (catalogue sweep)" "m0 m1"
        awk -F'\t' '{ print $1 "-u" $2 "-x" $4, $19, 1, $2 + $3, $5 }' "$P" |
            fit "peak RSS MiB ~ m0 + m1 (U + I) + m2 R" "m0 m1 m2"
    } | tee "$OUT/fits.txt"
}

# The tables are rebuilt from every point's .row file under OUT, whichever parts this run
# measured (so runs of single parts add up; remove OUT to start over).
collect() {
    cat "$OUT"/catalogue-*.row "$OUT"/interactions-*.row 2>/dev/null |
        sort -t "$(printf '\t')" -k1,1 -k2,2n -k4,4n > "$OUT/points.tsv" || true
    cat "$OUT"/ml1m-epoch-n*.row 2>/dev/null | sort -n > "$OUT/ml1m.tsv" || true
    cat "$OUT"/ml1m-leaderboard-n*.row 2>/dev/null | sort -n > "$OUT/quality.tsv" || true
}

for part in $PARTS; do
    case $part in
    catalogue)
        for U in $USERS; do run_point catalogue "$U" $(( U / 2 )) "$PER_USER"; done ;;
    interactions)
        for X in $PER_USERS; do run_point interactions "$FIXED_USERS" "$FIXED_ITEMS" "$X"; done ;;
    ml1m-epoch|quality)
        if [ ! -s "$ML1M/train.txt" ]; then
            echo "bench-scaling: $part skipped: no ML-1M under $ML1M (bench/prepare_data.sh)"
            continue
        fi
        if [ "$part" = ml1m-epoch ]; then
            for N in 0 $NEGATIVES; do run_ml1m_epoch "$N"; done
        else
            for N in $NEGATIVES; do run_quality "$N"; done
        fi ;;
    fits) ;;  # nothing to run: the tables and fits below, from the points under OUT
    *) echo "bench-scaling: unknown part '$part'"; exit 2 ;;
    esac
done
collect
fits
