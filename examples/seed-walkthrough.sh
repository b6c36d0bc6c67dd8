#!/usr/bin/env bash
# seed-walkthrough.sh - the configuration steps of "VMware Cloud on AWS - Managing IPSec VPN using
# API" (the seed), in its order and with its request bodies, sent with curl to a running vpnd.
# It authenticates the way VMC clients do: the refresh token is exchanged for an access token at
# the CSP authorize URL, and the access token is sent as "csp-auth-token" on every call.
#
#   VPND_URL            base URL (default http://127.0.0.1:8080)
#   VPND_PREFIX         path prefix (default /policy/api/v1); the reverse-proxy forms work too, e.g.
#                       /vmc/reverse-proxy/api/orgs/ORG/sddcs/SDDC/sks-nsxt-manager/policy/api/v1
#   VPND_REFRESH_TOKEN  the refresh (API) token to exchange; if unset, read from
#                       $VPND_DATA/admin-refresh-token when VPND_DATA is set
#   VPND_CSP_URL        base URL of the token exchange (default VPND_URL), i.e. CSP's
#                       https://console.cloud.vmware.com for a real SDDC
#   VPND_ORG, VPND_SDDC if both set, the NSX URL is discovered like VMC clients do: GET
#                       /vmc/api/orgs/ORG/sddcs/SDDC, then resource_config.nsx_api_public_endpoint_url
#                       + /policy/api/v1 is used instead of VPND_URL + VPND_PREFIX
#   VPND_TOKEN          an access token to send as is (no exchange)
#   WALKTHROUGH_OUT     if set, a directory; each step's response body is saved as NAME.json there
#
# Every request is printed (secrets and tokens masked) with its HTTP status, plus one
# machine-readable line per step:  STEP <name> <status>  (the exchange is step "authorize", the
# discovery step "discover-sddc"). The script stops with exit status 1 at the first unexpected
# status.
set -u

