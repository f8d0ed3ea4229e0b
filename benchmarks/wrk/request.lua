-- One fixed request, described by environment variables set by benchmarks/run.py:
--   BENCH_METHOD   GET (default), POST, ...
--   BENCH_BODY     request body (optional)
--   BENCH_HEADERS  "Name: value" lines separated by newlines (optional)
-- Setting wrk.method/body/headers (instead of a request() function) lets wrk
-- build the request once, so the load generator costs as little CPU as possible.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
end
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then
    wrk.headers[name] = value
  end
end

-- One machine-readable line for run.py; latencies in microseconds.
-- errors.status counts answers with a status >= 400.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
