-- serve_common.lua - helpers shared by the wrk scripts of bench/bench_serve.sh.

local M = {}

-- The non-empty lines of a file, as a list of strings.
function M.read_lines(path)
   local f = assert(io.open(path, "r"))
   local out = {}
   for line in f:lines() do
      if line ~= "" then out[#out + 1] = line end
   end
   f:close()
   if #out == 0 then error(path .. ": no ids") end
   return out
end

-- Printed once at the end of a run, one line of key=value for the benchmark script: request
-- rate, latency percentiles in milliseconds (wrk records microseconds), and every kind of
-- error. non2xx counts what wrk prints as "Non-2xx or 3xx responses".
function M.done(summary, latency, requests)
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "wrk_result requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f " ..
      "max_ms=%.3f bytes_per_response=%.0f non2xx=%d connect_errors=%d read_errors=%d " ..
      "write_errors=%d timeouts=%d\n",
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
      latency.max / 1e3, summary.requests > 0 and summary.bytes / summary.requests or 0,
      e.status, e.connect, e.read, e.write, e.timeout))
end

return M
