#!/usr/bin/env bash
# make bench-serve: the daemon's serving figures on a model trained on ML-1M, each comparison
# side by side in one run, because the machine is shared and absolute figures drift.
#
#   1. /recommend with wrk (keep-alive, REC_CONNS=64 connections, 1 wrk thread, varied known
#      users, --latency), then nginx serving a static JSON body of the size of a typical
#      answer, same script and settings. Throughput, p50/p99 and the ratios.
#      Then the daemon alone from 256 connections for WARM_SECONDS (an error below half the
#      64-connection rate).
#      Targets: nclrec >= 1/2 of nginx's requests/s, nclrec p99 < 5 ms. The daemon runs with
#      its default candidate cache (known users' lists kept after their first request; the
#      share of answers from it is reported); step 1b repeats the run with --rec-cache-mb 0,
#      every request scanning the index.
#   2. /recommend p99 while POST /admin/retrain runs and swaps the model (wrk runs from before
#      the request until 2 s after the swap, then is stopped with SIGINT, which makes it print
#      its figures). /model's version must change; any non-2xx answer is an error.
#      Target: p99 at most 3x the p99 of step 1.
#   3. Durable ingest: single-event POST /interactions from INGEST_CONNS=32 connections
#      (distinct user/item pairs), acknowledged after COMMIT with synchronous=FULL, against
#      bench/ingest_loop.c (one INSERT per transaction, WAL + synchronous=FULL, same file
#      system), run right after. Target: daemon rows/s >= 10x the loop's.
#      Then the same POSTs from 256 connections for WARM_SECONDS (an error when that gets
#      less than half the 32-connection rate).
#      Also reported: the same POSTs answered by nginx with a constant body (step 1's nginx,
#      nothing stored), the most this client gets from the machine, and what share of it
#      the daemon reaches and 10x the loop would need.
#      Step 3b: the same POSTs against the daemon's HTTP layer with the store replaced
#      (bench/ingest_bound.c): answered with no disk, and after one page write + fdatasync per
#      group, each next to a fresh loop run: the most step 3 can show on this machine.
#      Run twice: with the CPU-split thread count (HTTP_THREADS) and, after a restart from the
#      checkpoint, with INGEST_HTTP_THREADS. A request waiting for its commit holds no HTTP
#      thread (its connection is suspended), so one thread can have every connection's request
#      in the same group commit.
#      Step 3c: PostgreSQL (Debian's package, a cluster initdb'd for the run in a temporary
#      directory under $BUILD/bench-serve, fsync=on, synchronous_commit=on, 127.0.0.1 on a free
#      port): one single-row INSERT per transaction from the same INGEST_CONNS clients with
#      pgbench, right after the daemon's single-event POSTs; both rates and the ratio.
#   4. Memory: VmRSS/VmHWM of the serving process at each stage, of an idle daemon without a
#      model, and of a daemon restarted from the checkpoint (serving only, no training in the
#      process), against the bytes the model needs (bench/serve_model_bytes.c).
#   5. A read replica (--role replica, 1 HTTP thread) that follows the daemon restarted as
#      --role primary: /recommend on the primary, then on the replica, same wrk settings.
#   6. /recommend?category=C where C holds 1% of the catalogue (every 100th item, written with
#      POST /items), and one of 30% (every third item), beside the unfiltered /recommend,
#      alternating twice (A B C A B C) on the same daemon; p99 of each and their ratios. STEPS=category runs only this step (after the
#      import and the start-up training): make bench-serve-category.
#
# CPU split (2 cores): wrk gets 1 thread, the daemon HTTP_THREADS=1 HTTP thread, nginx 1
# worker. Start-up training uses every core (nothing is served yet); the retrain uses the
# daemon's defaults (all cores but one, niceness +10). --retrain-margin 1 makes the retrain
# swap whatever its held-out recall (step 2 measures a swap, not the quality gate).
#
# Every line starting with "result " is one measurement in key=value form; every command run
# is printed after "$ ". All of them are also in $BUILD/bench-serve/summary.txt.
#
# Environment: BUILD (build), DATA_DIR (../shared/data), RUN_SECONDS (15 per wrk run),
# WARM_SECONDS (3), EPOCHS (1, for the start-up training and the retrain), REC_CONNS (64),
# INGEST_CONNS (32), HTTP_THREADS (1), INGEST_HTTP_THREADS (32), RETRAIN_MAX_SECONDS (480),
# PROFILE (0; 1 = `perf record` the daemon during an extra /recommend and ingest run and print
# the top symbols). Installs wrk, nginx and postgresql with apt-get when missing and run as root.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
RUN_SECONDS=${RUN_SECONDS:-15}
WARM_SECONDS=${WARM_SECONDS:-3}
EPOCHS=${EPOCHS:-1}
REC_CONNS=${REC_CONNS:-64}
INGEST_CONNS=${INGEST_CONNS:-32}
HTTP_THREADS=${HTTP_THREADS:-1}
INGEST_HTTP_THREADS=${INGEST_HTTP_THREADS:-32}
RETRAIN_MAX_SECONDS=${RETRAIN_MAX_SECONDS:-480}
PROFILE=${PROFILE:-0}
STEPS=${STEPS:-all}
BIN=$BUILD/nclrec
# Absolute: nginx is started with -p and takes relative paths from there.
mkdir -p "$BUILD/bench-serve" && W=$(cd "$BUILD/bench-serve" && pwd) || exit 1
export BENCH_LUA_DIR=$PWD/bench

DPID=""; DPORT=""; NPID=""; WPID=""; ERRORS=0
declare -A RES

# ============================ helpers ============================

