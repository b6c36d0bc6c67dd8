"""Runtime plane (issue 4): IPSec negotiation in emulated mode, DPD, tunnels, statistics,
summary, realized state and the emulator API.

Contract: src/realize/sim.h (peer model, fail reasons, timings), issue 4, and the seed's
Troubleshooting samples (field sets). Each test runs on its own server with the virtual clock
frozen (rt.RT does that) and advances it explicitly: no sleeps.
"""
import threading

import pytest

import nsx
import rt
from nsx import expect, expect_empty, expect_error
from rt import RT

EMU = rt.EMU


def check_traffic6(agg, expected=None):
    assert set(agg) == set(rt.TRAFFIC6), agg
    for k in rt.TRAFFIC6:
        assert rt.is_int(agg[k]) and agg[k] >= 0, (k, agg)
        if expected is not None:
            assert agg[k] == expected.get(k, 0), (k, agg, expected)


def check_detailed_shape(body, path, display_name):
    assert set(body) == {"results", "intent_path"}, body
    assert body["intent_path"] == path
    assert len(body["results"]) == 1, body
    d = body["results"][0]
    assert set(d) == rt.DETAILED_KEYS, sorted(d)
    assert d["resource_type"] == "IPSecVpnSessionStatusNsxT"
    assert d["enforcement_point_path"] == rt.EP_PATH
    assert d["display_name"] == display_name
    assert set(d["ike_status"]) == {"ike_session_state", "fail_reason"}, d
    assert d["ike_status"]["ike_session_state"] in ("UP", "DOWN", "NEGOTIATING"), d
    assert isinstance(d["ike_status"]["fail_reason"], str)
    assert d["runtime_status"] in ("UP", "DOWN", "DEGRADED"), d
    for k in ("total_tunnels", "negotiated_tunnels", "failed_tunnels", "last_update_timestamp"):
        assert rt.is_int(d[k]), (k, d)
    assert d["total_tunnels"] == d["negotiated_tunnels"] + d["failed_tunnels"], d
    assert 1_500_000_000_000 < d["last_update_timestamp"] < 4_000_000_000_000, d
    check_traffic6(d["aggregate_traffic_counters"])
    return d


def check_tunnel_entry(t):
    assert set(t) == rt.TUNNEL_STATS_KEYS, sorted(t)
    assert t["tunnel_status"] in ("UP", "DOWN"), t
    for k in rt.COUNTERS16:
        assert rt.is_int(t[k]) and t[k] >= 0, (k, t)
    if t["tunnel_status"] == "UP":
        assert t["tunnel_down_reason"] == "", t
    else:
        assert t["tunnel_down_reason"], "a DOWN tunnel needs a tunnel_down_reason: %r" % t


def check_stats_shape(body, path, display_name, route_based):
    assert set(body) == {"results", "intent_path"}, body
    assert body["intent_path"] == path
    assert len(body["results"]) == 1, body
    s = body["results"][0]
    assert set(s) == rt.STATS_KEYS, sorted(s)
    assert s["resource_type"] == "IPSecVpnSessionStatisticsNsxT"
    assert s["enforcement_point_path"] == rt.EP_PATH
    assert s["display_name"] == display_name
    assert set(s["ike_status"]) == {"ike_session_state", "fail_reason"}
    check_traffic6(s["aggregate_traffic_counters"])
    for ps in s["policy_statistics"]:
        if route_based:
            assert set(ps) == {"tunnel_interface_path", "tunnel_statistics",
                               "aggregate_traffic_counters"}, ps
            assert ps["tunnel_interface_path"] == path + "/interfaces/default-tunnel-interface"
        else:
            assert set(ps) == {"rule_path", "tunnel_statistics", "aggregate_traffic_counters"}, ps
            assert ps["rule_path"].startswith(path + "/rules/"), ps
        check_traffic6(ps["aggregate_traffic_counters"])
        for t in ps["tunnel_statistics"]:
            check_tunnel_entry(t)
    return s


def sum_counters(entries, keys):
    return {k: sum(e[k] for e in entries) for k in keys}


# ---------------------------------------------------------------------------------------------
# mirror peers come up

def test_route_based_mirror_peer_up(fresh_server):
    """Default peer mirrors the session: UP, with the seed's detailed-status and statistics."""
    x = RT(fresh_server)
    s = x.route_session()
    d = x.detailed(s["id"])
    assert d["ike_status"]["ike_session_state"] in ("DOWN", "NEGOTIATING"), d
    assert d["runtime_status"] == "DOWN", d
    x.advance(1000)
    d = check_detailed_shape(x.detailed(s["id"], full=True), s["path"], s["obj"]["display_name"])
    assert d["runtime_status"] == "UP", d
    assert d["ike_status"] == {"ike_session_state": "UP", "fail_reason": ""}, d
    assert (d["total_tunnels"], d["negotiated_tunnels"], d["failed_tunnels"]) == (1, 1, 0), d
    check_traffic6(d["aggregate_traffic_counters"], {})

    body = x.stats(s["id"], full=True)
    st = check_stats_shape(body, s["path"], s["obj"]["display_name"], route_based=True)
    assert st["ike_status"] == {"ike_session_state": "UP", "fail_reason": ""}
    assert len(st["policy_statistics"]) == 1, st
    tun = st["policy_statistics"][0]["tunnel_statistics"]
    assert len(tun) == 1, tun
    assert tun[0]["tunnel_status"] == "UP" and tun[0]["tunnel_down_reason"] == ""
    assert tun[0]["peer_subnet"] == "0.0.0.0/0" and tun[0]["local_subnet"] == "0.0.0.0/0"
    assert all(tun[0][k] == 0 for k in rt.COUNTERS16), tun[0]
    # source=realtime|cached are both accepted
    for src in ("realtime", "cached"):
        assert x.stats(s["id"], source=src)["ike_status"]["ike_session_state"] == "UP"
    # the deprecated URL form of the service reaches the same views
    r = fresh_server.get(nsx.SES_ALT + "/" + s["id"] + "/detailed-status")
    expect(r, 200)
    assert r.json()["results"][0]["runtime_status"] == "UP"


def test_policy_based_mirror_peer_up(fresh_server):
    """The seed's policy-based session (2 sources x 1 destination) comes UP with 2 tunnels."""
    x = RT(fresh_server)
    s = x.policy_session()
    x.advance(1000)
    d = check_detailed_shape(x.detailed(s["id"], full=True), s["path"], s["obj"]["display_name"])
    assert d["runtime_status"] == "UP" and d["ike_status"]["fail_reason"] == "", d
    assert (d["total_tunnels"], d["negotiated_tunnels"], d["failed_tunnels"]) == (2, 2, 0), d
    st = check_stats_shape(x.stats(s["id"], full=True), s["path"], s["obj"]["display_name"],
                           route_based=False)
    assert len(st["policy_statistics"]) == 1, st
    ps = st["policy_statistics"][0]
    assert ps["rule_path"] == s["path"] + "/rules/rule-1", ps
    pairs = [(t["local_subnet"], t["peer_subnet"], t["tunnel_status"])
             for t in ps["tunnel_statistics"]]
    assert pairs == [("192.168.98.0/24", "192.168.123.0/24", "UP"),
                     ("10.2.1.140/32", "192.168.123.0/24", "UP")], pairs