VPND_URL=${VPND_URL:-http://127.0.0.1:8080}
VPND_PREFIX=${VPND_PREFIX-/policy/api/v1}
VPND_CSP_URL=${VPND_CSP_URL:-$VPND_URL}
OUT=${WALKTHROUGH_OUT:-}

command -v curl >/dev/null 2>&1 || { echo "seed-walkthrough: curl not found" >&2; exit 2; }
if [ -n "$OUT" ]; then
	mkdir -p "$OUT" || exit 2
fi
TMP=$(mktemp -d) || exit 2
trap 'rm -rf "$TMP"' EXIT

mask() {
	sed -E 's/("(psk|password|access_token|refresh_token|id_token)"[[:space:]]*:[[:space:]]*)"[^"]*"/\1"********"/g'
}

# json_string FILE KEY: the value of a "KEY": "value" string in a JSON file (\/ unescaped)
json_string() {
	tr -d '\n' <"$1" | sed -n 's/.*"'"$2"'"[[:space:]]*:[[:space:]]*"\(\([^"\\]\|\\.\)*\)".*/\1/p' |
		sed 's#\\/#/#g'
}

# unexpected NAME EXPECTED CODE FILE: report and stop
unexpected() {
	echo "UNEXPECTED: step $1 expected HTTP $2, got $3" >&2
	mask <"$4" >&2 2>/dev/null
	echo >&2
	exit 1
}

ACCESS_TOKEN=${VPND_TOKEN:-}
REFRESH_TOKEN=${VPND_REFRESH_TOKEN:-}
if [ -z "$ACCESS_TOKEN" ] && [ -z "$REFRESH_TOKEN" ] && [ -n "${VPND_DATA:-}" ]; then
	if [ ! -r "$VPND_DATA/admin-refresh-token" ]; then
		echo "seed-walkthrough: cannot read $VPND_DATA/admin-refresh-token" >&2
		exit 2
	fi
	REFRESH_TOKEN=$(head -n 1 "$VPND_DATA/admin-refresh-token")
fi

# The exchange: POST .../authorize with the refresh token in a form body (not in the URL, so it
# stays out of access logs), as VMware's SDKs do. The token goes to curl on stdin, never argv.
if [ -z "$ACCESS_TOKEN" ] && [ -n "$REFRESH_TOKEN" ]; then
	out="$TMP/authorize.json"
	echo "==> POST /csp/gateway/am/api/auth/api-tokens/authorize (refresh_token=********)"
	code=$(printf '%s' "$REFRESH_TOKEN" |
		curl -sS --max-time 30 -o "$out" -w '%{http_code}' -X POST -H 'Accept: application/json' \
			--data-urlencode 'refresh_token@-' \
			"$VPND_CSP_URL/csp/gateway/am/api/auth/api-tokens/authorize") || code=000
	echo "<== $code"
	echo "STEP authorize $code"
	[ "$code" = 200 ] || unexpected authorize 200 "$code" "$out"
	ACCESS_TOKEN=$(json_string "$out" access_token)
	if [ -z "$ACCESS_TOKEN" ]; then
		echo "seed-walkthrough: no access_token in the authorize response" >&2
		exit 1
	fi
fi

HDRS=(-H 'Content-Type: application/json' -H 'Accept: application/json')
if [ -n "$ACCESS_TOKEN" ]; then
	# from a file, so the token is not on curl's command line (ps)
	printf 'csp-auth-token: %s\n' "$ACCESS_TOKEN" >"$TMP/auth-header"
	HDRS+=(-H "@$TMP/auth-header")
fi

# SDDC discovery: the NSX reverse-proxy URL of the SDDC, as VMC clients look it up.
BASE="$VPND_URL$VPND_PREFIX"
if [ -n "${VPND_ORG:-}" ] && [ -n "${VPND_SDDC:-}" ]; then
	out="$TMP/discover-sddc.json"
	[ -n "$OUT" ] && out="$OUT/discover-sddc.json"
	echo "==> GET /vmc/api/orgs/$VPND_ORG/sddcs/$VPND_SDDC"
	code=$(curl -sS --max-time 30 -o "$out" -w '%{http_code}' "${HDRS[@]}" \
		"$VPND_URL/vmc/api/orgs/$VPND_ORG/sddcs/$VPND_SDDC") || code=000
	echo "<== $code"
	echo "STEP discover-sddc $code"
	[ "$code" = 200 ] || unexpected discover-sddc 200 "$code" "$out"
	NSX_URL=$(json_string "$out" nsx_api_public_endpoint_url)
	if [ -z "$NSX_URL" ]; then
		echo "seed-walkthrough: no nsx_api_public_endpoint_url in the SDDC" >&2
		exit 1
	fi
	echo "    NSX endpoint: $NSX_URL"
	BASE="${NSX_URL%/}/policy/api/v1"
fi

# step NAME METHOD PATH EXPECTED_STATUS [BODY]
step() {
	local name=$1 method=$2 path=$3 expected=$4 body=${5-}
	local url="$BASE$path"
	local out="$TMP/$name.json"
	local code
	[ -n "$OUT" ] && out="$OUT/$name.json"
	echo "==> $method /${BASE#*://*/}$path"
	if [ -n "$body" ]; then
		printf '%s\n' "$body" | mask | sed 's/^/    /'
		code=$(curl -sS --max-time 30 -o "$out" -w '%{http_code}' -X "$method" "${HDRS[@]}" \
			--data-binary "$body" "$url") || code=000
	else
		code=$(curl -sS --max-time 30 -o "$out" -w '%{http_code}' -X "$method" "${HDRS[@]}" \
			"$url") || code=000
	fi
	echo "<== $code"
	echo "STEP $name $code"
	[ "$code" = "$expected" ] || unexpected "$name" "$expected" "$code" "$out"
}

IKE=/infra/ipsec-vpn-ike-profiles/VPNtoDFWDC1IKE
TUN=/infra/ipsec-vpn-tunnel-profiles/VPNtoDFWDC1IPSEC
DPD=/infra/ipsec-vpn-dpd-profiles/nsx-custom-l3vpn-dpd-profile
PL=/infra/tier-0s/vmc/prefix-lists/VPNPrefixList_inout
NB=/infra/tier-0s/vmc/locale-services/default/bgp/neighbors/VPNtoDFWDC1BGP
SESSIONS=/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/default/sessions
SES=$SESSIONS/VPNtoDFWDC1

# ---------------------------------------------------------------- IKE profile (phase 1)
IKE_BODY=$(cat <<'EOF'
{
            "digest_algorithms": [],
            "encryption_algorithms": [
                "AES_GCM_128"
            ],
            "ike_version": "IKE_V2",
            "dh_groups": [
                "GROUP21"
            ],
            "sa_life_time": 86400,
            "resource_type": "IPSecVpnIkeProfile",
            "id": "VPNtoDFWDC1IKE",
            "display_name": "VPNtoDFWDC1IKE"
}
EOF
)
step create-ike-profile PUT "$IKE" 200 "$IKE_BODY"
step get-ike-profile GET "$IKE" 200

# ---------------------------------------------------------------- tunnel profile (phase 2)
TUN_BODY=$(cat <<'EOF'
{
            "digest_algorithms": [],
            "encryption_algorithms": [
                "AES_GCM_128"
            ],
            "enable_perfect_forward_secrecy": true,
            "dh_groups": [
                "GROUP21"
            ],
            "sa_life_time": 3600,
            "df_policy": "COPY",
            "resource_type": "IPSecVpnTunnelProfile",
            "id": "VPNtoDFWDC1IPSEC",
            "display_name": "VPNtoDFWDC1IPSEC"
 }
EOF
)
step create-tunnel-profile PUT "$TUN" 200 "$TUN_BODY"
step get-tunnel-profile GET "$TUN" 200

# ---------------------------------------------------------------- DPD profile
# The seed's example has a trailing comma after "display_name", which is not valid JSON (vpnd,
# like NSX, answers 400). It is removed here; nothing else differs from the seed.
DPD_BODY=$(cat <<'EOF'
{
    "enabled": true,
    "dpd_probe_mode": "PERIODIC",
    "dpd_probe_interval": 60,
    "retry_count": 5,
    "resource_type": "IPSecVpnDpdProfile",
    "id": "nsx-custom-l3vpn-dpd-profile",
    "display_name": "nsx-custom-l3vpn-dpd-profile"
 }
EOF
)
step create-dpd-profile PUT "$DPD" 200 "$DPD_BODY"
step get-dpd-profile GET "$DPD" 200

# ---------------------------------------------------------------- prefix list (optional)
PL_BODY=$(cat <<'EOF'
{
  "prefixes": [
    {
        "network": "10.0.0.0/8",
        "action": "PERMIT",
        "le": 26
     }
  ]
}
EOF
)
step create-prefix-list PUT "$PL" 200 "$PL_BODY"
step get-prefix-list GET "$PL" 200

# ---------------------------------------------------------------- BGP neighbor
NB_BODY=$(cat <<'EOF'
{
            "neighbor_address": "169.254.151.1",
            "remote_as_num": "65006",
            "route_filtering": [
                {
                    "enabled": true,
                    "address_family": "IPV4",
     "in_route_filters": [ "/infra/tier-0s/vmc/prefix-lists/VPNPrefixList_inout" ],
         "out_route_filters": [ "/infra/tier-0s/vmc/prefix-lists/VPNPrefixList_inout" ]
                }
            ],
            "keep_alive_time": 60,
            "hold_down_time": 180,
            "allow_as_in": false,
            "maximum_hop_limit": 1,
            "resource_type": "BgpNeighborConfig",
            "id": "VPNtoDFWDC1BGP",
            "password": "MyBGPPassword",
            "display_name": " VPNtoDFWDC1BGP"
}
EOF
)
step create-bgp-neighbor PUT "$NB" 200 "$NB_BODY"
step get-bgp-neighbor GET "$NB" 200

# ---------------------------------------------------------------- route-based session
RB_BODY=$(cat <<'EOF'
{
            "tunnel_interfaces": [
                {
                    "ip_subnets": [
                        {
                            "ip_addresses": [
                                "169.254.151.2"
                            ],
                            "prefix_length": 30
                        }
                    ],
                    "resource_type": "IPSecVpnTunnelInterface",
                    "id": "default-tunnel-interface",
                    "display_name": "default-tunnel-interface"
                                  }
            ],
            "force_whitelisting": false,
            "resource_type": "RouteBasedIPSecVpnSession",
            "id": "VPNtoDFWDC1",
            "display_name": " VPNtoDFWDC1",
            "enabled": true,
            "local_endpoint_path": "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/default/local-endpoints/Private-IP1",
            "authentication_mode": "PSK",
 "psk":"test123456",
            "ike_profile_path": "/infra/ipsec-vpn-ike-profiles/VPNtoDFWDC1IKE",
            "tunnel_profile_path": "/infra/ipsec-vpn-tunnel-profiles/VPNtoDFWDC1IPSEC",
            "dpd_profile_path": "/infra/ipsec-vpn-dpd-profiles/nsx-default-l3vpn-dpd-profile",
            "compliance_suite": "NONE",
            "connection_initiation_mode": "INITIATOR",
            "peer_address": "10.0.0.1",
            "peer_id": "10.0.0.1"
}
EOF
)
step create-route-session PUT "$SES" 200 "$RB_BODY"
step get-route-session GET "$SES" 200
step get-route-session-sensitive GET "$SES?action=show_sensitive_data" 200
step list-sessions-route GET "$SESSIONS" 200

# Modify: "resend the entire JSON object with any updates ... include the psk ... you must use the
# PATCH method". The update adds the seed's optional TCP MSS clamping section.
RB_MSS_BODY="${RB_BODY%\}}"'            ,"tcp_mss_clamping": {
      "direction": "BOTH",
      "max_segment_size": 1325
}
}'
step patch-route-session PATCH "$SES" 200 "$RB_MSS_BODY"
step get-route-session-patched GET "$SES" 200

