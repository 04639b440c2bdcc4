#!/usr/bin/env bash
# make bench-scale: NCL at a real shop's size (docs/scaling.md, section 7). Figures of each
# run go to bench/RESULTS.md by hand, with the load average printed before and after it.
#
# Parts (PARTS, default "estimator ml1m ml100k evalusers ml100k_warm ml1m_warm mid shop estimator_shop shop_exact shop_proto hops warm big"):
#   estimator  bench/ssl_estimator on ML-1M: bias and per-draw error of the structure term's
#              estimators against the exact term, on the initial and on a trained model's E0
#              (the model: the exact ml1m run below, trained first if missing)
#   estimator_shop  the same on the shop part's 100,000-user cold model (after part shop)
#   ml1m       the leaderboard setting of bench/RESULTS.md (all.txt re-split 80/10/10, seed
#              2020), 45 epochs without early stop, for each structure term in ML1M_TERMS
#   ml100k     bench_quality's ML-100K setting (early stopping), for each term in ML100K_TERMS
#   ml100k_warm, ml1m_warm  epochs to plateau of a warm retrain after 1% and 10% new rows
#   evalusers  the ml100k setting (exact term) validated on 471 and 200 of its 943 users
#              (--eval-users), against all
#   shop       100,000 users x 50,000 items (`nclrec synth`, ~3.2 M training pairs): a fixed
#              split, 1% of the rows held back as "new", a cold training on the rest to its
#              plateau, all by the defaults: the size rule picks the structure term, the batch
#              and the plateau (a 0.1% relative gain, patience 2)
#   shop_exact that model trained on for CONT_EPOCHS (2) epochs with the fast term and with the
#              exact term (~19 min per exact epoch on 2 cores): what exact finds beyond the plateau
#   shop_proto the cold run with the prototype term joining at epoch PROTO_WARMUP (4) instead of
#              20, which the shop's plateau (~epoch 12) never reaches
#   hops       bench/batch_hops: the share of the graph a batch's 3 layers need (its L-hop
#              neighbourhood) at the shop's size (batches of 32,768 and 4,096), at 1,000,000
#              users (32,768; the data of part big) and on ML-1M
#   warm       then a warm-started retrain on all rows from that model (--warm; it stops by the
#              warm patience, core/early_stop.h)
#   mid        20,000 users x 10,000 items (~650,000 training pairs), where the exact term is
#              still affordable but 4096 rows are 20% and 41% of the sides, as they are a few
#              percent at a shop's size: the exact term against each of MID_TERMS on the same
#              split, seed and 40-epoch budget, every other setting the fast path's (the
#              size rule's batch of 8,192 and the weights scaled with it, from `nclrec
#              train --settings`)
#              (MID_USERS, MID_ITEMS, MID_MEAN rows per user, MID_EPOCHS: another size and
#              budget; runs named mid-uUSERS[-iITEMS][-mMEAN]-TERM, ITEMS where it is not
#              USERS / 2 and MEAN where it is not 40, unless the size is the default). The
#              term "reference" is the trainer below the size rule's limit: the exact term
#              with NCL's defaults (batch 4,096, lr 1e-3, ssl_reg 1e-7, proto_reg 8e-8),
#              against which the whole fast path (its term, batch and scaled weights) is
#              measured; e.g. MID_TERMS="--ssl-negatives=4096 reference" for the fast path
#              against the reference
#   big        1,000,000 users x 500,000 items (~32 M training pairs): one epoch with the
#              defaults (the size rule's batch of 32,768), s/epoch by part and peak RSS
# At the end, whatever the parts: one line per run log in OUT (metrics, epochs, wall time, peak
# RSS, load) in OUT/summary.txt, the figures that go to bench/RESULTS.md.
# SMALL=1 runs every part at a small size in OUT=$BUILD/scale-small (2,000 x 1,000 and 4,000 x
# 2,000 generated users x items instead of 100,000 and 1,000,000; 2 epochs on ML-1M and
# ML-100K): minutes, to check that the commands work, not figures.
# A term is "exact" or a list of flags joined by '+', e.g. "--ssl-negatives=1024+--ssl-memory=1".
# Every run: `nice -n NICE` (5), THREADS threads (2 for the shop runs; QTHREADS = 1 for the
# quality runs and the 1M epoch, which then run side by side), GNU time's peak RSS, load average before and after; logs in
# OUT (default $BUILD/scale). Runs with a log that ends in a metrics line are kept unless
# FORCE=1.
set -euo pipefail
BUILD=${BUILD:-build}
SMALL=${SMALL:-0}
if [ "$SMALL" = 1 ]; then OUT=${OUT:-$BUILD/scale-small}; else OUT=${OUT:-$BUILD/scale}; fi
PARTS=${PARTS:-estimator ml1m ml100k evalusers ml100k_warm ml1m_warm mid shop estimator_shop shop_exact shop_proto hops warm big}
NICE=${NICE:-5}
THREADS=${THREADS:-2}
QTHREADS=${QTHREADS:-1}
DATA=${DATA:-$BUILD/data}
FORCE=${FORCE:-0}
# (2026-12-07 runs, docs/scaling.md section 7: also --ssl-negatives=1024, with +--ssl-memory=1
# and +--ssl-stratum-size=512+--ssl-memory=1; on ML-100K 128 with the same refinements.)
ML1M_TERMS=${ML1M_TERMS:-exact --ssl-negatives=4096 --ssl-negatives=2048}
ML100K_TERMS=${ML100K_TERMS:-exact --ssl-negatives=1024}
MID_TERMS=${MID_TERMS:---exact-limit=0 --ssl-negatives=4096}
# sizes and epoch budgets (SMALL=1: the check of the commands)
# (SMALL=1: --exact-limit 1e6 so that the generated sets take the size rule's fast path too.)
SHOP_USERS=100000 SHOP_ITEMS=50000 BIG_USERS=1000000 BIG_ITEMS=500000 QEPOCHS="" RULE=""
MID_USERS=${MID_USERS:-20000} MID_ITEMS=${MID_ITEMS:-10000} MID_EPOCHS=${MID_EPOCHS:-40}
MID_MEAN=${MID_MEAN:-40}
if [ "$SMALL" = 1 ]; then
    SHOP_USERS=2000 SHOP_ITEMS=1000 BIG_USERS=4000 BIG_ITEMS=2000 QEPOCHS="--epochs 2 --min-epochs 0"
    MID_USERS=2000 MID_ITEMS=1000 MID_EPOCHS=2
    RULE="--exact-limit 1e6"