def test_negotiation_takes_negotiate_ms(fresh_server):
    """DOWN -> NEGOTIATING -> UP after exactly SIM_IKE_NEGOTIATE_MS of virtual time."""
    x = RT(fresh_server)
    s = x.route_session()
    assert x.state(s["id"])[1] in ("DOWN", "NEGOTIATING")
    x.advance(rt.NEGOTIATE_MS - 1)
    rs, ike, _ = x.state(s["id"])
    assert (rs, ike) == ("DOWN", "NEGOTIATING"), (rs, ike)
    x.advance(1)
    assert x.state(s["id"])[:2] == ("UP", "UP")


# ---------------------------------------------------------------------------------------------
# negotiation failures: every fail reason of sim.h

IKE_GCM256 = {"encryption_algorithms": ["AES_GCM_256"], "digest_algorithms": [],
              "dh_groups": ["GROUP21"]}
IKE_G14 = {"encryption_algorithms": ["AES_GCM_128"], "digest_algorithms": [],
           "dh_groups": ["GROUP14"]}

IKE_FAILS = [
    # id, session overrides, peer definition, fail_reason
    ("psk", {}, {"psk": "not-the-session-psk"}, rt.FR_AUTH),
    ("ike-encryption", {}, {"ike": IKE_GCM256}, rt.FR_NO_PROPOSAL),
    ("ike-dh", {}, {"ike": IKE_G14}, rt.FR_NO_PROPOSAL),
    ("ike-version", {}, {"ike_version": "IKE_V1"}, rt.FR_VERSION),
    ("unreachable", {}, {"reachable": False}, rt.FR_TIMEOUT),
    ("disabled", {"enabled": False}, None, rt.FR_DISABLED),
    ("respond-only", {"connection_initiation_mode": "RESPOND_ONLY"}, {"initiates": False},
     rt.FR_WAITING),
    ("on-demand", {"connection_initiation_mode": "ON_DEMAND"}, {"initiates": False},
     rt.FR_ON_DEMAND),
    # the mirror identifies itself by its address: another peer_id does not authenticate
    ("peer-id", {"peer_id": "vpn.example.com"}, None, rt.FR_AUTH),
    ("peer-local-id", {}, {"local_id": "other.example.com"}, rt.FR_AUTH),
]


@pytest.mark.parametrize("kind", ["route", "policy"])
@pytest.mark.parametrize("case", IKE_FAILS, ids=[c[0] for c in IKE_FAILS])
def test_ike_fail_reason(make_server, case, kind):
    """IKE stays DOWN with the reason NSX reports; every tunnel is down ("IKE SA is down");
    retries (SIM_IKE_RETRY_MS) do not change the outcome."""
    _, sess_over, peer_def, reason = case
    x = RT(make_server())
    peer = nsx.peer_ip()
    if peer_def is not None:
        x.put_peer(peer, peer_def)
    make = x.route_session if kind == "route" else x.policy_session
    s = make(peer=peer, **sess_over)
    for step in (1000, rt.IKE_RETRY_MS * 2 + 500):
        x.advance(step)
        d = x.detailed(s["id"])
        assert d["runtime_status"] == "DOWN", d
        assert d["ike_status"]["ike_session_state"] in ("DOWN", "NEGOTIATING"), d
        if d["ike_status"]["ike_session_state"] == "DOWN":
            assert d["ike_status"]["fail_reason"] == reason, d
        assert d["negotiated_tunnels"] == 0 and d["failed_tunnels"] == d["total_tunnels"], d
        tunnels = x.tunnels(s["id"])
        assert len(tunnels) == d["total_tunnels"] >= 1
        for t in tunnels:
            assert t["tunnel_status"] == "DOWN", t
            assert t["tunnel_down_reason"] in (rt.FR_IKE_DOWN, reason), t
    # and at this instant (not mid-retry) IKE is DOWN with the reason
    x.advance(1000)
    assert x.state(s["id"]) == ("DOWN", "DOWN", reason)
    assert x.stats(s["id"])["ike_status"] == {"ike_session_state": "DOWN", "fail_reason": reason}


def test_retry_timing(fresh_server):
    """A failed negotiation is retried SIM_IKE_RETRY_MS after the failure; NEGOTIATING lasts
    SIM_IKE_NEGOTIATE_MS; a peer reachable again is picked up by the next retry."""
    x = RT(fresh_server)
    peer = nsx.peer_ip()
    x.put_peer(peer, {"reachable": False})
    s = x.route_session(peer=peer)
    x.advance(rt.NEGOTIATE_MS)                                    # f = t0 + 300
    assert x.state(s["id"]) == ("DOWN", "DOWN", rt.FR_TIMEOUT)
    x.advance(rt.IKE_RETRY_MS - 1)
    assert x.state(s["id"]) == ("DOWN", "DOWN", rt.FR_TIMEOUT)
    x.advance(1)                                                  # f + 10 000
    assert x.state(s["id"]) == ("DOWN", "NEGOTIATING", "")
    x.advance(rt.NEGOTIATE_MS)
    assert x.state(s["id"]) == ("DOWN", "DOWN", rt.FR_TIMEOUT)
    x.put_peer(peer, {"reachable": True})
    x.advance(rt.IKE_RETRY_MS - 1)
    assert x.state(s["id"])[1] == "DOWN"
    x.advance(1)
    assert x.state(s["id"])[1] == "NEGOTIATING"
    x.advance(rt.NEGOTIATE_MS)
    assert x.state(s["id"]) == ("UP", "UP", "")


ESP_FAILS = [
    ("esp-encryption", {"encryption_algorithms": ["AES_GCM_256"], "digest_algorithms": [],
                        "dh_groups": ["GROUP21"], "enable_perfect_forward_secrecy": True}),
    ("esp-dh-with-pfs", {"encryption_algorithms": ["AES_GCM_128"], "digest_algorithms": [],
                         "dh_groups": ["GROUP14"], "enable_perfect_forward_secrecy": True}),
    ("esp-pfs", {"encryption_algorithms": ["AES_GCM_128"], "digest_algorithms": [],
                 "dh_groups": ["GROUP21"], "enable_perfect_forward_secrecy": False}),
]


@pytest.mark.parametrize("kind", ["route", "policy"])
@pytest.mark.parametrize("case", ESP_FAILS, ids=[c[0] for c in ESP_FAILS])
def test_esp_proposal_mismatch(make_server, case, kind):
    """Each tunnel needs its own ESP agreement: an ESP mismatch leaves every tunnel DOWN with
    "No proposal chosen", so the session is DOWN."""
    x = RT(make_server())
    peer = nsx.peer_ip()
    x.put_peer(peer, {"esp": case[1]})
    s = (x.route_session if kind == "route" else x.policy_session)(peer=peer)
    x.advance(1000)
    d = x.detailed(s["id"])
    assert d["runtime_status"] == "DOWN", d
    assert d["negotiated_tunnels"] == 0 and d["failed_tunnels"] == d["total_tunnels"] >= 1, d
    for t in x.tunnels(s["id"]):
        assert t["tunnel_status"] == "DOWN", t
        assert t["tunnel_down_reason"] == rt.FR_NO_PROPOSAL, t
    if d["ike_status"]["ike_session_state"] == "DOWN":
        assert d["ike_status"]["fail_reason"] == rt.FR_NO_PROPOSAL, d


