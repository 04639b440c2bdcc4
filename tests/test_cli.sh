#!/usr/bin/env bash
# test_cli.sh - the command line as a user meets it: --help, refused flags and values, every
# kind of bad data file (exit 2 and a message naming the file and line), a small training run
# whose printed metrics `nclrec eval` reproduces from the saved model, and a corrupted model.
set -u
BUILD=${BUILD:-build}
NCLREC=$BUILD/nclrec
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0; failed=0

ok() { passed=$((passed + 1)); echo "ok $1"; }
bad() { failed=$((failed + 1)); echo "not ok $1: $2"; }

# expect NAME CODE PATTERN -- CMD...: exit code CODE and PATTERN (grep -E) in stdout+stderr
expect() {
    local name=$1 code=$2 pat=$3; shift 4
    local out rc
    out=$(timeout 300 "$@" 2>&1); rc=$?
    if [ "$rc" -ne "$code" ]; then bad "$name" "exit $rc, expected $code; output: $(echo "$out" | tail -n 3)"; return; fi
    if ! echo "$out" | grep -qE -- "$pat"; then bad "$name" "output lacks /$pat/: $(echo "$out" | tail -n 3)"; return; fi
    ok "$name"
}

expect help 0 'usage: nclrec' -- "$NCLREC" --help
expect unknown-command 2 "unknown command 'frobnicate'" -- "$NCLREC" frobnicate
expect train-help 0 '--ssl-reg' -- "$NCLREC" train --help
expect eval-help 0 'usage: nclrec eval' -- "$NCLREC" eval --help
expect unknown-flag 2 "'--bogus'" -- "$NCLREC" train --train x --out y --bogus 1
expect bad-int 2 'epochs' -- "$NCLREC" train --train x --out y --epochs abc
expect out-of-range 2 'learning_rate' -- "$NCLREC" train --train x --out y --learning-rate -1
expect bad-split 2 'split' -- "$NCLREC" train --train x --out y --split 0.5,0.5
expect split-and-files 2 'not both' -- "$NCLREC" train --train x --valid v --out y --split 0.8,0.1,0.1
expect no-out 2 '--out' -- "$NCLREC" train --train x

# bad data files: each refused with exit 2, naming the file (and line where there is one)
expect missing-file 2 "$T/nope.csv" -- "$NCLREC" train --train "$T/nope.csv" --out "$T/m.ncl"
: > "$T/empty.csv"
expect empty-file 2 "empty.csv" -- "$NCLREC" train --train "$T/empty.csv" --out "$T/m.ncl"
printf 'u1,i1\nu2,i2\nu3\n' > "$T/short.csv"
expect malformed-line 2 "short.csv:3" -- "$NCLREC" train --train "$T/short.csv" --out "$T/m.ncl"
printf 'u1,i1\n\000\001\002binary\n' > "$T/bin.csv"
expect binary-file 2 "bin.csv" -- "$NCLREC" train --train "$T/bin.csv" --out "$T/m.ncl"
printf 'u1,i1\nu2,%0300d\n' 7 > "$T/long.csv"
expect id-too-long 2 "long.csv:2" -- "$NCLREC" train --train "$T/long.csv" --out "$T/m.ncl"
printf 'u1,i1,100\nu2,i2,notatime\n' > "$T/ts.csv"
expect bad-timestamp 2 "ts.csv:2" -- "$NCLREC" train --train "$T/ts.csv" --out "$T/m.ncl"
expect directory 2 "$T" -- "$NCLREC" train --train "$T" --out "$T/m.ncl"

# a small synthetic data set, trained for a few epochs
"$NCLREC" synth --users 300 --items 120 --communities 6 --mean-per-user 15 --out "$T/syn.csv" \
    && ok synth-writes-csv || bad synth-writes-csv "nclrec synth failed"
