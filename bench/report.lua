-- wrk reporting hook, appended by bench/run.py to every scenario script: done() prints one
-- line "WRKJSON {...}" with wrk's own totals, error counts and exact p50/p99 (microseconds),
-- plus the 5xx count a scenario's response() kept in the global bench_5xx (0 if none does).
local bench_threads = {}

function setup(thread)
  table.insert(bench_threads, thread)
  if bench_setup then bench_setup(thread, #bench_threads - 1) end
end

function done(summary, latency, requests)
  local s5 = 0
  for _, t in ipairs(bench_threads) do s5 = s5 + (t:get("bench_5xx") or 0) end
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,' ..
    '"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"s5xx":%d}\n', summary.requests, summary.duration, summary.bytes, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99), latency.max,
    s5))
end