cleanup() {
    [ -n "$WPID" ] && kill -KILL "$WPID" 2>/dev/null
    [ -n "${RPID:-}" ] && kill -KILL "$RPID" 2>/dev/null
    [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
    stop_nginx
    stop_postgres
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "[bench-serve ${SECONDS}s] $*"; }
die() { echo "bench-serve: $*" >&2; exit 1; }
show() { echo "\$ $*"; } # the exact command, before it runs
error() { ERRORS=$((ERRORS + 1)); echo "ERROR: $*"; echo "ERROR: $*" >>"$W/summary.txt"; }

# result NAME KEY=VALUE...: one measurement line, kept for later steps and the summary.
result() {
    local name=$1; shift
    RES[$name]="$*"
    echo "result name=$name $*" | tee -a "$W/summary.txt"
}
# fld NAME KEY: a value of an earlier result.
fld() { tr ' ' '\n' <<<"${RES[$1]:-}" | sed -n "s/^$2=//p" | head -n 1; }
# calc EXPR: floating-point arithmetic, 3 decimals.
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

# Installs wrk, nginx and PostgreSQL (server and pgbench) like the Makefile's deps
# (tools/debs.sh); when it cannot (not root), debs.sh prints the apt-get line and the run stops.
deps() {
    sh tools/debs.sh bench-serve wrk nginx postgresql ||
        die "the packages above are needed (PostgreSQL for step 3c's pgbench); install them and rerun"
}

# ============================ the daemon ============================

# start_daemon LOG ARGS...: starts `nclrec serve` on 127.0.0.1:0 and waits (at most 900 s,
# start-up training included) for its "listening" line; sets DPID, DPORT and B.
start_daemon() {
    local log=$1; shift
    show "$BIN serve --listen 127.0.0.1:0 $* 2>$log &"
    "$BIN" serve --listen 127.0.0.1:0 "$@" 2>"$log" &
    DPID=$!; DPORT=""
    for _ in $(seq 1 9000); do
        DPORT=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$log" | head -n 1)
        [ -n "$DPORT" ] && break
        kill -0 "$DPID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$DPORT" ] || { tail -n 5 "$log"; die "the daemon did not start (log: $log)"; }
    B=http://127.0.0.1:$DPORT
}

# Stops the daemon with SIGTERM (orderly shutdown), SIGKILL after 30 s.
stop_daemon() {
    [ -n "$DPID" ] || return 0
    kill -TERM "$DPID" 2>/dev/null
    for _ in $(seq 1 300); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    DPID=""
}

# mem NAME: the daemon's resident set now and at its peak, in KiB.
mem() {
    local rss hwm
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DPID/status")
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DPID/status")
    result "$1" rss_kb="$rss" hwm_kb="$hwm" rss_mib="$(calc "$rss / 1024")" hwm_mib="$(calc "$hwm / 1024")"
}

# metric NAME [LABELS]: one value of the daemon's /metrics (0 when absent).
metric() {
    local v
    v=$(curl -s --max-time 5 "$B/metrics" | grep -F "$1${2:-} " | grep -v '^#' | head -n 1 | awk '{ print $2 }')
    echo "${v:-0}"
}
model_json() { curl -s --max-time 5 "$B/model"; }
model_version() { model_json | sed -n 's/^{"version":\([0-9]*\).*/\1/p'; }
# jnum KEY JSON: the first numeric value of KEY in a JSON text (top-level keys come first).
jnum() { grep -o "\"$1\":[0-9.e+-]*" <<<"$2" | head -n 1 | cut -d: -f2; }

# ============================ nginx ============================

# A port nobody listens on (the kernel's ephemeral range is avoided).
free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 12000))
        ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return 0; }
    done
    return 1
}

# start_nginx BODY_FILE: nginx, one worker, serving BODY_FILE at /recommend on 127.0.0.1,
# from a configuration generated into $W/nginx; as user nobody when run as root. Sets NPID, NB.
start_nginx() {
    local ng=$W/nginx body=$1 port as=()
    rm -rf "$ng"
    mkdir -p "$ng/www" "$ng/tmp"
    cp "$body" "$ng/www/recommend.json"
    if [ "$(id -u)" = 0 ]; then
        chown -R nobody:nogroup "$ng"
        if setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$ng/www/recommend.json"; then
            as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
        else
            echo "note: user nobody cannot reach $ng; nginx runs as $(id -un)"
        fi
    fi
    for _ in 1 2 3 4 5; do # another process may take the port first
        port=$(free_port) || die "no free port for nginx"
        cat >"$ng/nginx.conf" <<EOF
# Generated by bench/bench_serve.sh: one worker, no access log, keep-alive without a request
# limit, the file's descriptor cached; /recommend answers a static JSON body, POST
# /interactions a constant one (the client's ceiling for step 3).
worker_processes 1;
daemon off;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $ng/tmp/body;
    proxy_temp_path $ng/tmp/proxy;
    fastcgi_temp_path $ng/tmp/fastcgi;
    uwsgi_temp_path $ng/tmp/uwsgi;
    scgi_temp_path $ng/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 75s;
    open_file_cache max=16;
    server {
        listen 127.0.0.1:$port;
        location = /recommend {
            default_type application/json;
            alias $ng/www/recommend.json;
        }
        location = /interactions {
            default_type application/json;
            return 200 '{"accepted":1,"first_seq":1,"last_seq":1,"replayed":false}';
        }
    }
}
EOF
        show "${as[*]} nginx -e $ng/error.log -p $ng -c $ng/nginx.conf &"
        "${as[@]}" nginx -e "$ng/error.log" -p "$ng" -c "$ng/nginx.conf" &
        NPID=$!
        NB=http://127.0.0.1:$port
        for _ in $(seq 1 50); do
            [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$NB/recommend")" = 200 ] && return 0
            kill -0 "$NPID" 2>/dev/null || break
            sleep 0.1
        done
        stop_nginx
    done
    cat "$ng/error.log" 2>/dev/null
    die "nginx did not start"
}

# Stops nginx's master and its worker (by their process ids).
stop_nginx() {
    [ -n "$NPID" ] || return 0
    local kids
    kids=$(ps -o pid= --ppid "$NPID" 2>/dev/null)
    kill -TERM "$NPID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$NPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$NPID" $kids 2>/dev/null
    wait "$NPID" 2>/dev/null
    NPID=""
}

# ============================ wrk ============================