expect synth-bad-flag 2 "'--nope'" -- "$NCLREC" synth --nope 3
FAST="--epochs 4 --min-epochs 0 --warm-up-step 1 --num-clusters 10 --train-batch-size 512 --threads 2"
out=$(timeout 300 "$NCLREC" train --train "$T/syn.csv" --out "$T/m.ncl" --curve "$T/curve.csv" $FAST 2>"$T/train.err")
rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -qE 'recall@10=0\.[0-9]{4} .*ndcg@50=0\.[0-9]{4}'; then
    ok train-prints-metrics
else
    bad train-prints-metrics "exit $rc: $out $(tail -n 3 "$T/train.err")"
fi
grep -q '^epoch   3' "$T/train.err" && ok train-logs-epochs || bad train-logs-epochs "$(head -n 5 "$T/train.err")"
# --curve: a header and one row per epoch run, numbered 0.., with the losses of the log line
hdr='epoch,bpr,reg,ssl,proto,valid_ndcg10,best_ndcg10,best_epoch,epoch_seconds,seconds'
if [ "$(head -n 1 "$T/curve.csv" 2>/dev/null)" = "$hdr" ] && [ "$(tail -n +2 "$T/curve.csv" | cut -d, -f1 | tr '\n' ' ')" = "0 1 2 3 " ] &&
   [ "$(sed -n 's/^epoch   3  bpr \([0-9.]*\) .*/\1/p' "$T/train.err" | awk '{printf "%.4f", $1}')" = \
     "$(tail -n 1 "$T/curve.csv" | cut -d, -f2 | awk '{printf "%.4f", $1}')" ]; then
    ok train-curve-csv
else
    bad train-curve-csv "$(cat "$T/curve.csv" 2>&1 | head -n 6)"
fi
expect train-curve-unwritable 1 "cannot write --curve $T/no/such/dir.csv" -- \
    "$NCLREC" train --train "$T/syn.csv" --out "$T/m2.ncl" --curve "$T/no/such/dir.csv" $FAST
[ -s "$T/m.ncl" ] && ok train-writes-model || bad train-writes-model "no $T/m.ncl"

# eval of the saved model on the same data and split reproduces the test metrics
want=$(echo "$out" | tr ' ' '\n' | grep -E '^(recall|ndcg)@' | tr '\n' ' ')
got=$("$NCLREC" eval --model "$T/m.ncl" --train "$T/syn.csv" 2>&1 | grep '^test ' | cut -d' ' -f2- | tr ' ' '\n' | grep -E '^(recall|ndcg)@' | tr '\n' ' ')
[ -n "$want" ] && [ "$want" = "$got" ] && ok eval-reproduces-test-metrics \
    || bad eval-reproduces-test-metrics "train: '$want' eval: '$got'"

# --warm: every row of the same data starts from the saved model; a missing model is refused;
# the sampled structure term with strata and memory trains and records its settings
# feedback types: a weight column of all ones gives the unweighted numbers exactly (one thread,
# so the sums run in one order); type names stand for weights; bad values name the line
ONE="--epochs 3 --min-epochs 0 --warm-up-step 1 --num-clusters 10 --train-batch-size 512 --threads 1"
metrics() { grep -o 'recall@10=.*'; }
awk 'NR == 1 { print $0 ",weight"; next } { print $0 ",1" }' "$T/syn.csv" > "$T/ones.csv"
a=$("$NCLREC" train --train "$T/syn.csv" --out "$T/u.ncl" $ONE --quiet | metrics)
b=$("$NCLREC" train --train "$T/ones.csv" --weight-col 3 --out "$T/o.ncl" $ONE --quiet | metrics)
[ -n "$a" ] && [ "$a" = "$b" ] && ok weights-all-ones-unweighted || bad weights-all-ones-unweighted "'$a' vs '$b'"
awk -F, 'NR == 1 { print $0 ",type"; next } { print $0 "," (NR % 3 ? "view" : "purchase") }' "$T/syn.csv" > "$T/typed.csv"
expect weights-by-type 0 'weighted positives: [0-9]+ distinct pairs sampled as [0-9]+ per epoch' -- \
    "$NCLREC" train --train "$T/typed.csv" --weight-col 3 --feedback-types view=1,purchase=3 --out "$T/t.ncl" $ONE
