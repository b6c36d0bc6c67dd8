#!/bin/sh
# Indicative benchmarks (issue 6 builds the full comparative suite): starts a release build of
# vpnd on a loopback port with a fresh data dir, runs wrk for a few seconds per scenario, stops it.
set -eu
cd "$(dirname "$0")/.."
BIN=${VPND_BIN:-build/vpnd}
PORT=${BENCH_PORT:-18391}
SECS=${BENCH_SECS:-5}
DATA=$(mktemp -d)
command -v wrk >/dev/null || { echo "bench: wrk is needed (apt-get install wrk)" >&2; exit 1; }
"$BIN" --listen 127.0.0.1:$PORT --data "$DATA" --log-level warn &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
U=http://127.0.0.1:$PORT
B=$U/policy/api/v1
for i in $(seq 50); do curl -sf -o /dev/null $U/healthz && break; sleep 0.1; done
# authenticate as a VMC client would: exchange the admin refresh token for an access token
RT=$(cat "$DATA/admin-refresh-token")
AT=$(curl -sf -X POST "$U/csp/gateway/am/api/auth/api-tokens/authorize" -d "refresh_token=$RT" |
     sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$AT" ] || { echo "bench: token exchange failed" >&2; exit 1; }
H="csp-auth-token: $AT"
curl -sf -o /dev/null -H "$H" -X PUT $B/infra/ipsec-vpn-ike-profiles/p1 -d '{"encryption_algorithms":["AES_256"]}'
echo "date: $(date -u +%F)  nproc: $(nproc)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== GET one object, 32 connections"
wrk -t2 -c32 -d${SECS}s -H "$H" $B/infra/ipsec-vpn-ike-profiles/p1 | grep -E "Latency|Requests/sec"
for c in 1 32; do
	echo "== durable PATCH, $c connection(s)"
	wrk -t1 -c$c -d${SECS}s -H "$H" -s bench/patch.lua $B/infra/ipsec-vpn-ike-profiles/p1 |
		grep -E "Latency|Requests/sec|Non-2xx"
done
