#!/usr/bin/env bash
# test_api.sh - integration tests of `nclrec serve` against the real binary on 127.0.0.1.
#
# Every daemon listens on port 0 (the kernel picks a free port; the test reads it from the
# "listening" log line) with its own temporary data directory. Every curl call has --max-time,
# every wait loop a bound in count and time, so a daemon that dies or hangs fails the test
# instead of hanging it. Covers: configuration refusals; not-ready answers; every route's
# success and error paths; seen-item exclusion, fold-in and popular fallback; idempotent
# ingest; deletion; auth; limits (body, batch, header size, idle connections, connection
# count); metrics without ids; the spec against the statuses the server actually answered
# (both ways); a retrain and swap under a client loop with zero errors; restart with data and
# model; SIGTERM during writes with every acknowledged write present afterwards.
#
# Prints "test_api.sh: P passed, F failed" and exits 1 on any failure (tests/run.sh format).
# NCLREC_BIN overrides the binary ($BUILD/nclrec); API_TIMING=1 prints the elapsed seconds
# before each check on stderr.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=${NCLREC_BIN:-$BUILD/nclrec}
SPEC=openapi.yaml
T=$(mktemp -d /tmp/nclrec-api.XXXXXX)
. tests/lib.sh

# Small, quick training for every daemon here: the tests check plumbing, not model quality.
TRAIN=(--embedding-size 16 --epochs 4 --min-epochs 1 --stopping-step 2 --num-clusters 5
       --warm-up-step 1 --train-batch-size 512 --retrain-threads 1 --http-threads 2
       --retrain-interval 0 --shutdown-deadline 20 --access-log)
SEED=(--seed-synthetic --synth-users 120 --synth-items 80 --synth-per-user 12)

# Without a binary that has `serve` nothing below can run: one failure, at once.
if ! "$BIN" serve --help >/dev/null 2>&1; then
    echo "not ok $BIN has no working 'serve' command" >&2
    echo "test_api.sh: 0 passed, 1 failed"
    exit 1
fi

# ============================ configuration ============================
cfg_refused() { # cfg_refused NAME ARGS...: exit status 2 and the setting named on stderr
    local name=$1; shift
    "$BIN" serve "$@" >"$T/cfg.out" 2>"$T/cfg.err" </dev/null & local p=$!
    for _ in $(seq 1 100); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
    kill -KILL $p 2>/dev/null
    wait $p; local rc=$?
    BODY=$(cat "$T/cfg.err"); CODE=$rc
    [ "$rc" = 2 ] && grep -q "$name" "$T/cfg.err"
}
check "config: k_max out of range is refused" cfg_refused "k_max" --k-max 0
check "config: bad listen is refused" cfg_refused "listen" --listen nohostport
check "config: unknown option is refused" cfg_refused "frobnicate" --frobnicate 3
check "config: bad enum is refused" cfg_refused "sync" --sync sometimes
check "config: k_default above k_max is refused" cfg_refused "k_default" --k-default 50 --k-max 20
check "config: bad hyper-parameter is refused" cfg_refused "learning_rate" --learning-rate -1
env_refused() { NCLREC_MAX_BODY=lots cfg_refused NCLREC_MAX_BODY; }
check "config: bad environment value is refused, naming the variable" env_refused
"$BIN" serve --help >"$T/help" 2>&1; CODE=$?; BODY=$(head -c 300 "$T/help")
check "config: --help exits 0 and lists environment names" ok_if 'is 0 && grep -q NCLREC_LISTEN "$T/help" && grep -q -- "--retrain-interval" "$T/help"'

# ============================ empty store: not ready ============================
D0=$T/empty
check "empty: daemon starts without data" start_server "$T/empty.log" --data-dir "$D0" "${TRAIN[@]}"
req GET /livez; check "empty: livez 200" is 200
req GET /readyz; check "empty: readyz 503 without a model" problem 503
req GET "/recommend?user=u1"; check "empty: recommend 503 without a model" problem 503
req GET "/similar?item=i1"; check "empty: similar 503 without a model" problem 503
req GET /model; check "empty: model 503 without a model" problem 503
post_json /interactions '[{"user":"a","item":"x"},{"user":"a","item":"y"},{"user":"b","item":"x"},{"user":"b","item":"z"},{"user":"c","item":"y"},{"user":"c","item":"z"}]'
check "empty: ingest works before any model" is 200
req POST /admin/retrain; check "empty: admin/retrain 202" is 202
check "empty: a model appears after the requested retrain" wait_ready
req GET "/recommend?user=a&k=5"; check "empty: first model serves user a" ok_if 'is 200 && has "\"source\":\"ncl\""'
stop_server; check "empty: SIGTERM exits 0" [ "$STOP_RC" = 0 ]