AES_IKE = {"resource_type": "IPSecVpnIkeProfile", "ike_version": "IKE_FLEX",
           "encryption_algorithms": ["AES_128", "AES_256"], "digest_algorithms": ["SHA2_256"],
           "dh_groups": ["GROUP14", "GROUP19"], "sa_life_time": 86400}
COMPATIBLE = [
    # id, ike profile body (None: seed), tunnel body (None: seed), session overrides, peer def
    ("partial-intersection",
     rt.seed_ike(encryption_algorithms=["AES_GCM_128", "AES_GCM_256"],
                 dh_groups=["GROUP19", "GROUP21"]), None, {},
     {"ike": {"encryption_algorithms": ["AES_GCM_256"], "digest_algorithms": [],
              "dh_groups": ["GROUP21", "GROUP20"]}}),
    ("flex-session-v1-peer", AES_IKE, None, {},
     {"ike_version": "IKE_V1", "ike": {"encryption_algorithms": ["AES_256"],
                                       "digest_algorithms": ["SHA2_256"],
                                       "dh_groups": ["GROUP19"]}}),
    ("flex-session-v2-peer", AES_IKE, None, {}, {"ike_version": "IKE_V2"}),
    ("flex-peer", None, None, {}, {"ike_version": "IKE_FLEX"}),
    ("respond-only-mirror", None, None, {"connection_initiation_mode": "RESPOND_ONLY"}, None),
    ("respond-only-initiating-peer", None, None, {"connection_initiation_mode": "RESPOND_ONLY"},
     {"initiates": True}),
    ("initiator-passive-peer", None, None, {}, {"initiates": False}),
    ("initiator-peer-only-initiates", None, None, {}, {"responds": False, "initiates": True}),
    ("peer-id-matches-local-id", None, None, {"peer_id": "vpn.example.com"},
     {"local_id": "vpn.example.com"}),
    ("no-pfs-dh-irrelevant", None,
     rt.seed_tunnel(enable_perfect_forward_secrecy=False), {},
     {"esp": {"encryption_algorithms": ["AES_GCM_128"], "digest_algorithms": [],
              "dh_groups": ["GROUP14"], "enable_perfect_forward_secrecy": False}}),
]


@pytest.mark.parametrize("case", COMPATIBLE, ids=[c[0] for c in COMPATIBLE])
def test_compatible_peer_up(make_server, case):
    """Negotiation is computed: versions, proposals and DH groups intersect, someone initiates."""
    _, ike, tun, over, peer_def = case
    x = RT(make_server())
    x.profiles(ike=ike, tun=tun)
    peer = nsx.peer_ip()
    if peer_def is not None:
        x.put_peer(peer, peer_def)
    s = x.route_session(peer=peer, **over)
    x.advance(1000)
    assert x.state(s["id"]) == ("UP", "UP", ""), x.detailed(s["id"])


def test_on_demand_traffic_starts_negotiation(fresh_server):
    """ON_DEMAND with a passive peer waits for traffic; traffic out (dropped: the tunnel is down)
    starts negotiation, UP SIM_IKE_NEGOTIATE_MS later; later traffic is counted normally."""
    x = RT(fresh_server)
    peer = nsx.peer_ip()
    x.put_peer(peer, {"initiates": False})
    s = x.route_session(peer=peer, connection_initiation_mode="ON_DEMAND")
    x.advance(5000)
    assert x.state(s["id"]) == ("DOWN", "DOWN", rt.FR_ON_DEMAND)
    x.traffic(s["id"], 0, packets_out=5)
    t = x.tunnels(s["id"])[0]
    assert (t["packets_out"], t["dropped_packets_out"]) == (0, 5), t
    assert x.state(s["id"])[1] in ("NEGOTIATING", "UP")
    x.advance(rt.NEGOTIATE_MS)
    assert x.state(s["id"]) == ("UP", "UP", "")
    x.traffic(s["id"], 0, packets_out=7, bytes_out=700)
    t = x.tunnels(s["id"])[0]
    assert (t["packets_out"], t["bytes_out"], t["dropped_packets_out"]) == (7, 700, 5), t


def test_peer_redefinition_renegotiates(fresh_server):
    """A peer (re)defined on a live session applies to the next negotiation; forgetting the
    definition restores the mirror."""
    x = RT(fresh_server)
    s = x.route_session()
    x.advance(1000)
    assert x.state(s["id"])[0] == "UP"
    x.put_peer(s["peer"], {"psk": "changed-on-the-peer"})
    expect_empty(fresh_server.patch(s["path"], {"enabled": False}))
    x.advance(1000)
    assert x.state(s["id"]) == ("DOWN", "DOWN", rt.FR_DISABLED)
    expect_empty(fresh_server.patch(s["path"], {"enabled": True}))
    x.advance(1000)
    assert x.state(s["id"]) == ("DOWN", "DOWN", rt.FR_AUTH)
    assert [t["tunnel_down_reason"] for t in x.tunnels(s["id"])] == [rt.FR_IKE_DOWN]
    expect_empty(fresh_server.api("DELETE", EMU + "/peers/" + s["peer"], prefix=""))
    x.advance(rt.IKE_RETRY_MS + 1000)
    assert x.state(s["id"]) == ("UP", "UP", "")


# ---------------------------------------------------------------------------------------------
# DPD, rekey, flapping

def test_dpd_expiry_exact(fresh_server):
    """PERIODIC 10 s x 3 retries: UP at t; peer unreachable at t; still UP at t+29 s; DOWN at
    t+30 s with the DPD reason; back UP once the peer is reachable again."""
    x = RT(fresh_server)
    dpd = x.dpd(10, 3)
    s = x.route_session(dpd_profile_path=dpd)
    x.advance(1000)
    assert x.state(s["id"])[0] == "UP"
    x.put_peer(s["peer"], {"reachable": False})
    x.advance(29000)
    assert x.state(s["id"]) == ("UP", "UP", ""), "DPD fired before interval x retries"
    x.advance(999)
    assert x.state(s["id"])[0] == "UP"
    x.advance(1)
    rs, ike, reason = x.state(s["id"])
    assert rs == "DOWN" and reason == rt.FR_DPD, (rs, ike, reason)
    for t in x.tunnels(s["id"]):
        assert t["tunnel_status"] == "DOWN" and t["tunnel_down_reason"], t
    x.put_peer(s["peer"], {"reachable": True})
    x.advance(2 * (rt.IKE_RETRY_MS + rt.NEGOTIATE_MS) + 500)
    assert x.state(s["id"]) == ("UP", "UP", "")


def test_dpd_default_profile_300s(fresh_server):
    """The default DPD profile (PERIODIC 60 s x 5): down exactly 300 s after the peer died."""
    x = RT(fresh_server)
    s = x.route_session()
    x.advance(1000)
    x.put_peer(s["peer"], {"reachable": False})
    x.advance(299_999)
    assert x.state(s["id"])[0] == "UP"
    x.advance(1)
    assert x.state(s["id"])[0::2] == ("DOWN", rt.FR_DPD)


