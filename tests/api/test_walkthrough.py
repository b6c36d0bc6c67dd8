"""Runs examples/seed-walkthrough.sh against a fresh vpnd and checks every step's response body.
The script authenticates like a VMC client: refresh token exchange, csp-auth-token on every call,
optionally SDDC discovery of the NSX reverse-proxy URL."""
import json
import os
import subprocess
from pathlib import Path

import pytest

import nsx
from nsx import assert_subset

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "seed-walkthrough.sh"

SES = nsx.SES + "/VPNtoDFWDC1"
NB = nsx.NB + "/VPNtoDFWDC1BGP"
IKE = nsx.IKE + "/VPNtoDFWDC1IKE"
TUN = nsx.TUN + "/VPNtoDFWDC1IPSEC"
DPD = nsx.DPD + "/nsx-custom-l3vpn-dpd-profile"
PL = nsx.PL + "/VPNPrefixList_inout"

EXPECTED_STEPS = [
    ("create-ike-profile", 200), ("get-ike-profile", 200),
    ("create-tunnel-profile", 200), ("get-tunnel-profile", 200),
    ("create-dpd-profile", 200), ("get-dpd-profile", 200),
    ("create-prefix-list", 200), ("get-prefix-list", 200),
    ("create-bgp-neighbor", 200), ("get-bgp-neighbor", 200),
    ("create-route-session", 200), ("get-route-session", 200),
    ("get-route-session-sensitive", 200), ("list-sessions-route", 200),
    ("patch-route-session", 200), ("get-route-session-patched", 200),
    ("session-detailed-status", 200), ("session-statistics", 200),
    ("session-statistics-reset", 200), ("bgp-neighbors-status", 200),
    ("bgp-neighbor-routes", 200), ("bgp-neighbor-advertised-routes", 200),
    ("bgp-neighbor-routes-csv", 200), ("bgp-neighbor-advertised-routes-csv", 200),
    ("delete-ike-profile-in-use", 400), ("delete-route-session-blocked", 400),
    ("delete-bgp-neighbor", 200), ("delete-route-session", 200), ("get-route-session-deleted", 404),
    ("create-policy-session", 200), ("get-policy-session", 200),
    ("get-policy-session-sensitive", 200), ("list-sessions-policy", 200),
    ("patch-policy-session", 200), ("get-policy-session-patched", 200),
    ("delete-tunnel-profile-in-use", 400), ("delete-policy-session", 200),
    ("delete-ike-profile", 200), ("delete-tunnel-profile", 200), ("delete-dpd-profile", 200),
    ("delete-prefix-list", 200), ("list-sessions-final", 200),
]

SEED_IKE = {"digest_algorithms": [], "encryption_algorithms": ["AES_GCM_128"], "ike_version": "IKE_V2",
            "dh_groups": ["GROUP21"], "sa_life_time": 86400, "resource_type": "IPSecVpnIkeProfile",
            "id": "VPNtoDFWDC1IKE", "display_name": "VPNtoDFWDC1IKE"}
SEED_TUN = {"digest_algorithms": [], "encryption_algorithms": ["AES_GCM_128"],
            "enable_perfect_forward_secrecy": True, "dh_groups": ["GROUP21"], "sa_life_time": 3600,
            "df_policy": "COPY", "resource_type": "IPSecVpnTunnelProfile", "id": "VPNtoDFWDC1IPSEC",
            "display_name": "VPNtoDFWDC1IPSEC"}
SEED_DPD = {"enabled": True, "dpd_probe_mode": "PERIODIC", "dpd_probe_interval": 60, "retry_count": 5,
            "resource_type": "IPSecVpnDpdProfile", "id": "nsx-custom-l3vpn-dpd-profile",
            "display_name": "nsx-custom-l3vpn-dpd-profile"}
SEED_NB = {"neighbor_address": "169.254.151.1", "remote_as_num": "65006",
           "route_filtering": [{"enabled": True, "address_family": "IPV4",
                                "in_route_filters": [PL], "out_route_filters": [PL]}],
           "keep_alive_time": 60, "hold_down_time": 180, "allow_as_in": False, "maximum_hop_limit": 1,
           "resource_type": "BgpNeighborConfig", "id": "VPNtoDFWDC1BGP", "display_name": " VPNtoDFWDC1BGP"}
