#!/usr/bin/env bash
# test_hostile.sh - the daemon against hostile clients, on 127.0.0.1 (the real binary, one
# daemon on a port the kernel picks, a temporary data directory):
#   - slowloris: a client trickling header bytes faster than the idle timeout is cut off after
#     the header deadline, and so is one trickling its body, while a normal client is served;
#   - connection limit: more trickling connections than max_connections; a normal request
#     waiting behind them is answered once they are cut, and every one of them is cut;
#   - limits: oversized header (431), oversized URL (414), oversized body (413, also when only
#     announced by Content-Length), k over the cap, bad k, id too long, invalid UTF-8 id,
#     exclude too long (400), batch too big (422), JSON nested 3000 deep (400), malformed request
#     lines and headers (400, or closed unanswered): each the right 4xx, and the daemon keeps
#     serving;
#   - refused bodies (413, 404) sent whole before reading still get a readable answer; a body
#     past the discard bound or stalling is closed;
#   - every path where libmicrohttpd answers on its own (version, Content-Length, chunks, Host,
#     HTTP/1.0, folding, HEAD, OPTIONS, unknown methods, transfer codings, pipelining), each with
#     what the daemon now answers;
#   - a flood of malformed requests from two loops (bounded in count and time): every good
#     request in the meantime gets 200, the daemon's own diagnostics stay within their log
#     budget, and the p50/p99 latency of good requests with and without the flood is printed
#     (reported, never asserted).
# The header deadline is set to 2 s (--header-timeout). Every socket read has a timeout and
# every loop a bound, so a daemon that hangs fails the test instead of hanging it. Prints "test_hostile.sh: P passed, F failed"; exits 1 on failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=${NCLREC_BIN:-$BUILD/nclrec}
T=$(mktemp -d /tmp/nclrec-hostile.XXXXXX)
. tests/lib.sh
STOP_FILE=$T/flood.stop # the flood loops watch it; lib.sh's cleanup touches it on exit

if ! "$BIN" serve --help >/dev/null 2>&1; then
    echo "not ok $BIN has no working 'serve' command" >&2
    echo "test_hostile.sh: 0 passed, 1 failed"
    exit 1
fi

HT=2
HT_ARGS=(--header-timeout "$HT")
MAXC=4

# raw TEXT: sends TEXT on a new connection and sets CODE to the answer's status, "closed" when
# the server closed the connection without answering, "timeout" after 5 s of silence.
raw() {
    CODE=""
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
    printf '%b' "$1" >&3 2>/dev/null
    local line="" rc
    read -r -t 5 -u 3 line; rc=$?
    exec 3<&-
    if [ "$rc" -gt 128 ]; then CODE=timeout; return; fi
    CODE=$(sed -n 's/^HTTP\/1\.[01] \([0-9]*\).*/\1/p' <<<"$line")
    [ -z "$line" ] && [ "$rc" -ne 0 ] && CODE=closed
}

# ============================ the daemon ============================
D=$T/data
check "daemon starts" start_server "$T/d.log" --data-dir "$D" --embedding-size 16 --epochs 3 --min-epochs 1 \
    --stopping-step 2 --num-clusters 5 --warm-up-step 1 --train-batch-size 512 --retrain-threads 1 \
    --retrain-interval 0 --seed-synthetic --synth-users 120 --synth-items 80 --synth-per-user 12 \
    --http-threads 2 --max-connections "$MAXC" --conn-timeout 60 --max-body 4096 --k-max 50 --batch-max 10 \
    --max-exclude 5 "${HT_ARGS[@]}"
if [ -z "$PORT" ]; then echo "test_hostile.sh: $pass passed, $fail failed"; exit 1; fi
check "daemon ready" wait_ready 30
echo "# header deadline: $HT s; conn_timeout 60 s; max_connections $MAXC"