fi
NCLREC=$BUILD/nclrec
mkdir -p "$OUT"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

load() { cut -d' ' -f1-3 /proc/loadavg; }

# run TAG ARGS...: `nclrec train ARGS --out OUT/TAG.ncl` under GNU time, everything in
# OUT/TAG.log; kept when the log already has the final metrics line.
run() {
    local tag=$1 log="$OUT/$1.log"
    shift
    if [ "$FORCE" != 1 ] && grep -q '^best_epoch=' "$log" 2>/dev/null; then
        echo "bench-scale: $tag kept ($log)"
        return 0
    fi
    { echo "cmd: nclrec train $* --out $OUT/$tag.ncl"; echo "date: $(date -u)"
      echo "load_before: $(load)"; } > "$log"
    local rc=0
    /usr/bin/time -v nice -n "$NICE" "$NCLREC" train "$@" --out "$OUT/$tag.ncl" >> "$log" 2>&1 ||
        rc=$?
    { echo "rc: $rc"; echo "load_after: $(load)"; echo "date_end: $(date -u)"; } >> "$log"
    echo "bench-scale: $tag: $(grep '^best_epoch=' "$log" || echo "failed (exit $rc)")"
}

# The flags of a term ("exact" has none).
flags() { [ "$1" = exact ] || echo "$1" | tr '+=' '  '; }
name() { echo "$1" | tr -d '-' | tr '+=' '_-'; }

