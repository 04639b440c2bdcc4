#!/usr/bin/env bash
# test_ui.sh - the page at /ui in a real browser: Debian's headless Chromium against a real
# daemon on 127.0.0.1 with --auth-reads. The page is loaded with --dump-dom (no driver, no
# network beyond 127.0.0.1) and must log nothing to the console, show the model version /model
# reports and, for ?user=U, the items /recommend gives U; a replica's page names its primary. Without Chromium the browser checks
# are skipped with a "skip" line that tests/run.sh counts.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=${NCLREC_BIN:-$BUILD/nclrec}
T=$(mktemp -d /tmp/nclrec-ui.XXXXXX)
. tests/lib.sh

TRAIN=(--embedding-size 16 --epochs 6 --min-epochs 2 --stopping-step 2 --num-clusters 5
       --warm-up-step 1 --train-batch-size 512 --retrain-threads 1 --http-threads 2
       --retrain-interval 0 --shutdown-deadline 20)
SEED=(--seed-synthetic --synth-users 120 --synth-items 80 --synth-per-user 12)
KEY=ui-test-key
AUTH=(-H "Authorization: Bearer $KEY")

check "daemon starts (a primary)" start_server "$T/log" --data-dir "$T/d" --role primary --api-key "$KEY" --auth-reads \
    "${TRAIN[@]}" "${SEED[@]}"
check "daemon ready" wait_ready 120

# ---- the routes the page uses, without a browser ----
req GET /ui
check "/ui is served without the key (the page holds no data)" ok_if 'is 200 && has "<script src=\"/ui/app.js\">"'
req GET /ui/app.js
check "/ui/app.js is JavaScript" ok_if 'is 200 && grep -qi "^content-type: text/javascript" "$T/hdrs"'
req GET /ui/nothing.js
check "/ui/ names the files it has for an unknown one" ok_if 'problem 404 && has "index.html, app.js, style.css"'
size=$(cat server/api/ui/index.html server/api/ui/app.js server/api/ui/style.css | wc -c)
check "the page is under 50 KB ($size bytes)" ok_if '[ "$size" -lt 51200 ]'
req GET '/metrics?format=json'
check "/metrics?format=json is closed by --auth-reads" problem 401
req GET '/metrics?format=json' "${AUTH[@]}"
check "/metrics?format=json gives samples with labels" ok_if 'is 200 && has "\"name\":\"nclrec_http_requests_total\",\"labels\":{\"route\":"'
req GET '/metrics?format=xml' "${AUTH[@]}"
check "/metrics?format=xml is refused naming the parameter" ok_if 'problem 400 && has "format"'
req GET '/recommend?user=u3&k=5&explain=1' "${AUTH[@]}"
check "/recommend explain=1 names the user's prototype and its items" \
    ok_if 'is 200 && has "\"explain\":{\"cluster\":[0-9]" && has "\"cluster_items\":\[\"" && has "\"item_clusters\":{"'
req GET '/recommend?user=u3&k=5&explain=yes' "${AUTH[@]}"
check "/recommend explain=yes is refused" ok_if 'problem 400 && has "explain"'
req POST /admin/retrain "${AUTH[@]}"
end=$((SECONDS + 60))
while [ $SECONDS -lt $end ]; do # the start-up training is in the history already: wait for the second run
    req GET /model "${AUTH[@]}"
    [ "$(grep -o '"outcome":"[a-z]*","version"' <<<"$BODY" | grep -c .)" -ge 2 ] && break
    sleep 0.2
done
check "/model's retrain has the run's history and per-epoch curve" \
    ok_if 'has "\"history\":\[{\"ended_at\"" && has "\"epochs\":\[{\"epoch\":0,\"bpr\""'

