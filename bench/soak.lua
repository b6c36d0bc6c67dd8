-- wrk script: the load/soak mix over COLLECTION/bench-0 .. bench-(K-1): 70% GET of a random
-- session, 25% durable PATCH of a random session, 5% list (page_size=20); counts 5xx in
-- bench_5xx for report.lua.
--   wrk ... -s soak.lua COLLECTION/ -- K
local count, base, coll
local n = 0
bench_5xx = 0
-- on every request (harmless on GETs): a headers table given to wrk.format would replace
-- wrk.headers, and with it the -H csp-auth-token
wrk.headers["Content-Type"] = "application/json"

function init(args)
  count = tonumber(args[1] or "1") or 1
  base = wrk.path
  coll = string.sub(base, 1, -2)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

request = function()
  local r = math.random(100)
  local path = base .. "bench-" .. math.random(0, count - 1)
  if r <= 70 then
    return wrk.format("GET", path)
  elseif r <= 95 then
    n = n + 1
    return wrk.format("PATCH", path, nil, string.format('{"description":"soak %d"}', n))
  end
  return wrk.format("GET", coll .. "?page_size=20")
end

response = function(status, headers, body)
  if status >= 500 then bench_5xx = bench_5xx + 1 end
end