# ML1M_SEED: the training seed of part ml1m (the split stays --split-seed 2020's); a seed other
# than 2020 is in the run's name.
ML1M_SEED=${ML1M_SEED:-2020}
LB="--split 0.8,0.1,0.1 --learning-rate 2e-3 --ssl-reg 1e-6 --alpha 1.5 --epochs 45 \
--min-epochs 45 --seed $ML1M_SEED --timings"
SEEDTAG=""
[ "$ML1M_SEED" = 2020 ] || SEEDTAG="-seed$ML1M_SEED"

part_ml1m() {
    for t in $ML1M_TERMS; do
        # shellcheck disable=SC2046
        run "ml1m-lb-$(name "$t")$SEEDTAG" --train "$DATA/ml1m/all.txt" $LB --threads "$QTHREADS" $(flags "$t") \
            $QEPOCHS
    done
}

# estimate LOG DATA MODEL BATCHES DRAWS: bench/ssl_estimator with the load before and after,
# printed and kept in OUT/LOG.
estimate() {
    { echo "date: $(date -u)"; echo "load_before: $(load)"
      nice -n "$NICE" "$BUILD/bench/ssl_estimator" "$2" "$3" "$4" "$5"
      echo "load_after: $(load)"; } | tee "$OUT/$1"
}

# On the exact ML-1M model of ML1M_SEED (part ml1m's, trained first if missing).
part_estimator() {
    local m=$OUT/ml1m-lb-exact$SEEDTAG.ncl
    [ -s "$m" ] || ML1M_TERMS=exact part_ml1m
    estimate estimator.log "$DATA/ml1m/all.txt" "$m" 3 8
}

# The same bench on the 100,000-user shop's cold model (part shop's, trained first if missing),
# its training file re-split by the bench: 2 batches, 4 draws (each exact step is ~20x ML-1M's).
part_estimator_shop() {
    shop_data
    [ -s "$OUT/u100k-cold99.ncl" ] || part_shop
    estimate estimator-shop.log "$OUT/s100k-train99.csv" "$OUT/u100k-cold99.ncl" 2 4
}

part_ml100k() {
    for t in $ML100K_TERMS; do
        # shellcheck disable=SC2046
        run "ml100k-$(name "$t")" --train "$DATA/ml100k.csv" --split 0.8,0.1,0.1 \
            --num-clusters 100 --seed 2020 --threads "$QTHREADS" --timings $(flags "$t") $QEPOCHS
    done
}

part_evalusers() {
    local n
    for n in 471 200; do
        # shellcheck disable=SC2086
        run "ml100k-evalusers$n" --train "$DATA/ml100k.csv" --split 0.8,0.1,0.1 \
            --num-clusters 100 --seed 2020 --threads "$QTHREADS" --timings --eval-users "$n" $QEPOCHS
    done
}

# The part of mid's names that says how its data differs from USERS x USERS/2 at 40 rows per
# user: "-iITEMS" and "-mMEAN" where they differ, so that another size never reuses a file.
mid_size() {
    [ "$MID_ITEMS" = $((MID_USERS / 2)) ] || printf -- '-i%s' "$MID_ITEMS"
    [ "$MID_MEAN" = 40 ] || printf -- '-m%s' "$MID_MEAN"
}

