-- wrk script for the small-request workloads. Debian's wrk 4.1 has no flag for the method,
-- so the method (GET or HEAD) and the basic-auth header come from the environment.
-- done() prints one machine-readable line the harness parses.
wrk.method = os.getenv("WRK_METHOD") or "GET"
local auth = os.getenv("WRK_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = "Basic " .. auth
end
local accept = os.getenv("WRK_ACCEPT")
if accept and accept ~= "" then
  wrk.headers["Accept"] = accept
end
wrk.headers["User-Agent"] = "portcullis-bench/wrk"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