# ============================ main daemon ============================
D=$T/main
check "main: seeded daemon starts" start_server "$T/main.log" --data-dir "$D" "${TRAIN[@]}" "${SEED[@]}" \
    --batch-max 50 --max-body 8192 --max-exclude 5 --k-max 100 --retrain-margin 1
check "main: ready at once after start" wait_ready
grep -q '"event":"seeded"' "$T/main.log"; check "main: empty store was seeded" [ $? = 0 ]

# ---- recommend ----
req GET "/recommend?user=u1&k=5"
check "recommend: 200 for a known user" is 200
check "recommend: source ncl for a known user" has '"source":"ncl"'
check "recommend: k items" [ "$(items_of | wc -l)" = 5 ]
check "recommend: model version in the answer" has '"model":{"version":1,'
first=$(items_of | head -n 1)
req GET "/recommend?user=u1&k=5&exclude=$first"
check "recommend: exclude= leaves the item out" ok_if '! items_of | grep -qx "$first"'
post_json /interactions "{\"user\":\"u1\",\"item\":\"$first\"}"
req GET "/recommend?user=u1&k=20"
check "recommend: an item posted after training is excluded" ok_if 'is 200 && ! items_of | grep -qx "$first"'
# Each round posts the current top item and asks again at once: exclusion must hold on every
# answer, also once the daemon serves users' items from memory (built after the first request).
leaked=0
for round in $(seq 1 15); do
    top=$(items_of | head -n 1)
    post_json /interactions "{\"user\":\"u1\",\"item\":\"$top\"}"
    is 200 || leaked=$((leaked + 100))
    req GET "/recommend?user=u1&k=20"
    is 200 && ! items_of | grep -qx "$top" || leaked=$((leaked + 1))
done
check "recommend: each acknowledged item is excluded from the very next answer (15 rounds)" [ $leaked = 0 ]
req GET "/recommend?user=stranger&k=3"
check "recommend: unknown user without data gets popular" ok_if 'is 200 && has "\"source\":\"popular\""'
popular=$(items_of | head -n 1)
post_json /interactions '[{"user":"newbie","item":"i1"},{"user":"newbie","item":"i2"},{"user":"newbie","item":"i3"}]'
req GET "/recommend?user=newbie&k=10"
check "recommend: new user with stored items gets fold-in" has '"source":"fold-in"'
check "recommend: fold-in excludes the user's items" ok_if '! items_of | grep -qxE "i1|i2|i3"'
check "recommend: fold-in gives k items" [ "$(items_of | wc -l)" = 10 ]
post_json /interactions '{"user":"onlynew","item":"brand-new-item"}'
req GET "/recommend?user=onlynew&k=3"
check "recommend: items unknown to the model fall back to popular" has '"source":"popular"'
check "recommend: popular leaves out the user's items" hasnt '"item":"brand-new-item"'
req GET "/recommend"; check "recommend: missing user 400" problem 400
check "recommend: 400 names the parameter" has "user"
req GET "/recommend?user=u1&k=0"; check "recommend: k=0 400" problem 400
req GET "/recommend?user=u1&k=abc"; check "recommend: k=abc 400" problem 400
req GET "/recommend?user=u1&k=101"; check "recommend: k above k_max 400" problem 400
req GET "/recommend?user=u1&kk=3"; check "recommend: unknown parameter 400" problem 400
req GET "/recommend?user=u1&exclude=a,b,c,d,e,f"; check "recommend: too many excludes 400" problem 400
long=$(head -c 300 /dev/zero | tr '\0' 'x')
req GET "/recommend?user=$long"; check "recommend: id too long 400" problem 400
req GET "/recommend?user=u%01x"; check "recommend: control character in id 400" problem 400