# ============================ slowloris ============================
# trickle ID HEAD: connects, sends HEAD at once, then one byte every 0.5 s of a header block too
# long to ever finish; writes "cut SECONDS" to $T/trickle.ID when the server closes the
# connection, "answered ..." when it answers instead, "open SECONDS" when still open after
# 3 deadlines + 10 s, "noconnect" when it cannot connect. Each byte resets the idle timeout.
trickle() {
    local out=$T/trickle.$1 head=$2 max=$((3 * HT + 10))
    trap '' PIPE
    if ! exec 3<>"/dev/tcp/127.0.0.1/$PORT"; then echo noconnect >"$out"; return; fi
    local pad start now el line rc i=0
    pad=$(head -c 400 /dev/zero | tr '\0' 'a')
    local rest="X-Slow: $pad"
    echo trickling >"$out"
    start=$(date +%s.%N)
    printf '%b' "$head" >&3 2>/dev/null
    while :; do
        printf '%s' "${rest:i:1}" >&3 2>/dev/null
        i=$((i + 1))
        line=""; read -r -t 0.5 -u 3 line; rc=$?
        now=$(date +%s.%N); el=$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
        if [ "$rc" -eq 0 ]; then echo "answered $el $line" >"$out"; break; fi
        if [ "$rc" -le 128 ]; then echo "cut $el" >"$out"; break; fi
        if awk -v e="$el" -v m="$max" 'BEGIN { exit !(e > m) }'; then echo "open $el" >"$out"; break; fi
    done
    exec 3<&-
}
# waits (bounded) until trickler ID has a result; prints it
trickle_result() {
    for _ in $(seq 1 $(((3 * HT + 15) * 10))); do
        grep -qv '^trickling' "$T/trickle.$1" 2>/dev/null && break
        sleep 0.1
    done
    cat "$T/trickle.$1" 2>/dev/null
}
cut_in_time() { # cut_in_time RESULT: cut, not before the deadline, within 3 deadlines + 10 s
    local r=$1
    [[ $r == cut\ * ]] && awk -v e="${r#cut }" -v h="$HT" 'BEGIN { exit !(e >= h - 0.5 && e <= 3 * h + 10) }'
}

trickle hdr 'GET /livez HTTP/1.1\r\nHost: x\r\n' & LOOPS+=($!)
trickle body 'POST /interactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n' & LOOPS+=($!)
sleep 1
req GET "/recommend?user=u1&k=5"
check "slowloris: a normal client is served meanwhile" is 200
check "slowloris: the trickling clients were still connected then" \
    ok_if '[ "$(cat "$T/trickle.hdr")" = trickling ] && [ "$(cat "$T/trickle.body")" = trickling ]'
R1=$(trickle_result hdr); R2=$(trickle_result body)
echo "# trickled headers: $R1; trickled body: $R2"
check "slowloris: trickled headers cut after the deadline [$R1]" cut_in_time "$R1"
check "slowloris: trickled body cut after the grace [$R2]" cut_in_time "$R2"
check "slowloris: each cut is logged" ok_if '[ "$(grep -c "\"event\":\"slow_client_cut\"" "$T/d.log")" -ge 2 ]'
req GET /metrics
check "slowloris: cuts are counted in /metrics" \
    ok_if '[ "$(sed -n "s/^nclrec_http_deadline_cuts_total \([0-9]*\)$/\1/p" <<<"$BODY")" -ge 2 ]'

# ============================ connection limit ============================
N=$((MAXC + 4))
for i in $(seq 1 $N); do trickle "c$i" 'GET /livez HTTP/1.1\r\n' & LOOPS+=($!); done
sleep 1
t0=$(date +%s.%N)
CODE=$(curl -s -o /dev/null --max-time $((3 * HT + 15)) -w '%{http_code}' "$B/livez" 2>/dev/null)
t1=$(date +%s.%N)
echo "# a normal request behind $N trickling connections (limit $MAXC) waited $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
check "limit: a normal request is answered once the trickling connections are cut" is 200
cut_all=0
for i in $(seq 1 $N); do
    r=$(trickle_result "c$i")
    [[ $r == cut\ * ]] && cut_all=$((cut_all + 1))
done
check "limit: all $N trickling connections were cut ($cut_all)" [ "$cut_all" = "$N" ]
req GET /livez; check "limit: served normally afterwards" is 200

