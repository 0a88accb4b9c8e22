-- wrk script for every HTTP scenario of bench/gateways (compare.py sets the environment):
--   BENCH_METHOD      GET or POST (default POST)
--   BENCH_BODY_FILE   the request body (a GraphQL request as JSON), for POST
--   BENCH_PACE_MS     0 or absent: each connection sends its next request as soon as the
--                     answer arrives (saturation). > 0: each connection waits a random
--                     time with this mean (exponential: arrivals of a Poisson process,
--                     so connections do not fall into step) before each request, which
--                     holds the offered rate at connections * 1000 / BENCH_PACE_MS per
--                     second as long as answers take much less than the pause.
--   BENCH_HEADER      one extra header line "Name: value" (optional)
-- At the end it prints one line "BENCH_JSON {…}" with the counts (graphql_errors: answers
-- 200 whose body has "errors") and latency percentiles (microseconds, wrk's histogram).
local method = os.getenv("BENCH_METHOD") or "POST"
local pace = tonumber(os.getenv("BENCH_PACE_MS") or "0") or 0
local body = nil
local f = os.getenv("BENCH_BODY_FILE")
if f and f ~= "" then
  local h = assert(io.open(f, "rb"))
  body = h:read("*a")
  h:close()
end

wrk.method = method
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
local extra = os.getenv("BENCH_HEADER")
if extra and extra ~= "" then
  local name, value = extra:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end

-- Answers that carry GraphQL errors (a gateway answering 200 with partial data or none,
-- e.g. after an upstream timeout) are counted apart: fast wrong answers must not pass
-- for throughput. Each thread counts in its own Lua state; done() sums them.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

graphql_errors = 0

function response(status, headers, body)
  if status == 200 and body ~= nil and string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

if pace > 0 then
  function delay()
    local u = math.random()
    if u < 1e-9 then u = 1e-9 end
    local d = -math.log(u) * pace
    if d > pace * 10 then d = pace * 10 end
    return math.floor(d + 0.5)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local gql = 0
  for _, t in ipairs(threads) do
    gql = gql + (tonumber(t:get("graphql_errors")) or 0)
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"graphql_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout, gql,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
