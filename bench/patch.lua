-- wrk script: durable PATCH of one IKE profile per request, alternating sa_life_time.
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format('{"sa_life_time":%d}', 21600 + (n % 1000)))
end