# ---- similar ----
req GET "/similar?item=i5&k=4"
check "similar: 200" is 200
check "similar: k items" [ "$(items_of | wc -l)" = 4 ]
check "similar: the item itself is left out" ok_if '! items_of | grep -qx i5'
req GET "/similar?item=no-such-item"; check "similar: unknown item 404" problem 404
req GET "/similar"; check "similar: missing item 400" problem 400
req GET "/similar?item=i5&k=-2"; check "similar: bad k 400" problem 400

# ---- interactions ----
post_json /interactions '[{"user":"w1","item":"i9","timestamp":1700000000},{"user":"w1","item":"i10","timestamp":null}]' -H 'Idempotency-Key: key-1'
check "ingest: batch 200" is 200
check "ingest: counts accepted" has '"accepted":2'
check "ingest: not a replay" has '"replayed":false'
seq1=$(json_field first_seq)
check "ingest: the whole answer, compact JSON in this order ($BODY)" \
    ok_if '[ "$BODY" = "{\"accepted\":2,\"first_seq\":$seq1,\"last_seq\":$((seq1 + 1)),\"replayed\":false}" ] && grep -qi "^content-type: application/json" "$T/hdrs"'
post_json /interactions '[{"user":"w1","item":"i9","timestamp":1700000000},{"user":"w1","item":"i10","timestamp":null}]' -H 'Idempotency-Key: key-1'
check "ingest: retry with the same key is a replay" ok_if 'is 200 && has "\"replayed\":true" && has "\"first_seq\":$seq1,"'
post_json /interactions '{"user":"w1","item":"other"}' -H 'Idempotency-Key: key-1'
check "ingest: same key with other events 422" problem 422
post_json /interactions '{"user":"w2","item":7}'
check "ingest: numeric ids are accepted" is 200
post_json /interactions '{"user":"w2","item":"i1"' ; check "ingest: malformed JSON 400" problem 400
post_json /interactions '' ; check "ingest: empty body 400" problem 400
post_json /interactions '[]' ; check "ingest: empty array 422" problem 422
post_json /interactions '"text"' ; check "ingest: not an object 422" problem 422
post_json /interactions '{"user":"w2"}' ; check "ingest: missing item 422" problem 422
check "ingest: 422 names the field" has "item"
post_json /interactions '{"user":"w2","item":"i1","timestamp":-5}' ; check "ingest: negative timestamp 422" problem 422
post_json /interactions '{"user":"w2","item":"i1","timestamp":"soon"}' ; check "ingest: string timestamp 422" problem 422
post_json /interactions '{"user":"w2","item":"i1","extra":1}' ; check "ingest: unknown field 422" problem 422
post_json /interactions '{"user":"w2","item":"i1","type":"purchase"}' ; check "ingest: a type outside the default set 422" ok_if 'problem 422 && has "unknown feedback type .purchase. (allowed: view=1)"'
post_json /interactions '{"user":"w2","item":"i1","type":["view"]}' ; check "ingest: a non-string type 422" problem 422
post_json /interactions '{"user":"","item":"i1"}' ; check "ingest: empty id 422" problem 422
post_json /interactions '[{"user":"ok","item":"i1"},{"user":"bad,id","item":"i1"}]'
check "ingest: one bad event refuses the batch" problem 422
req GET "/recommend?user=ok"; check "ingest: nothing of a refused batch was stored" has '"source":"popular"'
batch=$(for i in $(seq 1 51); do printf '{"user":"b","item":"i%d"},' "$i"; done)
post_json /interactions "[${batch%,}]"; check "ingest: batch above batch_max 422" problem 422
big=$(head -c 9000 /dev/zero | tr '\0' ' ')
post_json /interactions "{\"user\":\"w3\",\"item\":\"i1\"}$big"; check "ingest: body above max_body 413" problem 413
req POST /interactions -H 'Content-Type: text/plain' --data-binary '{"user":"w3","item":"i1"}'
check "ingest: wrong content type 415" problem 415
post_json /interactions '{"user":"w3","item":"i1"}' -H 'Content-Type: application/json; charset=utf-8'
check "ingest: content type with charset is accepted" is 200
post_json /interactions '{"user":"w3","item":"i1"}' -H "Idempotency-Key: $long"
check "ingest: idempotency key too long 400" problem 400

