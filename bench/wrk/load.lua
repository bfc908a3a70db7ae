-- wrk script of the HTTP benchmark. Bearer runs send the -H headers unchanged. With
-- BENCH_DPOP_PROOFS set, every request carries the next proof from that file (made in
-- Python before the run: wrk's Lua cannot sign ES256), so no proof is sent twice;
-- once the file is exhausted requests carry an invalid proof and count as non-2xx.
-- done() prints one JSON line that bench/http_load.py reads.
local proofs_path = os.getenv("BENCH_DPOP_PROOFS")

if proofs_path then
   local proofs, index = {}, 0

   function init(args)
      for line in io.lines(proofs_path) do
         proofs[#proofs + 1] = line
      end
   end

   function request()
      index = index + 1
      local headers = {}
      for name, value in pairs(wrk.headers) do
         headers[name] = value
      end
      headers["DPoP"] = proofs[index] or "exhausted"
      return wrk.format(nil, nil, headers)
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,"socket_errors":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.status, e.connect + e.read + e.write + e.timeout))
end
