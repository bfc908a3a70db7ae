-- wrk script of the data-path benchmark. BENCH_METHOD (GET, POST, PATCH, DELETE) and
-- BENCH_BODY (a JSON body, or empty) apply to every request. With BENCH_PATHS set, the
-- requests take the paths of that file in turn, one per line (PATCH cycles over the
-- caller's todos; DELETE names each todo once, and a file that runs out shows up as
-- 404s, counted as non-2xx). done() prints the JSON line bench/http_load.py reads.
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local paths_file = os.getenv("BENCH_PATHS")
local paths, index = nil, 0

function init(args)
   if body == "" then body = nil end
   if body then wrk.headers["Content-Type"] = "application/json" end
   if paths_file then
      paths = {}
      for line in io.lines(paths_file) do
         paths[#paths + 1] = line
      end
   end
end

function request()
   local path = nil
   if paths then
      index = index + 1
      path = paths[((index - 1) % #paths) + 1]
      if method == "DELETE" and index > #paths then
         path = "/api/todos/00000000-0000-0000-0000-000000000000"
      end
   end
   return wrk.format(method, path, nil, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,"socket_errors":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.status, e.connect + e.read + e.write + e.timeout))
end