# ---- delete ----
req GET "/recommend?user=u2&k=3"; check "delete: u2 is known before" has '"source":"ncl"'
req DELETE /users/u2; check "delete: 200" is 200
check "delete: counts rows" ok_if '[ "$(json_field deleted)" -gt 0 ]'
req GET "/recommend?user=u2&k=3"; check "delete: user served as unknown afterwards" has '"source":"popular"'
post_json /interactions '[{"user":"u2","item":"i4"},{"user":"u2","item":"i6"}]'
req GET "/recommend?user=u2&k=3"; check "delete: returning user gets fold-in, not the old embedding" has '"source":"fold-in"'
req DELETE /users/never-seen; check "delete: unknown user 404" problem 404
req DELETE "/users/bad,id"; check "delete: invalid id 400" problem 400

# ---- routing ----
req GET /nope; check "routing: unknown path 404" problem 404
req PUT /livez; check "routing: wrong method 405" problem 405
check "routing: 405 has Allow" grep -qi '^allow: GET' "$T/hdrs"
req GET /interactions; check "routing: GET on a POST route 405" problem 405
req GET /users/u1; check "routing: GET on /users/{id} 405" problem 405

# ---- operational ----
req GET /model
check "model: 200" is 200
check "model: has version, watermark, hparams and metrics" ok_if 'has "\"version\":1," && has "\"data_watermark\":" && has "\"hparams\":" && has "\"recall@20\""'
req GET /ui
check "GET /ui serves the page" ok_if 'is 200 && has "<title>nclrec</title>"'
req GET /ui/style.css
check "GET /ui/style.css" is 200
req GET /ui/none.css
check "GET /ui/none.css is 404" problem 404
req GET '/metrics?format=nope'
check "GET /metrics?format=nope is refused" problem 400
req GET /openapi.yaml
check "openapi: served" ok_if 'is 200 && head -n 1 "$T/body" | grep -q "^openapi: 3.1"'
check "openapi: identical to the file" cmp -s "$T/body" "$SPEC"
req GET /livez; check "livez: 200" has '"status":"alive"'
# header larger than max_header (32 KiB): refused by the HTTP layer, server unharmed
hdr=$(head -c 40000 /dev/zero | tr '\0' 'h')
req GET /livez -H "X-Big: $hdr"; check "limits: oversized headers refused with 431 or 414" ok_if 'is 431 || is 414'
req GET /livez; check "limits: server fine after oversized headers" is 200

# ---- metrics ----
req GET /metrics
check "metrics: 200 text/plain" ok_if 'is 200 && grep -qi "^content-type: text/plain" "$T/hdrs"'
check "metrics: request counter by route and status" has 'nclrec_http_requests_total{route="/recommend",method="GET",status="200"}'
check "metrics: latency histogram" has 'nclrec_http_request_duration_seconds_bucket{route="/recommend",method="GET",status="200",le="+Inf"}'
check "metrics: ingested rows" grep -q '^nclrec_ingested_rows_total [1-9]' "$T/body"
check "metrics: idempotent replay counted" grep -q '^nclrec_idempotent_replays_total 1$' "$T/body"
check "metrics: model version" grep -q '^nclrec_model_version 1$' "$T/body"
check "metrics: no user ids in labels" ok_if '! grep -qE "newbie|stranger|u1\"|w1|onlynew" "$T/body"'

# known users' kept candidate lists (rec_cache.h): asks of 30 known users, and a counter
cache_asks() { # cache_asks OUT_DIR: one body per ask, varied k and exclude=
    mkdir -p "$1"
    for i in $(seq 3 32); do
        req GET "/recommend?user=u$i&k=$((i % 25 + 1))&exclude=i$((i * 7 % 80)),i$((i * 3 % 80))"
        printf '%s' "$BODY" >"$1/$i"
    done
}
cache_metric() { curl -s --max-time 5 "$B/metrics" | sed -n "s/^nclrec_recommend_cache_total{outcome=\"$1\"} //p"; }