def test_dpd_disabled_keeps_session_up(make_server):
    """With DPD disabled nothing notices an unreachable peer until the next IKE rekey."""
    x = RT(make_server(["--token-ttl", "864000"]))
    dpd = nsx.DPD + "/" + nsx.uid("dpd-off")
    fresh = x.srv.create(dpd, nsx.dpd_body(enabled=False))
    assert fresh["enabled"] is False
    x.profiles(ike=rt.seed_ike(sa_life_time=21600))
    s = x.route_session(dpd_profile_path=dpd)
    x.advance(1000)
    x.put_peer(s["peer"], {"reachable": False})
    x.advance(3_600_000)
    assert x.state(s["id"]) == ("UP", "UP", "")
    x.advance(21_600_000)
    assert x.state(s["id"])[0] == "DOWN", "the IKE rekey to a dead peer must fail"


def rekey_reasons(x, sid):
    st = x.stats(sid)
    return [st["ike_status"]["fail_reason"]] + [
        t["tunnel_down_reason"] for ps in st["policy_statistics"] for t in ps["tunnel_statistics"]]


def watch_rekey(x, good, bad, lifetime_s):
    """Advance through an SA lifetime: coarsely (60 s) up to a minute before it, then second by
    second until a minute after it. Returns the second at which "Rekey failed" was first seen
    on @bad (None if never); @good (no fault) must stay UP throughout."""
    sec = 1
    while sec < lifetime_s - 60:
        x.advance(60_000, check=False)
        sec += 60
        if rt.FR_REKEY in rekey_reasons(x, bad["id"]):
            return sec
        assert x.state(bad["id"])[0] == "UP", (sec, x.detailed(bad["id"]))
        assert x.state(good["id"])[0] == "UP", (sec, x.detailed(good["id"]))
    while sec < lifetime_s + 60:
        x.advance(1000, check=False)
        sec += 1
        if rt.FR_REKEY in rekey_reasons(x, bad["id"]):
            return sec
        if sec % 20 == 0:
            assert x.state(good["id"])[0] == "UP", (sec, x.detailed(good["id"]))
    return None


def test_rekey_failure_at_ike_lifetime(make_server):
    """faults.rekey_failure: the IKE SA's rekey fails around its lifetime ("Rekey failed"), the
    session comes back after a retry; without the fault the same profiles rekey fine. (The fault
    fails child SA rekeys too: the tunnel profile's lifetime is longer, so the IKE rekey is the
    first to fail.)"""
    x = RT(make_server(["--token-ttl", "864000"]))     # the clock moves ~6 h
    x.profiles(ike=rt.seed_ike(sa_life_time=21600), tun=rt.seed_tunnel(sa_life_time=86400))
    good = x.route_session()
    peer = nsx.peer_ip()
    x.put_peer(peer, {"faults": {"flap_period_ms": 0, "rekey_failure": True}})
    bad = x.route_session(peer=peer)
    x.advance(1000)
    assert x.state(bad["id"])[0] == "UP" and x.state(good["id"])[0] == "UP"
    sec = watch_rekey(x, good, bad, 21600)
    assert sec is not None, "no 'Rekey failed' within the IKE SA lifetime (21600 s) + 60 s"
    assert sec >= 21600 // 2, "rekey failed at %d s, long before the lifetime" % sec
    assert x.state(bad["id"])[0] == "DOWN"
    x.advance(rt.IKE_RETRY_MS + rt.NEGOTIATE_MS + 1000)
    assert x.state(bad["id"]) == ("UP", "UP", "")
    assert x.state(good["id"]) == ("UP", "UP", "")


def test_rekey_failure_at_esp_lifetime(make_server):
    """The tunnel profile's sa_life_time is an SA lifetime too: with faults.rekey_failure the
    child SA's rekey fails around it and the tunnel goes down ("Rekey failed") while the IKE SA
    stays UP; the tunnel is re-established at the retry."""
    x = RT(make_server(["--token-ttl", "86400"]))
    x.profiles(tun=rt.seed_tunnel(sa_life_time=900))
    good = x.route_session()
    peer = nsx.peer_ip()
    x.put_peer(peer, {"faults": {"flap_period_ms": 0, "rekey_failure": True}})
    bad = x.route_session(peer=peer)
    x.advance(1000)
    sec = watch_rekey(x, good, bad, 900)
    assert sec is not None, "no 'Rekey failed' within the ESP SA lifetime (900 s) + 60 s"
    assert sec >= 450, "rekey failed at %d s, long before the lifetime" % sec
    assert x.state(bad["id"]) == ("DOWN", "UP", ""), x.detailed(bad["id"])
    assert [t["tunnel_down_reason"] for t in x.tunnels(bad["id"])] == [rt.FR_REKEY]
    x.advance(rt.IKE_RETRY_MS + 1000)
    assert x.state(bad["id"]) == ("UP", "UP", "")
    assert x.state(good["id"]) == ("UP", "UP", "")


def test_flapping_fault(fresh_server):
    """faults.flap_period_ms: the peer comes and goes; sampled every second, the session is
    seen both UP and not UP."""
    x = RT(fresh_server)
    dpd = x.dpd(3, 1)
    peer = nsx.peer_ip()
    x.put_peer(peer, {"faults": {"flap_period_ms": 30000, "rekey_failure": False}})
    s = x.route_session(peer=peer, dpd_profile_path=dpd)
    states = set()
    for _ in range(180):
        x.advance(1000, check=False)
        states.add(x.state(s["id"])[0])
    assert "UP" in states and "DOWN" in states, states


# ---------------------------------------------------------------------------------------------
# tunnels: count, DEGRADED, traffic, reset

def test_degraded_and_traffic_selectors(fresh_server):
    """2 sources x 2 destinations = 4 tunnels; the peer accepts only pairs toward one of its
    subnets: 2 UP, 2 DOWN ("Traffic selectors unacceptable"), runtime_status DEGRADED."""
    x = RT(fresh_server)
    peer = nsx.peer_ip()
    src = ["192.168.98.0/24", "10.2.1.140/32"]
    dst = ["192.168.123.0/24", "172.30.0.0/16"]
    # the peer's own view: its local subnets are our destinations, its remote ones our sources
    x.put_peer(peer, {"subnets": {"local": [dst[0]], "remote": src}})
    s = x.policy_session(peer=peer, rules=[nsx.rule(src, dst, "r1")])
    x.advance(1000)
    d = x.detailed(s["id"])
    assert d["runtime_status"] == "DEGRADED", d
    assert d["ike_status"] == {"ike_session_state": "UP", "fail_reason": ""}, d
    assert (d["total_tunnels"], d["negotiated_tunnels"], d["failed_tunnels"]) == (4, 2, 2), d
    tunnels = x.tunnels(s["id"])
    got = [(t["local_subnet"], t["peer_subnet"], t["tunnel_status"], t["tunnel_down_reason"])
           for t in tunnels]
    assert got == [(src[0], dst[0], "UP", ""), (src[0], dst[1], "DOWN", rt.FR_TS),
                   (src[1], dst[0], "UP", ""), (src[1], dst[1], "DOWN", rt.FR_TS)], got
    # traffic on a down tunnel is dropped; on an up one it is counted
    x.traffic(s["id"], 1, packets_out=4, packets_in=3)
    x.traffic(s["id"], 2, packets_out=10, packets_in=20, bytes_out=1000, bytes_in=2000)
    t = x.tunnels(s["id"])
    assert (t[1]["packets_out"], t[1]["packets_in"]) == (0, 0), t[1]
    assert (t[1]["dropped_packets_out"], t[1]["dropped_packets_in"]) == (4, 3), t[1]
    assert (t[2]["packets_out"], t[2]["packets_in"], t[2]["bytes_out"], t[2]["bytes_in"],
            t[2]["dropped_packets_out"]) == (10, 20, 1000, 2000, 0), t[2]
    agg = x.detailed(s["id"])["aggregate_traffic_counters"]
    check_traffic6(agg, {"packets_out": 10, "packets_in": 20, "bytes_out": 1000,
                         "bytes_in": 2000, "dropped_packets_out": 4, "dropped_packets_in": 3})
    # the peer widens its view: every tunnel comes up (after a retry at most)
    x.put_peer(peer, {"subnets": {"local": dst, "remote": src}})
    x.advance(rt.IKE_RETRY_MS + 1000)
    d = x.detailed(s["id"])
    assert (d["runtime_status"], d["negotiated_tunnels"]) == ("UP", 4), d


