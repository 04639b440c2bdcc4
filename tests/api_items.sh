# api_items.sh - the catalogue section of tests/test_api.sh (sourced by it, not run alone):
# PUT/PATCH/GET/DELETE /items/{id} and POST /items against a real daemon, the rules they set
# on /recommend and /similar (hidden, deleted, not yet available; kept candidate lists
# included), category= with its exact top k, offset=, anonymous sessions (POST /recommend),
# /metrics, a restart, and every bad input answered with a 4xx problem+json. Uses check, req, post_json, start_server ... of tests/lib.sh
# and TRAIN, SEED of test_api.sh.

DI=$T/items
KEY=items-key
AUTH=(-H "Authorization: Bearer $KEY")
check "items: daemon starts" start_server "$T/items.log" --data-dir "$DI" "${TRAIN[@]}" "${SEED[@]}" \
    --api-key "$KEY" --k-max 50 --batch-max 40 --rec-cache-mb 8
check "items: ready" wait_ready
put_item() { local id=$1 d=$2; shift 2; req PUT "/items/$id" -H 'Content-Type: application/json' --data-binary "$d" "${AUTH[@]}" "$@"; }
patch_item() { local id=$1 d=$2; shift 2; req PATCH "/items/$id" -H 'Content-Type: application/json' --data-binary "$d" "${AUTH[@]}" "$@"; }
post_items() { local d=$1; shift; post_json /items "$d" "${AUTH[@]}" "$@"; }

# ---- documents ----
req GET /items/i3; check "items: an item seen only in interactions exists with no categories" \
    ok_if 'is 200 && has "\"categories\":\[\]" && has "\"hidden\":false" && has "\"id\":\"i3\""'
req GET /items/never-seen; check "items: GET of an unknown item 404" problem 404
put_item i3 '{"categories":["shoes","sale"],"labels":{"brand":"acme","size":42},"available_from":"2020-01-02T03:04:05+01:00"}'
check "items: PUT 200 with the stored document" ok_if 'is 200 && has "\"categories\":\[\"shoes\",\"sale\"\]" && has "\"seq\":"'
check "items: available_from is stored in UTC" has '"available_from":"2020-01-02T02:04:05Z"'
req GET /items/i3; check "items: GET returns what PUT stored" ok_if 'is 200 && has "\"brand\":\"acme\"" && has "\"size\":42"'
patch_item i3 '{"hidden":true}'
check "items: PATCH changes only the fields given" ok_if 'is 200 && has "\"hidden\":true" && has "\"brand\":\"acme\"" && has "\"shoes\""'
put_item i3 '{"categories":["shoes"]}'
check "items: PUT replaces the whole document" ok_if 'is 200 && has "\"hidden\":false" && has "\"labels\":{}"'
put_item brand-new '{"categories":["shoes"]}'; check "items: PUT creates an item never seen" is 200
req GET /items/brand-new; check "items: the created item reads back" ok_if 'is 200 && has "\"shoes\""'
patch_item nowhere '{"hidden":true}'; check "items: PATCH of an unknown item 404" problem 404
req DELETE /items/nowhere "${AUTH[@]}"; check "items: DELETE of an unknown item 404" problem 404

# ---- the rules on /recommend and /similar ----
req GET "/recommend?user=u1&k=6"; before=$(items_all); top=$(items_of | head -n 1); second=$(items_of | sed -n 2p)
req GET "/recommend?user=u1&k=6"; check "items: a second request is answered (from the kept list)" [ "$(items_all)" = "$before" ]
patch_item "$top" '{"hidden":true}'; check "items: hide the top item" is 200
req GET "/recommend?user=u1&k=5"; hidden_answer=$(items_all)
check "items: a hidden item is never recommended, the rest in order" \
    [ "$hidden_answer" = "$(echo "$before" | tr ' ' '\n' | grep -vx "$top" | head -n 5 | tr '\n' ' ')" ]