# ---- retrain and swap while clients send requests ----
req GET /model; v0=$(json_field version)
# hammer N OUT: /recommend in a loop until the model version changes (then 20 more requests),
# at most 3000 requests or 90 s; one line per answer: "STATUS VERSION".
hammer() {
    local out=$1 n=0 seen_new=0 end=$((SECONDS + 90)) code v down=0
    while [ $n -lt 3000 ] && [ $SECONDS -lt $end ] && [ $down -lt 3 ]; do
        code=$(curl -s --max-time 10 -o "$out.body" -w '%{http_code}' "$B/recommend?user=u$((n % 100 + 1))&k=5" 2>/dev/null)
        v=$(sed -n 's/.*"model":{"version":\([0-9]*\).*/\1/p' "$out.body" 2>/dev/null)
        echo "$code ${v:-none}" >>"$out"
        n=$((n + 1))
        if [ "$code" = 000 ]; then down=$((down + 1)); else down=0; fi
        [ "${v:-$v0}" != "$v0" ] && seen_new=$((seen_new + 1))
        [ $seen_new -ge 20 ] && break
    done
}
: >"$T/load1"; : >"$T/load2"
hammer "$T/load1" & L1=$!
hammer "$T/load2" & L2=$!
for _ in $(seq 1 300); do # both clients running before the retrain starts (at most 30 s)
    alive || break
    [ "$(wc -l <"$T/load1" 2>/dev/null || echo 0)" -ge 5 ] && [ "$(wc -l <"$T/load2" 2>/dev/null || echo 0)" -ge 5 ] && break
    sleep 0.1
done
cache_asks "$T/pre-swap" # lists for 30 users under the old model: the new one starts with them
req POST /admin/retrain; check "swap: admin/retrain 202" is 202
wait $L1 $L2
total=$(cat "$T/load1" "$T/load2" | wc -l)
bad=$(cat "$T/load1" "$T/load2" | grep -vc '^200 ')
check "swap: clients got answers ($total)" [ "$total" -gt 10 ]
check "swap: zero non-2xx during retrain and swap (bad=$bad)" [ "$bad" = 0 ]
check "swap: answers came from the old model" grep -q "^200 $v0\$" "$T/load1" "$T/load2"
check "swap: answers came from the new model" ok_if 'cut -d" " -f2 "$T/load1" "$T/load2" | grep -qv "^$v0\$"'
req GET /model; check "swap: /model shows the new version and the last run" ok_if 'has "\"version\":$((v0 + 1))," && has "\"outcome\":\"swapped\""'
req GET /metrics
check "swap: metrics count the swap and the retrain" ok_if 'grep -q "^nclrec_model_swaps_total 2\$" "$T/body" && grep -q "nclrec_retrain_runs_total{outcome=\"swapped\"} 2\$" "$T/body"'
check "swap: checkpoints on disk" [ "$(ls "$D/models" | grep -c '^model-.*\.nclrec$')" = 2 ]
warmed=$(sed -n "s/.*\"event\":\"cache_warmed\",\"version\":$((v0 + 1)),\"users\":\([0-9]*\).*/\1/p" "$T/main.log" | head -n 1)
check "swap: the new model's lists were made before the swap for the users who had one (${warmed:-none} >= 30)" \
    ok_if '[ -n "$warmed" ] && [ "$warmed" -ge 30 ]'
fills0=$(cache_metric fill)
cache_asks "$T/post-swap"
check "swap: the same 30 users are answered from those lists: no fill ($fills0 -> $(cache_metric fill))" \
    [ "$(cache_metric fill)" = "$fills0" ]
req POST /admin/retrain
for _ in $(seq 1 600); do req GET /model; grep -q "\"version\":$((v0 + 2))" <<<"$BODY" && break; alive || break; sleep 0.1; done
req POST /admin/retrain
for _ in $(seq 1 600); do req GET /model; grep -q "\"version\":$((v0 + 3))" <<<"$BODY" && break; alive || break; sleep 0.1; done
check "swap: only keep_checkpoints (3) are kept" [ "$(ls "$D/models" | grep -c '^model-.*\.nclrec$')" = 3 ]
warmed_of() { sed -n "s/.*\"event\":\"cache_warmed\",\"version\":$1,\"users\":\([0-9]*\).*/\1/p" "$T/main.log" | head -n 1; }
check "swap: the 30 users asked under $((v0 + 1)) were carried on to $((v0 + 2)) ($(warmed_of $((v0 + 2))))" \
    ok_if '[ "$(warmed_of $((v0 + 2)))" -ge 30 ]'
