-- wrk script of bench/export.py's load run: POST exports, each of a different user.
--
-- BENCH_TOKENS_FILE names a file with one API token per line, one per user,
-- and BENCH_THREADS is wrk's -t. setup() deals the tokens out to the threads;
-- each thread then cycles through its own, so consecutive requests on a
-- thread (and so on each of its connections) export different users'
-- calendars, and with as many connections as users about that many different
-- calendars are in flight at any moment.
-- response() counts the answers that are not 2xx (wrk's own count is of
-- status > 399 only); done() prints the summary as one line of JSON,
-- prefixed by "RESULT ".

local dealt = nil
local thread_count = 0

local function deal_tokens()
  local hands = {}
  local count = tonumber(os.getenv("BENCH_THREADS"))
  for hand = 1, count do
    hands[hand] = {}
  end
  local position = 0
  for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
    if line ~= "" then
      local hand = hands[position % count + 1]
      hand[#hand + 1] = line
      position = position + 1
    end
  end
  return hands
end

local threads = {}

function setup(thread)
  dealt = dealt or deal_tokens()
  thread_count = thread_count + 1
  threads[thread_count] = thread
  thread:set("tokens", table.concat(dealt[thread_count], ","))
end

local prepared = {}
local last = 0

function init(args)
  -- A global, not a local: done() reads it from each thread with thread:get.
  non_2xx = 0
  for token in string.gmatch(tokens, "[^,]+") do
    prepared[#prepared + 1] = wrk.format("POST", nil, {
      ["Authorization"] = "Token token=" .. token,
      ["Accept"] = "text/plain",
      ["Content-Type"] = "application/json",
    }, "")
  end
end

function request()
  last = last % #prepared + 1
  return prepared[last]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  local non_2xx_total = 0
  for _, thread in ipairs(threads) do
    non_2xx_total = non_2xx_total + thread:get("non_2xx")
  end
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "status_errors": %d, "non_2xx": %d, "timeouts": %d, "latency_p50_us": %d, '
      .. '"latency_p99_us": %d, "latency_max_us": %d, "latency_mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, errors.connect, errors.read,
    errors.write, errors.status, non_2xx_total, errors.timeout, latency:percentile(50),
    latency:percentile(99), latency.max, latency.mean
  ))
end