printf 'u1,i1,1,view\nu1,i2,2,view\nu2,i1,3,like\n' > "$T/like.csv"
expect unknown-type 2 "like.csv:3: unknown feedback type 'like' in column 4 \(allowed: view=1,purchase=3\)" -- \
    "$NCLREC" train --train "$T/like.csv" --weight-col 3 --feedback-types view=1,purchase=3 --out "$T/t.ncl"
printf 'u1,i1,1,2\nu1,i2,2,x\n' > "$T/badw.csv"
expect bad-weight 2 "badw.csv:2: bad weight 'x' in column 4" -- \
    "$NCLREC" train --train "$T/badw.csv" --weight-col 3 --out "$T/t.ncl"
expect types-need-column 2 'needs --weight-col' -- \
    "$NCLREC" train --train "$T/typed.csv" --feedback-types view=1 --out "$T/t.ncl"
expect bad-types 2 "weight '1000' is not a whole number" -- \
    "$NCLREC" train --train "$T/typed.csv" --weight-col 3 --feedback-types view=1000 --out "$T/t.ncl"
expect warm-start 0 'warm start: 420 of 420 rows' -- "$NCLREC" train --train "$T/syn.csv" \
    --out "$T/w.ncl" $FAST --warm "$T/m.ncl"
expect warm-missing 2 "nope.ncl" -- "$NCLREC" train --train "$T/syn.csv" --out "$T/w.ncl" \
    --warm "$T/nope.ncl"
expect fast-structure-term 0 'ssl_negatives=64 ssl_stratum_size=40 ssl_memory=1' -- \
    "$NCLREC" train --train "$T/syn.csv" --out "$T/f.ncl" $FAST --ssl-negatives 64 \
    --ssl-stratum-size 40 --ssl-memory 1
# the size rule's fast path (here forced by --exact-limit 1): its line lists the whole setting,
# the batch x2 (~3,600 pairs leave 64 batches of 32 rows, not of 64); --ssl-negatives keeps
# one's own batch and stop
RULE="--epochs 2 --min-epochs 0 --warm-up-step 1 --num-clusters 10 --train-batch-size 16 --threads 1 --exact-limit 1"
expect size-rule-fast-path 0 'fast path \(ssl_negatives=4096 train_batch_size=32 learning_rate=0\.001414 ssl_reg=5e-08 proto_reg=4e-08 min_delta=0\.001 stopping_step=2 min_epochs=0\)' -- \
    "$NCLREC" train --train "$T/syn.csv" --out "$T/f.ncl" $RULE
expect size-rule-as-set 0 'early stop: after 10 \+ 1 evaluations without progress \(min_delta 0\)' -- \
    "$NCLREC" train --train "$T/syn.csv" --out "$T/f.ncl" $RULE --ssl-negatives 4096
# --settings: the rule's resolved settings as flags, no training and no --out; given back to
# --settings (with the size rule off, which would not apply twice) they resolve to themselves,
# and a training given them runs the fast path's setting with the exact term by --exact-limit 0
out=$(timeout 300 "$NCLREC" train --train "$T/syn.csv" $RULE --settings 2>"$T/set.err"); rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -qE -- '--ssl-negatives 4096 .*--train-batch-size 32 .*--min-epochs 0 ' \
    && echo "$out" | grep -qE -- '--learning-rate 0\.0014142136 ' && grep -q 'fast path' "$T/set.err"; then
    ok settings-prints-the-rule
else
    bad settings-prints-the-rule "exit $rc: $out $(cat "$T/set.err")"
fi
# shellcheck disable=SC2086
again=$(timeout 300 "$NCLREC" train --train "$T/syn.csv" $out --exact-limit 0 --ssl-negatives 0 \
    --settings --quiet 2>&1)