# wrk_cmd CONNS SECONDS SCRIPT URL ARGS...: the wrk command line (1 thread, latency histogram).
wrk_cmd() {
    local c=$1 d=$2 s=$3 u=$4; shift 4
    echo wrk -t1 -c"$c" -d"$d"s --latency -s "bench/$s" "$u" -- "$@"
}

# wrk_run NAME CONNS SECONDS SCRIPT URL ARGS...: one run; its figures become result NAME.
wrk_run() {
    local name=$1; shift
    local cmd
    cmd=$(wrk_cmd "$@")
    show "$cmd"
    $cmd >"$W/$name.wrk" 2>&1
    wrk_result "$name"
}

# wrk_result NAME: turns the script's summary line in $W/NAME.wrk into a result; wrk's own
# report is printed too, and any non-2xx answer or socket error is an error.
wrk_result() {
    local name=$1 line
    sed 's/^/    /' "$W/$1.wrk" | grep -v 'wrk_result'
    line=$(grep '^wrk_result ' "$W/$name.wrk" | tail -n 1 | sed 's/^wrk_result //')
    [ -n "$line" ] || { error "$name: wrk printed no figures"; return 1; }
    result "$name" "$line"
    local bad f
    for f in non2xx connect_errors read_errors write_errors timeouts; do
        bad=$(fld "$name" "$f")
        [ "${bad:-0}" = 0 ] || error "$name: $f=$bad (wrk: $(grep -E 'Non-2xx|Socket errors' "$W/$name.wrk" | tr -s ' ' | tr '\n' ';'))"
    done
}

# ============================ steps ============================

# The ML-1M interactions, the known user and item ids, an API key for the writes.
prepare() {
    show "bench/prepare_data.sh (OUT=$BUILD/data)"
    OUT=$BUILD/data bench/prepare_data.sh || die "bench/prepare_data.sh failed"
    ML=$BUILD/data/ml1m/all.txt
    [ -s "$ML" ] || die "ML-1M not found under ${DATA_DIR:-../shared/data} (no $ML)"
    rm -rf "$W"
    mkdir -p "$W"
    : >"$W/summary.txt"
    cut -d' ' -f1 "$ML" | sort -u >"$W/users.txt"
    cut -d' ' -f2- "$ML" | tr ' ' '\n' | grep . | sort -u >"$W/items.txt"
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/api.key"
    chmod 600 "$W/api.key"
    KEY=$(cat "$W/api.key")
}

# Resident set of a daemon with an empty store and no model: the fixed cost of the process.
idle_memory() {
    say "idle daemon (empty store, no model)"
    start_daemon "$W/idle.log" --data-dir "$W/idle-data" --http-threads "$HTTP_THREADS" --retrain-interval 0
    sleep 1
    mem mem_idle_no_model
    stop_daemon
}

# Imports ML-1M into a fresh store and starts the daemon, which trains EPOCHS epochs first.
start_trained() {
    say "import ML-1M and start the daemon (trains $EPOCHS epochs at start)"
    show "$BIN import $ML --data-dir $W/data"
    "$BIN" import "$ML" --data-dir "$W/data" 2>"$W/import.log" || die "import failed: $(tail -c 300 "$W/import.log")"
    tail -n 1 "$W/import.log"
    DFLAGS=(--data-dir "$W/data" --api-key-file "$W/api.key" --retrain-interval 0 --retrain-margin 1
            --epochs "$EPOCHS" --min-epochs 0)
    start_daemon "$W/daemon.log" "${DFLAGS[@]}" --http-threads "$HTTP_THREADS"
    local m
    m=$(model_json)
    result model users="$(jnum users "$m")" items="$(jnum items "$m")" dim="$(jnum dim "$m")" \
        version="$(jnum version "$m")" epochs_run="$(jnum epochs_run "$m")" train_seconds="$(jnum train_seconds "$m")" \
        test_recall20="$(sed 's/.*"test":{"recall@10":[0-9.e-]*,"ndcg@10":[0-9.e-]*,"recall@20":\([0-9.e-]*\).*/\1/' <<<"$m")"
    mem mem_after_start_training
}

# A body of the median size of the daemon's answers for 49 users spread over the list.
typical_body() {
    local n i u
    n=$(wc -l <"$W/users.txt")
    for i in $(seq 0 48); do
        u=$(sed -n "$((i * n / 49 + 1))p" "$W/users.txt")
        curl -s --max-time 5 -o "$W/answer.$i.json" "$B/recommend?user=$u&k=10"
    done
    BODY=$(for i in $(seq 0 48); do echo "$(wc -c <"$W/answer.$i.json") $W/answer.$i.json"; done | sort -n | sed -n 25p | cut -d' ' -f2)
    grep -q '"source":"ncl"' "$BODY" || error "the sample answer is not from the model: $(cat "$BODY")"
    result answer_body bytes="$(wc -c <"$BODY")" sample="$BODY"
}