check "swap: nobody asked under $((v0 + 2)): nothing carried on to $((v0 + 3)) ($(warmed_of $((v0 + 3))))" \
    [ "$(warmed_of $((v0 + 3)))" = 0 ]
vlast=$((v0 + 3))

# ---- SIGTERM while clients write: every acknowledged write survives ----
# writer W: single-event POSTs; every 2xx is recorded as "user,item"; stops after 3 failures
# in a row (the daemon has gone) or 2000 posts.
writer() {
    local w=$1 i=0 fails=0 code
    while [ $i -lt 2000 ] && [ $fails -lt 3 ]; do
        code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
               --data-binary "{\"user\":\"sig$w\",\"item\":\"s$w-$i\"}" "$B/interactions" 2>/dev/null)
        if [ "$code" = 200 ]; then echo "sig$w,s$w-$i" >>"$T/acked"; fails=0; else fails=$((fails + 1)); fi
        i=$((i + 1))
    done
}
post_json /interactions '[{"user":"late","item":"i1"},{"user":"late","item":"i2"}]'
check "sigterm: a user posted after the last model" is 200
: >"$T/acked"
writer 1 & W1=$!
writer 2 & W2=$!
for _ in $(seq 1 300); do [ "$(wc -l <"$T/acked" 2>/dev/null || echo 0)" -ge 20 ] && break; alive || break; sleep 0.1; done
stop_server TERM
check "sigterm: exit status 0 under write load" [ "$STOP_RC" = 0 ]
wait $W1 $W2
check "sigterm: log has shutdown and stopped" ok_if 'grep -q "\"event\":\"shutdown\"" "$T/main.log" && grep -q "\"event\":\"stopped\"" "$T/main.log"'
"$BIN" export --data-dir "$D" --out "$T/export.csv" 2>/dev/null
missing=$(sort -u "$T/acked" | while IFS=, read -r u i; do grep -q "^$u,$i," "$T/export.csv" || echo "$u,$i"; done | wc -l)
check "sigterm: all $(wc -l <"$T/acked") acknowledged writes are in the store (missing=$missing)" [ "$missing" = 0 ]

# ---- restart: data and model persist ----
check "restart: daemon starts again on the same data" start_server "$T/main2.log" --data-dir "$D" "${TRAIN[@]}" "${SEED[@]}"
check "restart: ready" wait_ready
check "restart: the checkpoint was loaded, not retrained" ok_if 'grep -q "loaded at start" "$T/main2.log" && ! grep -q "\"event\":\"retrain_start\"" "$T/main2.log" && ! grep -q "\"event\":\"seeded\"" "$T/main2.log"'
req GET /model; check "restart: same model version" has "\"version\":$vlast,"
req GET "/recommend?user=late&k=3"; check "restart: interactions persisted (fold-in for a user newer than the model)" has '"source":"fold-in"'
req GET "/recommend?user=w1&k=50"; check "restart: posted items still excluded" ok_if 'is 200 && ! items_of | grep -qxE "i9|i10"'
# a second ask is answered from the kept list and must be the same text as the first; the
# same asks must then give the same texts without the cache
cache_asks "$T/cache-fill"
cache_asks "$T/cache-hit"
check "cache: asks answered from kept lists are the same as the first answers" diff -r "$T/cache-fill" "$T/cache-hit"
check "cache: every ask was from the model" ok_if '[ "$(grep -l "\"source\":\"ncl\"" "$T/cache-hit"/* | wc -l)" = 30 ]'
check "cache: /metrics counts the fills and hits (fill $(cache_metric fill), hit $(cache_metric hit))" \
    ok_if '[ "$(cache_metric fill)" -ge 30 ] && [ "$(cache_metric hit)" -ge 30 ]'
cache_bytes=$(curl -s --max-time 5 "$B/metrics" | sed -n 's/^nclrec_recommend_cache_bytes //p')
check "cache: /metrics shows the bytes of the 30 kept lists (${cache_bytes:-none})" \
    ok_if '[ -n "$cache_bytes" ] && [ "$cache_bytes" -ge $((30 * 33 * 16)) ] && [ "$cache_bytes" -le $((30 * 100 * 16)) ]'
