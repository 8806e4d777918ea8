-- wrk script for bench/status_partial.py: rotate over the paths in $BENCH_TARGETS (one per line, optionally
-- "path<TAB>version"), every request with HX-Request: true. Without targets, request the URL given to wrk.
-- done() prints one JSON line for the Python script.
--
-- With a version on a target line, a request sends X-Order-Version as a polling page does, and the version is
-- the one last received for that order ($BENCH_VERSIONS=last, the default): each answer that carries the part
-- (200, or 286 with a body) gives its order's current version, so an order whose page changes (its cancel
-- button becomes active two minutes after the payment) is rendered once and then answered 204 again, as in a
-- browser. The version comes from the answer's X-Order-Version header when the view sends one, else from the
-- part's data-version attribute; the order from the URLs in the part (its status URL, its forms). $BENCH_VERSIONS=first keeps sending
-- the version read before the run (this script's behaviour until 2026-11-28), for comparison.

local targets = {}
local counter = 0
local last_version = {}  -- path -> the version the last answer for that order carried
local keep_first = false
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
  keep_first = os.getenv("BENCH_VERSIONS") == "first"
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
    headers["X-Order-Version"] = (not keep_first and last_version[target.path]) or target.version
  end
  return wrk.format("GET", target.path, headers)
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  if keep_first or body == nil or #body == 0 then
    return  -- 204, or an empty 286: the page keeps what it shows
  end
  local order = body:match('/o/([%x%-]+)/')  -- the part's status URL, its cancel form, its pay form's "next"
  local path = order and ("/o/" .. order .. "/status")
  local version = headers["X-Order-Version"] or headers["x-order-version"] or body:match('data%-version="([^"]+)"')
  if path and version then
    last_version[path] = version
  end
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