# ============================ limits ============================
hdr=$(head -c 40000 /dev/zero | tr '\0' 'h')
req GET /livez -H "X-Big: $hdr"; check "limits: header beyond max_header 431 problem+json" problem 431
req GET "/recommend?user=$hdr"; check "limits: URL beyond max_header 414 problem+json" problem 414
long_user=$(head -c 100000 /dev/zero | tr '\0' 'u')
req GET "/recommend?user=$long_user"; check "limits: a 100,000-byte user= 414 problem+json" problem 414
huge=$(head -c 140000 /dev/zero | tr '\0' 'h') # beyond HTTP_POOL_FACTOR (4) x max_header (32768)
raw "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: $huge\r\n\r\n" # too long for curl's command line
check "limits: header beyond libmicrohttpd's memory: its own 431 (not problem+json, 0.9.75 cannot be told otherwise)" is 431
big=$(head -c 5000 /dev/zero | tr '\0' ' ')
post_json /interactions "{\"user\":\"w\",\"item\":\"i1\"}$big"; check "limits: body beyond max_body 413" problem 413
raw 'POST /interactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n'
check "limits: a body announced beyond max_body is refused before it is sent (413)" is 413

# send_body HEAD N [TAIL]: sends HEAD, then N body bytes and TAIL, all of it before reading (as Python's
# http.client or a plain socket client does), then reads the answer until the server closes
# (at most 10 s). Sets SENT (yes: every byte was written, no reset), CODE (status, "closed"
# when none came) and RESP (the whole answer).
send_body() {
    CODE=closed RESP=""
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
    SENT=no
    ( trap '' PIPE; set -o pipefail; printf '%b' "$1" && head -c "$2" /dev/zero | tr '\0' ' ' && printf '%b' "${3:-}" ) \
        >&3 2>/dev/null && SENT=yes
    RESP=$(timeout 10 cat <&3 2>/dev/null | tr -d '\r')
    exec 3<&-
    local c; c=$(sed -n '1s/^HTTP\/1\.[01] \([0-9]*\).*/\1/p' <<<"$RESP")
    [ -n "$c" ] && CODE=$c
}
resp_problem() { # send_body sent everything, and its answer is a problem+json with this status
    [ "$SENT" = yes ] && is "$1" && grep -qi '^content-type: application/problem+json' <<<"$RESP" && grep -q "\"status\":$1" <<<"$RESP"
}
post_head() { # post_head PATH LENGTH: a JSON POST that closes after its answer (escaped for %b)
    printf 'POST %s HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\nContent-Length: %s\\r\\nConnection: close\\r\\n\\r\\n' "$1" "$2"
}
send_body "$(post_head /interactions 5000000)" 5000000
check "limits: a 5 MB body sent whole before reading gets a readable 413 problem+json ($CODE)" resp_problem 413
send_body "$(post_head /nope 300000)" 300000
check "limits: a body sent to no route gets a readable 404 problem+json ($CODE)" resp_problem 404
send_body 'POST /interactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'"$(printf '%x' 200000)"'\r\n' 200000 '\r\n0\r\n\r\n'
check "limits: a chunked body beyond max_body gets a readable 413 problem+json ($CODE)" resp_problem 413
# beyond the discard bound (16 MiB past the limit) the connection is closed, unanswered or 413
send_body "$(post_head /interactions 16000000)" 20000000
check "limits: a body beyond the discard bound is closed or refused ($CODE)" ok_if 'is closed || is 413'
# a refused body that stops coming: cut after the discard time (5 s), long before the body grace
( trap '' PIPE; exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit
  printf '%b' "$(post_head /interactions 5000000)" >&3; head -c 100000 /dev/zero >&3
  s0=$SECONDS; r=open; if timeout 30 cat <&3 >/dev/null; then r=closed; fi
  echo "$r $((SECONDS - s0))" >"$T/stall" ) 2>/dev/null
read -r stall_r stall_s <"$T/stall"
echo "# a refused body stalled after 100 KB: $stall_r after $stall_s s"
check "limits: a refused body that stalls is closed ($stall_r after $stall_s s; body grace alone: 200 s)" \
    ok_if '[ "$stall_r" = closed ] && [ "$stall_s" -lt 30 ]'
