-- wrk script for bench/status_partial.py: rotate over the paths in $BENCH_TARGETS (one per line, optionally
-- "path<TAB>version" to send X-Order-Version as shop.js does), every request with HX-Request: true.
-- Without targets, request the URL given to wrk. done() prints one JSON line for the Python script.

local targets = {}
local counter = 0
codes = {}  -- a global: done() reads each thread's table with thread:get
local threads = {}

local function load_targets()
  local name = os.getenv("BENCH_TARGETS")
  if name == nil or name == "" then
    return
  end
  for line in io.lines(name) do
    local path, version = line:match("^([^\t]+)\t?(.*)$")
    if path then
      table.insert(targets, { path = path, version = version })
    end
  end
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  load_targets()
  counter = math.random(1, math.max(1, #targets))
end

function request()
  local headers = { ["HX-Request"] = "true" }
  if #targets == 0 then
    return wrk.format("GET", nil, headers)
  end
  counter = counter % #targets + 1
  local target = targets[counter]
  if target.version ~= "" then
    headers["X-Order-Version"] = target.version
  end
  return wrk.format("GET", target.path, headers)
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  local all = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("codes") or {}
    for status, n in pairs(c) do
      all[tostring(status)] = (all[tostring(status)] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(all) do
    table.insert(parts, string.format('"%s": %d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, '
      .. '"max_ms": %.2f, "errors": %d, "codes": {%s}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout, table.concat(parts, ", ")))
end