def test_tunnel_count_per_enabled_rule(fresh_server):
    """total_tunnels = sum over enabled rules of |sources| x |destinations|; a disabled rule adds
    none; statistics group tunnels per rule (rule_path) in source-major order."""
    x = RT(fresh_server)
    r1 = nsx.rule(["10.2.1.0/24", "10.2.2.0/24", "10.2.3.0/24"],
                  ["172.16.1.0/24", "172.16.2.0/24"], "r1")
    r2 = nsx.rule(["10.2.4.0/24", "10.2.5.0/24"], ["172.16.3.0/24", "172.16.4.0/24"], "r2")
    r2["enabled"] = False
    r3 = nsx.rule(["10.2.6.0/24"], ["172.16.5.0/24"], "r3")
    s = x.policy_session(rules=[r1, r2, r3])
    x.advance(1000)
    d = x.detailed(s["id"])
    assert (d["runtime_status"], d["total_tunnels"], d["negotiated_tunnels"]) == ("UP", 7, 7), d
    st = check_stats_shape(x.stats(s["id"], full=True), s["path"], s["obj"]["display_name"], False)
    groups = [(ps["rule_path"].rsplit("/", 1)[1],
               [(t["local_subnet"], t["peer_subnet"]) for t in ps["tunnel_statistics"]])
              for ps in st["policy_statistics"]]
    assert groups == [
        ("r1", [("10.2.1.0/24", "172.16.1.0/24"), ("10.2.1.0/24", "172.16.2.0/24"),
                ("10.2.2.0/24", "172.16.1.0/24"), ("10.2.2.0/24", "172.16.2.0/24"),
                ("10.2.3.0/24", "172.16.1.0/24"), ("10.2.3.0/24", "172.16.2.0/24")]),
        ("r3", [("10.2.6.0/24", "172.16.5.0/24")])], groups
    # enable r2: 4 more tunnels
    r2["enabled"] = True
    expect_empty(fresh_server.patch(s["path"], {"rules": [r1, r2, r3]}))
    x.advance(1000)
    d = x.detailed(s["id"])
    assert (d["runtime_status"], d["total_tunnels"], d["negotiated_tunnels"]) == \
        ("UP", 11, 11), d
    # one rule with 1 x 1: 1 tunnel
    expect_empty(fresh_server.patch(s["path"], {"rules": [nsx.rule(["10.9.0.0/16"],
                                                                   ["172.31.0.0/16"], "only")]}))
    x.advance(1000)
    d = x.detailed(s["id"])
    assert (d["total_tunnels"], d["negotiated_tunnels"]) == (1, 1), d


ALL16 = {k: i + 1 for i, k in enumerate(rt.COUNTERS16)}


def test_traffic_all_counters_route_based(fresh_server):
    """Every counter of the seed's tunnel statistics can be injected; the per-tunnel values and
    the aggregates (statistics, policy_statistics, detailed-status) add up."""
    x = RT(fresh_server)
    s = x.route_session()
    x.advance(1000)
    x.traffic(s["id"], 0, **ALL16)
    x.traffic(s["id"], 0, **{k: 100 * v for k, v in ALL16.items()})
    want = {k: 101 * v for k, v in ALL16.items()}
    t = x.tunnels(s["id"])[0]
    assert {k: t[k] for k in rt.COUNTERS16} == want, t
    st = x.stats(s["id"])
    check_traffic6(st["aggregate_traffic_counters"], want)
    check_traffic6(st["policy_statistics"][0]["aggregate_traffic_counters"], want)
    check_traffic6(x.detailed(s["id"])["aggregate_traffic_counters"], want)


INT64_MAX = 2**63 - 1


def test_traffic_counters_saturate(fresh_server):
    """Counters are int64 in NSX: two injections of INT64_MAX saturate instead of wrapping to
    -2, per tunnel and in every aggregate; nothing is refused."""
    x = RT(fresh_server)
    s = x.route_session()
    x.advance(1000)
    for _ in range(2):
        x.traffic(s["id"], 0, **{k: INT64_MAX for k in rt.COUNTERS16})
    t = x.tunnels(s["id"])[0]
    assert {k: t[k] for k in rt.COUNTERS16} == {k: INT64_MAX for k in rt.COUNTERS16}, t
    agg = x.detailed(s["id"])["aggregate_traffic_counters"]
    assert all(agg[k] == INT64_MAX for k in agg if rt.is_int(agg[k])), agg
    x.traffic(s["id"], 0, packets_in=1)
    assert x.tunnels(s["id"])[0]["packets_in"] == INT64_MAX


def test_utf8_psk_compared_in_full(fresh_server):
    """A PSK of 128 characters (256 bytes of UTF-8) is kept whole on both ends: equal -> UP, a
    peer whose PSK differs only in the last character -> Authentication failed."""
    x = RT(fresh_server)
    psk = "\u00e9" * 128
    peer = nsx.peer_ip()
    x.put_peer(peer, {"psk": psk})
    s = x.route_session(peer=peer, psk=psk)
    x.advance(1000)
    assert x.state(s["id"]) == ("UP", "UP", "")
    x.put_peer(peer, {"psk": psk[:-1] + "\u00e8"})
    x.advance(rt.NEGOTIATE_MS)
    assert x.state(s["id"])[0::2] == ("DOWN", rt.FR_AUTH)
    x.put_peer(peer, {"psk": psk + "x"}, status=400)      # 129 characters


def test_traffic_per_tunnel_policy_based(fresh_server):
    x = RT(fresh_server)
    s = x.policy_session(rules=[nsx.rule(["10.2.1.0/24"], ["172.16.1.0/24", "172.16.2.0/24"],
                                         "a"),
                                nsx.rule(["10.2.9.0/24"], ["172.16.9.0/24"], "b")])
    x.advance(1000)
    x.traffic(s["id"], 0, packets_in=1, bytes_in=10)
    x.traffic(s["id"], 1, packets_out=2, bytes_out=20, replay_errors=5)
    x.traffic(s["id"], 2, packets_in=4, packets_out=8, integrity_failures=1)
    st = x.stats(s["id"])
    a, b = st["policy_statistics"]
    assert [t["packets_in"] for t in a["tunnel_statistics"]] == [1, 0]
    assert [t["replay_errors"] for t in a["tunnel_statistics"]] == [0, 5]
    assert b["tunnel_statistics"][0]["integrity_failures"] == 1
    check_traffic6(a["aggregate_traffic_counters"], {"packets_in": 1, "bytes_in": 10,
                                                     "packets_out": 2, "bytes_out": 20})
    check_traffic6(b["aggregate_traffic_counters"], {"packets_in": 4, "packets_out": 8})
    total = {"packets_in": 5, "bytes_in": 10, "packets_out": 10, "bytes_out": 20}
    check_traffic6(st["aggregate_traffic_counters"], total)
    check_traffic6(x.detailed(s["id"])["aggregate_traffic_counters"], total)