# ---------------------------------------------------------------- Troubleshooting (the seed's views)
# "VPN tunnel status & aggregate statistics", "detailed (per-tunnel) statistics", "Reset
# statistics counters", "BGP Status for Route-based VPNs", "Routes learned and advertised"
# (JSON, and "append ?format=csv ... and change the method to POST")
step session-detailed-status GET "$SES/detailed-status" 200
step session-statistics GET "$SES/statistics" 200
step session-statistics-reset POST "$SES/statistics?action=reset" 200
step bgp-neighbors-status GET /infra/tier-0s/vmc/locale-services/default/bgp/neighbors/status 200
step bgp-neighbor-routes GET "$NB/routes" 200
step bgp-neighbor-advertised-routes GET "$NB/advertised-routes" 200
step bgp-neighbor-routes-csv POST "$NB/routes?format=csv" 200
step bgp-neighbor-advertised-routes-csv POST "$NB/advertised-routes?format=csv" 200

# "the IKE profile cannot be deleted while it is referenced by a VPN Session"
step delete-ike-profile-in-use DELETE "$IKE" 400
# "the VPN Session cannot be deleted while there is a matching BGP neighbor for the tunnel
# interface address. Delete the matching BGP neighbor before deleting the VPN Session."
step delete-route-session-blocked DELETE "$SES" 400
step delete-bgp-neighbor DELETE "$NB" 200
step delete-route-session DELETE "$SES" 200
step get-route-session-deleted GET "$SES" 404