req GET /livez; check "limits: served normally after the refused bodies" is 200

req GET "/recommend?user=u1&k=51"; check "limits: k over k_max 400" problem 400
req GET "/recommend?user=u1&k=-1"; check "limits: negative k 400" problem 400
req GET "/recommend?user=u1&k=99999999999999999999"; check "limits: k beyond long 400" problem 400
long=$(head -c 300 /dev/zero | tr '\0' 'x')
req GET "/recommend?user=$long"; check "limits: id too long 400" problem 400
req GET "/recommend?user=%FF%FE"; check "limits: id not UTF-8 400" problem 400
req DELETE "/users/u1%00x"; check "limits: %00 in an id 400 (it would act on u1)" problem 400
req GET "/recommend?user=u1&k=3"; check "limits: u1 was not deleted" ok_if 'is 200 && grep -q "\"source\":\"ncl\"" <<<"$BODY"'
req GET "/recommend?user=u1&exclude=a,b,c,d,e,f"; check "limits: exclude beyond max_exclude 400" problem 400
batch=$(for i in $(seq 1 11); do printf '{"user":"b","item":"i%d"},' "$i"; done)
post_json /interactions "[${batch%,}]"; check "limits: batch beyond batch_max 422" problem 422
deep=$(head -c 3000 /dev/zero | tr '\0' '[')
post_json /interactions "$deep"; check "limits: JSON nested 3000 deep 400 (parser depth limit)" problem 400
# libmicrohttpd 0.9.75 closes a connection whose request line has no target without answering
raw 'HELLO\r\n\r\n'; check "limits: garbage request line refused (400 or closed: $CODE)" ok_if 'is 400 || is closed'
raw 'GET /livez\r\n\r\n'; check "limits: request line without a version 400" is 400
raw 'GET /livez HTTP/1.1\r\nno colon here\r\n\r\n'; check "limits: header line without a colon 400" is 400
raw 'GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n'; check "limits: negative Content-Length 400" is 400
req GET /livez; check "limits: daemon still serving" ok_if 'is 200 && alive'

# ============================ what libmicrohttpd answers on its own ============================
# Every request the HTTP library refuses or shapes before the daemon's code sees it, with what
# the daemon now answers. "own" marks libmicrohttpd 0.9.75's fixed answers (an HTML body or
# none): it offers no way to replace them; they come only for requests no client library sends.
html_or_empty() { ! grep -qi '^content-type: application/problem+json' <<<"$RESP"; }
ask() { send_body "$1" 0; } # one request, whole answer in RESP, connection closed after it
CLOSE='Connection: close\r\n'
ask 'GET /livez HTTP/2.0\r\nHost: x\r\n\r\n'
check "own: HTTP version 2.0 in a request line: 505, libmicrohttpd's HTML ($CODE)" ok_if 'is 505 && html_or_empty'
ask 'GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n'"$CLOSE"'\r\n'
check "own: Content-Length not a number: 400, libmicrohttpd's ($CODE)" ok_if 'is 400 && html_or_empty'
ask 'GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n'"$CLOSE"'\r\n'
check "own: Content-Length beyond 64 bits: 413, libmicrohttpd's ($CODE)" ok_if 'is 413 && html_or_empty'
ask 'POST /interactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n'"$CLOSE"'\r\nzz\r\n'
check "own: malformed chunk size: 400, libmicrohttpd's ($CODE)" ok_if 'is 400 && html_or_empty'
ask 'GET /livez HTTP/1.1\r\n'"$CLOSE"'\r\n'
check "HTTP/1.1 without Host: served (libmicrohttpd does not insist) ($CODE)" is 200
ask 'GET /livez HTTP/1.0\r\n\r\n'
check "HTTP/1.0: served and closed ($CODE)" ok_if 'is 200 && grep -qi "^connection: close" <<<"$RESP"'
ask 'GET /livez HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n'"$CLOSE"'\r\n'
check "a folded header line (obs-fold): accepted, served ($CODE)" is 200
ask 'HEAD /livez HTTP/1.1\r\nHost: x\r\n'"$CLOSE"'\r\n'
check "HEAD on a GET route: answered as GET without a body ($CODE)" \
    ok_if 'is 200 && ! grep -q "\"status\":\"alive\"" <<<"$RESP"'