evictions=$(curl -s --max-time 5 "$B/metrics" | sed -n 's/^nclrec_recommend_cache_evictions_total //p')
check "cache: /metrics counts evictions, none with room to spare (${evictions:-none})" [ "$evictions" = 0 ]
seen_ready() { [ "$(curl -s --max-time 5 "$B/metrics" | sed -n 's/^nclrec_store_seen_ready //p')" = 1 ]; }
for _ in $(seq 1 100); do seen_ready && break; sleep 0.1; done # the copy is built after the first /recommend
check "metrics: nclrec_store_seen_ready is 1 once users' items are answered from memory" seen_ready
stop_server; check "restart: SIGTERM exits 0" [ "$STOP_RC" = 0 ]
check "cache: daemon starts with --rec-cache-mb 0" start_server "$T/main2b.log" --data-dir "$D" "${TRAIN[@]}" --rec-cache-mb 0
check "cache: ready" wait_ready
cache_asks "$T/cache-off"
check "cache: the same asks without the cache give the same answers" diff -r "$T/cache-hit" "$T/cache-off"
check "cache: off means no hits (hit $(cache_metric hit), scan $(cache_metric scan))" \
    ok_if '[ "$(cache_metric hit)" = 0 ] && [ "$(cache_metric scan)" -ge 30 ]'
stop_server
# a corrupt newest checkpoint is skipped with a log line and the previous one is served
newest=$(ls "$D/models"/model-*.nclrec | sort | tail -n 1)
truncate -s 100 "$newest"
check "corrupt: daemon starts with a truncated newest checkpoint" start_server "$T/main3.log" --data-dir "$D" "${TRAIN[@]}"
check "corrupt: the bad file is logged" grep -q '"event":"checkpoint_skipped"' "$T/main3.log"
req GET /model; check "corrupt: the previous checkpoint is served" has "\"version\":$((vlast - 1)),"
stop_server


# ============================ auth ============================
D2=$T/auth
check "auth: daemon with a key starts" start_server "$T/auth.log" --data-dir "$D2" "${TRAIN[@]}" "${SEED[@]}" \
    --api-key s3cret-key
req GET "/recommend?user=u1"; check "auth: reads open by default" is 200
post_json /interactions '{"user":"a","item":"b"}'; check "auth: write without key 401" problem 401
check "auth: 401 has WWW-Authenticate" grep -qi '^www-authenticate: Bearer' "$T/hdrs"
post_json /interactions '{"user":"a","item":"b"}' -H 'Authorization: Bearer wrong-key!'
check "auth: wrong key 401" problem 401
post_json /interactions '{"user":"a","item":"b"}' -H 'Authorization: Bearer s3cret-key-and-more'
check "auth: key with a suffix 401" problem 401
post_json /interactions '{"user":"a","item":"b"}' -H 'Authorization: Bearer s3cret-key'
check "auth: right key 200" is 200
req DELETE /users/a; check "auth: delete without key 401" problem 401
req DELETE /users/a -H 'Authorization: Bearer s3cret-key'; check "auth: delete with key 200" is 200
req POST /admin/retrain; check "auth: admin without key 401" problem 401
big=$(head -c 20000 /dev/zero | tr '\0' ' ')
post_json /interactions "{}$big"; check "auth: a refused write with a body is answered 401" problem 401
stop_server
check "auth: the key never appears in the log" ok_if '! grep -q s3cret-key "$T/auth.log"'
echo 'file-key-1' >"$T/key"
check "auth: daemon with a key file and closed reads starts" start_server "$T/auth2.log" --data-dir "$D2" "${TRAIN[@]}" \
    --api-key-file "$T/key" --auth-reads
req GET "/recommend?user=u1"; check "auth: closed reads 401 without key" problem 401
req GET "/similar?item=i1"; check "auth: closed /similar 401 without key" problem 401
req GET "/model"; check "auth: closed /model 401 without key" problem 401
req GET "/metrics"; check "auth: closed /metrics 401 without key" problem 401
req GET "/items/i1"; check "auth: closed /items 401 without key" problem 401
post_json /recommend '{"items":[]}'; check "auth: closed POST /recommend 401 without key" problem 401
req GET "/recommend?user=u1" -H 'Authorization: Bearer file-key-1'; check "auth: key from file works" is 200
req GET /livez; check "auth: livez stays open" is 200
req GET /readyz; check "auth: readyz stays open" is 200
req GET /openapi.yaml; check "auth: openapi.yaml stays open" is 200
stop_server
check "auth: the file key never appears in the log" ok_if '! grep -q file-key-1 "$T/auth2.log"'