# Step 1: /recommend, daemon then nginx, same wrk settings.
recommend_vs_nginx() {
    say "step 1: /recommend, nclrec vs nginx; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    typical_body
    local n0 s0 c0 ncl0
    wrk_run warm_nclrec "$REC_CONNS" "$WARM_SECONDS" serve_recommend.lua "$B" "$W/users.txt" 10 >/dev/null
    n0=$(metric nclrec_http_request_duration_seconds_count '{route="/recommend",method="GET",status="200"}')
    s0=$(metric nclrec_http_request_duration_seconds_sum '{route="/recommend",method="GET",status="200"}')
    ncl0=$(metric nclrec_recommendations_total '{source="ncl"}')
    local hit0 scan0
    hit0=$(metric nclrec_recommend_cache_total '{outcome="hit"}')
    scan0=$(metric nclrec_recommend_cache_total '{outcome="scan"}')
    wrk_run recommend_nclrec "$REC_CONNS" "$RUN_SECONDS" serve_recommend.lua "$B" "$W/users.txt" 10
    local n1 s1 ncl1
    n1=$(metric nclrec_http_request_duration_seconds_count '{route="/recommend",method="GET",status="200"}')
    s1=$(metric nclrec_http_request_duration_seconds_sum '{route="/recommend",method="GET",status="200"}')
    ncl1=$(metric nclrec_recommendations_total '{source="ncl"}')
    result recommend_nclrec_server answered="$(awk "BEGIN { printf \"%d\", $n1 - $n0 }")" handler_mean_ms="$(calc "($s1 - $s0) / ($n1 - $n0) * 1000")" \
        from_model_share="$(calc "($ncl1 - $ncl0) / ($n1 - $n0)")" \
        cache_hit_share="$(calc "($(metric nclrec_recommend_cache_total '{outcome="hit"}') - $hit0) / ($n1 - $n0)")" \
        cache_scan_share="$(calc "($(metric nclrec_recommend_cache_total '{outcome="scan"}') - $scan0) / ($n1 - $n0)")"
    mem mem_after_recommend
    # many connections: 256 readers (libmicrohttpd's epoll threads sat idle at 128 per thread;
    # see start_daemon in server/http/http.c); an error below half the 64-connection rate
    wrk_run recommend_nclrec_c256 256 "$WARM_SECONDS" serve_recommend.lua "$B" "$W/users.txt" 10
    local many; many=$(calc "$(fld recommend_nclrec_c256 rps) / $(fld recommend_nclrec rps)")
    result recommend_c256_compare rps_256_over_64="$many"
    awk -v r="$many" 'BEGIN { exit !(r < 0.5) }' && error "/recommend: 256 connections got $many of the 64-connection rate"
    start_nginx "$BODY"
    wrk_run warm_nginx "$REC_CONNS" "$WARM_SECONDS" serve_recommend.lua "$NB" "$W/users.txt" 10 >/dev/null
    wrk_run recommend_nginx "$REC_CONNS" "$RUN_SECONDS" serve_recommend.lua "$NB" "$W/users.txt" 10
    # step 3's ceiling: the same single-event POSTs answered by nginx with a constant body,
    # nothing stored: what wrk and the kernel's loopback manage on this machine
    wrk_run ingest_nginx_constant "$INGEST_CONNS" "$RUN_SECONDS" serve_ingest.lua "$NB" "$W/items.txt" "$W/api.key" "ceil-$$"
    stop_nginx
    local r p99
    r=$(calc "$(fld recommend_nclrec rps) / $(fld recommend_nginx rps)")
    p99=$(fld recommend_nclrec p99_ms)
    result recommend_compare rps_ratio="$r" rps_target=0.5 rps_met="$(awk -v r="$r" 'BEGIN { print (r >= 0.5 ? "yes" : "no") }')" \
        nclrec_p99_ms="$p99" p99_target_ms=5 p99_met="$(awk -v p="$p99" 'BEGIN { print (p < 5 ? "yes" : "no") }')" \
        p99_ratio_to_nginx="$(calc "$p99 / $(fld recommend_nginx p99_ms)")" \
        nginx_body_bytes="$(wc -c <"$BODY")" load="$(cut -d' ' -f1 /proc/loadavg)"
}

# Step 2: /recommend under wrk while a retrain runs and swaps.
recommend_during_retrain() {
    say "step 2: /recommend during a retrain and swap; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    local v0 v1 code t0 cmd swapped=0 outcome shown=0
    v0=$(model_version)
    cmd=$(wrk_cmd "$REC_CONNS" "$RETRAIN_MAX_SECONDS" serve_recommend.lua "$B" "$W/users.txt" 10)
    show "$cmd &   (stopped with SIGINT 2 s after the swap)"
    $cmd >"$W/recommend_retrain.wrk" 2>&1 &
    WPID=$!
    sleep 2
    show "curl -X POST -H 'Authorization: Bearer \$(cat $W/api.key)' $B/admin/retrain"
    code=$(curl -s -o "$W/retrain.json" -w '%{http_code}' --max-time 10 -X POST -H "Authorization: Bearer $KEY" "$B/admin/retrain")
    [ "$code" = 202 ] || error "POST /admin/retrain answered $code: $(cat "$W/retrain.json")"
    t0=$SECONDS
    while [ $((SECONDS - t0)) -lt $((RETRAIN_MAX_SECONDS - 10)) ] && kill -0 "$WPID" 2>/dev/null; do
        sleep 1
        v1=$(model_version)
        if [ -n "$v1" ] && [ "$v1" != "$v0" ]; then swapped=1; break; fi
        if [ "$shown" = 0 ] && [ $((SECONDS - t0)) -ge 20 ]; then # once, mid-training
            shown=1
            ps -L -o tid=,ni=,pcpu=,comm= -p "$DPID" | sort -k3 -rn | head -n 5 | sed 's/^/    thread tid,nice,%cpu: /'
        fi
    done
    local took=$((SECONDS - t0))
    sleep 2
    kill -INT "$WPID" 2>/dev/null
    wait "$WPID" 2>/dev/null
    WPID=""
    wrk_result recommend_retrain
    v1=$(model_version)
    outcome=$(model_json | sed -n 's/.*"last":{"outcome":"\([a-z]*\)".*"seconds":\([0-9.]*\).*/\1 \2/p')
    [ "$swapped" = 1 ] || error "the model version did not change within $RETRAIN_MAX_SECONDS s (still $v1; last retrain: ${outcome:-none})"
    local p99 r
    p99=$(fld recommend_retrain p99_ms)
    r=$(calc "$p99 / $(fld recommend_nclrec p99_ms)")
    result retrain_compare version_before="$v0" version_after="$v1" swapped="$swapped" outcome="${outcome%% *}" \
        retrain_seconds="${outcome##* }" seconds_to_swap="$took" p99_ms="$p99" p99_without_ms="$(fld recommend_nclrec p99_ms)" \
        p99_ratio="$r" p99_ratio_target=3 p99_met="$(awk -v r="$r" -v s="$swapped" 'BEGIN { print (r <= 3 && s == 1 ? "yes" : "no") }')" \
        non2xx="$(fld recommend_retrain non2xx)" load="$(cut -d' ' -f1 /proc/loadavg)"
    mem mem_after_retrain
}

