#!/usr/bin/env bash
# cluster_test.sh - `make test-cluster`: real nginx (deploy/nginx.conf, with 127.0.0.1 ports
# substituted) in front of one nclrec primary and two replicas, all on 127.0.0.1, nginx run
# from a temporary prefix with its own logs and buffers. Checks, and prints the measured lags:
#   1. writes through nginx land on the primary (and only reads reach the replicas; the feeds
#      are not exposed);
#   2. a new model on the primary reaches both replicas, and shows in their answers, within the
#      poll interval (lag = replica swap - primary swap, from the two logs' timestamps);
#   3. an interaction posted through nginx is excluded from that user's recommendations on
#      every replica within the poll interval (lag measured from the 200 of the POST, both
#      replicas polled at once; EXCLUSION_ROUNDS posts, default 3);
#   4. under a wrk load of recommendations through nginx, `kill -9` of one replica loses no
#      request (zero non-2xx, zero socket errors: nginx retries on the other one), and the
#      replica restarted on its port serves again, caught up from the changefeed with the
#      writes made while it was down (the time from its restart to ready and caught up is
#      printed, and the requests nginx retried).
# "Within the poll interval" allows LAG_SLACK seconds (default 1.5) on top of the interval for
# the download, the index build and a busy machine; the lags are printed either way.
#
# Bounded: wrk runs LOAD_SECONDS (default 12), every wait has a limit, every process is killed
# at exit. Ends with "cluster_test.sh: P passed, F failed"; exits 1 on any failure.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BIN=${NCLREC_BIN:-$BUILD/nclrec}
POLL=${POLL:-0.5}
LAG_SLACK=${LAG_SLACK:-1.5}
LOAD_SECONDS=${LOAD_SECONDS:-12}
KEY=cluster-key-1
AUTH=(-H "Authorization: Bearer $KEY")
T=$(mktemp -d /tmp/nclrec-cluster.XXXXXX)
chmod 755 "$T"
pass=0; fail=0; CODE=""; BODY=""
PIDS=()

