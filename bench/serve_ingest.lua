-- serve_ingest.lua - wrk script for bench/bench_serve.sh: POST /interactions with one event
-- per request, every (user, item) pair distinct: thread t's n-th request sends user
-- "PREFIX-t-(n / #items)" and item items[n % #items]. Known item ids, new users (one per
-- pass over the items), so each request adds exactly one new row to the store.
--
--   wrk -t1 -c32 -d15s --latency -s bench/serve_ingest.lua URL -- ITEMS_FILE KEY_FILE PREFIX
-- ITEMS_FILE: one item id per line. KEY_FILE: its first line is sent as
-- "Authorization: Bearer KEY" ("" = no header; the key never appears on a command line).
-- PREFIX: makes the users of one run distinct from any other run's.

package.path = (os.getenv("BENCH_LUA_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("serve_common")

local threads = {}
local items = {}
local headers = {["Content-Type"] = "application/json"}
local prefix = "bench"
local n = 0

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   items = common.read_lines(args[1] or error("usage: ... -- ITEMS_FILE KEY_FILE PREFIX"))
   if args[2] and args[2] ~= "" then
      headers["Authorization"] = "Bearer " .. common.read_lines(args[2])[1]
   end
   prefix = (args[3] or "bench") .. "-" .. (tid or 0)
end

function request()
   local user = prefix .. "-" .. math.floor(n / #items)
   local item = items[n % #items + 1]
   n = n + 1
   local body = '{"user":"' .. user .. '","item":"' .. item .. '"}'
   return wrk.format("POST", "/interactions", headers, body)
end

done = common.done