# Step 3: durable ingest through the daemon (NAME), then the plain loop on the same disk.
ingest_vs_loop() {
    local name=$1
    say "step 3: durable ingest ($name, $INGEST_CONNS connections) vs one-row-per-transaction loop; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    local w0 c0 w1 c1 rows
    w0=$(metric nclrec_store_watermark); c0=$(metric nclrec_store_commits_total)
    wrk_run "$name" "$INGEST_CONNS" "$RUN_SECONDS" serve_ingest.lua "$B" "$W/items.txt" "$W/api.key" "$name-$$"
    sleep 1 # requests still in flight when wrk stopped are committed but not counted by wrk
    w1=$(metric nclrec_store_watermark); c1=$(metric nclrec_store_commits_total)
    rows=$((w1 - w0))
    local acked=$(($(fld "$name" requests) - $(fld "$name" non2xx)))
    [ "$rows" -ge "$acked" ] && [ "$rows" -le $((acked + INGEST_CONNS)) ] ||
        error "$name: $rows rows committed for $acked acknowledged requests"
    result "${name}_store" rows="$rows" commits="$((c1 - c0))" rows_per_commit="$(calc "$rows / ($c1 - $c0 + 1e-9)")"
    show "$BUILD/bench/ingest_loop $W/$name-loop.db $RUN_SECONDS"
    local line
    line=$("$BUILD/bench/ingest_loop" "$W/$name-loop.db" "$RUN_SECONDS") || error "ingest_loop failed"
    echo "    $line"
    result "${name}_loop" "$(sed 's/^ingest_loop //; s/ db=.*//' <<<"$line")"
    local r
    r=$(calc "$(fld "$name" rps) / $(fld "${name}_loop" rows_per_s)")
    # many connections: 256 writers on the same daemon (libmicrohttpd 0.9.75's single epoll
    # thread all but stopped at 128; see start_daemon in server/http/http.c)
    wrk_run "${name}_c256" 256 "$WARM_SECONDS" serve_ingest.lua "$B" "$W/items.txt" "$W/api.key" "$name-c256-$$"
    local many; many=$(calc "$(fld "${name}_c256" rps) / $(fld "$name" rps)")
    result "${name}_c256_compare" rps_256_over_32="$many"
    awk -v r="$many" 'BEGIN { exit !(r < 0.5) }' && error "$name: 256 connections got $many of the 32-connection rate"
    local ceil; ceil=$(fld ingest_nginx_constant rps)
    result "${name}_compare" daemon_rows_per_s="$(fld "$name" rps)" loop_rows_per_s="$(fld "${name}_loop" rows_per_s)" \
        ratio="$r" target=10 met="$(awk -v r="$r" 'BEGIN { print (r >= 10 ? "yes" : "no") }')" \
        p99_ms="$(fld "$name" p99_ms)" nginx_constant_rps="$ceil" \
        daemon_over_nginx_constant="$(calc "$(fld "$name" rps) / $ceil")" \
        target_over_nginx_constant="$(calc "10 * $(fld "${name}_loop" rows_per_s) / $ceil")" load="$(cut -d' ' -f1 /proc/loadavg)"
    rm -f "$W/$name-loop.db"*
}

# ============================ PostgreSQL ============================

PGPID=""; PGD=""; PGPORT=""
# The newest PostgreSQL server binaries of Debian's packages.
pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# start_postgres: a cluster of its own in a temporary directory under $W (the disk of the
# daemon's data directory), durable as the daemon is (fsync=on, synchronous_commit=on,
# full_page_writes=on), on 127.0.0.1 and a free port, as user nobody when run as root
# (PostgreSQL refuses root). Sets PGPID, PGD, PGPORT and AS_PG.
start_postgres() {
    local bin; bin=$(pg_bindir)
    [ -x "$bin/initdb" ] && [ -x "$bin/pgbench" ] ||
        die "PostgreSQL's initdb and pgbench are not under /usr/lib/postgresql/*/bin (package postgresql; see tools/debs.sh)"
    PGD=$(mktemp -d "$W/pg.XXXXXX") || die "cannot make a directory for PostgreSQL under $W"
    AS_PG=()
    if [ "$(id -u)" = 0 ]; then
        chown nobody:nogroup "$PGD"
        setpriv --reuid=nobody --regid=nogroup --clear-groups test -w "$PGD" ||
            die "user nobody cannot write $PGD (PostgreSQL does not run as root): make $W reachable by nobody"
        AS_PG=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    fi
    PGPORT=$(free_port) || die "no free port for PostgreSQL"
    show "${AS_PG[*]} $bin/initdb -D $PGD/data -U bench --auth=trust --no-locale -E UTF8"
    "${AS_PG[@]}" "$bin/initdb" -D "$PGD/data" -U bench --auth=trust --no-locale -E UTF8 >"$W/pg-initdb.log" 2>&1 ||
        die "initdb failed: $(tail -n 5 "$W/pg-initdb.log")"
    local opts=(-D "$PGD/data" -c listen_addresses=127.0.0.1 -p "$PGPORT" -c unix_socket_directories="$PGD"
                -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=$((INGEST_CONNS + 10)))
    show "${AS_PG[*]} $bin/postgres ${opts[*]} 2>$W/pg.log &"
    "${AS_PG[@]}" "$bin/postgres" "${opts[@]}" 2>"$W/pg.log" &
    PGPID=$!
    for _ in $(seq 1 300); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" && return 0
        kill -0 "$PGPID" 2>/dev/null || break
        sleep 0.1
    done
    die "PostgreSQL did not start: $(tail -n 5 "$W/pg.log")"
}

stop_postgres() {
    [ -n "$PGPID" ] || return 0
    kill -INT "$PGPID" 2>/dev/null # fast shutdown
    for _ in $(seq 1 300); do kill -0 "$PGPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PGPID" 2>/dev/null
    wait "$PGPID" 2>/dev/null
    PGPID=""
    rm -rf "$PGD"
}