# The fast path's quality against the exact term where both can run. The settings are the
# size rule's at this size (batch 2 x 4096, learning rate x sqrt(2), ssl_reg and proto_reg / 2),
# as `nclrec train --settings` resolves them on this data, without their structure term, so
# that every run has them and only the term differs: "--exact-limit=0" is the exact term, any
# other term its flags. No early stop: the same 40 epochs for every term, test metrics of the
# best valid epoch. Seed 2020 for the data, the split and the training.
part_mid() {
    local size c t fast tag=mid
    size=$(mid_size)
    c=$OUT/u$((MID_USERS / 1000))k$size.csv
    [ "$MID_USERS" = 20000 ] && [ -z "$size" ] || tag=mid-u$MID_USERS$size
    [ -s "$c" ] || "$NCLREC" synth --users "$MID_USERS" --items "$MID_ITEMS" \
        --mean-per-user "$MID_MEAN" --out "$c"
    local data="--train $c --split 0.8,0.1,0.1 --seed 2020"
    # shellcheck disable=SC2086
    fast=$("$NCLREC" train $data $RULE --settings --quiet | sed 's/--ssl-negatives [0-9]* //')
    echo "bench-scale: mid: the size rule's settings: $fast"
    for t in $MID_TERMS; do
        if [ "$t" = reference ]; then
            # shellcheck disable=SC2086
            run "$tag-reference" $data --exact-limit 0 --epochs "$MID_EPOCHS" \
                --min-epochs "$MID_EPOCHS" --timings --threads "$QTHREADS"
            continue
        fi
        # shellcheck disable=SC2046,SC2086
        run "$tag-$(name "$t")" $data $fast --epochs "$MID_EPOCHS" --min-epochs "$MID_EPOCHS" \
            --timings --threads "$QTHREADS" $(flags "$t")
    done
}

# 100,000 x 50,000 generated, split once per row (awk, seed 2020) into train / valid / test
# 80 / 10 / 10, and train99: train without 1% of all rows (1.25% of train, seed 14), the "new
# interactions" of the warm retrain. A fixed split: a warm retrain whose data is re-split would
# have seen some of its own valid / test rows in training.
shop_data() {
    local c=$OUT/u100k.csv
    [ -s "$c" ] || "$NCLREC" synth --users "$SHOP_USERS" --items "$SHOP_ITEMS" --mean-per-user 40 \
        --out "$c"
    [ -s "$OUT/s100k-train99.csv" ] && return 0
    awk -F, -v o="$OUT/s100k" 'BEGIN { srand(2020) }
        NR == 1 { for (f = 0; f < 4; f++) print > (o "-" (f == 0 ? "valid" : f == 1 ? "test" : f == 2 ? "train" : "train99") ".csv"); next }
        { r = rand(); if (r < 0.1) print > (o "-valid.csv"); else if (r < 0.2) print > (o "-test.csv")
          else { print > (o "-train.csv"); if (rand() >= 0.0125) print > (o "-train99.csv") } }' "$c"
}

# The shop runs: the defaults. The size rule (core/scale_rule.h) picks the fast path's term,
# batch (8 x 4096, learning rate x sqrt(8), structure and prototype weights / 8) and plateau
# (progress = +0.1% valid NDCG@10 over the last progress, patience 2, from epoch 0); the
# 2026-12-07 morning runs gave those flags by hand (--min-epochs 0 --train-batch-size 32768
# --learning-rate 2.83e-3 --ssl-reg 1.25e-8 --proto-reg 1e-8 --min-delta 0.001
# --stopping-step 2). Time budgets (--max-seconds; the best epoch is kept): COLD_BUDGET 2700 s
# and WARM_BUDGET 1200 s; 0 = none.
SHOP="--valid $OUT/s100k-valid.csv --test $OUT/s100k-test.csv --timings $RULE"
COLD_BUDGET=${COLD_BUDGET:-2700}
WARM_BUDGET=${WARM_BUDGET:-1200}

part_shop() {
    shop_data
    # shellcheck disable=SC2086
    run u100k-cold99 --train "$OUT/s100k-train99.csv" $SHOP --threads "$THREADS" \
        --max-seconds "$COLD_BUDGET"
}

