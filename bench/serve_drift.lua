-- serve_drift.lua - wrk script: /recommend where 90% of requests go to a hot set of 800 users
-- that moves after SWITCH seconds (users 1-800 of USERS_FILE, then users 3001-3800), the rest
-- to any user. For the kept candidate lists (server/model/rec_cache.c) under a budget smaller than
-- all users' lists: do the users who ask now get lists, or the ones who asked first?
--
--   wrk -t1 -c64 -d8s --latency -s bench/serve_drift.lua URL -- USERS_FILE SWITCH
-- USERS_FILE: one user id per line, at least 3,800. SWITCH: seconds before the hot set moves
-- (0: the second hot set from the start). Fixed random seed.

local users = {}
local t0 = nil
local switch = 0

function init(args)
   for line in io.lines(args[1] or error("usage: ... -- USERS_FILE SWITCH")) do users[#users + 1] = line end
   if #users < 3800 then error("serve_drift.lua: USERS_FILE needs at least 3,800 users") end
   switch = tonumber(args[2] or "0")
   math.randomseed(7)
end

function request()
   t0 = t0 or os.time()
   local phase = (os.time() - t0 >= switch) and 1 or 0
   local u
   if math.random() < 0.9 then u = users[phase * 3000 + math.random(800)] else u = users[math.random(#users)] end
   return wrk.format("GET", "/recommend?user=" .. u .. "&k=10")
end