# Step 3c: the store a user would otherwise put behind such a service: PostgreSQL, one
# single-row INSERT per transaction (a durable commit each) from the same INGEST_CONNS
# clients as the daemon's single-event POSTs of step 3 (NAME, run just before), into a
# table like ingest_loop's (text user and item, an index on them). pgbench, 1 thread as wrk.
ingest_vs_postgres() {
    local name=$1 bin; bin=$(pg_bindir)
    say "step 3c: PostgreSQL single-row INSERT transactions from $INGEST_CONNS clients; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    start_postgres
    local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U bench -d postgres)
    "${psql[@]}" -c "CREATE TABLE interactions (seq bigserial PRIMARY KEY, \"user\" text NOT NULL, item text NOT NULL, ts bigint NOT NULL);
                     CREATE INDEX interactions_user_item ON interactions (\"user\", item);" >"$W/pg-schema.log" 2>&1 ||
        { error "PostgreSQL schema: $(cat "$W/pg-schema.log")"; stop_postgres; return; }
    cat >"$W/pg-insert.sql" <<'SQL'
\set u random(1, 1000000000)
INSERT INTO interactions ("user", item, ts) VALUES ('u' || :client_id || '-' || :u, 'i' || :u, 1700000000);
SQL
    show "$bin/pgbench -n -h 127.0.0.1 -p $PGPORT -U bench -c $INGEST_CONNS -j 1 -T $RUN_SECONDS -f $W/pg-insert.sql postgres"
    "$bin/pgbench" -n -h 127.0.0.1 -p "$PGPORT" -U bench -c "$INGEST_CONNS" -j 1 -T "$RUN_SECONDS" \
        -f "$W/pg-insert.sql" postgres >"$W/pgbench.out" 2>&1 || error "pgbench failed: $(tail -n 5 "$W/pgbench.out")"
    local tps rows lat
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$W/pgbench.out")
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$W/pgbench.out")
    rows=$("${psql[@]}" -At -c "SELECT count(*) FROM interactions" 2>/dev/null)
    stop_postgres
    [ -n "$tps" ] || { error "pgbench printed no tps: $(tail -n 5 "$W/pgbench.out")"; return; }
    result postgres_insert tps="$tps" rows="$rows" latency_avg_ms="$lat" clients="$INGEST_CONNS" \
        version="$("$bin/postgres" --version | awk '{ print $3 }')"
    result "${name}_postgres_compare" daemon_rows_per_s="$(fld "$name" rps)" postgres_tps="$tps" \
        ratio="$(calc "$(fld "$name" rps) / $tps")" load="$(cut -d' ' -f1 /proc/loadavg)"
}

# Step 3b: what step 3 can reach at most here, whatever the store does: the daemon's own HTTP
# layer (bench/ingest_bound.c: server/http/http.c, a jansson parse, the same parking and answer) with the
# store replaced by a writer thread that answers each group at once (mode none) or after one
# 4 KiB page write and fdatasync (mode fsync, the least a durable group commit does). Each
# next to a fresh loop run and the daemon's figure of step 3 (NAME).
ingest_bounds() {
    local name=$1 mode line bpid bport
    say "step 3b: the ingest bounds of the daemon's HTTP layer; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    for mode in none fsync; do
        show "$BUILD/bench/ingest_bound $mode $W/bound.dat $W/api.key $HTTP_THREADS >$W/bound-$mode.out &"
        "$BUILD/bench/ingest_bound" "$mode" "$W/bound.dat" "$W/api.key" "$HTTP_THREADS" >"$W/bound-$mode.out" 2>&1 &
        bpid=$!; bport=""
        for _ in $(seq 1 100); do
            bport=$(sed -n 's/^listening port=//p' "$W/bound-$mode.out")
            [ -n "$bport" ] && break
            sleep 0.1
        done
        if [ -z "$bport" ]; then
            error "ingest_bound $mode did not start: $(cat "$W/bound-$mode.out")"
            kill -KILL "$bpid" 2>/dev/null
            continue
        fi
        wrk_run "ingest_bound_$mode" "$INGEST_CONNS" "$RUN_SECONDS" serve_ingest.lua "http://127.0.0.1:$bport" "$W/items.txt" "$W/api.key" "bound-$$"
        kill -TERM "$bpid"; wait "$bpid" || error "ingest_bound $mode failed: $(tail -n 2 "$W/bound-$mode.out")"
    done
    rm -f "$W/bound.dat" "$W/bound-loop.db"*
    show "$BUILD/bench/ingest_loop $W/bound-loop.db $RUN_SECONDS"
    line=$("$BUILD/bench/ingest_loop" "$W/bound-loop.db" "$RUN_SECONDS") || error "ingest_loop failed"
    result ingest_bound_loop "$(sed 's/^ingest_loop //; s/ db=.*//' <<<"$line")"
    rm -f "$W/bound-loop.db"*
    local loop; loop=$(fld ingest_bound_loop rows_per_s)
    result ingest_bound_compare none_rps="$(fld ingest_bound_none rps)" fsync_rps="$(fld ingest_bound_fsync rps)" \
        loop_rows_per_s="$loop" none_over_loop="$(calc "$(fld ingest_bound_none rps) / $loop")" \
        fsync_over_loop="$(calc "$(fld ingest_bound_fsync rps) / $loop")" \
        daemon_over_fsync_bound="$(calc "$(fld "$name" rps) / $(fld ingest_bound_fsync rps)")" \
        load="$(cut -d' ' -f1 /proc/loadavg)"
}

# Step 1b: /recommend with every request scanning the index (--rec-cache-mb 0), after a
# restart from the checkpoint: the cost of a request whose user has no kept list (a first
# request after a swap, or a budget too small), next to step 1's nginx figure.
recommend_without_cache() {
    say "step 1b: /recommend without the candidate cache (restart, --rec-cache-mb 0)"
    stop_daemon
    start_daemon "$W/daemon-nocache.log" "${DFLAGS[@]}" --http-threads "$HTTP_THREADS" --rec-cache-mb 0
    wrk_run warm_nocache "$REC_CONNS" "$WARM_SECONDS" serve_recommend.lua "$B" "$W/users.txt" 10 >/dev/null
    wrk_run recommend_nocache "$REC_CONNS" "$RUN_SECONDS" serve_recommend.lua "$B" "$W/users.txt" 10
    local r
    r=$(calc "$(fld recommend_nocache rps) / $(fld recommend_nginx rps)")
    result recommend_nocache_compare rps_ratio="$r" nclrec_p99_ms="$(fld recommend_nocache p99_ms)" \
        hits="$(metric nclrec_recommend_cache_total '{outcome="hit"}')" load="$(cut -d' ' -f1 /proc/loadavg)"
}