# ---- the page in the browser ----
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "skip browser checks: chromium is not installed (make deps installs it)"
else
    # dump URL OUT: the page's DOM after 6 s of its virtual time (three polls); console lines to OUT.err
    dump() {
        rm -rf "$T/profile"
        timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
            --disable-background-networking --disable-component-update --disable-sync \
            --user-data-dir="$T/profile" --enable-logging=stderr --v=0 --virtual-time-budget=6000 \
            --dump-dom "$1" >"$2" 2>"$2.err"
    }
    req GET '/recommend?user=u3&k=10' "${AUTH[@]}"
    want=$(items_of | tr '\n' ' ')
    req GET /model "${AUTH[@]}"
    version=$(json_field version)
    dump "$B/ui?user=u3#key=$KEY" "$T/page"
    check "chromium loaded the page" ok_if '[ -s "$T/page" ]'
    console=$(grep 'CONSOLE' "$T/page.err")
    [ -n "$console" ] && echo "console: $console" >&2
    check "no console message" ok_if '[ -z "$console" ]'
    check "the page shows /model's version ($version)" \
        ok_if 'grep -q "id=\"status\" class=\"\">model $version<" "$T/page" && grep -q "data-version=\"$version\"" "$T/page"'
    got=$(grep -o '<li>[^ <]*' "$T/page" | sed 's/<li>//' | tr '\n' ' ')
    [ "$got" = "$want" ] || echo "page items: '$got', /recommend: '$want'" >&2
    check "the user lookup lists /recommend's items in order" ok_if '[ -n "$want" ] && [ "$got" = "$want" ]'
    check "the lookup explains with the user's prototype" ok_if 'grep -q "users like u3 cluster around " "$T/page"'
    # Both of the page's routes refuse a missing key; the page must name /model's refusal
    # every time, whichever answer comes first (it named /metrics in 3 loads of 8 before).
    refused=0
    for n in 1 2 3; do
        dump "$B/ui" "$T/nokey$n"
        grep -q 'id="status" class="err">/model: ' "$T/nokey$n" && refused=$((refused + 1))
    done
    [ "$refused" = 3 ] || grep -ho 'id="status"[^<]*' "$T"/nokey? >&2
    check "without the key the page says what the daemon refused, in each of 3 loads" \
        ok_if '[ "$refused" = 3 ]'
    # a replica of it: the page names the primary and the lag
    P=$PID; BP=$B
    check "a replica starts" start_server "$T/rlog" --data-dir "$T/r" --role replica --primary "$BP" --replica-poll 0.2 \
        --api-key "$KEY" --auth-reads --http-threads 2 --shutdown-deadline 20
    check "the replica is ready" wait_ready 60
    dump "$B/ui#key=$KEY" "$T/rpage"
    check "the replica's page names its primary and the lag" \
        ok_if 'grep -q "replica of $BP, lag [0-9]* events, last contact [0-9.]* s ago" "$T/rpage"'
    stop_server
    PID=$P; B=$BP
fi

# the history is the store's: the start-up training and the requested retrain, after a restart
req GET /model "${AUTH[@]}"
runs_before=$(grep -o '"outcome":"[a-z]*","version":[0-9]*' <<<"$BODY")
first_run=$(head -n 1 <<<"$runs_before")
check "/model's history has the start-up training and the requested retrain" \
    ok_if '[ "$(grep -c . <<<"$runs_before")" = 2 ] && [ "$first_run" = "\"outcome\":\"swapped\",\"version\":1" ]'
stop_server
check "daemon stops cleanly" ok_if '[ "$STOP_RC" = 0 ]'
check "daemon restarts on its data" start_server "$T/log2" --data-dir "$T/d" --role primary --api-key "$KEY" --auth-reads \
    "${TRAIN[@]}"
check "restarted daemon ready" wait_ready 60
req GET /model "${AUTH[@]}"
runs_after=$(grep -o '"ended_at":"[^"]*","outcome":"[a-z]*","version":[0-9]*' <<<"$BODY")
[ "$(grep -c . <<<"$runs_after")" = 2 ] || echo "history after restart: '$runs_after' (before: '$runs_before')" >&2
check "the history survives a restart" \
    ok_if '[ "$(grep -c . <<<"$runs_after")" = 2 ] && [ "$(grep -o "\"outcome.*" <<<"$runs_after")" = "$runs_before" ]'
stop_server
echo "test_ui.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