ask 'OPTIONS /recommend HTTP/1.1\r\nHost: x\r\n'"$CLOSE"'\r\n'
check "OPTIONS on a route: 405 problem+json with Allow ($CODE)" \
    ok_if 'resp_problem 405 && grep -qi "^allow: GET" <<<"$RESP"'
ask 'OPTIONS * HTTP/1.1\r\nHost: x\r\n'"$CLOSE"'\r\n'
check "OPTIONS *: 404 problem+json ($CODE)" resp_problem 404
ask 'BREW /livez HTTP/1.1\r\nHost: x\r\n'"$CLOSE"'\r\n'
check "an unknown method: 405 problem+json ($CODE)" resp_problem 405
ask 'POST /interactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n'"$CLOSE"'\r\n'
check "Transfer-Encoding other than chunked: 501 problem+json (libmicrohttpd would wait) ($CODE)" resp_problem 501
ask 'POST /interactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 7\r\n'"$CLOSE"'\r\n12345'
check "two different Content-Length: 400 problem+json (libmicrohttpd would take the first) ($CODE)" resp_problem 400
ask 'POST /interactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n'"$CLOSE"'\r\n'
check "Expect: 100-continue beyond max_body: 413 at once, no 100 Continue ($CODE)" \
    ok_if 'resp_problem 413 && ! grep -q "^HTTP/1.1 100" <<<"$RESP"'
ask 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n'"$CLOSE"'\r\n'
check "pipelining: two requests in one write, both answered in order ($CODE)" \
    ok_if '[ "$(grep -o "HTTP/1.1 [0-9]*" <<<"$RESP" | tr "\n" " ")" = "HTTP/1.1 200 HTTP/1.1 404 " ]'
req GET /livez; check "own: daemon still serving" ok_if 'is 200 && alive'

# ============================ flood ============================
# flood ID: malformed requests on fresh connections until 50000 were sent, 60 s passed or
# $T/flood.stop exists; writes "SENT REFUSED" to $T/flood.ID, refused meaning answered with a
# 4xx or closed without an answer (libmicrohttpd's way with a request line it cannot parse).
flood() {
    trap '' PIPE
    local n=0 bad=0 line rc end=$((SECONDS + 60))
    local kinds=($'GET /recommend?user=%zz&k=abc HTTP/1.1\r\nHost: x\r\n\r\n'
                 $'POST /interactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{"user":['
                 $'BLAH\r\n\r\n'
                 $'GET /nope/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n'
                 $'GET /livez HTTP/1.1\r\nbroken header\r\n\r\n'
                 $'DELETE /recommend HTTP/1.1\r\nHost: x\r\n\r\n')
    while [ "$n" -lt 50000 ] && [ "$SECONDS" -lt "$end" ] && [ ! -e "$T/flood.stop" ]; do
        exec 3<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null || break
        printf '%s' "${kinds[n % ${#kinds[@]}]}" >&3 2>/dev/null
        line=""; read -r -t 2 -u 3 line; rc=$?
        if [[ $line == HTTP/1.[01]\ 4* ]] || { [ -z "$line" ] && [ "$rc" -ne 0 ] && [ "$rc" -le 128 ]; }; then
            bad=$((bad + 1))
        fi
        exec 3<&-
        n=$((n + 1))
    done
    echo "$n $bad" >"$T/flood.$1"
}
# lat FILE: 200 good requests one after another, "STATUS SECONDS" per line into FILE
lat() {
    for i in $(seq 1 200); do
        curl -s -o /dev/null --max-time 10 -w '%{http_code} %{time_total}\n' "$B/recommend?user=u$((i % 100))&k=10"
    done >"$1" 2>/dev/null
}
pct() { # pct FILE P: the P-quantile of the 200-status times, in ms
    awk '$1 == 200 { print $2 }' "$1" | sort -n |
        awk -v p="$2" '{ a[NR] = $1 } END { i = int(NR * p + 0.999999); if (i < 1) i = 1; printf "%.2f", a[i] * 1000 }'
}
lat "$T/lat.idle"
lib0=$(grep -c '"event":"http_library"' "$T/d.log")
# during FN: FN 1 and FN 2 in the background while lat measures $T/lat.FN; then $T/FN.stop ends them
during() {
    local p1 p2
    "$1" 1 & p1=$!; "$1" 2 & p2=$!; LOOPS+=("$p1" "$p2")
    sleep 0.5
    lat "$T/lat.$1"
    touch "$T/$1.stop"
    wait "$p1" "$p2"
}
f0=$SECONDS
during flood
f1=$SECONDS
read -r s1 b1 <"$T/flood.1"; read -r s2 b2 <"$T/flood.2"
lib1=$(grep -c '"event":"http_library"' "$T/d.log")
ok_idle=$(grep -c '^200 ' "$T/lat.idle"); ok_flood=$(grep -c '^200 ' "$T/lat.flood")
echo "# good requests without flood: $ok_idle/200 ok, p50 $(pct "$T/lat.idle" 0.5) ms, p99 $(pct "$T/lat.idle" 0.99) ms"
echo "# good requests during flood:  $ok_flood/200 ok, p50 $(pct "$T/lat.flood" 0.5) ms, p99 $(pct "$T/lat.flood" 0.99) ms"
echo "# flood: $((s1 + s2)) malformed requests in $((f1 - f0)) s from 2 loops, $((b1 + b2)) refused (4xx or closed);" \
     "$((lib1 - lib0)) library log lines"