# Step 4: a daemon restarted from the checkpoint (no training in the process): its resident
# set after serving, against the model's bytes.
serving_only_memory() {
    say "step 4: restart from the checkpoint with $INGEST_HTTP_THREADS HTTP threads"
    stop_daemon
    start_daemon "$W/daemon2.log" "${DFLAGS[@]}" --http-threads "$INGEST_HTTP_THREADS"
    mem mem_restarted_loaded
    wrk_run warm_restarted "$REC_CONNS" 5 serve_recommend.lua "$B" "$W/users.txt" 10 >/dev/null
    mem mem_restarted_after_recommend
    local ck
    ck=$(ls "$W/data/models/"model-*.nclrec | tail -n 1)
    show "$BUILD/bench/serve_model_bytes $ck"
    local line
    line=$("$BUILD/bench/serve_model_bytes" "$ck") || { error "serve_model_bytes failed"; return; }
    result model_bytes "$(sed 's/^model_bytes //; s/ checkpoint=.*//' <<<"$line")"
    local need held
    need=$(fld model_bytes needed); held=$(fld model_bytes held)
    result mem_compare needed_mib="$(fld model_bytes needed_mib)" held_mib="$(fld model_bytes held_mib)" \
        rss_serving_only_mib="$(fld mem_restarted_after_recommend rss_mib)" \
        rss_idle_no_model_mib="$(fld mem_idle_no_model rss_mib)" \
        rss_after_training_mib="$(fld mem_after_retrain rss_mib)" hwm_after_training_mib="$(fld mem_after_retrain hwm_mib)" \
        serving_only_over_held="$(calc "$(fld mem_restarted_after_recommend rss_kb) * 1024 / $held")" \
        serving_minus_idle_over_held="$(calc "($(fld mem_restarted_after_recommend rss_kb) - $(fld mem_idle_no_model rss_kb)) * 1024 / $held")" \
        trained_process_over_held="$(calc "$(fld mem_after_retrain rss_kb) * 1024 / $held")" needed_bytes="$need"
}

# Step 5: a read replica next to its primary. The daemon restarts as --role primary (1 HTTP
# thread); a replica (1 HTTP thread, its own data directory) follows it until /readyz says it
# has caught up; then /recommend on each, the same wrk run. Sets RPID while it runs.
RPID=""
replica_vs_primary() {
    say "step 5: /recommend on a replica next to its primary"
    stop_daemon
    start_daemon "$W/daemon-primary.log" "${DFLAGS[@]}" --http-threads "$HTTP_THREADS" --role primary
    local pb=$B rlog=$W/replica.log rport="" ok=0
    rm -rf "$W/replica-data"
    show "$BIN serve --listen 127.0.0.1:0 --data-dir $W/replica-data --api-key-file $W/api.key --role replica --primary $pb --replica-page 10000 --http-threads $HTTP_THREADS 2>$rlog &"
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$W/replica-data" --api-key-file "$W/api.key" --role replica \
        --primary "$pb" --replica-page 10000 --http-threads "$HTTP_THREADS" 2>"$rlog" &
    RPID=$!
    for _ in $(seq 1 3000); do # at most 300 s to catch up
        rport=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$rlog" | head -n 1)
        [ -n "$rport" ] && curl -sf --max-time 5 "http://127.0.0.1:$rport/readyz" >/dev/null && { ok=1; break; }
        kill -0 "$RPID" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$ok" = 1 ]; then
        local rb=http://127.0.0.1:$rport
        wrk_run warm_primary "$REC_CONNS" "$WARM_SECONDS" serve_recommend.lua "$pb" "$W/users.txt" 10 >/dev/null
        wrk_run recommend_primary "$REC_CONNS" "$RUN_SECONDS" serve_recommend.lua "$pb" "$W/users.txt" 10
        wrk_run warm_replica "$REC_CONNS" "$WARM_SECONDS" serve_recommend.lua "$rb" "$W/users.txt" 10 >/dev/null
        wrk_run recommend_replica "$REC_CONNS" "$RUN_SECONDS" serve_recommend.lua "$rb" "$W/users.txt" 10
        result replica_compare replica_over_primary="$(calc "$(fld recommend_replica rps) / $(fld recommend_primary rps)")" \
            replica_over_nginx="$(calc "$(fld recommend_replica rps) / $(fld recommend_nginx rps)")" \
            replica_rss_mib="$(calc "$(awk '/^VmRSS:/ { print $2 }' "/proc/$RPID/status") / 1024")" load="$(cut -d' ' -f1 /proc/loadavg)"
    else
        error "the replica did not catch up with its primary (log: $rlog)"
    fi
    kill -TERM "$RPID" 2>/dev/null
    wait "$RPID" 2>/dev/null
    RPID=""
}

# Optional: where the daemon's CPU goes during /recommend and ingest (perf record -g).
profile() {
    [ "$PROFILE" = 1 ] || return 0
    command -v perf >/dev/null || { echo "perf not found: no profile"; return 0; }
    local what
    for what in recommend ingest; do
        say "profile: $what"
        show "perf record -F 499 -g -p $DPID -o $W/perf-$what.data -- sleep 8"
        perf record -F 499 -g -p "$DPID" -o "$W/perf-$what.data" -- sleep 8 >/dev/null 2>&1 &
        local ppid=$!
        local cmd
        if [ "$what" = recommend ]; then
            cmd=$(wrk_cmd "$REC_CONNS" 8 serve_recommend.lua "$B" "$W/users.txt" 10)
        else
            cmd=$(wrk_cmd "$INGEST_CONNS" 8 serve_ingest.lua "$B" "$W/items.txt" "$W/api.key" "prof-$$")
        fi
        show "$cmd"
        $cmd >/dev/null 2>&1
        wait "$ppid"
        perf report -i "$W/perf-$what.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
            grep -E '^ +[0-9.]+%' | head -n 15 | sed "s/^/    $what self: /"
    done
}

