#!/usr/bin/env bash
# test_replica.sh - the scale-out roles against the real binary on 127.0.0.1, without nginx:
# a primary's feeds (changefeed pages, checkpoint with ETag/304 and checksum headers, auth,
# parameter errors, 404 on other roles, 503 without a model, 500 for a checkpoint corrupt on
# disk), a replica serving the same answers as its primary, refusing writes with 307 naming the
# primary, following new interactions, deletions and models, staying up and saying so when the
# primary is killed, catching up when it is back, and serving its last model after a restart.
# Ends with the spec check for the triples only these roles answer (tests/replica_spec_triples.txt).
# The full cluster behind nginx under load is `make test-cluster` (tests/cluster/).
#
# Every daemon listens on a port the kernel picks (the primary's restart reuses its port), every
# curl call has --max-time and every wait a bound in count and time.
# Prints "test_replica.sh: P passed, F failed" and exits 1 on any failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=${NCLREC_BIN:-$BUILD/nclrec}
SPEC=openapi.yaml
T=$(mktemp -d /tmp/nclrec-replica.XXXXXX)
. tests/lib.sh
KEY=repl-key-1
AUTH=(-H "Authorization: Bearer $KEY")

header() { grep -i "^$1:" "$T/hdrs" | head -n 1 | sed 's/^[^:]*: *//; s/\r$//'; }

TRAIN=(--embedding-size 16 --epochs 4 --min-epochs 1 --stopping-step 2 --num-clusters 5
       --warm-up-step 1 --train-batch-size 512 --retrain-threads 1 --http-threads 2
       --retrain-interval 0 --shutdown-deadline 20 --access-log)
SEED=(--seed-synthetic --synth-users 120 --synth-items 80 --synth-per-user 12)
REPL=(--http-threads 2 --replica-poll 0.2 --replica-timeout 2 --shutdown-deadline 20 --access-log)