# What the exact term still finds beyond the fast path's plateau at 100,000 users, where a whole
# exact training would take a day: part shop's cold model trained on for CONT_EPOCHS (2) more
# epochs on the same data, once with the fast path's term and once with the exact term, every
# other setting the fast path's (`nclrec train --settings`), the warm patience off so both run
# every epoch. A lower bound on the fast path's cost at that size, not the cost itself.
CONT_EPOCHS=${CONT_EPOCHS:-2}
part_shop_exact() {
    shop_data
    [ -s "$OUT/u100k-cold99.ncl" ] || part_shop
    local data="--train $OUT/s100k-train99.csv $SHOP" fast t
    # shellcheck disable=SC2086
    fast=$("$NCLREC" train $data --settings --quiet | sed 's/--ssl-negatives [0-9]* //')
    for t in --ssl-negatives=4096 --exact-limit=0; do
        # shellcheck disable=SC2046,SC2086
        run "u100k-cont-$(name "$t")" $data $fast --threads "$THREADS" --warm-patience 0 \
            --epochs "$CONT_EPOCHS" --min-epochs "$CONT_EPOCHS" --warm "$OUT/u100k-cold99.ncl" \
            $(flags "$t")
    done
}

# The prototype term at 100,000 users: the cold run of part shop plateaus at epoch ~12, before the
# default warm-up of 20 epochs, so the shop's models are trained without it. The same cold run
# with the term joining at epoch PROTO_WARMUP (4), every other setting the defaults.
PROTO_WARMUP=${PROTO_WARMUP:-4}
part_shop_proto() {
    shop_data
    # shellcheck disable=SC2086
    run "u100k-cold99-warmup$PROTO_WARMUP" --train "$OUT/s100k-train99.csv" $SHOP \
        --threads "$THREADS" --max-seconds "$COLD_BUDGET" --warm-up-step "$PROTO_WARMUP"
}

# How much of the graph one batch's passes need (bench/batch_hops.c): the L-hop neighbourhood
# of a batch against whole-graph propagation, at the shop's size for the size rule's batch and
# the default one, at 1,000,000 users for the size rule's batch, and on ML-1M's train.txt at
# the default batch.
part_hops() {
    shop_data
    big_data
    local b
    { echo "date: $(date -u)"
      for b in 32768 4096; do nice -n "$NICE" "$BUILD/bench/batch_hops" "$OUT/s100k-train99.csv" "$b" 3 4; done
      nice -n "$NICE" "$BUILD/bench/batch_hops" "$OUT/s1m-train.csv" 32768 3 4
      if [ -s "$DATA/ml1m/train.txt" ]; then
          nice -n "$NICE" "$BUILD/bench/batch_hops" "$DATA/ml1m/train.txt" 4096 3 4
      fi
    } | tee "$OUT/hops.log"
}

part_warm() {
    shop_data
    [ -s "$OUT/u100k-cold99.ncl" ] || part_shop
    # shellcheck disable=SC2086
    run u100k-warm --train "$OUT/s100k-train.csv" $SHOP --threads "$THREADS" \
        --max-seconds "$WARM_BUDGET" \
        --warm "$OUT/u100k-cold99.ncl"
}

# Warm start on ML-1M's given split: train.txt without 1% / 10% of its pairs (seed 14), a
# 45-epoch cold training on that, then a warm retrain on all of train.txt, early stopping from
# epoch 0. (ML-100K likewise in part_ml100k_warm.)
part_ml1m_warm() {
    local M=$DATA/ml1m f
    local S="--valid $M/valid.txt --test $M/test.txt --learning-rate 2e-3 --ssl-reg 1e-6 --alpha 1.5 \
--seed 2020 --threads $QTHREADS --timings"
    for f in 99 90; do
        awk -v f="$f" 'BEGIN { srand(14); p = (100 - f) / 100 } { printf "%s", $1
            for (i = 2; i <= NF; i++) if (rand() >= p) printf " %s", $i; printf "\n" }' \
            "$M/train.txt" > "$OUT/m1m-train$f.txt"
        # shellcheck disable=SC2086
        run "m1m-cold$f" --train "$OUT/m1m-train$f.txt" $S --epochs 45 --min-epochs 45 \
            $QEPOCHS
        # shellcheck disable=SC2086
        run "m1m-warm$f" --train "$M/train.txt" $S --min-epochs 0 --warm "$OUT/m1m-cold$f.ncl" \
            $QEPOCHS
    done
}