SEED_RB = {"tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": ["169.254.151.2"], "prefix_length": 30}],
                                  "id": "default-tunnel-interface"}],
           "force_whitelisting": False, "resource_type": "RouteBasedIPSecVpnSession", "id": "VPNtoDFWDC1",
           "display_name": " VPNtoDFWDC1", "enabled": True, "local_endpoint_path": nsx.PRIVATE_IP1,
           "authentication_mode": "PSK", "ike_profile_path": IKE, "tunnel_profile_path": TUN,
           "dpd_profile_path": nsx.DEFAULT_DPD, "compliance_suite": "NONE",
           "connection_initiation_mode": "INITIATOR", "peer_address": "10.0.0.1", "peer_id": "10.0.0.1"}
SEED_PB = {"rules": [{"sources": [{"subnet": "192.168.98.0/24"}, {"subnet": "10.2.1.140/32"}],
                      "destinations": [{"subnet": "192.168.123.0/24"}], "logged": False, "enabled": True,
                      "action": "PROTECT", "sequence_number": 0, "id": "Test-Policy-l3vpn-rule",
                      "display_name": "Test-Policy-l3vpn-rule"}],
           "resource_type": "PolicyBasedIPSecVpnSession", "id": "VPNtoDFWDC1", "display_name": "VPNtoDFWDC1",
           "enabled": True, "local_endpoint_path": nsx.PRIVATE_IP1, "authentication_mode": "PSK",
           "ike_profile_path": IKE, "tunnel_profile_path": TUN, "dpd_profile_path": nsx.DEFAULT_DPD,
           "compliance_suite": "NONE", "connection_initiation_mode": "INITIATOR",
           "peer_address": "10.0.0.1", "peer_id": "10.0.0.1"}
MSS = {"tcp_mss_clamping": {"direction": "BOTH", "max_segment_size": 1325}}