# ---------------------------------------------------------------- policy-based session
# The seed's policy-based example reuses the id VPNtoDFWDC1, so it is created after the
# route-based session (and, before it, its BGP neighbor) has been deleted.
PB_BODY=$(cat <<'EOF'
{
            "rules": [
                {
                    "sources": [
                        {
                            "subnet": "192.168.98.0/24"
                        },
                        {
                            "subnet": "10.2.1.140/32"
                        }
                    ],
                    "destinations": [
                        {
                            "subnet": "192.168.123.0/24"
                        }
                    ],
                    "logged": false,
                    "enabled": true,
                    "action": "PROTECT",
                    "sequence_number": 0,
                    "resource_type": "IPSecVpnRule",
                    "id": "Test-Policy-l3vpn-rule",
                    "display_name": "Test-Policy-l3vpn-rule"
                }
            ],
            "resource_type": "PolicyBasedIPSecVpnSession",
            "id": "VPNtoDFWDC1",
            "display_name": "VPNtoDFWDC1",
            "enabled": true,
            "local_endpoint_path": "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/default/local-endpoints/Private-IP1",
            "authentication_mode": "PSK",
            "psk":"VMware12345",
            "ike_profile_path": "/infra/ipsec-vpn-ike-profiles/VPNtoDFWDC1IKE",
            "tunnel_profile_path": "/infra/ipsec-vpn-tunnel-profiles/VPNtoDFWDC1IPSEC",
            "dpd_profile_path": "/infra/ipsec-vpn-dpd-profiles/nsx-default-l3vpn-dpd-profile",
            "compliance_suite": "NONE",
            "connection_initiation_mode": "INITIATOR",
            "peer_address": "10.0.0.1",
            "peer_id": "10.0.0.1"
}
EOF
)
step create-policy-session PUT "$SES" 200 "$PB_BODY"
step get-policy-session GET "$SES" 200
step get-policy-session-sensitive GET "$SES?action=show_sensitive_data" 200
step list-sessions-policy GET "$SESSIONS" 200

PB_MSS_BODY="${PB_BODY%\}}"'            ,"tcp_mss_clamping": {
      "direction": "BOTH",
      "max_segment_size": 1325
}
}'
step patch-policy-session PATCH "$SES" 200 "$PB_MSS_BODY"
step get-policy-session-patched GET "$SES" 200

# ---------------------------------------------------------------- clean up, dependents first
step delete-tunnel-profile-in-use DELETE "$TUN" 400
step delete-policy-session DELETE "$SES" 200
step delete-ike-profile DELETE "$IKE" 200
step delete-tunnel-profile DELETE "$TUN" 200
step delete-dpd-profile DELETE "$DPD" 200
step delete-prefix-list DELETE "$PL" 200
step list-sessions-final GET "$SESSIONS" 200

echo "WALKTHROUGH OK"
