-- wrk script of bench/feeds.py's load run: one URL, with the headers given by -H (If-None-Match for the 304s).
--
-- BENCH_EXPECT is the status every answer should have (200, 304, 404); response() counts the others
-- (wrk's own count is of status > 399 only, which a 404 run expects). Without it (an empty BENCH_EXPECT)
-- there is no response(): wrk then hands no answer to Lua, which for a calendar of hundreds of kilobytes
-- costs the client more CPU than the server spends sending it, on a machine they share. done() prints the
-- summary as one line of JSON, prefixed by "RESULT ".

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  -- Globals, not locals: done() reads them from each thread with thread:get.
  expected = tonumber(os.getenv("BENCH_EXPECT"))
  unexpected = 0
end

if os.getenv("BENCH_EXPECT") ~= "" then
  function response(status, headers, body)
    if status ~= expected then
      unexpected = unexpected + 1
    end
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  local unexpected_total = 0
  for _, thread in ipairs(threads) do
    unexpected_total = unexpected_total + thread:get("unexpected")
  end
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "timeouts": %d, "status_errors": %d, "unexpected": %d, "latency_p50_us": %d, '
      .. '"latency_p99_us": %d, "latency_max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, errors.connect, errors.read, errors.write,
    errors.timeout, errors.status, unexpected_total, latency:percentile(50), latency:percentile(99), latency.max
  ))
end