req GET "/similar?item=$second&k=50"; check "items: a hidden item is never similar" ok_if 'is 200 && ! items_of | grep -qx "$top"'
patch_item "$top" '{"hidden":false}'
req GET "/recommend?user=u1&k=6"; check "items: shown again once not hidden" [ "$(items_all)" = "$before" ]
patch_item "$top" '{"available_from":"2999-01-01T00:00:00Z"}'
req GET "/recommend?user=u1&k=6"; check "items: a not yet available item is never recommended" ok_if '! items_of | grep -qx "$top"'
patch_item "$top" '{"available_from":"2001-01-01T00:00:00Z"}'
req GET "/recommend?user=u1&k=6"; check "items: an item available since the past is recommended" [ "$(items_all)" = "$before" ]
req DELETE "/items/$top" "${AUTH[@]}"; check "items: DELETE 200" ok_if 'is 200 && has "\"deleted\":true"'
req GET "/items/$top"; check "items: a deleted item reads 404" problem 404
req GET "/recommend?user=u1&k=6"; check "items: a deleted item is never recommended" ok_if 'is 200 && ! items_of | grep -qx "$top"'
req GET "/recommend?user=nobody-at-all&k=50"; check "items: a deleted item is not in the popular list" \
    ok_if 'has "\"source\":\"popular\"" && ! items_of | grep -qx "$top"'
patch_item "$top" '{"hidden":false}'; check "items: PATCH of a deleted item 404" problem 404
put_item "$top" '{}'; req GET "/recommend?user=u1&k=6"; check "items: PUT brings a deleted item back" [ "$(items_all)" = "$before" ]