def test_traffic_bad_requests(fresh_server):
    x = RT(fresh_server)
    s = x.route_session()
    x.advance(1000)
    url = EMU + "/sessions/" + s["id"] + "/traffic"
    for bad in ({"tunnel": -1, "packets_in": 1}, {"tunnel": "0"}, {"packets_in": -5},
                {"packets_in": 1.5}, {"packets_in": "7"}, {"no_such_counter": 1}, [1, 2]):
        expect_error(fresh_server.api("POST", url, json=bad, prefix=""), 400)
    expect_error(fresh_server.api("POST", url, data=b"{nope", prefix=""), 400)
    expect_error(fresh_server.api("POST", url, json={"tunnel": 1, "packets_in": 1}, prefix=""),
                 404)
    expect_error(fresh_server.api("POST", EMU + "/sessions/nope/traffic",
                                  json={"tunnel": 0, "packets_in": 1}, prefix=""), 404)
    expect(fresh_server.api("GET", url, prefix=""), 405)
    # nothing was counted
    assert all(x.tunnels(s["id"])[0][k] == 0 for k in rt.COUNTERS16)


def test_statistics_reset(fresh_server):
    """POST statistics?action=reset: 200, empty; counters restart from zero, a later injection
    counts from zero; the session stays UP. Auditor 403, other actions 400."""
    x = RT(fresh_server)
    s = x.route_session()
    x.advance(1000)
    x.traffic(s["id"], 0, **ALL16)
    auditor = fresh_server.token("rt-auditor", "auditor")
    # an auditor may read but not reset
    r = fresh_server.get(nsx.SES + "/" + s["id"] + "/statistics", token=auditor)
    expect(r, 200)
    expect_error(x.reset(s["id"], token=auditor), 403)
    for bad in ("clear", "RESET", ""):
        expect_error(x.reset(s["id"], action=bad), 400)
    expect_error(x.reset(s["id"], action=None), 400)
    assert x.tunnels(s["id"])[0]["packets_in"] == ALL16["packets_in"], "reset by a refused call"
    expect_error(x.reset("no-such-session"), 404)

    expect_empty(x.reset(s["id"]), 200)
    t = x.tunnels(s["id"])[0]
    assert all(t[k] == 0 for k in rt.COUNTERS16), t
    assert t["tunnel_status"] == "UP"
    check_traffic6(x.stats(s["id"])["aggregate_traffic_counters"], {})
    check_traffic6(x.detailed(s["id"])["aggregate_traffic_counters"], {})
    assert x.state(s["id"]) == ("UP", "UP", "")
    x.advance(5000)
    x.traffic(s["id"], 0, packets_in=3, bytes_in=300)
    t = x.tunnels(s["id"])[0]
    assert (t["packets_in"], t["bytes_in"], t["packets_out"]) == (3, 300, 0), t
    # the reset is audited like any admin write
    audit = fresh_server.get_json("/vpnd/api/v1/audit", prefix="")
    text = repr(audit)
    assert s["path"] in text, "reset not in the audit log"


# ---------------------------------------------------------------------------------------------
# summary, realized state, restart

def test_summary_counts(fresh_server):
    x = RT(fresh_server)
    up = x.route_session()
    peer = nsx.peer_ip()
    x.put_peer(peer, {"psk": "wrong-psk-here"})
    down = x.route_session(peer=peer)
    peer2 = nsx.peer_ip()
    x.put_peer(peer2, {"subnets": {"local": ["192.168.123.0/24"], "remote": ["192.168.98.0/24"]}})
    degraded = x.policy_session(peer=peer2)
    x.advance(1000)
    assert x.state(up["id"])[0] == "UP"
    assert x.state(down["id"])[0] == "DOWN"
    assert x.state(degraded["id"])[0] == "DEGRADED"
    x.traffic(up["id"], 0, packets_in=5, bytes_in=500)
    x.traffic(degraded["id"], 0, packets_out=7, bytes_out=700)
    body = x.summary()
    want = {"total_sessions": 3, "established_sessions": 1, "failed_sessions": 1,
            "degraded_sessions": 1}
    res = body["results"]
    assert len(res) == 1, body
    assert res[0]["session_summary"] == want, res[0]
    if "session_summary" in body:
        assert body["session_summary"] == want, body
    check_traffic6(res[0]["aggregate_traffic_counters"],
                   {"packets_in": 5, "bytes_in": 500, "packets_out": 7, "bytes_out": 700})
    per = {e["ipsec_vpn_session"]["target_id"]: e["traffic_counters"]
           for e in res[0]["traffic_summary_per_session"]}
    assert set(per) == {up["path"], down["path"], degraded["path"]}, per
    check_traffic6(per[up["path"]], {"packets_in": 5, "bytes_in": 500})
    check_traffic6(per[down["path"]], {})
    # disabling the UP one moves it to failed
    expect_empty(fresh_server.patch(up["path"], {"enabled": False}))
    x.advance(1000)
    assert x.summary()["results"][0]["session_summary"] == {
        "total_sessions": 3, "established_sessions": 0, "failed_sessions": 2,
        "degraded_sessions": 1}


def realized_ok(x, path, obj):
    rs = x.realized(path)
    assert rs["intent_path"] == path, rs
    assert rs["consolidated_status"] == {"consolidated_status": "SUCCESS"}, rs
    assert rs["publish_status"] == "REALIZED", rs
    assert rs["intent_version"] == str(obj["_revision"]), (rs, obj["_revision"])
    per = rs["consolidated_status_per_enforcement_point"]
    assert isinstance(per, list) and len(per) == 1, rs
    assert per[0]["consolidated_status"] == {"consolidated_status": "SUCCESS"}, rs
    assert per[0]["enforcement_point_path"] == rt.EP_PATH, rs
    return rs


def gcm128_session(x):
    """Profiles and a route-based session to a peer that accepts only AES_GCM_128 for ESP."""
    ike, tun = x.profiles()
    peer = nsx.peer_ip()
    x.put_peer(peer, {"esp": {"encryption_algorithms": ["AES_GCM_128"], "digest_algorithms": [],
                              "dh_groups": ["GROUP21"], "enable_perfect_forward_secrecy": True}})
    return ike, tun, x.route_session(peer=peer)


