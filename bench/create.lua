-- wrk script: PUT-create policy-based sessions COLLECTION/bench-FIRST .. bench-LAST, split over
-- wrk's threads (thread i takes FIRST+i, FIRST+i+STRIDE, ...; STRIDE = the thread count). A
-- thread that has sent its share stops itself; bench/run.py watches the server's result_count
-- and ends wrk (SIGINT) once every session exists.
--   wrk -tT ... -s create.lua COLLECTION/ -- FIRST LAST T
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
local first, last, stride, n, base
tid = 0     -- global: bench_setup sets it per thread (thread:set)

function bench_setup(thread, i)
  thread:set("tid", i)
end

local probe = false

function init(args)
  first, last, stride = tonumber(args[1]), tonumber(args[2]), tonumber(args[3])
  n = first + tid
  base = wrk.path
  -- wrk calls thread 0's request() once right after init to check the script and throws
  -- that request away: give it one that consumes no id
  probe = tid == 0
end

local function body(id)
  local peer = string.format("198.18.%d.%d", math.floor(id / 250) % 256, id % 250 + 1)
  return '{"resource_type":"PolicyBasedIPSecVpnSession","rules":[{"sources":' ..
    '[{"subnet":"192.168.98.0/24"},{"subnet":"10.2.1.140/32"}],"destinations":' ..
    '[{"subnet":"192.168.123.0/24"}],"logged":false,"enabled":true,"action":"PROTECT",' ..
    '"sequence_number":0,"resource_type":"IPSecVpnRule","id":"rule-1","display_name":"rule-1"}],' ..
    '"enabled":true,"local_endpoint_path":"/infra/tier-0s/vmc/locale-services/default/' ..
    'ipsec-vpn-services/default/local-endpoints/Private-IP1","authentication_mode":"PSK",' ..
    '"psk":"bench-psk-' .. id .. '","compliance_suite":"NONE",' ..
    '"connection_initiation_mode":"INITIATOR","peer_address":"' .. peer .. '","peer_id":"' ..
    peer .. '"}'
end

request = function()
  if probe then
    probe = false
    return wrk.format("GET", "/healthz")
  end
  if n > last then
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  local id = n
  n = n + stride
  return wrk.format(nil, base .. "bench-" .. id, nil, body(id))
end