# ---- categories and offset ----
# every third seeded item in "c3"; the filtered answer must be the unfiltered ranking restricted to them
batch=$(for i in $(seq 0 3 79); do printf '{"id":"i%d","categories":["c3"]},' "$i"; done | sed 's/,$//')
post_items "[$batch]"; check "items: batch POST of 27 items" ok_if 'is 200 && has "\"accepted\":27"'
in_c3() { grep -E '^i([0-9]+)$' | while read -r id; do n=${id#i}; [ $((n % 3)) = 0 ] && echo "$id"; done; }
req GET "/recommend?user=u2&k=50"; all=$(items_of)
req GET "/recommend?user=u2&k=5&category=c3"
check "items: category= gives the exact top k among the category" \
    ok_if 'is 200 && [ "$(items_all)" = "$(echo "$all" | in_c3 | head -n 5 | tr "\n" " ")" ]'
put_item i1 '{"categories":["one"]}'; put_item i2 '{"categories":["one"]}'
in_c3_or_one() { grep -E '^i([0-9]+)$' | while read -r id; do n=${id#i}; { [ $((n % 3)) = 0 ] || [ "$n" -lt 3 ]; } && echo "$id"; done; }
req GET "/recommend?user=u2&k=8&category=c3&category=one"
check "items: category= repeated means any of them" \
    ok_if 'is 200 && [ "$(items_all)" = "$(echo "$all" | in_c3_or_one | head -n 8 | tr "\n" " ")" ]'
req GET "/recommend?user=u2&k=5&category=no-such-category"; check "items: an unknown category gives no items" ok_if 'is 200 && has "\"items\":\[\]"'
req GET "/similar?item=i1&k=4&category=c3"; sim=$(items_all)
check "items: /similar with category= only answers the category" ok_if 'is 200 && [ "$(items_of | in_c3 | wc -l)" = 4 ]'
req GET "/similar?item=i1&k=50"; check "items: /similar's category answer is its top k among them" \
    [ "$sim" = "$(items_of | in_c3 | head -n 4 | tr '\n' ' ')" ]
req GET "/recommend?user=u2&k=5"; first5=$(items_all)
req GET "/recommend?user=u2&k=3&offset=2"
check "items: offset= pages through the ranking" [ "$(items_all)" = "$(echo "$first5" | tr ' ' '\n' | sed -n 3,5p | tr '\n' ' ')" ]
req GET "/similar?item=i1&k=2&offset=1&category=c3"
check "items: offset= on /similar with category=" [ "$(items_all)" = "$(echo "$sim" | tr ' ' '\n' | sed -n 2,3p | tr '\n' ' ')" ]
req GET "/recommend?user=nobody-at-all&k=3&category=c3"; check "items: the popular list honours category=" \
    ok_if 'is 200 && [ "$(items_of | wc -l)" -gt 0 ] && [ "$(items_of | in_c3 | wc -l)" = "$(items_of | wc -l)" ]'
req GET /metrics; check "items: /metrics counts filtered requests and catalogue items" \
    ok_if 'has "nclrec_filtered_requests_total [1-9]" && has "nclrec_catalogue_items{state=\"written\"} [1-9]"'

# ---- batches: all or nothing, idempotency ----
post_items '[{"id":"b1","categories":["x"]},{"id":"b2","hidden":"yes"}]'; check "items: a bad batch element 422 naming it" ok_if 'problem 422 && has "items\[1\]"'
req GET /items/b1; check "items: nothing of a refused batch is stored" problem 404
post_items '[{"id":"b1","categories":["x"]}]' -H 'Idempotency-Key: ik-1'; seq1=$(json_field first_seq)
post_items '[{"id":"b1","categories":["x"]}]' -H 'Idempotency-Key: ik-1'
check "items: a retried batch with the same key is a replay" ok_if 'is 200 && has "\"replayed\":true" && has "\"first_seq\":$seq1,"'
post_items '[{"id":"b1","categories":["y"]}]' -H 'Idempotency-Key: ik-1'; check "items: the same key with other items 422" problem 422

# ---- bad input: each a 4xx problem+json naming what is wrong ----
put_item i5 '{"categories":"shoes"}'; check "items: categories not an array 422" ok_if 'problem 422 && has categories'
put_item i5 '{"categories":["ok","bad,comma"]}'; check "items: a bad category 422 naming it" ok_if 'problem 422 && has "categories\[1\]"'
put_item i5 '{"labels":{"x":[1]}}'; check "items: a label that is not a scalar 422" ok_if 'problem 422 && has labels'
put_item i5 '{"labels":["x"]}'; check "items: labels not an object 422" problem 422
put_item i5 '{"hidden":1}'; check "items: hidden not a boolean 422" ok_if 'problem 422 && has hidden'
put_item i5 '{"available_from":"2026-02-30T00:00:00Z"}'; check "items: an impossible date 422" ok_if 'problem 422 && has available_from'
put_item i5 '{"available_from":"tomorrow"}'; check "items: a date that is not RFC 3339 422" problem 422
put_item i5 '{"colour":"red"}'; check "items: an unknown field 422 naming it" ok_if 'problem 422 && has colour'
put_item i5 '{"id":"i6"}'; check "items: an id in the body other than the path 422" problem 422
put_item i5 '[1,2]'; check "items: a body that is not an object 422" problem 422
put_item i5 '{"hidden":'; check "items: a body that is not JSON 400" problem 400
put_item i5 '{"categories":["a"],"categories":["b"]}'; check "items: a repeated field 400" problem 400
put_item "$(printf 'x%.0s' $(seq 1 300))" '{}'; check "items: an id above 256 bytes 400" problem 400
req PUT /items/i5 -H 'Content-Type: text/plain' --data-binary '{}' "${AUTH[@]}"; check "items: PUT without JSON content type 415" problem 415
put_item "i5?x=1" '{}'; check "items: an unknown query parameter 400" problem 400
req PUT /items/i5 -H 'Content-Type: application/json' --data-binary '{}'; check "items: PUT without the key 401" problem 401
req DELETE /items/i5; check "items: DELETE without the key 401" problem 401
long=$(printf 'x%.0s' $(seq 1 300))
req GET "/items/$long"; check "items: GET of an id above 256 bytes 400" problem 400
req DELETE "/items/$long" "${AUTH[@]}"; check "items: DELETE of an id above 256 bytes 400" problem 400
patch_item i5 '{"hidden":'; check "items: PATCH with a body that is not JSON 400" problem 400
patch_item i5 '{"hidden":"no"}'; check "items: PATCH with a bad field 422" problem 422
req PATCH /items/i5 -H 'Content-Type: text/plain' --data-binary '{}' "${AUTH[@]}"; check "items: PATCH without JSON content type 415" problem 415
req PATCH /items/i5 -H 'Content-Type: application/json' --data-binary '{}'; check "items: PATCH without the key 401" problem 401
req POST /items -H 'Content-Type: text/plain' --data-binary '[]' "${AUTH[@]}"; check "items: POST without JSON content type 415" problem 415
req POST /items -H 'Content-Type: application/json' --data-binary '[{"id":"q"}]'; check "items: POST without the key 401" problem 401
post_items '[]'; check "items: an empty batch 422" problem 422
post_items '{"id":"i5"}'; check "items: a batch that is not an array 422" problem 422
post_items '[{"categories":["a"]}]'; check "items: a batch element without id 422" ok_if 'problem 422 && has "items\[0\]"'
post_items "[$(for i in $(seq 1 41); do printf '{"id":"z%d"},' "$i"; done | sed 's/,$//')]"
check "items: a batch above batch_max 422" problem 422
post_items 'not json'; check "items: a batch that is not JSON 400" problem 400
req GET "/recommend?user=u1&k=5&offset=46"; check "recommend: k + offset above k_max 400" ok_if 'problem 400 && has offset'
req GET "/recommend?user=u1&k=5&offset=-1"; check "recommend: a negative offset 400" problem 400
req GET "/recommend?user=u1&k=5&category="; check "recommend: an empty category 400" ok_if 'problem 400 && has category'
req GET "/similar?item=i1&k=5&offset=x"; check "similar: a bad offset 400" problem 400

# ---- anonymous sessions: POST /recommend ----
post_json /recommend '{"items":["i4","i7","i8"],"k":6}' "${AUTH[@]}"; session=$(items_all)
check "session: 200 with a fold-in for a visitor without a user id" ok_if 'is 200 && has "\"user\":null" && has "\"source\":\"fold-in\""'
check "session: the session's items are left out" ok_if '! items_of | grep -qxE "i4|i7|i8"'
post_json /interactions '[{"user":"visitor-copy","item":"i4"},{"user":"visitor-copy","item":"i7"},{"user":"visitor-copy","item":"i8"}]' "${AUTH[@]}"
req GET "/recommend?user=visitor-copy&k=6"
check "session: the same answer as a stored user's fold-in from the same items" ok_if 'has "\"source\":\"fold-in\"" && [ "$(items_all)" = "$session" ]'
stop_item=$(echo "$session" | cut -d' ' -f1)
patch_item "$stop_item" '{"hidden":true}'
post_json /recommend '{"items":["i4","i7","i8"],"k":5}' "${AUTH[@]}"
check "session: a hidden item is left out" [ "$(items_all)" = "$(echo "$session" | cut -d' ' -f2-6) " ]
patch_item "$stop_item" '{"hidden":false}'
post_json /recommend '{"items":["i4","i7","i8"],"k":2,"offset":1}' "${AUTH[@]}"
check "session: offset" [ "$(items_all)" = "$(echo "$session" | cut -d' ' -f2-3) " ]
post_json /recommend '{"items":["i4","i7","i8"],"k":4,"category":["c3"]}' "${AUTH[@]}"
check "session: category" ok_if 'is 200 && [ "$(items_of | wc -l)" = 4 ] && [ "$(items_of | in_c3 | wc -l)" = 4 ]'
post_json /recommend '{"items":[],"k":3}' "${AUTH[@]}"; check "session: no items gives the popular list" ok_if 'is 200 && has "\"source\":\"popular\""'
post_json /recommend '{"items":["never-seen-1"],"k":3}' "${AUTH[@]}"; check "session: only unknown items gives the popular list" has '"source":"popular"'
post_json /recommend '{"k":3}'; check "session: items missing 422" ok_if 'problem 422 && has items'
post_json /recommend '{"items":"i1"}'; check "session: items not an array 422" problem 422
post_json /recommend '{"items":["i1",7]}'; check "session: an item that is not a string 422 naming it" ok_if 'problem 422 && has "items\[1\]"'
post_json /recommend '{"items":["i1"],"k":0}'; check "session: k out of range 422" ok_if 'problem 422 && has k'
post_json /recommend '{"items":["i1"],"k":5,"offset":46}'; check "session: k + offset above k_max 422" ok_if 'problem 422 && has offset'
post_json /recommend '{"items":["i1"],"category":[""]}'; check "session: a bad category 422" ok_if 'problem 422 && has category'
post_json /recommend '{"items":["i1"],"user":"u1"}'; check "session: an unknown field 422 naming it" ok_if 'problem 422 && has user'
post_json /recommend '["i1"]'; check "session: a body that is not an object 422" problem 422
post_json /recommend '{"items":'; check "session: a body that is not JSON 400" problem 400
req POST /recommend -H 'Content-Type: text/plain' --data-binary '{"items":[]}'; check "session: without JSON content type 415" problem 415
post_json "/recommend?user=u1" '{"items":[]}'; check "session: a query parameter 400" problem 400

# ---- restart: the catalogue is durable and loaded ----
patch_item i4 '{"hidden":true}'
req DELETE /items/brand-new "${AUTH[@]}"
stop_server; check "items: SIGTERM exits 0" [ "$STOP_RC" = 0 ]

# ---- nclrec export --items / import --items ----
"$BIN" export --items --data-dir "$DI" --out "$T/items.jsonl" 2>"$T/export.err"; CODE=$?; BODY=$(cat "$T/export.err")
check "export --items: exit 0" is 0
check "export --items: one JSON line per item, hidden ones included" grep -q '"hidden":true,"id":"i4"' "$T/items.jsonl"
check "export --items: deleted items are left out" ok_if '! grep -q "\"id\":\"brand-new\"" "$T/items.jsonl"'
out=$("$BIN" import --items "$T/items.jsonl" --data-dir "$T/items-copy" 2>&1); CODE=$?; BODY=$out
check "import --items: every line imported" ok_if 'is 0 && has "imported=$(wc -l <"$T/items.jsonl") already_present=0"'
out=$("$BIN" import --items "$T/items.jsonl" --data-dir "$T/items-copy" 2>&1); BODY=$out
check "import --items: a re-run writes nothing again" has "imported=0 already_present=$(wc -l <"$T/items.jsonl")"
"$BIN" export --items --data-dir "$T/items-copy" --out "$T/items2.jsonl" 2>/dev/null
check "import --items: exported again, the same documents in the same order" cmp -s "$T/items.jsonl" "$T/items2.jsonl"
printf '{"id":"fine"}\n\n{"id":"bad","hidden":3}\n' >"$T/bad.jsonl"
out=$("$BIN" import --items "$T/bad.jsonl" --data-dir "$T/items-bad" 2>&1); CODE=$?; BODY=$out
check "import --items: a bad line refuses the file, naming the line" ok_if 'is 2 && has "bad.jsonl:3: hidden"'
"$BIN" export --items --data-dir "$T/items-bad" --out "$T/bad-out.jsonl" 2>/dev/null
check "import --items: nothing of a refused file is stored" [ ! -s "$T/bad-out.jsonl" ]
check "items: restarts on the same data" start_server "$T/items2.log" --data-dir "$DI" "${TRAIN[@]}" --api-key "$KEY" --k-max 50
wait_ready
req GET /items/i4; check "items: a document survives a restart" ok_if 'is 200 && has "\"hidden\":true"'
req GET "/similar?item=i1&k=50"; check "items: a hidden item stays hidden after a restart" ok_if 'is 200 && ! items_of | grep -qx i4'
req GET "/recommend?user=u2&k=5&category=c3"; check "items: categories are loaded at a restart" \
    ok_if 'is 200 && [ "$(items_of | in_c3 | wc -l)" = 5 ]'
stop_server
