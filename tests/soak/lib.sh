# tests/soak/lib.sh - helpers shared by the load scripts of tests/soak/ (sourced, not run).
#
# Builds on tests/lib.sh (daemons on 127.0.0.1, port 0; requests with curl). Every client loop
# has a bound in requests and in wall time, so a daemon that dies or hangs ends the script
# instead of hanging it.
#
# The caller sets BIN (the nclrec binary) and T (a scratch directory it removes itself), and
# may set KEY (the API key sent as a bearer token on writes and admin calls).

. tests/lib.sh
KEY=${KEY:-}
START_WAIT=${START_WAIT:-300} # the first model is trained before listening; TSan is slow
STOP_WAIT=60
REQ_TIMEOUT=20

STOP_FILE=$T/stop # client loops watch it; tests/lib.sh's cleanup touches it on exit (LOOPS too)

# The closing line tests/run.sh reads, under the caller's SOAK_NAME, and the exit status.
finish() { echo "$SOAK_NAME: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

# start_daemon LOG ARGS... / stop_daemon: start_server and stop_server of tests/lib.sh.
start_daemon() { start_server "$@"; }
stop_daemon() { stop_server TERM; PID=""; }

auth_args() { [ -n "$KEY" ] && printf '%s\n' -H "Authorization: Bearer $KEY"; }

# The version of the served model (from GET /model), or "none".
model_version() {
    req GET /model
    local v
    v=$(sed -n 's/.*"version":\([0-9]*\).*/\1/p' <<<"$BODY" | head -n 1)
    echo "${v:-none}"
}

# A counter or gauge from GET /metrics (first series of that name), or "none".
metric() {
    req GET /metrics
    local v
    v=$(grep -E "^$1(\\{[^}]*\\})? " <<<"$BODY" | head -n 1 | awk '{print $2}')
    echo "${v:-none}"
}

# known_items N FILE: writes to FILE the item ids of the model, collected from the /recommend
# answers of the first N users u0..u{N-1} at k=50 (ids that /similar is sure to know).
known_items() {
    local n=$1 out=$2 u
    : >"$out"
    for u in $(seq 0 $((n - 1))); do
        req GET "/recommend?user=u$u&k=50"
        grep -o '"item":"[^"]*"' <<<"$BODY" | sed 's/"item":"//; s/"$//' >>"$out"
    done
    sort -u -o "$out" "$out"
    [ -s "$out" ]
}

# client_loop ID OUT END MAX_REQ USERS ITEMS_FILE [PAUSE] [DELETES]: mixed traffic until the
# wall clock passes END (an epoch second), MAX_REQ requests were sent or the file $T/stop
# exists, whichever first. Each
# round: one curl call with 6 keep-alive reads (4 /recommend, 2 /similar), then one POST
# /interactions of 3 events (users u0..u{USERS-1} and a bounded pool of 40 new users per
# loop, items from ITEMS_FILE), then PAUSE seconds (default 0.2). With DELETES=1 every tenth
# round also deletes the new user its POST has just written. Appends one line per answer to OUT:
# "STATUS ROUTE"; status 000 means no answer. Stops early after 3 rounds without any answer.
client_loop() {
    local id=$1 out=$2 end=$3 max=$4 users=$5 items_file=$6 pause=${7:-0.2} deletes=${8:-0}
    local -a items auth
    mapfile -t items <"$items_file"
    mapfile -t auth < <(auth_args)
    local ni=${#items[@]} n=0 round=0 dead=0 codes r u i j body del
    local -a urls routes nulls
    RANDOM=$((id * 7919 + 17))
    while [ "$(date +%s)" -lt "$end" ] && [ $n -lt "$max" ] && [ $dead -lt 3 ] && [ ! -e "$T/stop" ]; do
        urls=(); routes=()
        for j in 1 2 3 4; do
            urls+=("$B/recommend?user=u$((RANDOM % users))&k=10"); routes+=(/recommend)
        done
        for j in 1 2; do
            urls+=("$B/similar?item=${items[RANDOM % ni]}&k=10"); routes+=(/similar)
        done
        nulls=(); for j in "${urls[@]}"; do nulls+=(-o /dev/null); done # one -o per URL
        codes=$(curl -s --max-time 20 "${nulls[@]}" -w '%{http_code}\n' "${urls[@]}" 2>/dev/null)
        [ -n "$codes" ] || codes=$(printf '000\n%.0s' "${urls[@]}")
        paste -d' ' <(head -n ${#urls[@]} <<<"$codes") <(printf '%s\n' "${routes[@]}") >>"$out"
        body="["; del=""
        [ "$deletes" = 1 ] && [ $((round % 10)) = 9 ] && del="c$id-n$((RANDOM % 40))"
        for j in 1 2 3; do
            if [ $j = 1 ] && [ -n "$del" ]; then u=$del
            elif [ $((RANDOM % 3)) = 0 ]; then u="c$id-n$((RANDOM % 40))"; else u="u$((RANDOM % users))"; fi
            i=${items[RANDOM % ni]}
            body+="{\"user\":\"$u\",\"item\":\"$i\"}"
            [ $j -lt 3 ] && body+=","
        done
        body+="]"
        r=$(curl -s --max-time 20 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
            "${auth[@]}" --data-binary "$body" "$B/interactions" 2>/dev/null)
        echo "${r:-000} /interactions" >>"$out"
        n=$((n + ${#urls[@]} + 1))
        if [ -n "$del" ]; then # a user this round has just written, so it exists
            r=$(curl -s --max-time 20 -o /dev/null -w '%{http_code}' -X DELETE "${auth[@]}" \
                "$B/users/$del" 2>/dev/null)
            echo "${r:-000} /users/{id}" >>"$out"
            n=$((n + 1))
        fi
        if grep -q . <<<"$(grep -v '^000' <<<"$codes")"; then dead=0; else dead=$((dead + 1)); fi
        round=$((round + 1))
        sleep "$pause"
    done
}

# errors FILE...: answers that were not 2xx (000 included).
count_errors() { cat "$@" 2>/dev/null | grep -cv '^2[0-9][0-9] '; }
count_answers() { cat "$@" 2>/dev/null | wc -l; }