# start_server LOG ARGS...: as tests/lib.sh's, but ARGS give --listen (a restarted primary
# keeps its port); sets PID, PORT and B.
start_server() {
    local log=$1; shift
    : >"$log"
    "$BIN" serve "$@" 2>>"$log" &
    PID=$!; PIDS+=("$PID"); PORT=""
    for _ in $(seq 1 600); do # at most 60 s (training the first model included)
        PORT=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$log" | head -n 1)
        [ -n "$PORT" ] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    B=http://127.0.0.1:$PORT
    [ -n "$PORT" ]
}
stop_pid() { # stop_pid PID [SIGNAL]: signals and waits at most 30 s
    kill -"${2:-TERM}" "$1" 2>/dev/null
    for _ in $(seq 1 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
# req METHOD URL [CURL ARGS...]: as tests/lib.sh's, on a whole URL (several daemons here).
req() {
    local m=$1 u=$2; shift 2
    rm -f "$T/body" # curl leaves the file alone when there is no body (304)
    CODE=$(curl -s --max-time 10 -X "$m" -o "$T/body" -D "$T/hdrs" -w '%{http_code}' "$@" "$u" 2>/dev/null)
    BODY=$(tr -d '\000' 2>/dev/null <"$T/body")
}
post_json() { local u=$1 d=$2; shift 2; req POST "$u" -H 'Content-Type: application/json' --data-binary "$d" "$@"; }
wait_for() { # wait_for SECONDS CONDITION: polls every 0.1 s
    local end=$((SECONDS + $1)); shift
    while [ $SECONDS -le $end ]; do eval "$1" && return 0; sleep 0.1; done
    return 1
}

if ! "$BIN" serve --help >/dev/null 2>&1; then
    echo "not ok $BIN has no working 'serve' command" >&2
    echo "test_replica.sh: 0 passed, 1 failed"
    exit 1
fi

# ============================ configuration ============================
check "config: a replica without --primary is refused" cfg_refused "setting 'primary'" --role replica
check "config: an https primary is refused, naming TLS" cfg_refused "TLS is not supported" --role replica --primary https://127.0.0.1:9
check "config: a primary URL without a host is refused" cfg_refused "setting 'primary'" --role replica --primary http://:80
check "config: --primary without --role replica is refused" cfg_refused "only a replica follows" --primary http://127.0.0.1:9
check "config: an unknown role is refused" cfg_refused "setting 'role'" --role leader
"$BIN" serve --help >"$T/help" 2>&1
check "config: --help lists the role settings" ok_if 'grep -q -- "--replica-poll" "$T/help" && grep -q NCLREC_ROLE "$T/help"'

# ============================ standalone and empty primary ============================
check "standalone: starts (empty store)" start_server "$T/standalone.log" --listen 127.0.0.1:0 --data-dir "$T/s0" "${TRAIN[@]}"
S0=$PID
req GET "$B/replication/changes"; check "standalone: changefeed 404" problem 404
check "standalone: the 404 says which role serves the feeds" has 'role primary'
req GET "$B/replication/checkpoint"; check "standalone: checkpoint 404" problem 404
req GET "$B/metrics"; check "standalone: metrics name the role" has 'nclrec_role{role="standalone"} 1'
stop_pid "$S0"

check "empty primary: starts" start_server "$T/p0.log" --listen 127.0.0.1:0 --data-dir "$T/p0" --role primary "${TRAIN[@]}"
P0=$PID; B0=$B
req GET "$B0/replication/checkpoint"; check "empty primary: checkpoint 503 without a model" problem 503
req GET "$B0/replication/changes"; check "empty primary: changefeed of an empty store" ok_if 'is 200 && has "\"events\":\[\]" && has "\"last_seq\":0"'
check "empty primary: a replica of it starts" start_server "$T/r0.log" --listen 127.0.0.1:0 --data-dir "$T/r0" \
    --role replica --primary "$B0" "${REPL[@]}"
R0=$PID; BR0=$B
check "empty primary: the replica syncs the empty changefeed" wait_for 10 'grep -q "\"event\":\"replica_synced\"" "$T/r0.log"'
req GET "$BR0/readyz"; check "empty primary: replica not ready without a model" ok_if 'problem 503 && has "no model"'
post_json "$B0/interactions" '[{"user":"a","item":"x"},{"user":"a","item":"y"},{"user":"b","item":"x"},{"user":"b","item":"z"},{"user":"c","item":"y"}]'
req POST "$B0/admin/retrain"
check "empty primary: the first model reaches the replica" wait_for 60 'req GET "$BR0/readyz"; is 200'
req GET "$BR0/recommend?user=a&k=2"; check "empty primary: replica serves the new model" ok_if 'is 200 && has "\"version\":1,"'
check "empty primary: replica excludes the user's items" ok_if '! items_of | grep -qxE "x|y"'
stop_pid "$R0"; stop_pid "$P0"

# ============================ primary with a key ============================
check "primary: starts (seeded, with a key)" start_server "$T/p.log" --listen 127.0.0.1:0 --data-dir "$T/p" --role primary \
    --api-key "$KEY" "${TRAIN[@]}" "${SEED[@]}"
P=$PID; BP=$B; PPORT=$PORT
req GET "$BP/readyz"; check "primary: ready, role primary" ok_if 'is 200 && has "\"role\":\"primary\""'

# ---- the changefeed ----
req GET "$BP/replication/changes"; check "changes: 401 without the key" problem 401
req GET "$BP/replication/changes?after=0&limit=5" "${AUTH[@]}"
check "changes: a page of 5" ok_if 'is 200 && [ "$(grep -o "\"seq\":" <<<"$BODY" | wc -l)" = 5 ] && has "\"more\":true"'
check "changes: next is the last event's seq" ok_if '[ "$(json_field next)" = 5 ]'
req GET "$BP/replication/changes?after=5&limit=3" "${AUTH[@]}"
check "changes: the next page starts after 'after'" ok_if 'is 200 && has "\"events\":\[{\"seq\":6,"'
req GET "$BP/replication/changes?limit=0" "${AUTH[@]}"; check "changes: limit=0 400" problem 400
req GET "$BP/replication/changes?limit=10001" "${AUTH[@]}"; check "changes: limit above the maximum 400" problem 400
req GET "$BP/replication/changes?after=-1" "${AUTH[@]}"; check "changes: negative after 400" problem 400
req GET "$BP/replication/changes?after=x" "${AUTH[@]}"; check "changes: non-numeric after 400" problem 400
req GET "$BP/replication/changes?since=3" "${AUTH[@]}"; check "changes: unknown parameter 400" ok_if 'problem 400 && has since'
# every page followed to the end has every live interaction once, in sequence order
after=0; total=0; pages=0; : >"$T/seqs"
while [ $pages -lt 50 ]; do
    req GET "$BP/replication/changes?after=$after&limit=400" "${AUTH[@]}"
    is 200 || break
    grep -o '"seq":[0-9]*' <<<"$BODY" | cut -d: -f2 >>"$T/seqs"
    after=$(json_field next); pages=$((pages + 1))
    has '"more":false' && break
done
req GET "$BP/metrics" "${AUTH[@]}"; live=$(sed -n 's/^nclrec_store_interactions \([0-9]*\)$/\1/p' <<<"$BODY")
check "changes: pages hold every live interaction once ($(wc -l <"$T/seqs") of $live in $pages pages)" \
    ok_if '[ "$(wc -l <"$T/seqs")" = "$live" ] && sort -n -c "$T/seqs" && [ "$(sort -u "$T/seqs" | wc -l)" = "$live" ]'

# ---- the checkpoint ----
req GET "$BP/replication/checkpoint"; check "checkpoint: 401 without the key" problem 401
req GET "$BP/replication/checkpoint" "${AUTH[@]}"
check "checkpoint: 200 octet-stream" ok_if 'is 200 && [ "$(header content-type)" = application/octet-stream ]'
check "checkpoint: ETag and version headers" ok_if '[ "$(header etag)" = "\"1\"" ] && [ "$(header x-model-version)" = 1 ]'
crc=$(tail -c 4 "$T/body" | od -An -tx4 | tr -d ' \n')
check "checkpoint: length and CRC header match the file ($crc)" \
    ok_if '[ "$(header content-length)" = "$(stat -c %s "$T/body")" ] && [ "$(header x-checkpoint-crc32)" = "$crc" ]'
check "checkpoint: the bytes are the primary's checkpoint file" cmp -s "$T/body" "$(ls "$T"/p/models/model-*.nclrec | tail -n 1)"
req GET "$BP/replication/checkpoint" "${AUTH[@]}" -H 'If-None-Match: "1"'
check "checkpoint: If-None-Match of the served version 304" ok_if 'is 304 && [ ! -s "$T/body" ]'
req GET "$BP/replication/checkpoint" "${AUTH[@]}" -H 'If-None-Match: "7"'; check "checkpoint: another version 200" is 200
req GET "$BP/replication/checkpoint?v=1" "${AUTH[@]}"; check "checkpoint: unknown parameter 400" problem 400

# ============================ a replica ============================
check "replica: starts" start_server "$T/r1.log" --listen 127.0.0.1:0 --data-dir "$T/r1" --role replica \
    --primary "$BP" --api-key "$KEY" "${REPL[@]}"
R1=$PID; BR1=$B
check "replica: ready once synced" wait_for 20 'req GET "$BR1/readyz"; is 200'
check "replica: readyz names the role and a reachable primary" ok_if 'has "\"role\":\"replica\"" && has "\"status\":\"ready\"" && has "\"reachable\":true"'
same=0
for u in u1 u2 u3 u7 u50 stranger; do
    req GET "$BP/recommend?user=$u&k=10"; a=$BODY
    req GET "$BR1/recommend?user=$u&k=10"; [ "$a" = "$BODY" ] && same=$((same + 1))
done
check "replica: the same answers as the primary (6 users: $same)" [ "$same" = 6 ]
post_json "$BR1/interactions" '{"user":"u1","item":"i1"}' "${AUTH[@]}"
check "replica: a write is answered 307" problem 307
check "replica: the 307 names the primary and has its Location" ok_if 'has "$BP" && [ "$(header location)" = "$BP/interactions" ]'
req DELETE "$BR1/users/u1" "${AUTH[@]}"; check "replica: delete is answered 307" ok_if 'problem 307 && [ "$(header location)" = "$BP/users/u1" ]'
req POST "$BR1/admin/retrain" "${AUTH[@]}"; check "replica: admin is answered 307" problem 307
post_json "$BR1/interactions" '{"user":"u1","item":"i1"}'; check "replica: a write without the key is still 401" problem 401
req GET "$BR1/replication/changes" "${AUTH[@]}"; check "replica: the feeds are not served, the 404 names the primary" ok_if 'problem 404 && has "$BP"'
req GET "$BR1/model"; check "replica: /model shows the primary's state" ok_if 'is 200 && has "\"primary\":{" && has "\"applied_seq\":"'

# ---- new interactions and deletions reach the replica through the changefeed ----
req GET "$BR1/recommend?user=u3&k=5"; top=$(items_of | head -n 1)
post_json "$BP/interactions" "{\"user\":\"u3\",\"item\":\"$top\"}" "${AUTH[@]}"
t0=$SECONDS
check "feed: an item posted to the primary is excluded on the replica" \
    wait_for 10 'req GET "$BR1/recommend?user=u3&k=5"; is 200 && ! items_of | grep -qx "$top"'
post_json "$BP/interactions" '[{"user":"fresh","item":"i1"},{"user":"fresh","item":"i2"},{"user":"fresh","item":"i3"}]' "${AUTH[@]}"
check "feed: a new user gets fold-in on the replica" wait_for 10 'req GET "$BR1/recommend?user=fresh&k=5"; has "\"source\":\"fold-in\""'
check "feed: fold-in excludes the new user's items" ok_if '! items_of | grep -qxE "i1|i2|i3"'
req DELETE "$BP/users/u2" "${AUTH[@]}"
check "feed: a user deleted on the primary is served as unknown" wait_for 10 'req GET "$BR1/recommend?user=u2&k=3"; has "\"source\":\"popular\""'

# ---- catalogue writes reach the replica through the changefeed ----
req GET "$BR1/recommend?user=u4&k=5"; top=$(items_of | head -n 1)
req PUT "$BP/items/$top" -H 'Content-Type: application/json' --data-binary '{"categories":["feat"],"hidden":true}' "${AUTH[@]}"
check "items: a PUT on the primary 200" is 200
check "items: an item hidden on the primary is never recommended by the replica" \
    wait_for 10 'req GET "$BR1/recommend?user=u4&k=5"; is 200 && ! items_of | grep -qx "$top"'
req GET "$BR1/items/$top"; check "items: the replica answers GET /items from the changefeed" ok_if 'is 200 && has "\"hidden\":true" && has feat'
req GET "$BR1/items/i0"; check "items: an item the replica's model has exists there" ok_if 'is 200 && has "\"categories\":\[\]"'
req GET "$BR1/items/never-seen"; check "items: the replica answers 404 for an unknown item" problem 404
req PATCH "$BP/items/$top" -H 'Content-Type: application/json' --data-binary '{"hidden":false}' "${AUTH[@]}"
check "items: shown again on the replica once the primary un-hides it" \
    wait_for 10 'req GET "$BR1/recommend?user=u4&k=5"; is 200 && items_of | grep -qx "$top"'
req GET "$BR1/recommend?user=u4&k=5&category=feat"; check "items: category= on the replica" ok_if 'is 200 && [ "$(items_all)" = "$top " ]'
req DELETE "$BP/items/$top" "${AUTH[@]}"
check "items: an item deleted on the primary is never recommended by the replica" \
    wait_for 10 'req GET "$BR1/recommend?user=u4&k=5"; is 200 && ! items_of | grep -qx "$top"'
req PUT "$BR1/items/i1" -H 'Content-Type: application/json' --data-binary '{}' "${AUTH[@]}"
check "items: PUT on the replica 307 to the primary" ok_if 'problem 307 && [ "$(header location)" = "$BP/items/i1" ]'
req PATCH "$BR1/items/i1" -H 'Content-Type: application/json' --data-binary '{}' "${AUTH[@]}"; check "items: PATCH on the replica 307" problem 307
req DELETE "$BR1/items/i1" "${AUTH[@]}"; check "items: DELETE on the replica 307" problem 307
post_json "$BR1/items" '[{"id":"i1"}]' "${AUTH[@]}"; check "items: POST /items on the replica 307" problem 307

# ---- a new model reaches the replica ----
req POST "$BP/admin/retrain" "${AUTH[@]}"; check "model: retrain on the primary 202" is 202
check "model: version 2 reaches the replica" wait_for 60 'req GET "$BR1/recommend?user=u1&k=3"; has "\"version\":2,"'
req GET "$BR1/metrics"; check "model: the replica counts the loads" grep -q '^nclrec_replica_checkpoints_loaded_total 2$' "$T/body"
check "model: the replica made version 2's lists for the users asked under version 1 before serving it" \
    grep -q '"event":"cache_warmed","version":2,"users":[1-9]' "$T/r1.log"
check "model: the replica keeps the checkpoint files" [ "$(ls "$T/r1/models" | grep -c '^model-.*\.nclrec$')" = 2 ]

# ---- a checkpoint corrupt on the primary's disk is refused, and a new replica waits ----
ck=$(ls "$T"/p/models/model-*.nclrec | tail -n 1); cp "$ck" "$T/ck.bak"
printf '\xff\xff\xff\xff' | dd of="$ck" bs=1 seek=200 conv=notrunc 2>/dev/null
req GET "$BP/replication/checkpoint" "${AUTH[@]}"; check "corrupt: checkpoint 500" problem 500
check "replica2: starts" start_server "$T/r2.log" --listen 127.0.0.1:0 --data-dir "$T/r2" --role replica \
    --primary "$BP" --api-key "$KEY" "${REPL[@]}"
R2=$PID; BR2=$B
check "replica2: not ready while the checkpoint is corrupt, saying why" \
    wait_for 10 'req GET "$BR2/readyz"; problem 503 && has "answered 500"'
cp "$T/ck.bak" "$ck"
check "replica2: ready once the file is good" wait_for 10 'req GET "$BR2/readyz"; is 200'
stop_pid "$R2"
# a replica whose key is wrong cannot read the feeds and says so
check "replica3: starts with a wrong key" start_server "$T/r3.log" --listen 127.0.0.1:0 --data-dir "$T/r3" --role replica \
    --primary "$BP" --api-key wrong-key "${REPL[@]}"
R3=$PID; BR3=$B
check "replica3: not ready, the primary answered 401" wait_for 10 'req GET "$BR3/readyz"; problem 503 && has "answered 401"'
req GET "$BR3/recommend?user=u1"; check "replica3: recommend 503 before it has caught up" problem 503
stop_pid "$R3"

# ---- the primary goes away: the replica keeps serving and says so ----
stop_pid "$P" KILL
check "down: the replica notices" wait_for 10 'req GET "$BR1/readyz"; is 200 && has "\"reachable\":false"'
check "down: readyz says degraded with the primary's error" ok_if 'has "\"status\":\"degraded\"" && has "\"last_error\":"'
req GET "$BR1/recommend?user=u1&k=3"; check "down: recommendations still served from the last model" ok_if 'is 200 && has "\"version\":2,"'
req GET "$BR1/metrics"; check "down: metrics say the primary is down" grep -q '^nclrec_replica_primary_up 0$' "$T/body"
check "down: the outage is logged once" [ "$(grep -c '"event":"primary_unreachable"' "$T/r1.log")" = 1 ]
check "primary: restarts on its port" start_server "$T/p2.log" --listen "127.0.0.1:$PPORT" --data-dir "$T/p" --role primary \
    --api-key "$KEY" "${TRAIN[@]}"
P=$PID
check "back: the replica reconnects" wait_for 10 'req GET "$BR1/readyz"; has "\"status\":\"ready\"" && has "\"reachable\":true"'
req GET "$BR1/recommend?user=u5&k=5"; top=$(items_of | head -n 1)
post_json "$BP/interactions" "{\"user\":\"u5\",\"item\":\"$top\"}" "${AUTH[@]}"
check "back: the replica follows the changefeed again" \
    wait_for 10 'req GET "$BR1/recommend?user=u5&k=5"; is 200 && ! items_of | grep -qx "$top"'

# ---- a restarted replica serves its last model and catches up ----
stop_pid "$R1"
check "restart: replica starts again" start_server "$T/r1b.log" --listen 127.0.0.1:0 --data-dir "$T/r1" --role replica \
    --primary "$BP" --api-key "$KEY" "${REPL[@]}"
R1=$PID; BR1=$B
check "restart: it loaded its last checkpoint" grep -q '"local_model":true' "$T/r1b.log"
check "restart: ready after catching up" wait_for 20 'req GET "$BR1/readyz"; is 200'
req GET "$BR1/recommend?user=u5&k=5"; check "restart: the interaction posted earlier is excluded" ok_if 'is 200 && ! items_of | grep -qx "$top"'
req GET "$BR1/recommend?user=u2&k=3"; check "restart: the deleted user is still unknown" has '"source":"popular"'
req GET "$BR1/metrics"; check "restart: no download needed (the version matched)" grep -q '^nclrec_replica_checkpoints_loaded_total 0$' "$T/body"
stop_pid "$R1"; stop_pid "$P"

# ============================ spec <-> server, for these roles ============================
spec_triples "$SPEC" >"$T/spec.triples"
seen_triples "$T"/*.log >"$T/seen.triples"
grep -v '^#' tests/replica_spec_triples.txt | sort -u >"$T/roles.triples"
printf '%s\n' "GET /replication/changes 503" >"$T/unprovoked" # a store fault
undocumented=$(comm -23 "$T/seen.triples" "$T/spec.triples" | tr '\n' ';')
unexercised=$(comm -23 "$T/roles.triples" "$T/seen.triples" | comm -23 - "$T/unprovoked" | tr '\n' ';')
unlisted=$(grep ' /replication/' "$T/spec.triples" | comm -23 - "$T/roles.triples" | tr '\n' ';')
notinspec=$(comm -23 "$T/roles.triples" "$T/spec.triples" | tr '\n' ';')
check "spec: every status these daemons answered is documented [$undocumented]" [ -z "$undocumented" ]
check "spec: every role-only triple was answered [$unexercised]" [ -z "$unexercised" ]
check "spec: every /replication triple of the spec is listed [$unlisted]" [ -z "$unlisted" ]
check "spec: every listed triple is in the spec [$notinspec]" [ -z "$notinspec" ]

echo "test_replica.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