check "flood: every good request without the flood got 200" [ "$ok_idle" = 200 ]
check "flood: every good request during the flood got 200" [ "$ok_flood" = 200 ]
check "flood: the loops sent malformed requests" [ "$((s1 + s2))" -gt 100 ]
check "flood: every malformed request was refused" [ "$((b1 + b2))" = "$((s1 + s2))" ]
check "flood: library diagnostics within the log budget (20 a second)" [ "$((lib1 - lib0))" -le $((20 * (f1 - f0 + 2))) ]
req GET /livez; check "flood: daemon still serving" ok_if 'is 200 && alive'

# ============================ oversized bodies ============================
# bodies ID: 1 MB bodies (256 x max_body) on fresh connections, each written whole before the
# answer is read, until 100 were sent, 60 s passed or $T/bodies.stop exists; writes "SENT
# ANSWERED" to $T/bodies.ID, answered meaning every byte went out and a 413 problem+json came.
bodies() {
    local n=0 ok=0 end=$((SECONDS + 60))
    while [ "$n" -lt 100 ] && [ "$SECONDS" -lt "$end" ] && [ ! -e "$T/bodies.stop" ]; do
        send_body "$(post_head /interactions 1000000)" 1000000
        resp_problem 413 && ok=$((ok + 1))
        n=$((n + 1))
    done
    echo "$n $ok" >"$T/bodies.$1"
}
b0=$SECONDS
during bodies
read -r n1 a1 <"$T/bodies.1"; read -r n2 a2 <"$T/bodies.2"
ok_bodies=$(grep -c '^200 ' "$T/lat.bodies")
echo "# good requests during oversized bodies: $ok_bodies/200 ok, p50 $(pct "$T/lat.bodies" 0.5) ms, p99 $(pct "$T/lat.bodies" 0.99) ms;" \
     "$((n1 + n2)) bodies of 1 MB in $((SECONDS - b0)) s from 2 loops, $((a1 + a2)) answered 413"
check "bodies: the loops sent oversized bodies" [ "$((n1 + n2))" -gt 4 ]
check "bodies: every oversized body was read whole and answered 413 problem+json" [ "$((a1 + a2))" = "$((n1 + n2))" ]
check "bodies: every good request meanwhile got 200" [ "$ok_bodies" = 200 ]

kill -TERM "$PID" 2>/dev/null
for _ in $(seq 1 300); do alive || break; sleep 0.1; done
check "daemon stops on SIGTERM" ok_if '! alive'
wait "$PID" 2>/dev/null
PID=""
echo "test_hostile.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