want=$(echo "$out" | sed 's/--ssl-negatives 4096/--ssl-negatives 0/; s/--exact-limit 1 /--exact-limit 0 /')
[ "$again" = "$want" ] && ok settings-read-back || bad settings-read-back "got: $again want: $want"
# shellcheck disable=SC2086
expect settings-exact-with-fast-batch 0 'size rule off \(exact_limit 0\)' -- "$NCLREC" train \
    --train "$T/syn.csv" --out "$T/f.ncl" $out --exact-limit 0 --ssl-negatives 0
expect settings-with-out 0 '--ssl-negatives 0 ' -- "$NCLREC" train --train "$T/syn.csv" --settings \
    --out "$T/s.ncl"
[ ! -e "$T/s.ncl" ] && ok settings-writes-nothing || bad settings-writes-nothing "$T/s.ncl written"
expect settings-no-out 0 '--ssl-negatives 0 ' -- "$NCLREC" train --train "$T/syn.csv" --settings
expect settings-bad-value 2 'learning_rate' -- "$NCLREC" train --train "$T/syn.csv" --settings \
    --learning-rate -1
expect settings-memory-needs-negatives 2 'need ssl_negatives > 0' -- "$NCLREC" train \
    --train "$T/syn.csv" --settings --ssl-memory 1
expect settings-bad-file 2 "short.csv:3" -- "$NCLREC" train --train "$T/short.csv" --settings
expect eval-users-sample 0 'validation on 50 of [0-9]+ users \(eval_users\); test metrics on all' -- \
    "$NCLREC" train --train "$T/syn.csv" --out "$T/f.ncl" $ONE --eval-users 50
expect memory-needs-negatives 2 'need ssl_negatives > 0' -- "$NCLREC" train \
    --train "$T/syn.csv" --out "$T/f.ncl" $FAST --ssl-memory 1

# LightGCN (no contrastive terms): trains and writes a model without clusters
expect lightgcn-mode 0 'recall@10=' -- "$NCLREC" train --train "$T/syn.csv" --out "$T/lg.ncl" $FAST --ssl-reg 0 --proto-reg 0
[ -s "$T/lg.ncl" ] && ok lightgcn-writes-model || bad lightgcn-writes-model "no $T/lg.ncl"

# too many clusters for the data: clamped with a note, not a crash
expect clusters-clamped 0 'num_clusters 5000 is too many' -- \
    "$NCLREC" train --train "$T/syn.csv" --out "$T/m2.ncl" --epochs 2 --warm-up-step 0 --num-clusters 5000 --threads 2

# ids only in the test file stay in the catalogue and the log counts them
head -n 2000 "$T/syn.csv" > "$T/tr.csv"
{ echo "user,item,timestamp"; echo "newuser,newitem,1700000000"; tail -n 200 "$T/syn.csv"; } > "$T/te.csv"
expect cold-ids-reported 0 '1 users and 1 items appear only in valid/test' -- \
    "$NCLREC" train --train "$T/tr.csv" --valid "$T/te.csv" --test "$T/te.csv" --out "$T/m3.ncl" $FAST

# a corrupted model is refused, naming the problem
cp "$T/m.ncl" "$T/bad.ncl"
printf '\xff\xff\xff\xff' | dd of="$T/bad.ncl" bs=1 seek=200 conv=notrunc status=none
expect corrupt-model 2 'checksum' -- "$NCLREC" eval --model "$T/bad.ncl" --train "$T/syn.csv"
head -c 100 "$T/m.ncl" > "$T/short.ncl"
expect truncated-model 2 'truncated' -- "$NCLREC" eval --model "$T/short.ncl" --train "$T/syn.csv"
expect not-a-model 2 'not an nclrec checkpoint' -- "$NCLREC" eval --model "$T/syn.csv" --train "$T/syn.csv"

echo "test_cli.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
