-- One fixed request, described by environment variables set by benchmarks/run.py:
--   BENCH_METHOD   GET (default), POST, ...
--   BENCH_BODY     request body (optional)
--   BENCH_HEADERS  "Name: value" lines separated by newlines (optional)
-- Setting wrk.method/body/headers (instead of a request() function) lets wrk
-- build the request once, so the load generator costs as little CPU as possible.
--
-- Chained mode (refresh-token rotation), when BENCH_CHAIN_FIELD is set:
--   BENCH_CHAIN_FIELD   JSON field carrying the single-use token, in the body and the answer
--   BENCH_CHAIN_TOKENS  unused tokens, one per line, dealt round-robin to the wrk threads
--   BENCH_THREADS       number of wrk threads (-t)
-- Each thread keeps a queue: a request takes the oldest token and sends
-- {"<field>":"<token>"}; a 200 answer puts the token it carries at the end. So
-- every token is sent once, and each sign-in has at most one request in flight.
-- At the end the tokens still queued are printed (BENCH_CHAIN line) for the next run.
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

local chain_field = os.getenv("BENCH_CHAIN_FIELD") or ""
if chain_field ~= "" then
  -- Main state: remember the threads, number them (setup runs before each thread's init).
  threads = {}
  setup = function(thread)
    table.insert(threads, thread)
    thread:set("thread_number", #threads)
  end

  -- Thread state.
  queue, head, tail = {}, 1, 0
  local pattern = '"' .. chain_field .. '"%s*:%s*"([^"]+)"'
  local prefix = '{"' .. chain_field .. '":"'

  init = function(args)
    local count = tonumber(os.getenv("BENCH_THREADS")) or 1
    local i = 0
    for token in (os.getenv("BENCH_CHAIN_TOKENS") or ""):gmatch("[^\n]+") do
      if i % count == thread_number - 1 then
        tail = tail + 1
        queue[tail] = token
      end
      i = i + 1
    end
  end

  request = function()
    local token = "exhausted" -- the server answers 401: counted as an error
    if head <= tail then
      token = queue[head]
      queue[head] = nil
      head = head + 1
    end
    return wrk.format(nil, nil, nil, prefix .. token .. '"}')
  end

  response = function(status, headers, answer)
    if status == 200 then
      local token = answer:match(pattern)
      if token then
        tail = tail + 1
        queue[tail] = token
      end
    end
  end
end

-- Pool mode (single-use bodies no answer replaces: a sign-in's second step), when BENCH_POOL_FILE is set:
--   BENCH_POOL_FILE  one request body per line, dealt round-robin to the wrk threads
--   BENCH_THREADS    number of wrk threads (-t)
-- Each body is sent once; a thread that runs out sends "{}" (answered 400: an error).
-- At the end the number of bodies never sent is printed (BENCH_POOL line).
local pool_file = os.getenv("BENCH_POOL_FILE") or ""
if pool_file ~= "" then
  threads = {}
  setup = function(thread)
    table.insert(threads, thread)
    thread:set("thread_number", #threads)
  end

  bodies, next_body, last_body = {}, 1, 0

  init = function(args)
    local count = tonumber(os.getenv("BENCH_THREADS")) or 1
    local i = 0
    for line in io.lines(pool_file) do
      if line ~= "" then
        if i % count == thread_number - 1 then
          last_body = last_body + 1
          bodies[last_body] = line
        end
        i = i + 1
      end
    end
  end

  request = function()
    local body = "{}"
    if next_body <= last_body then
      body = bodies[next_body]
      bodies[next_body] = nil
      next_body = next_body + 1
    end
    return wrk.format(nil, nil, nil, body)
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
  if threads and pool_file ~= "" then
    local left = 0
    for _, thread in ipairs(threads) do
      left = left + math.max(0, thread:get("last_body") - thread:get("next_body") + 1)
    end
    io.write(string.format('BENCH_POOL {"left": %d}\n', left))
  elseif threads then
    local left = {}
    for _, thread in ipairs(threads) do
      local q, h, t = thread:get("queue"), thread:get("head"), thread:get("tail")
      for i = h, t do
        left[#left + 1] = q[i]
      end
    end
    io.write("BENCH_CHAIN " .. table.concat(left, " ") .. "\n")
  end
end