def test_realized_state_transitions(fresh_server):
    srv = fresh_server
    x = RT(srv)
    ike, tun, s = gcm128_session(x)
    # the status view does not wait for the engine (read at once it may say IN_PROGRESS, as
    # below): settle before expecting SUCCESS (this flaked under load without it)
    x.settle()
    for path in (ike, tun, s["path"], nsx.DEFAULT_DPD, nsx.PRIVATE_IP1):
        realized_ok(x, path, srv.get_json(path))
    ent = srv.get_json("/infra/realized-state/realized-entities",
                       params={"intent_path": s["path"]})
    assert ent["result_count"] == 1 and len(ent["results"]) == 1, ent
    e = ent["results"][0]
    assert e["state"] == "REALIZED" and e["intent_paths"] == [s["path"]], e
    assert str(e["intent_version"]) == str(s["obj"]["_revision"]), e
    x.advance(1000)
    assert x.state(s["id"])[0] == "UP"

    # a new tunnel profile the peer rejects; the session points at it: new intent_version
    tun2 = nsx.TUN + "/" + nsx.uid("tun2")
    srv.create(tun2, rt.seed_tunnel(encryption_algorithms=["AES_GCM_256"]))
    expect_empty(srv.patch(s["path"], {"tunnel_profile_path": tun2}))
    # read at once: whatever the engine got to, the status refers to the new intent
    rs = srv.get_json("/infra/realized-state/status", params={"intent_path": s["path"]})
    obj = srv.get_json(s["path"])
    assert rs["intent_version"] == str(obj["_revision"]), (rs, obj["_revision"])
    assert (rs["consolidated_status"]["consolidated_status"], rs["publish_status"]) in \
        (("IN_PROGRESS", "UNREALIZED"), ("SUCCESS", "REALIZED")), rs
    x.settle()
    assert obj["_revision"] > s["obj"]["_revision"]
    realized_ok(x, s["path"], obj)
    x.advance(rt.IKE_RETRY_MS + 1000)
    assert [t["tunnel_down_reason"] for t in x.tunnels(s["id"])] == [rt.FR_NO_PROPOSAL]
    # changing the profile itself re-derives the session that uses it
    expect_empty(srv.patch(tun2, {"encryption_algorithms": ["AES_GCM_256", "AES_GCM_128"]}))
    x.settle()
    realized_ok(x, tun2, srv.get_json(tun2))
    realized_ok(x, s["path"], obj)      # the session's own intent did not change
    x.advance(rt.IKE_RETRY_MS + 1000)
    assert x.state(s["id"]) == ("UP", "UP", "")

    # deleted: 404 from both views; unknown: 404; missing intent_path: 400
    expect_empty(srv.delete(s["path"]))
    for view in ("status", "realized-entities"):
        url = "/infra/realized-state/" + view
        expect_error(srv.get(url, params={"intent_path": s["path"]}), 404)
        expect_error(srv.get(url, params={"intent_path": nsx.IKE + "/never-was"}), 404)
        expect_error(srv.get(url), 400)
        expect_error(srv.get(url, params={"intent_path": ""}), 400)
    expect_error(srv.get(nsx.SES + "/" + s["id"] + "/detailed-status"), 404)
    expect_error(srv.get(nsx.SES + "/" + s["id"] + "/statistics"), 404)
    # an auditor may read realized state
    aud = srv.token("rt-aud2", "auditor")
    expect(srv.get("/infra/realized-state/status", params={"intent_path": ike}, token=aud), 200)