# Step 6: a category of 1% of the catalogue, filtered /recommend beside unfiltered, A B A B.
recommend_category() {
    say "step 6: /recommend with category= of 1% of the catalogue; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    local body n n30 at
    body=$(awk 'NR % 100 == 1 { printf "%s{\"id\":\"%s\",\"categories\":[\"c1pct\"]}", (n++ ? "," : ""), $1 }' "$W/items.txt")
    n=$(awk 'NR % 100 == 1' "$W/items.txt" | wc -l)
    show "curl -X POST $B/items (the $n items of category c1pct)"
    curl -s --max-time 30 -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $KEY" \
        --data-binary "[$body]" "$B/items" | grep -q "\"accepted\":$n" || error "POST /items did not accept the $n items"
    # a large category for the bound: every third item (c30pct), in batches of 1000
    n30=$(awk 'NR % 3 == 2' "$W/items.txt" | wc -l)
    show "curl -X POST $B/items (the $n30 items of category c30pct, in batches of 1000)"
    for at in $(seq 0 1000 $((n30 - 1))); do
        body=$(awk 'NR % 3 == 2' "$W/items.txt" | tail -n +$((at + 1)) | head -n 1000 |
               awk '{ printf "%s{\"id\":\"%s\",\"categories\":[\"c30pct\"]}", (k++ ? "," : ""), $1 }')
        curl -s --max-time 30 -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $KEY" \
            --data-binary "[$body]" "$B/items" | grep -q '"accepted":' || error "POST /items refused a c30pct batch"
    done
    result category_items items="$n" items_30pct="$n30" catalogue="$(wc -l <"$W/items.txt")"
    wrk_run warm_unfiltered "$REC_CONNS" "$WARM_SECONDS" serve_recommend.lua "$B" "$W/users.txt" 10 >/dev/null
    wrk_run warm_category "$REC_CONNS" "$WARM_SECONDS" serve_recommend.lua "$B" "$W/users.txt" 10 category=c1pct >/dev/null
    local round
    for round in 1 2; do
        wrk_run "recommend_unfiltered_$round" "$REC_CONNS" "$RUN_SECONDS" serve_recommend.lua "$B" "$W/users.txt" 10
        wrk_run "recommend_category_$round" "$REC_CONNS" "$RUN_SECONDS" serve_recommend.lua "$B" "$W/users.txt" 10 category=c1pct
        wrk_run "recommend_category30_$round" "$REC_CONNS" "$RUN_SECONDS" serve_recommend.lua "$B" "$W/users.txt" 10 category=c30pct
        result "category_ratio_$round" p99_filtered_over_unfiltered="$(calc "$(fld "recommend_category_$round" p99_ms) / $(fld "recommend_unfiltered_$round" p99_ms)")" \
            rps_filtered_over_unfiltered="$(calc "$(fld "recommend_category_$round" rps) / $(fld "recommend_unfiltered_$round" rps)")" \
            p99_30pct_over_unfiltered="$(calc "$(fld "recommend_category30_$round" p99_ms) / $(fld "recommend_unfiltered_$round" p99_ms)")" \
            rps_30pct_over_unfiltered="$(calc "$(fld "recommend_category30_$round" rps) / $(fld "recommend_unfiltered_$round" rps)")"
    done
    local sample
    sample=$(curl -s --max-time 5 "$B/recommend?user=$(head -n 1 "$W/users.txt")&k=10&category=c1pct")
    grep -q '"source":"ncl"' <<<"$sample" || error "a filtered answer is not from the model: $sample"
    result category_filtered_requests total="$(metric nclrec_filtered_requests_total)"
}

# ============================ main ============================

deps
[ -x "$BIN" ] || die "$BIN not built (make all)"
for b in ingest_loop ingest_bound serve_model_bytes; do [ -x "$BUILD/bench/$b" ] || die "$BUILD/bench/$b not built (make bench-serve builds it)"; done
prepare
say "date: $(date)"
say "load average before: $(cat /proc/loadavg); cores: $(nproc)"
say "wrk 1 thread; daemon --http-threads $HTTP_THREADS (ingest also $INGEST_HTTP_THREADS); nginx 1 worker"
result env date="$(date +%Y-%m-%dT%H:%M:%S%z)" load_before="$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)" cores="$(nproc)" \
    wrk_threads=1 http_threads="$HTTP_THREADS" ingest_http_threads="$INGEST_HTTP_THREADS" epochs="$EPOCHS" \
    run_seconds="$RUN_SECONDS" rec_conns="$REC_CONNS" ingest_conns="$INGEST_CONNS"
if [ "$STEPS" = category ]; then
    start_trained
    recommend_category
    stop_daemon
    say "load average after: $(cat /proc/loadavg)"
    grep -v 'name=warm_' "$W/summary.txt"
    [ "$ERRORS" = 0 ] || { echo "bench-serve: $ERRORS error(s)"; exit 1; }
    exit 0
fi
idle_memory
start_trained
recommend_vs_nginx
recommend_category
recommend_during_retrain
ingest_vs_loop "ingest_http$HTTP_THREADS"
ingest_bounds "ingest_http$HTTP_THREADS"
recommend_without_cache
serving_only_memory
wrk_run "recommend_nclrec_http$INGEST_HTTP_THREADS" "$REC_CONNS" "$RUN_SECONDS" serve_recommend.lua "$B" "$W/users.txt" 10
ingest_vs_loop "ingest_http$INGEST_HTTP_THREADS"
ingest_vs_postgres "ingest_http$INGEST_HTTP_THREADS"
replica_vs_primary
profile
stop_daemon
say "load average after: $(cat /proc/loadavg)"
echo
echo "summary ($W/summary.txt):"
grep -v 'name=warm_' "$W/summary.txt"
[ "$ERRORS" = 0 ] || { echo "bench-serve: $ERRORS error(s)"; exit 1; }
