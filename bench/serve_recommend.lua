-- serve_recommend.lua - wrk script for bench/bench_serve.sh: GET /recommend?user=ID&k=K over
-- a list of known user ids, one after the other, each thread from its own offset, so the
-- requests vary (different stored histories and exclusions) but are the same every run.
-- The request strings are built once in init: wrk's single thread then spends its time on the
-- network, not in Lua (it also drives nginx, which answers faster).
--
--   wrk -t1 -c64 -d15s --latency -s bench/serve_recommend.lua URL -- USERS_FILE [K [QUERY]]
-- USERS_FILE: one user id per line (ids must not need URL escaping: the script checks).
-- QUERY: more parameters appended to every request ("category=c1", already escaped).
-- At the end one line is printed for the benchmark script (see serve_common.lua).

package.path = (os.getenv("BENCH_LUA_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("serve_common")

local threads = {}
local reqs = {}
local pos = 1

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   local ids = common.read_lines(args[1] or error("usage: ... -- USERS_FILE [K]"))
   local k = tonumber(args[2] or "10")
   local extra = args[3] and ("&" .. args[3]) or ""
   for i, u in ipairs(ids) do
      if not u:match("^[%w%-_%.]+$") then error("user id needs URL escaping: " .. u) end
      reqs[i] = wrk.format("GET", "/recommend?user=" .. u .. "&k=" .. k .. extra)
   end
   pos = ((tid or 0) * 7919) % #reqs + 1
end

function request()
   local r = reqs[pos]
   pos = pos % #reqs + 1
   return r
end

done = common.done
