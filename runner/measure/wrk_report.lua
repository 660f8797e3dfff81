-- Put after every scenario script: wrk's numbers as JSON from its done() hook, written to
-- $DBBENCH_WRK_OUT, so nothing is scraped from wrk's text output. The per-thread counters
-- of runner/measure/wrk_prelude.lua are summed over the threads.
local function summed(name)
  local total = {}
  for _, thread in ipairs(threads) do
    for key, value in pairs(thread:get(name) or {}) do
      total[key] = (total[key] or 0) + value
    end
  end
  return counts_json(total)
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("DBBENCH_WRK_OUT"), "w"))
  local e = summary.errors
  local percentiles = {}
  for _, p in ipairs({50, 75, 90, 99, 99.9}) do
    table.insert(percentiles, string.format('"%s": %d', tostring(p), latency:percentile(p)))
  end
  out:write(string.format(
    '{"duration_us": %d, "requests": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "stdev": %.1f, "percentiles": {%s}}, ' ..
    '"sent": %s, "statuses": %s}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev, table.concat(percentiles, ", "),
    summed("sent"), summed("statuses")))
  out:close()
end
