-- recommend.lua - wrk script for tests/cluster/cluster_test.sh: GET /recommend for users
-- u1..u1000 in turn and count every answer that is not 2xx (wrk itself counts 3xx as fine).
-- done() prints "non_2xx N" summed over wrk's threads.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    bad = 0
    n = 0
end

function request()
    n = n + 1
    return wrk.format("GET", "/recommend?user=u" .. (n % 1000 + 1) .. "&k=10")
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local total = 0
    for _, t in ipairs(threads) do
        total = total + t:get("bad")
    end
    io.write(string.format("non_2xx %d\n", total))
end
