-- wrk script: GET a random one of COLLECTION/bench-0 .. bench-(K-1).
--   wrk ... -s get_random.lua COLLECTION/ -- K
local count = 1
local base = nil

function init(args)
  count = tonumber(args[1] or "1") or 1
  base = wrk.path
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

request = function()
  return wrk.format("GET", base .. "bench-" .. math.random(0, count - 1))
end