def test_burst_of_writes_realizes_the_last(fresh_server):
    """The engine realizes a path once per batch of notifications (a burst of writes to one
    object): whatever it coalesced, the realized state is that of the last write."""
    srv = fresh_server
    x = RT(srv)
    s = gcm128_session(x)[2]
    tun2 = nsx.TUN + "/" + nsx.uid("tunb")
    srv.create(tun2, rt.seed_tunnel(encryption_algorithms=["AES_GCM_256"]))
    x.settle()

    def burst(k):
        for i in range(10):
            expect_empty(srv.patch(s["path"], {"description": "burst %d %d" % (k, i)}))

    threads = [threading.Thread(target=burst, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # the last write: a tunnel profile the peer rejects
    expect_empty(srv.patch(s["path"], {"tunnel_profile_path": tun2}))
    obj = srv.get_json(s["path"])
    assert obj["_revision"] == s["obj"]["_revision"] + 61, obj
    x.settle()
    realized_ok(x, s["path"], obj)
    x.advance(rt.IKE_RETRY_MS + 1000)
    assert [t["tunnel_down_reason"] for t in x.tunnels(s["id"])] == [rt.FR_NO_PROPOSAL]


def test_counters_are_runtime_data(fresh_server):
    """After SIGTERM and a restart the session is realized again, UP, with counters at 0."""
    srv = fresh_server
    x = RT(srv)
    s = x.route_session()
    x.advance(1000)
    x.traffic(s["id"], 0, **ALL16)
    assert x.tunnels(s["id"])[0]["packets_in"] == ALL16["packets_in"]
    port = srv.port
    assert srv.stop() == 0
    srv.start(port=port)
    x = RT(srv)
    x.advance(1000)
    realized_ok(x, s["path"], srv.get_json(s["path"]))
    assert x.state(s["id"]) == ("UP", "UP", "")
    t = x.tunnels(s["id"])[0]
    assert all(t[k] == 0 for k in rt.COUNTERS16), t
    check_traffic6(x.detailed(s["id"])["aggregate_traffic_counters"], {})


# ---------------------------------------------------------------------------------------------
# the emulator API

def emulator_calls(sid, addr):
    return [("GET", EMU + "/clock", None), ("POST", EMU + "/clock", {"advance_ms": 0}),
            ("GET", EMU + "/peers", None), ("GET", EMU + "/peers/" + addr, None),
            ("PUT", EMU + "/peers/" + addr, {"reachable": False}),
            ("DELETE", EMU + "/peers/" + addr, None),
            ("POST", EMU + "/sessions/" + sid + "/traffic", {"tunnel": 0, "packets_in": 1})]


def test_emulator_admin_only(fresh_server):
    srv = fresh_server
    x = RT(srv)
    s = x.route_session()
    x.advance(1000)
    aud = srv.token("emu-auditor", "auditor")
    for method, url, body in emulator_calls(s["id"], s["peer"]):
        expect_error(srv.api(method, url, json=body, prefix="", token=aud), 403)
        expect_error(srv.api(method, url, json=body, prefix="", token=None), 401)
    assert x.tunnels(s["id"])[0]["packets_in"] == 0
    assert x.state(s["id"])[0] == "UP"


def test_no_emulator_flag(make_server):
    srv = make_server(["--no-emulator"])
    x = RT(srv, freeze=False)
    s = x.route_session()
    for method, url, body in emulator_calls(s["id"], s["peer"]):
        expect_error(srv.api(method, url, json=body, prefix=""), 404)
    # the NSX runtime views are still there
    expect(srv.get(nsx.SES + "/" + s["id"] + "/detailed-status"), 200)
    expect(srv.get(nsx.SVC + "/summary"), 200)


PSK_SECRET = "Sup3r-Secret-PSK-value"
BGP_SECRET = "Bgp-Secret-Passw0rd"
BAD_PEERS = [
    # id, body, member the error must name
    ("psk-type", {"psk": 12345}, "psk"),
    ("psk-array", {"psk": [PSK_SECRET]}, "psk"),
    ("ike-version", {"psk": PSK_SECRET, "ike_version": "IKE_V9"}, "ike_version"),
    ("reachable-type", {"psk": PSK_SECRET, "reachable": "yes"}, "reachable"),
    ("initiates-type", {"initiates": 1}, "initiates"),
    ("responds-type", {"responds": "no"}, "responds"),
    ("ike-not-object", {"ike": ["AES_128"]}, "ike"),
    ("ike-encryption", {"ike": {"encryption_algorithms": ["ROT13"], "digest_algorithms": [],
                                "dh_groups": ["GROUP14"]}}, "encryption_algorithms"),
    ("esp-dh", {"esp": {"encryption_algorithms": ["AES_GCM_128"], "digest_algorithms": [],
                        "dh_groups": ["GROUP99"], "enable_perfect_forward_secrecy": True}},
     "dh_groups"),
    ("esp-pfs-type", {"esp": {"encryption_algorithms": ["AES_GCM_128"], "digest_algorithms": [],
                              "dh_groups": ["GROUP14"],
                              "enable_perfect_forward_secrecy": "true"}},
     "enable_perfect_forward_secrecy"),
    ("subnets-cidr", {"subnets": {"local": ["10.0.0.0/33"], "remote": []}}, "subnets"),
    ("bgp-as", {"bgp": {"as": "not-an-as", "password": BGP_SECRET}}, "as"),
    ("bgp-password-type", {"bgp": {"as": "65006", "password": [BGP_SECRET]}}, "password"),
    ("bgp-announce-network", {"bgp": {"as": "65006", "password": BGP_SECRET,
                                      "announce": [{"network": "300.0.0.0/8"}]}}, "network"),
    ("bgp-announce-med", {"bgp": {"as": "65006", "announce": [{"network": "10.0.0.0/8",
                                                               "med": "low"}]}}, "med"),
    ("faults-flap", {"faults": {"flap_period_ms": -1}}, "flap_period_ms"),
    ("faults-rekey", {"faults": {"rekey_failure": "sometimes"}}, "rekey_failure"),
    ("unknown-member", {"psk": PSK_SECRET, "colour": "blue"}, "colour"),
]


@pytest.fixture(scope="module")
def emu_server(tmp_path_factory):
    """One server for the emulator-input tests (they never look at time)."""
    from conftest import Vpnd, _finish
    srv = Vpnd(tmp_path_factory.mktemp("vpnd-emu"))
    srv.start()
    yield srv
    _finish(srv)


@pytest.mark.parametrize("case", BAD_PEERS, ids=[c[0] for c in BAD_PEERS])
def test_emulator_peer_invalid_body(emu_server, case):
    _, body, member = case
    addr = nsx.peer_ip()
    r = emu_server.api("PUT", EMU + "/peers/" + addr, json=body, prefix="")
    expect_error(r, 400, fields=member, secrets=(PSK_SECRET, BGP_SECRET))
    expect_error(emu_server.api("GET", EMU + "/peers/" + addr, prefix=""), 404)
    log = emu_server.log_text()
    assert PSK_SECRET not in log and BGP_SECRET not in log


def test_emulator_peer_bad_requests(emu_server):
    srv = emu_server
    for body in (b"not json", b"[1]", b"\"x\"", b""):
        expect_error(srv.api("PUT", EMU + "/peers/203.0.113.250", data=body, prefix=""), 400)
    expect_error(srv.api("PUT", EMU + "/peers/not-an-ip", json={"reachable": False},
                         prefix=""), 400)
    expect_error(srv.api("DELETE", EMU + "/peers/198.51.100.77", prefix=""), 404)
    expect_error(srv.api("GET", EMU + "/peers/198.51.100.77", prefix=""), 404)
    expect(srv.api("POST", EMU + "/peers/198.51.100.77", json={}, prefix=""), 405)


def test_emulator_peer_crud_hides_secrets(emu_server):
    srv = emu_server
    x = RT(srv, freeze=False)
    s = x.route_session()
    # a session's peer exists (the mirror) before any definition
    r = x.get_peer(s["peer"])
    expect(r, 200)
    assert "psk" not in r.json() and b"test123456" not in r.content, r.json()
    listed = srv.api("GET", EMU + "/peers", prefix="")
    expect(listed, 200)
    assert s["peer"] in listed.text
    assert listed.json()["result_count"] == len(listed.json()["results"])
    # define: the answer is the effective peer, without psk and password
    r = x.put_peer(s["peer"], {"psk": PSK_SECRET, "reachable": False,
                               "bgp": {"as": "65006", "password": BGP_SECRET,
                                       "announce": [{"network": "10.50.0.0/16",
                                                     "as_path": "65006", "med": 5}]}})
    for resp in (r, x.get_peer(s["peer"]), srv.api("GET", EMU + "/peers", prefix="")):
        expect(resp, 200)
        assert PSK_SECRET.encode() not in resp.content and BGP_SECRET.encode() not in resp.content
    got = x.get_peer(s["peer"]).json()
    assert "psk" not in got and got.get("reachable") is False, got
    assert "password" not in got.get("bgp", {}), got
    # a peer no session uses can be defined ahead of its session
    ahead = nsx.peer_ip()
    x.put_peer(ahead, {"reachable": False})
    expect(x.get_peer(ahead), 200)
    expect_empty(srv.api("DELETE", EMU + "/peers/" + ahead, prefix=""))
    expect_error(x.get_peer(ahead), 404)
    # forgetting the session's peer: the mirror again (reachable)
    expect_empty(srv.api("DELETE", EMU + "/peers/" + s["peer"], prefix=""))
    expect_error(srv.api("DELETE", EMU + "/peers/" + s["peer"], prefix=""), 404)
    got = x.get_peer(s["peer"])
    expect(got, 200)
    assert got.json().get("reachable", True) is True, got.json()
    assert PSK_SECRET not in srv.log_text() and BGP_SECRET not in srv.log_text()


def test_clock_advance_is_ordered_after_writes(fresh_server):
    """A change committed before POST clock {advance_ms} is realized at the instant before the
    advance, so a test that writes then advances sees exact timings: a new session is UP
    exactly SIM_IKE_NEGOTIATE_MS later, a new neighbor ESTABLISHED SIM_BGP_OPEN_MS later.
    (No settling call between the write and the advance here, on purpose.)"""
    x = RT(fresh_server)
    x.profiles()
    late = []
    for i in range(40):
        s = x.route_session()
        x.advance(rt.NEGOTIATE_MS, check=False)
        st = x.state(s["id"])
        if st[0] != "UP":
            late.append(("session", i, st))
        nb = x.neighbor(s["neighbor"])
        x.advance(rt.BGP_OPEN_MS, check=False)
        e = x.bgp(nb["address"])
        if e["connection_state"] != "ESTABLISHED":
            late.append(("neighbor", i, e["connection_state"]))
    assert not late, "realized after the clock advance (%d of 80): %r" % (len(late), late[:6])


def test_clock_api(fresh_server):
    x = RT(fresh_server, freeze=False)
    c = x.clock()
    assert set(c) == {"now_ms", "offset_ms", "frozen"} and c["frozen"] is False, c
    f = x.freeze()
    a = x.clock()
    b = x.clock()
    assert a["now_ms"] == b["now_ms"] == f["now_ms"], (f, a, b)
    n = x.advance(1234)
    assert x.clock()["now_ms"] == n
    r = fresh_server.api("POST", EMU + "/clock", json={"freeze": True, "advance_ms": 66},
                         prefix="")
    expect(r, 200)
    assert r.json()["now_ms"] == n + 66
    x.freeze(False)
    assert x.clock()["now_ms"] >= n + 66