# ML-100K: one fixed per-row split (seed 2020), 300-epoch cold trainings on all of train and on
# train without 1% / 10% of all rows, warm retrains on all of train from those.
part_ml100k_warm() {
    local o=$OUT/m100k f
    awk -F, -v o="$o" 'BEGIN { srand(2020) } { r = rand()
        print > (o (r < 0.1 ? "-valid" : r < 0.2 ? "-test" : "-train") ".csv") }' "$DATA/ml100k.csv"
    awk 'BEGIN { srand(14) } rand() >= 0.0125' "$o-train.csv" > "$o-train99.csv"
    awk 'BEGIN { srand(14) } rand() >= 0.125' "$o-train.csv" > "$o-train90.csv"
    local S="--valid $o-valid.csv --test $o-test.csv --num-clusters 100 --seed 2020 \
--threads $QTHREADS --timings"
    # shellcheck disable=SC2086
    run m100k-cold-all --train "$o-train.csv" $S --epochs 300 --min-epochs 300 $QEPOCHS
    for f in 99 90; do
        # shellcheck disable=SC2086
        run "m100k-cold$f" --train "$o-train$f.csv" $S --epochs 300 --min-epochs 300 $QEPOCHS
        # shellcheck disable=SC2086
        run "m100k-warm$f" --train "$o-train.csv" $S --min-epochs 0 --warm "$OUT/m100k-cold$f.ncl" \
            $QEPOCHS
    done
}

# The 1,000,000 x 500,000 set and 80% of its rows (awk, seed 2020: ~32 M pairs), for parts big
# and hops.
big_data() {
    [ -s "$OUT/u1m.csv" ] || "$NCLREC" synth --users "$BIG_USERS" --items "$BIG_ITEMS" \
        --mean-per-user 40 --out "$OUT/u1m.csv"
    [ -s "$OUT/s1m-train.csv" ] || awk 'BEGIN { srand(2020) } NR == 1 || rand() < 0.8' \
        "$OUT/u1m.csv" > "$OUT/s1m-train.csv"
}

# 1,000,000 x 500,000: one epoch with the defaults, i.e. the size rule's fast path (its term
# and batch, as at 100,000 users), on the 80% with no valid / test split: ranking 1,000,000
# users over 500,000 items would take longer than the epoch, and nothing here measures quality.
part_big() {
    big_data
    # shellcheck disable=SC2086
    run u1m-e1 --train "$OUT/s1m-train.csv" --split 1,0,0 --epochs 1 --threads "$THREADS" \
        --timings $RULE
}

# One line per run log: tag, final metrics, the last epoch's timing, structure term, wall time,
# peak RSS, load.
summary() {
    local log tag
    for log in "$OUT"/*.log; do
        [ -f "$log" ] && grep -q '^cmd: nclrec train' "$log" || continue
        tag=$(basename "$log" .log)
        printf '%s | %s | last %s | %s | wall %s | peak RSS %s KiB | load %s / %s\n' "$tag" \
            "$(grep '^best_epoch=' "$log" || echo 'no final metrics')" \
            "$(grep '^timing' "$log" | tail -1 | cut -d' ' -f2-5)" \
            "$(grep -m1 '^note: size rule\|^note: structure term' "$log" | cut -c7- || true)" \
            "$(grep 'Elapsed (wall' "$log" | awk '{ print $NF }')" \
            "$(grep 'Maximum resident' "$log" | awk '{ print $NF }')" \
            "$(grep '^load_before' "$log" | cut -d' ' -f2)" "$(grep '^load_after' "$log" | cut -d' ' -f2)"
    done | tee "$OUT/summary.txt"
}

for p in $PARTS; do
    case $p in
    estimator|estimator_shop|ml1m|ml100k|evalusers|mid|shop|shop_exact|shop_proto|hops|warm|big|ml1m_warm|ml100k_warm) "part_$p" ;;
    *) echo "bench-scale: unknown part '$p'"; exit 2 ;;
    esac
done
summary
