-- wrk script: one durable PATCH per request, {"description":"bench N"} (N counts per thread).
--   wrk ... -s patch.lua URL                 PATCH the object at URL
--   wrk ... -s patch.lua COLLECTION/ -- K    PATCH a random one of COLLECTION/bench-0 .. bench-(K-1)
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
local n = 0
local count = 0
local base = nil

function init(args)
  count = tonumber(args[1] or "0") or 0
  base = wrk.path
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

request = function()
  n = n + 1
  local body = string.format('{"description":"bench %d"}', n)
  if count > 0 then
    return wrk.format(nil, base .. "bench-" .. math.random(0, count - 1), nil, body)
  end
  return wrk.format(nil, nil, nil, body)
end