cleanup() {
    local np
    np=$(cat "$T/nginx/nginx.pid" 2>/dev/null)
    if [ -n "$np" ] && kill -QUIT "$np" 2>/dev/null; then # graceful: the master takes its workers along
        for _ in $(seq 1 40); do ps -o stat= -p "$np" 2>/dev/null | grep -qv Z || break; sleep 0.05; done
    fi
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done # reaped quietly
    [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT

check() {
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); echo "ok $name"
    else fail=$((fail + 1)); echo "not ok $name (last status=$CODE body=${BODY:0:300})" >&2; fi
}
ok_if() { eval "$1"; }
has() { grep -q -- "$1" <<<"$BODY"; }
is() { [ "$CODE" = "$1" ]; }
req() { # req METHOD URL [CURL ARGS...]
    local m=$1 u=$2; shift 2
    rm -f "$T/body"
    CODE=$(curl -s --max-time 10 -X "$m" -o "$T/body" -w '%{http_code}' "$@" "$u" 2>/dev/null)
    BODY=$(cat "$T/body" 2>/dev/null)
}
post_json() { local u=$1 d=$2; shift 2; req POST "$u" -H 'Content-Type: application/json' --data-binary "$d" "$@"; }
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$BODY" | head -n 1; }
items_of() { sed 's/.*"items":\[//; s/\].*//' <<<"$BODY" | grep -o '"item":"[^"]*"' | sed 's/"item":"//; s/"$//'; }
now() { date +%s.%N; }
wait_for() { # wait_for SECONDS CONDITION
    local end=$((SECONDS + $1)); shift
    while [ $SECONDS -le $end ]; do eval "$1" && return 0; sleep 0.02; done
    return 1
}
# A port nobody listens on (connect refused), below the kernel's range for outgoing connections
# (the replicas' polls open one per request, and one of those could hold a port from that
# range when nginx binds it); bounded.
free_port() {
    local p lo=32768
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null
    [ "$lo" -gt 12000 ] 2>/dev/null || lo=32768
    for _ in $(seq 1 200); do
        p=$((10000 + RANDOM % (lo - 10000)))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}
# start NAME ARGS...: starts `nclrec serve ARGS` logging to $T/NAME.log; sets PID and PORT.
start() {
    local name=$1; shift
    "$BIN" serve "$@" 2>>"$T/$name.log" &
    PID=$!; PIDS+=("$PID"); PORT=""
    for _ in $(seq 1 1200); do # at most 120 s (a first training included)
        PORT=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$T/$name.log" | tail -n 1)
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# Seconds since the epoch of the first log line of $1 with event swap and version $2.
swap_time() {
    local ts
    ts=$(grep '"event":"swap"' "$1" | grep "\"version\":$2," | head -n 1 | sed -n 's/.*"ts":"\([^"]*\)".*/\1/p')
    [ -n "$ts" ] && date -u -d "$ts" +%s.%N
}
fmt() { awk -v x="$1" 'BEGIN { printf "%.3f", x }'; }
within() { awk -v x="$1" -v lim="$2" 'BEGIN { exit !(x >= 0 && x <= lim) }'; }

for tool in nginx wrk curl; do
    command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin
    if ! command -v "$tool" >/dev/null; then
        echo "not ok $tool is missing (make test-cluster installs it when run as root)" >&2
        echo "cluster_test.sh: 0 passed, 1 failed"; exit 1
    fi
done
LIMIT=$(awk -v p="$POLL" -v s="$LAG_SLACK" 'BEGIN { print p + s }')

# ============================ the cluster ============================
TRAIN=(--embedding-size 32 --epochs 5 --min-epochs 1 --stopping-step 2 --num-clusters 10 --warm-up-step 1
       --train-batch-size 1024 --retrain-threads 1 --retrain-interval 0 --retrain-margin 1 --http-threads 2)
SEED=(--seed-synthetic --synth-users 1000 --synth-items 400 --synth-per-user 15)
check "primary starts" start primary --listen 127.0.0.1:0 --data-dir "$T/primary" --role primary --api-key "$KEY" \
    "${TRAIN[@]}" "${SEED[@]}"
P=$PID; PP=$PORT; BP=http://127.0.0.1:$PP
REPL=(--role replica --primary "$BP" --api-key "$KEY" --replica-poll "$POLL" --replica-timeout 2 --http-threads 2)
check "replica1 starts" start replica1 --listen 127.0.0.1:0 --data-dir "$T/replica1" "${REPL[@]}"
R1=$PID; R1P=$PORT
check "replica2 starts" start replica2 --listen 127.0.0.1:0 --data-dir "$T/replica2" "${REPL[@]}"
R2=$PID; R2P=$PORT
for r in $R1P $R2P; do
    check "replica :$r ready" wait_for 60 "req GET http://127.0.0.1:$r/readyz; is 200"
done

# nginx with deploy/nginx.conf, the compose host names replaced by these ports
N=$T/nginx
mkdir -p "$N/logs"
NGX_G="daemon off; pid $N/nginx.pid; error_log $N/error.log warn;"
[ "$(id -u)" = 0 ] && NGX_G="$NGX_G user root;"
nginx_conf() { # nginx_conf PORT: writes $N/nginx.conf listening on 127.0.0.1:PORT
    sed -e "s/server primary:8080/server 127.0.0.1:$PP/" -e "s/server replica1:8080/server 127.0.0.1:$R1P/" \
        -e "s/server replica2:8080/server 127.0.0.1:$R2P/" -e "s/listen 8080;/listen 127.0.0.1:$1;/" \
        -e "s#access_log /dev/stdout upstream;#access_log $N/access.log upstream; client_body_temp_path $N/body; proxy_temp_path $N/proxy; fastcgi_temp_path $N/fastcgi; uwsgi_temp_path $N/uwsgi; scgi_temp_path $N/scgi;#" \
        deploy/nginx.conf >"$N/nginx.conf"
}
start_nginx() { # up to 3 ports: a port taken between the probe and nginx's bind gets another
    for _ in 1 2 3; do
        NP=$(free_port) && nginx_conf "$NP" || return 1
        nginx -p "$N/" -c "$N/nginx.conf" -g "$NGX_G" 2>>"$N/stderr" &
        NGXPID=$!; PIDS+=("$NGXPID"); BN=http://127.0.0.1:$NP
        wait_for 10 'req GET "$BN/readyz"; is 200 || ! kill -0 $NGXPID 2>/dev/null' && kill -0 "$NGXPID" 2>/dev/null &&
            return 0
        echo "nginx did not come up on port $NP:" >&2; tail -n 5 "$N/stderr" "$N/error.log" >&2 2>/dev/null
        kill -KILL "$NGXPID" 2>/dev/null; wait "$NGXPID" 2>/dev/null; rm -f "$N/nginx.pid"
    done
    return 1
}
nginx_conf 8080
check "nginx.conf: every upstream and the listener were substituted" \
    ok_if 'grep -v "^ *#" "$N/nginx.conf" >"$N/directives"; [ "$(grep -c "127.0.0.1:" "$N/directives")" = 5 ] &&
           ! grep -qE "(primary|replica[12]):8080" "$N/directives"'
nginx -p "$N/" -c "$N/nginx.conf" -g "$NGX_G" -t >"$N/t.out" 2>&1; CODE=$?; BODY=$(cat "$N/t.out")
check "nginx -t accepts the configuration" is 0
check "nginx answers" start_nginx
if [ "$fail" != 0 ]; then # nothing below can pass without the cluster
    echo "cluster_test.sh: $pass passed, $fail failed"; exit 1
fi

# ============================ 1. writes land on the primary ============================
post_json "$BN/interactions" '{"user":"via-nginx","item":"i1"}' "${AUTH[@]}"
seq=$(json_field first_seq)
check "write through nginx: 200 from the primary" ok_if 'is 200 && [ -n "$seq" ]'
req GET "$BP/replication/changes?after=$((seq - 1))&limit=1" "${AUTH[@]}"
check "write through nginx: seq $seq is in the primary's changefeed" has "\"seq\":$seq,\"type\":\"interaction\",\"user\":\"via-nginx\""
post_json "$BN/interactions" '{"user":"via-nginx","item":"i2"}'; check "write through nginx without the key: 401" is 401
req DELETE "$BN/users/via-nginx" "${AUTH[@]}"; check "delete through nginx: 200" is 200
req GET "$BN/replication/changes" "${AUTH[@]}"; check "the feeds are not exposed through nginx" is 404
for i in $(seq 1 20); do req GET "$BN/recommend?user=u$i&k=5"; done
reads=$(grep -c '"GET /recommend' "$N/access.log")
to_replicas=$(grep '"GET /recommend' "$N/access.log" | grep -cE "upstream=127.0.0.1:($R1P|$R2P) ")
to_r1=$(grep '"GET /recommend' "$N/access.log" | grep -c "upstream=127.0.0.1:$R1P")
check "reads through nginx go to the replicas, both of them ($to_replicas of $reads; replica1 $to_r1)" \
    ok_if '[ "$to_replicas" = "$reads" ] && [ "$to_r1" -gt 0 ] && [ "$to_r1" -lt "$reads" ]'
check "writes through nginx went to the primary" ok_if '! grep -E "\"(POST|DELETE) " "$N/access.log" | grep -qv "upstream=127.0.0.1:$PP "'

# ============================ 2. a new model reaches both replicas ============================
req GET "$BP/model"; v0=$(json_field version); v1=$((v0 + 1))
req POST "$BN/admin/retrain" "${AUTH[@]}"; check "retrain through nginx: 202" is 202
check "the primary serves version $v1" wait_for 120 'req GET "$BP/model"; has "\"version\":$v1,"'
for r in 1 2; do
    port=$([ $r = 1 ] && echo "$R1P" || echo "$R2P")
    check "replica$r answers with version $v1" wait_for 30 "req GET http://127.0.0.1:$port/recommend?user=u3; has '\"version\":$v1,'"
    tp=$(swap_time "$T/primary.log" "$v1"); tr=$(swap_time "$T/replica$r.log" "$v1")
    lag=$(awk -v a="$tr" -v b="$tp" 'BEGIN { print a - b }')
    echo "MODEL LAG replica$r: $(fmt "$lag") s from the primary's swap to the replica's (poll interval $POLL s)"
    check "replica$r: model lag $(fmt "$lag") s <= $LIMIT s" within "$lag" "$LIMIT"
done

# ============================ 3. an interaction is excluded on every replica ============================
# EXCLUSION_ROUNDS posts (users u7, u8, ...), each one's absence polled on both replicas at once,
# so each replica's lag is measured from the same instant.
excluded_on() { # excluded_on PORT USER ITEM: 0 when the replica answers without ITEM
    req GET "http://127.0.0.1:$1/recommend?user=$2&k=5"; is 200 && ! items_of | grep -qx "$3"
}
PORTS=([1]=$R1P [2]=$R2P)
for round in $(seq 1 "${EXCLUSION_ROUNDS:-3}"); do
    user=u$((6 + round))
    req GET "http://127.0.0.1:$R1P/recommend?user=$user&k=5"; top=$(items_of | head -n 1)
    req GET "http://127.0.0.1:$R2P/recommend?user=$user&k=5"; top2=$(items_of | head -n 1)
    check "both replicas recommend the same top item to $user ($top)" ok_if '[ -n "$top" ] && [ "$top" = "$top2" ]'
    post_json "$BN/interactions" "{\"user\":\"$user\",\"item\":\"$top\"}" "${AUTH[@]}"; t0=$(now)
    check "the interaction of $user is accepted through nginx" is 200
    LAG=([1]="" [2]=""); end=$((SECONDS + 10))
    while { [ -z "${LAG[1]}" ] || [ -z "${LAG[2]}" ]; } && [ $SECONDS -le $end ]; do
        for r in 1 2; do
            [ -z "${LAG[$r]}" ] && excluded_on "${PORTS[$r]}" "$user" "$top" &&
                LAG[$r]=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }')
        done
        sleep 0.02
    done
    for r in 1 2; do
        shown="not within 10 s"; [ -n "${LAG[$r]}" ] && shown="$(fmt "${LAG[$r]}") s"
        echo "EXCLUSION LAG round $round replica$r: $shown from the POST's answer to the item's absence" \
             "(poll interval $POLL s)"
        check "replica$r: the item posted for $user is excluded within $LIMIT s" \
            ok_if '[ -n "${LAG[$r]}" ] && within "${LAG[$r]}" "$LIMIT"'
    done
    sleep 0.$((RANDOM % 9)) # the next post at another phase of the poll
done

# ============================ 4. kill -9 of a replica under load ============================
: >"$N/access.log"
wrk -t2 -c16 -d"${LOAD_SECONDS}s" --timeout 5s -s tests/cluster/recommend.lua "$BN/" >"$T/wrk.out" 2>&1 &
WRK=$!; PIDS+=("$WRK")
sleep 2
kill -KILL "$R1"; wait "$R1" 2>/dev/null
echo "killed replica1 (pid $R1) at $(date -u +%T.%N | cut -c1-12)"
: >"$T/down.items"
for i in $(seq 1 20); do # writes while replica1 is down
    post_json "$BN/interactions" "{\"user\":\"while-down\",\"item\":\"i$i\"}" "${AUTH[@]}"
    is 200 && echo "i$i" >>"$T/down.items"
done
req GET "$BN/recommend?user=u9&k=5"; check "reads through nginx still answered while replica1 is down" is 200
sleep 2
req GET "$BP/metrics" "${AUTH[@]}"; mark_down=$(sed -n 's/^nclrec_store_watermark \([0-9]*\)$/\1/p' <<<"$BODY")
t_restart=$(now)
check "replica1 restarts on its port" start replica1 --listen "127.0.0.1:$R1P" --data-dir "$T/replica1" "${REPL[@]}"
R1=$PID; t_listen=$(now)
check "replica1 is ready again, caught up to seq $mark_down" \
    wait_for 30 "req GET http://127.0.0.1:$R1P/readyz; is 200 && [ \"\$(json_field applied_seq)\" -ge '${mark_down:-0}' ]"
t_ready=$(now)
echo "REJOIN replica1: listening $(fmt "$(awk -v a="$t_listen" -v b="$t_restart" 'BEGIN { print a - b }')") s," \
     "ready and caught up to seq $mark_down $(fmt "$(awk -v a="$t_ready" -v b="$t_restart" 'BEGIN { print a - b }')") s" \
     "after its restart ($(wc -l <"$T/down.items") writes made while it was down)"
wait "$WRK"
cat "$T/wrk.out"
non2xx=$(sed -n 's/^non_2xx \([0-9]*\)$/\1/p' "$T/wrk.out")
total=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$T/wrk.out")
check "wrk sent requests through nginx ($total)" ok_if '[ -n "$total" ] && [ "$total" -gt 100 ]'
check "zero non-2xx answers under load with a replica killed (non_2xx=$non2xx)" [ "$non2xx" = 0 ]
check "zero socket errors" ok_if '! grep -q "Socket errors" "$T/wrk.out"'
retried=$(grep -c 'upstream=[^ ]*, ' "$N/access.log")
echo "KILL -9 under load: $total requests through nginx in ${LOAD_SECONDS} s, non-2xx ${non2xx:-?}," \
     "nginx retried $retried of them on another upstream"
# the restarted process's counters start at 0, and this test sent it no /recommend itself
req GET "http://127.0.0.1:$R1P/metrics"
after_restart=$(sed -n 's/^nclrec_http_requests_total{route="\/recommend",method="GET",status="200"} \([0-9]*\)$/\1/p' <<<"$BODY")
check "nginx sent reads to replica1 again after its restart (${after_restart:-0} answered)" ok_if '[ "${after_restart:-0}" -gt 0 ]'
check "replica1 loaded its last checkpoint at restart" ok_if 'tail -n 50 "$T/replica1.log" | grep -q "\"local_model\":true"'
req GET "$BP/metrics" "${AUTH[@]}"; mark=$(sed -n 's/^nclrec_store_watermark \([0-9]*\)$/\1/p' <<<"$BODY")
check "replica1 caught up to the primary's watermark $mark" \
    wait_for 10 "req GET http://127.0.0.1:$R1P/readyz; has '\"applied_seq\":$mark,'"
req GET "http://127.0.0.1:$R1P/recommend?user=while-down&k=50"
check "replica1 excludes the $(wc -l <"$T/down.items") items posted while it was down" \
    ok_if 'is 200 && [ -s "$T/down.items" ] && ! items_of | grep -qxF -f "$T/down.items"'

echo "cluster_test.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