# ============================ connection limits ============================
D3=$T/limits
check "limits: daemon starts" start_server "$T/limits.log" --data-dir "$D3" "${TRAIN[@]}" --http-threads 1 \
    --max-connections 2 --conn-timeout 2
# A client that sends half a request and waits is cut off after conn_timeout.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /livez HTTP/1.1\r\nHost: x\r\n' >&3
timeout 10 cat <&3 >/dev/null; rc=$?
exec 3<&-
check "limits: a slow client is disconnected by the idle timeout (rc=$rc)" [ "$rc" != 124 ]
# Two keep-alive connections fill the limit of 2: a third waits unserved (libmicrohttpd stops
# accepting) until one of them closes.
exec 4<>"/dev/tcp/127.0.0.1/$PORT" 5<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n' >&4
printf 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n' >&5
read -r -t 5 l4 <&4; read -r -t 5 l5 <&5
check "limits: two connections served" ok_if 'grep -q 200 <<<"$l4" && grep -q 200 <<<"$l5"'
CODE=$(curl -s --max-time 0.5 -o /dev/null -w '%{http_code}' "$B/livez" 2>/dev/null)
check "limits: a third connection is not served while the limit is reached" ok_if '! is 200'
exec 4<&- 5<&-
for _ in $(seq 1 100); do req GET /livez; is 200 && break; alive || break; sleep 0.1; done
check "limits: served again once connections close" is 200
stop_server

# ============================ timed retrain ============================
D4=$T/timer
check "timer: daemon starts" start_server "$T/timer.log" --data-dir "$D4" "${TRAIN[@]}" "${SEED[@]}" \
    --retrain-interval 0.5 --retrain-min-new 5
req GET /model; check "timer: version 1" has '"version":1,'
post_json /interactions '[{"user":"t1","item":"i1"},{"user":"t1","item":"i2"},{"user":"t1","item":"i3"}]'
sleep 1.2 # more than two intervals: 3 new rows are below retrain_min_new
req GET /model; check "timer: no retrain below retrain_min_new" has '"version":1,'
post_json /interactions '[{"user":"t2","item":"i1"},{"user":"t2","item":"i2"}]'
for _ in $(seq 1 600); do req GET /model; has '"version":2,' && break; alive || break; sleep 0.1; done
check "timer: retrained once retrain_min_new rows arrived" has '"version":2,'
stop_server

# ============================ the catalogue ============================
. tests/api_items.sh

# ============================ spec <-> server ============================
# (METHOD PATH STATUS) triples documented in openapi.yaml ...
spec_triples "$SPEC" >"$T/spec.triples"
# ... and those the daemons above answered (their access logs), for routes of the table.
seen_triples "$T"/*.log >"$T/seen.triples"
# Server faults this suite cannot provoke on a healthy machine (store failure, shutdown race).
# Answers only a primary or a replica gives are checked both ways by tests/test_replica.sh.
{ printf '%s\n' "POST /interactions 503" "DELETE /users/{id} 503" "POST /admin/retrain 503" "PUT /items/{id} 503" \
         "PATCH /items/{id} 503" "GET /items/{id} 503" "DELETE /items/{id} 503" "POST /items 503" "POST /recommend 503"
  grep -v '^#' tests/replica_spec_triples.txt; } | sort >"$T/unprovoked"
undocumented=$(comm -23 "$T/seen.triples" "$T/spec.triples" | tr '\n' ';')
unexercised=$(comm -13 "$T/seen.triples" "$T/spec.triples" | comm -23 - "$T/unprovoked" | tr '\n' ';')
check "spec: the spec lists routes" [ "$(wc -l <"$T/spec.triples")" -gt 20 ]
check "spec: every status the server answered is documented [$undocumented]" [ -z "$undocumented" ]
check "spec: every documented status was answered by the server [$unexercised]" [ -z "$unexercised" ]

echo "test_api.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