def run_walkthrough(srv, out, prefix=None, auth="data", **env_over):
    """auth: "data" (VPND_DATA: the script reads admin-refresh-token), "refresh"
    (VPND_REFRESH_TOKEN), "access" (VPND_TOKEN, an access token from the test), "discover"
    (VPND_REFRESH_TOKEN plus VPND_ORG/VPND_SDDC), or None (no credentials)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPND_")}
    env.update(VPND_URL=srv.base, WALKTHROUGH_OUT=str(out))
    if prefix is not None:
        env["VPND_PREFIX"] = prefix
    if auth == "data":
        env["VPND_DATA"] = str(srv.data)
    elif auth in ("refresh", "discover"):
        env["VPND_REFRESH_TOKEN"] = srv.refresh_token
    elif auth == "access":
        env["VPND_TOKEN"] = srv.access_token
    if auth == "discover":
        env.update(VPND_ORG=nsx.ORG, VPND_SDDC=nsx.SDDC)
    env.update(env_over)
    p = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
    steps = []
    for line in p.stdout.splitlines():
        if line.startswith("STEP "):
            _, name, code = line.split()
            steps.append((name, int(code)))
    return p, steps


def expected_steps(auth):
    pre = []
    if auth in ("data", "refresh", "discover"):
        pre.append(("authorize", 200))
    if auth == "discover":
        pre.append(("discover-sddc", 200))
    return pre + EXPECTED_STEPS


class Bodies:
    def __init__(self, out):
        self.out = Path(out)

    def raw(self, name):
        return (self.out / (name + ".json")).read_bytes()

    def __getitem__(self, name):
        return json.loads(self.raw(name))


@pytest.mark.parametrize("prefix,auth", [(None, "data"), (nsx.PREFIX_SKS, "refresh"),
                                         (nsx.PREFIX_RP, "access"), (None, "discover")],
                         ids=["default-data", "sks-refresh", "rp-access", "discover"])
def test_seed_walkthrough(fresh_server, tmp_path, prefix, auth):
    srv = fresh_server
    out = tmp_path / "bodies"
    p, steps = run_walkthrough(srv, out, prefix, auth)
    assert p.returncode == 0, "walkthrough failed\nstdout:\n%s\nstderr:\n%s" % (p.stdout[-4000:], p.stderr[-3000:])
    assert steps == expected_steps(auth)
    assert "WALKTHROUGH OK" in p.stdout
    for secret in ("test123456", "VMware12345", "MyBGPPassword", srv.refresh_token, srv.access_token):
        assert secret not in p.stdout and secret not in p.stderr, "the script prints secrets"
    if auth == "discover":
        sddc = json.loads((out / "discover-sddc.json").read_bytes())
        url = sddc["resource_config"]["nsx_api_public_endpoint_url"]
        assert url == srv.base + nsx.RP_BASE + "/sks-nsxt-manager"
        assert "NSX endpoint: " + url in p.stdout
    b = Bodies(out)

    # profiles: the seed's fields plus the server's
    for step, seed, path in (("ike-profile", SEED_IKE, IKE), ("tunnel-profile", SEED_TUN, TUN),
                             ("dpd-profile", SEED_DPD, DPD)):
        created = b["create-" + step]
        assert_subset(seed, created)
        nsx.check_server_fields(created, path, seed["resource_type"], "/infra", revision=0,
                                display_name=seed["display_name"])
        assert b["get-" + step] == created

    pl = b["create-prefix-list"]
    assert_subset({"prefixes": [{"network": "10.0.0.0/8", "action": "PERMIT", "le": 26}]}, pl)
    nsx.check_server_fields(pl, PL, "PrefixList", nsx.T0, revision=0)
    assert b["get-prefix-list"] == pl

    nb = b["create-bgp-neighbor"]
    assert_subset(SEED_NB, nb)
    nsx.check_server_fields(nb, NB, "BgpNeighborConfig", nsx.BGP, revision=0, display_name=" VPNtoDFWDC1BGP")
    assert b["get-bgp-neighbor"] == nb
    for name in ("create-bgp-neighbor", "get-bgp-neighbor"):
        assert b"MyBGPPassword" not in b.raw(name) and "password" not in b[name]

    rb = b["create-route-session"]
    assert_subset(SEED_RB, rb)
    nsx.check_server_fields(rb, SES, "RouteBasedIPSecVpnSession", nsx.SVC, revision=0,
                            display_name=" VPNtoDFWDC1")
    assert b["get-route-session"] == rb
    for name in ("create-route-session", "get-route-session", "list-sessions-route"):
        assert b"test123456" not in b.raw(name)
    sens = b["get-route-session-sensitive"]
    assert sens["psk"] == "test123456"
    assert {k: v for k, v in sens.items() if k != "psk"} == rb
    lst = b["list-sessions-route"]
    assert lst["result_count"] == 1 and lst["results"] == [rb]

    assert b.raw("patch-route-session").strip() == b""
    patched = b["get-route-session-patched"]
    assert_subset(MSS, patched)
    assert patched["_revision"] == 1 and patched["unique_id"] == rb["unique_id"]

    # the seed's troubleshooting views, shaped like its samples
    ds = b["session-detailed-status"]
    assert ds["intent_path"] == SES and len(ds["results"]) == 1
    r0 = ds["results"][0]
    assert r0["resource_type"] == "IPSecVpnSessionStatusNsxT"
    assert r0["display_name"] == " VPNtoDFWDC1" and r0["total_tunnels"] == 1
    assert r0["runtime_status"] in ("UP", "DOWN") and "ike_status" in r0
    assert set(r0["aggregate_traffic_counters"]) == {"packets_in", "packets_out", "bytes_in",
                                                     "bytes_out", "dropped_packets_in",
                                                     "dropped_packets_out"}
    st = b["session-statistics"]["results"][0]
    assert st["resource_type"] == "IPSecVpnSessionStatisticsNsxT"
    ps = st["policy_statistics"][0]
    assert ps["tunnel_interface_path"] == SES + "/interfaces/default-tunnel-interface"
    t0 = ps["tunnel_statistics"][0]
    assert t0["peer_subnet"] == "0.0.0.0/0" and t0["local_subnet"] == "0.0.0.0/0"
    assert b.raw("session-statistics-reset").strip() == b""
    bgp = b["bgp-neighbors-status"]
    assert [n["neighbor_address"] for n in bgp["results"]] == ["169.254.151.1"]
    assert bgp["results"][0]["remote_as_number"] == "65006"
    for name in ("bgp-neighbor-routes", "bgp-neighbor-advertised-routes"):
        rr = b[name]["results"][0]
        assert rr["neighbor_path"] == NB and len(rr["edge_node_routes"]) == 2
        assert rr["egde_node_routes"] == rr["edge_node_routes"]
    for name in ("bgp-neighbor-routes-csv", "bgp-neighbor-advertised-routes-csv"):
        assert b.raw(name).startswith(b"as_path,local_pref,logical_router_id,med,"
                                      b"neighbor_address,neighbor_id,network,next_hop,"
                                      b"source_address,transport_node_id,weight\r\n")

    err = b["delete-ike-profile-in-use"]
    nsx.check_error_body(400, err)
    assert err["error_code"] == nsx.EC_IN_USE and SES in nsx.error_text(err)
    err = b["delete-route-session-blocked"]
    nsx.check_error_body(400, err)
    assert err["error_code"] == nsx.EC_IN_USE and NB in nsx.error_text(err)
    for name in ("delete-bgp-neighbor", "delete-route-session"):
        assert b.raw(name).strip() == b""
    nsx.check_error_body(404, b["get-route-session-deleted"])

    pb = b["create-policy-session"]
    assert_subset(SEED_PB, pb)
    nsx.check_server_fields(pb, SES, "PolicyBasedIPSecVpnSession", nsx.SVC, revision=0)
    assert pb["unique_id"] != rb["unique_id"]
    assert b["get-policy-session"] == pb
    assert b["get-policy-session-sensitive"]["psk"] == "VMware12345"
    for name in ("create-policy-session", "get-policy-session", "list-sessions-policy"):
        assert b"VMware12345" not in b.raw(name)
    assert b["list-sessions-policy"]["results"] == [pb]
    assert b.raw("patch-policy-session").strip() == b""
    ppatched = b["get-policy-session-patched"]
    assert_subset(MSS, ppatched)
    assert_subset(SEED_PB, ppatched)
    assert ppatched["_revision"] == 1

    err = b["delete-tunnel-profile-in-use"]
    assert err["error_code"] == nsx.EC_IN_USE and SES in nsx.error_text(err)
    for name in ("delete-policy-session", "delete-ike-profile", "delete-tunnel-profile",
                 "delete-dpd-profile", "delete-prefix-list"):
        assert b.raw(name).strip() == b""
    final = b["list-sessions-final"]
    assert final["results"] == [] and final["result_count"] == 0

    # and the server agrees: nothing left, secrets never logged
    for path in (IKE, TUN, DPD, PL, NB, SES):
        assert srv.get(path).status_code == 404
    log = srv.log_text()
    for secret in ("test123456", "VMware12345", "MyBGPPassword"):
        assert secret not in log


def test_walkthrough_reports_unexpected_status(fresh_server, tmp_path):
    """Run twice on the same server: the second run's first PUT meets an existing object without
    _revision (412), and the script must stop with a non-zero status at that step."""
    srv = fresh_server
    srv.create(IKE, dict(SEED_IKE))
    p, steps = run_walkthrough(srv, tmp_path / "b")
    assert p.returncode != 0
    assert steps == [("authorize", 200), ("create-ike-profile", 412)]
    assert "UNEXPECTED" in p.stderr


def test_walkthrough_without_credentials_gets_401(fresh_server, tmp_path):
    p, steps = run_walkthrough(fresh_server, tmp_path / "b", auth=None)
    assert p.returncode != 0
    assert steps == [("create-ike-profile", 401)]
    assert "UNEXPECTED" in p.stderr
    nsx.check_error_body(401, json.loads((tmp_path / "b" / "create-ike-profile.json").read_bytes()))
    assert fresh_server.get(IKE).status_code == 404        # nothing was created


def test_walkthrough_bad_refresh_token_stops_at_authorize(fresh_server, tmp_path):
    bogus = "not-a-real-refresh-token-0123456789"
    p, steps = run_walkthrough(fresh_server, tmp_path / "b", auth=None, VPND_REFRESH_TOKEN=bogus)
    assert p.returncode != 0
    assert steps == [("authorize", 400)]
    assert "invalid_grant" in p.stderr
    assert bogus not in p.stdout


def test_walkthrough_wrong_sddc_stops_at_discovery(fresh_server, tmp_path):
    p, steps = run_walkthrough(fresh_server, tmp_path / "b", auth="discover", VPND_SDDC="no-such-sddc")
    assert p.returncode != 0
    assert steps == [("authorize", 200), ("discover-sddc", 404)]


def test_walkthrough_against_nothing_fails(tmp_path):
    from conftest import free_port
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPND_")}
    env.update(VPND_URL="http://127.0.0.1:%d" % free_port(), WALKTHROUGH_OUT=str(tmp_path))
    p = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "STEP create-ike-profile 000" in p.stdout
    env["VPND_REFRESH_TOKEN"] = "whatever"
    p = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "STEP authorize 000" in p.stdout and "STEP create-ike-profile" not in p.stdout
