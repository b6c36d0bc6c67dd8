"""Runtime plane (issue 4), BGP: the simulated neighbor FSM, hold timer, learned and advertised
routes through prefix lists (FRR semantics), the routes views in JSON and CSV.

Contract: src/realize/sim.h, issue 4, the seed's BGP status sample, and NSX's
BgpNeighborRouteDetails / CSV record columns. Every test freezes the virtual clock of its own
server and advances it explicitly; no sleeps.
"""
import csv
import io
import ipaddress

import pytest

import nsx
import rt
from nsx import expect, expect_error
from rt import RT

UP_MS = rt.NEGOTIATE_MS + rt.BGP_OPEN_MS        # tunnel up, then OPEN: ESTABLISHED


def check_bgp_entry(e):
    assert set(e) == rt.BGP_STATUS_KEYS, sorted(set(e) ^ rt.BGP_STATUS_KEYS)
    assert e["connection_state"] in rt.BGP_STATES, e
    for k in ("local_port", "remote_port", "messages_received", "messages_sent",
              "time_since_established", "total_in_prefix_count", "total_out_prefix_count",
              "connection_drop_count", "established_connection_count", "hold_time",
              "keep_alive_interval", "last_update_timestamp"):
        assert rt.is_int(e[k]) and e[k] >= 0, (k, e)
    assert isinstance(e["remote_as_number"], str), e
    assert e["tier0_path"] == rt.TIER0_PATH, e
    assert isinstance(e["graceful_restart_mode"], str) and e["graceful_restart_mode"], e
    assert isinstance(e["announced_capabilities"], list), e
    assert isinstance(e["negotiated_capability"], list), e
    ipaddress.IPv4Address(e["neighbor_router_id"])
    af = e["address_families"]
    assert isinstance(af, list) and len(af) == 1, e
    assert af[0] == {"type": "IPV4_UNICAST", "in_prefix_count": e["total_in_prefix_count"],
                     "out_prefix_count": e["total_out_prefix_count"]}, e
    if e["connection_state"] != "ESTABLISHED":
        assert e["time_since_established"] == 0, e
    return e


def check_routes_body(body, nb_path, established=True):
    """NSX's BgpNeighborRouteDetails list: one result with both spellings of edge_node_routes,
    an entry per edge of the active/standby pair, the routes on the active one."""
    assert body["result_count"] == 1 and len(body["results"]) == 1, body
    res = body["results"][0]
    assert res["neighbor_path"] == nb_path, res
    assert res["enforcement_point_path"] == rt.EP_PATH, res
    enr = res["edge_node_routes"]
    assert res["egde_node_routes"] == enr, "egde_node_routes must equal edge_node_routes"
    assert len(enr) == 2, enr
    assert enr[0]["transport_node_id"] and enr[1]["transport_node_id"], enr
    assert enr[0]["transport_node_id"] != enr[1]["transport_node_id"], enr
    assert enr[1]["routes"] == [], "the standby edge holds no BGP routes: %r" % enr[1]
    for r in enr[0]["routes"]:
        ipaddress.ip_network(r["network"])
        for k in ("local_pref", "med", "weight"):
            assert rt.is_int(r[k]), (k, r)
        assert isinstance(r["as_path"], str) and isinstance(r["next_hop"], str), r
    return enr[0]


def setup_bgp(x, peer_def=None, nb_over=None, sess_over=None, in_filter=None, out_filter=None):
    """A route-based session (fresh /30), its peer (optionally defined), and a BGP neighbor at
    the peer's end of the /30."""
    peer = nsx.peer_ip()
    if peer_def is not None:
        x.put_peer(peer, peer_def)
    s = x.route_session(peer=peer, **(sess_over or {}))
    nb = x.neighbor(s["neighbor"], in_filter=in_filter, out_filter=out_filter,
                    **(nb_over or {}))
    return s, nb


def announce(*nets, as_path="65006 65010", med=0):
    return [{"network": n, "as_path": as_path, "med": med} for n in nets]


# ---------------------------------------------------------------------------------------------
# FSM

def test_established_status_fields(fresh_server):
    """Mirror peer: ESTABLISHED once the tunnel is up; every field of the seed's sample."""
    x = RT(fresh_server)
    s, nb = setup_bgp(x, nb_over={"keep_alive_time": 20, "hold_down_time": 90})
    x.advance(2000)
    body = x.bgp_all()
    assert body["result_count"] == len(body["results"]) == 1, body
    e = check_bgp_entry(x.bgp(nb["address"]))
    assert e["connection_state"] == "ESTABLISHED", e
    assert e["neighbor_address"] == s["neighbor"] and e["source_address"] == s["local"], e
    assert e["remote_as_number"] == "65006", e
    assert (e["hold_time"], e["keep_alive_interval"]) == (90, 20), e
    assert (e["established_connection_count"], e["connection_drop_count"]) == (1, 0), e
    assert e["neighbor_router_id"] != "0.0.0.0", e
    # the mirror announces nothing; the SDDC advertises its networks (no out filter)
    assert (e["total_in_prefix_count"], e["total_out_prefix_count"]) == (0, 3), e
    t0, m0 = e["time_since_established"], e["messages_sent"]
    x.advance(100_000)
    e = x.bgp(nb["address"])
    assert e["time_since_established"] == t0 + 100, (t0, e)
    assert e["messages_sent"] > m0 and e["messages_received"] > 0, e


def test_established_timing(fresh_server):
    """Tunnel UP at +SIM_IKE_NEGOTIATE_MS, ESTABLISHED SIM_BGP_OPEN_MS later, not before."""
    x = RT(fresh_server)
    s, nb = setup_bgp(x)
    assert x.bgp(nb["address"])["connection_state"] != "ESTABLISHED"
    x.advance(UP_MS - 1)
    assert x.state(s["id"])[0] == "UP"
    assert x.bgp(nb["address"])["connection_state"] in ("CONNECT", "ACTIVE", "OPEN_SENT",
                                                         "OPEN_CONFIRM")
    x.advance(1)
    assert x.bgp(nb["address"])["connection_state"] == "ESTABLISHED"


def test_mirror_uses_neighbor_password(fresh_server):
    """The mirror speaker has the neighbor's remote AS and password: a password alone does not
    stop the session."""
    x = RT(fresh_server)
    _, nb = setup_bgp(x, nb_over={"password": "nbr-Secret-1"})
    x.advance(2000)
    assert x.bgp(nb["address"])["connection_state"] == "ESTABLISHED"


@pytest.mark.parametrize("case", [
    ("password", {"password": "nbr-Secret-1"}, {"as": "65006", "password": "peer-Secret-2"}),
    ("password-missing-on-peer", {"password": "nbr-Secret-1"}, {"as": "65006", "password": ""}),
    ("password-only-on-peer", {}, {"as": "65006", "password": "peer-Secret-2"}),
    ("as", {}, {"as": "65099"}),
], ids=lambda c: c[0])
def test_bgp_mismatch_active(make_server, case):
    """Password or AS mismatch: the session never reaches ESTABLISHED (ACTIVE, retrying); no
    routes are learned although the peer announces some; fixing the peer recovers."""
    _, nb_over, bgp = case
    x = RT(make_server())
    nets = ["10.60.0.0/16", "10.61.0.0/16"]
    s, nb = setup_bgp(x, peer_def={"bgp": dict(bgp, announce=announce(*nets))}, nb_over=nb_over)
    for step in (2000, rt.BGP_RETRY_MS * 3):
        x.advance(step)
        assert x.state(s["id"])[0] == "UP"
        e = check_bgp_entry(x.bgp(nb["address"]))
        assert e["connection_state"] == "ACTIVE", e
        assert e["established_connection_count"] == 0, e
        assert e["total_in_prefix_count"] == 0, e
        assert x.route_nets(nb["id"]) == [] and x.route_nets(nb["id"], advertised=True) == []
    fixed = {"as": "65006", "announce": announce(*nets)}
    if "password" in nb_over:
        fixed["password"] = nb_over["password"]
    x.put_peer(s["peer"], {"bgp": fixed})
    x.advance(rt.BGP_RETRY_MS + rt.BGP_OPEN_MS + 1000)
    e = x.bgp(nb["address"])
    assert e["connection_state"] == "ESTABLISHED", e
    assert x.route_nets(nb["id"]) == nets


@pytest.mark.parametrize("peer_as,state", [("65546", "ESTABLISHED"), ("1.10", "ESTABLISHED"),
                                           ("65010", "ACTIVE")])
def test_asdot_remote_as(make_server, peer_as, state):
    """remote_as_num "1.10" (asdot) is AS 65546 (asplain): the same speaker."""
    x = RT(make_server())
    _, nb = setup_bgp(x, peer_def={"bgp": {"as": peer_as}}, nb_over={"remote_as_num": "1.10"})
    x.advance(2000)
    e = x.bgp(nb["address"])
    assert e["connection_state"] == state, e
    assert e["remote_as_number"] == "1.10", e


def test_neighbor_deleted(fresh_server):
    x = RT(fresh_server)
    _, nb = setup_bgp(x)
    _, nb2 = setup_bgp(x)
    x.advance(2000)
    assert x.bgp_all()["result_count"] == 2
    expect(fresh_server.delete(nb["path"]), 200)
    body = x.bgp_all()
    assert [e["neighbor_address"] for e in body["results"]] == [nb2["address"]], body
    assert body["result_count"] == 1
    expect_error(fresh_server.get(nb["path"] + "/routes"), 404)
    expect_error(x.srv.get("/infra/realized-state/status", params={"intent_path": nb["path"]}),
                 404)
    assert x.bgp(nb2["address"])["connection_state"] == "ESTABLISHED"


def test_no_matching_session_idle(fresh_server):
    """A neighbor no session's tunnel subnet contains stays IDLE."""
    x = RT(fresh_server)
    x.route_session()                          # another /30
    nb = x.neighbor("169.254.199.1")
    x.advance(2000)
    e = check_bgp_entry(x.bgp(nb["address"]))
    assert e["connection_state"] == "IDLE", e
    x.advance(60_000)
    e = x.bgp(nb["address"])
    assert e["connection_state"] == "IDLE" and e["established_connection_count"] == 0, e
    assert x.route_nets(nb["id"], advertised=True) == []
    # a session whose VTI contains it appears: the neighbor binds and comes up
    local, nbr, _ = ("169.254.199.2", "169.254.199.1", "169.254.199.0")
    x.route_session(vti=(local, nbr, None))
    x.advance(2000)
    assert x.bgp(nb["address"])["connection_state"] == "ESTABLISHED"


@pytest.mark.parametrize("how", ["psk", "disabled", "unreachable"])
def test_session_down_not_established(make_server, how):
    x = RT(make_server())
    peer_def = {"psk": "other-psk-1"} if how == "psk" else \
        {"reachable": False} if how == "unreachable" else None
    over = {"enabled": False} if how == "disabled" else None
    s, nb = setup_bgp(x, peer_def=peer_def, sess_over=over)
    x.advance(30_000)
    assert x.state(s["id"])[0] == "DOWN"
    e = x.bgp(nb["address"])
    assert e["connection_state"] in ("IDLE", "CONNECT", "ACTIVE"), e
    assert e["established_connection_count"] == 0, e


def test_hold_timer_expiry(fresh_server):
    """Peer unreachable: nothing is heard from it any more, so BGP's hold timer (90 s) runs from
    the start of the outage, not from the tunnel's end; the session goes down through DPD
    (10 s x 3) meanwhile. BGP stays ESTABLISHED until outage start + hold_down_time, then IDLE
    with connection_drop_count 1. When the peer is back, the session and BGP come back
    (established_connection_count 2)."""
    x = RT(fresh_server)
    dpd = x.dpd(10, 3)
    nets = ["10.70.0.0/16"]
    s, nb = setup_bgp(x, peer_def={"bgp": {"as": "65006", "announce": announce(*nets)}},
                      sess_over={"dpd_profile_path": dpd},
                      nb_over={"keep_alive_time": 30, "hold_down_time": 90})
    x.advance(2000)
    assert x.bgp(nb["address"])["connection_state"] == "ESTABLISHED"
    x.put_peer(s["peer"], {"reachable": False, "bgp": {"as": "65006",
                                                       "announce": announce(*nets)}})
    x.advance(30_000)
    assert x.state(s["id"])[0::2] == ("DOWN", rt.FR_DPD)
    x.advance(59_999)
    e = x.bgp(nb["address"])
    assert e["connection_state"] == "ESTABLISHED", "hold timer fired early: %r" % e
    assert e["connection_drop_count"] == 0, e
    assert x.route_nets(nb["id"]) == nets, "routes are kept until the hold timer expires"
    x.advance(1)
    e = check_bgp_entry(x.bgp(nb["address"]))
    assert e["connection_state"] == "IDLE", e
    assert (e["connection_drop_count"], e["established_connection_count"]) == (1, 1), e
    assert e["total_in_prefix_count"] == 0 and x.route_nets(nb["id"]) == [], e
    # the peer comes back
    x.put_peer(s["peer"], {"reachable": True, "bgp": {"as": "65006",
                                                      "announce": announce(*nets)}})
    x.advance(2 * (rt.IKE_RETRY_MS + rt.NEGOTIATE_MS) + rt.BGP_OPEN_MS + 1000)
    assert x.state(s["id"])[0] == "UP"
    e = x.bgp(nb["address"])
    assert e["connection_state"] == "ESTABLISHED", e
    assert (e["connection_drop_count"], e["established_connection_count"]) == (1, 2), e
    assert x.route_nets(nb["id"]) == nets


def dead_peer_setup(x, dpd_enabled=True):
    """A session with the default DPD profile (60 s x 5) or DPD disabled, a neighbor with hold
    180 s / keepalive 60 s learning one route; ESTABLISHED when this returns."""
    over = {}
    if not dpd_enabled:
        dpd = nsx.DPD + "/" + nsx.uid("dpd-off")
        x.srv.create(dpd, nsx.dpd_body(enabled=False))
        over["dpd_profile_path"] = dpd
    nets = ["10.70.0.0/16"]
    s, nb = setup_bgp(x, peer_def={"bgp": {"as": "65006", "announce": announce(*nets)}},
                      sess_over=over)
    x.advance(2000)
    e = x.bgp(nb["address"])
    assert e["connection_state"] == "ESTABLISHED" and e["total_in_prefix_count"] == 1, e
    return s, nb, nets


def reach(x, s, nets, on):
    x.put_peer(s["peer"], {"reachable": on, "bgp": {"as": "65006",
                                                    "announce": announce(*nets)}})


@pytest.mark.parametrize("dpd_enabled", [True, False], ids=["dpd-60x5", "dpd-disabled"])
def test_dead_peer_drops_bgp_at_hold(make_server, dpd_enabled):
    """A real edge: the peer's keepalives stop when it becomes unreachable, so BGP drops at
    outage start + hold_down_time (180 s) while IPsec is still UP (DPD, if enabled, only
    notices at 300 s). Learned routes are withdrawn; received messages stop counting."""
    x = RT(make_server())
    s, nb, nets = dead_peer_setup(x, dpd_enabled)
    reach(x, s, nets, False)
    before = x.bgp(nb["address"])
    x.advance(179_999)
    e = x.bgp(nb["address"])
    assert e["connection_state"] == "ESTABLISHED", e
    assert e["messages_received"] == before["messages_received"], (before, e)
    assert e["messages_sent"] > before["messages_sent"], (before, e)
    assert x.route_nets(nb["id"]) == nets
    x.advance(1)
    e = check_bgp_entry(x.bgp(nb["address"]))
    assert e["connection_state"] == "IDLE", e
    assert (e["connection_drop_count"], e["established_connection_count"]) == (1, 1), e
    assert e["total_in_prefix_count"] == 0 and x.route_nets(nb["id"]) == [], e
    assert e["messages_received"] == before["messages_received"], (before, e)
    assert x.state(s["id"]) == ("UP", "UP", ""), "IPsec has not noticed yet"
    x.advance(120_000 - 1)                      # outage start + 300 s - 1
    assert x.state(s["id"])[0] == "UP"
    x.advance(1)
    if dpd_enabled:
        assert x.state(s["id"])[0::2] == ("DOWN", rt.FR_DPD)
    else:
        assert x.state(s["id"])[0] == "UP"
    e = x.bgp(nb["address"])
    assert e["connection_state"] == "IDLE" and e["connection_drop_count"] == 1, e


def test_outage_shorter_than_hold_keeps_bgp(make_server):
    """An outage shorter than hold_down_time (and than DPD) keeps the BGP session; so does a
    flapping peer whose outages are shorter than the hold time (over an hour: a long token)."""
    x = RT(make_server(["--token-ttl", "864000"]))
    s, nb, nets = dead_peer_setup(x)
    reach(x, s, nets, False)
    x.advance(179_999)
    reach(x, s, nets, True)
    x.advance(600_000)
    e = x.bgp(nb["address"])
    assert e["connection_state"] == "ESTABLISHED", e
    assert (e["connection_drop_count"], e["established_connection_count"]) == (0, 1), e
    x.put_peer(s["peer"], {"faults": {"flap_period_ms": 100_000},
                           "bgp": {"as": "65006", "announce": announce(*nets)}})
    x.advance(3_600_000)
    e = x.bgp(nb["address"])
    assert e["connection_state"] == "ESTABLISHED", e
    assert (e["connection_drop_count"], e["established_connection_count"]) == (0, 1), e
    assert x.state(s["id"])[0] == "UP"


def test_bgp_reconnects_when_peer_returns(fresh_server):
    """Dropped at 180 s, the peer back at 200 s with the tunnel still UP (DPD would fire at
    300 s): CONNECT at once, ESTABLISHED BGP_OPEN_MS later, routes learned again."""
    x = RT(fresh_server)
    s, nb, nets = dead_peer_setup(x)
    reach(x, s, nets, False)
    x.advance(180_000)
    assert x.bgp(nb["address"])["connection_state"] == "IDLE"
    x.advance(20_000)
    reach(x, s, nets, True)
    assert x.bgp(nb["address"])["connection_state"] == "CONNECT"
    x.advance(rt.BGP_OPEN_MS - 1)
    assert x.bgp(nb["address"])["connection_state"] == "CONNECT"
    x.advance(1)
    e = x.bgp(nb["address"])
    assert e["connection_state"] == "ESTABLISHED", e
    assert (e["connection_drop_count"], e["established_connection_count"]) == (1, 2), e
    assert x.route_nets(nb["id"]) == nets
    assert x.state(s["id"]) == ("UP", "UP", ""), "the tunnel never went down"


def test_tunnel_back_before_hold_expiry(fresh_server):
    """A tunnel that comes back before the hold timer runs out keeps the BGP session."""
    x = RT(fresh_server)
    dpd = x.dpd(3, 1)
    s, nb = setup_bgp(x, sess_over={"dpd_profile_path": dpd})
    x.advance(2000)
    x.put_peer(s["peer"], {"reachable": False})
    x.advance(3000)
    assert x.state(s["id"])[0] == "DOWN"
    x.put_peer(s["peer"], {"reachable": True})
    x.advance(2 * (rt.IKE_RETRY_MS + rt.NEGOTIATE_MS) + 500)     # well within 180 s
    assert x.state(s["id"])[0] == "UP"
    e = x.bgp(nb["address"])
    assert e["connection_state"] == "ESTABLISHED", e
    assert (e["connection_drop_count"], e["established_connection_count"]) == (0, 1), e


# ---------------------------------------------------------------------------------------------
# routes

def test_learned_and_advertised_routes(fresh_server):
    """Learned = the peer's announcements through the in filter (a DENY entry keeps one prefix
    out, a PERMIT le passes the rest); advertised = the SDDC networks (no out filter: all)."""
    x = RT(fresh_server)
    pl = x.prefix_list([{"network": "10.1.1.0/24", "action": "DENY"},
                        {"network": "10.0.0.0/8", "action": "PERMIT", "le": 24}])
    ann = [{"network": "10.1.0.0/16", "as_path": "65006 65010", "med": 10},
           {"network": "10.1.1.0/24", "as_path": "65006", "med": 0},
           {"network": "10.2.0.0/16", "as_path": "65006 65020 65030", "med": 20},
           {"network": "10.3.3.0/24", "as_path": "65006", "med": 30},
           {"network": "10.4.4.128/25", "as_path": "65006", "med": 40},
           {"network": "172.16.0.0/12", "as_path": "65006", "med": 50}]
    s, nb = setup_bgp(x, peer_def={"bgp": {"as": "65006", "announce": ann}}, in_filter=pl)
    x.advance(2000)
    e = x.bgp(nb["address"])
    assert e["connection_state"] == "ESTABLISHED", e
    assert (e["total_in_prefix_count"], e["total_out_prefix_count"]) == (3, 3), e

    edge = check_routes_body(x.routes(nb["id"]), nb["path"])
    assert edge["source_address"] == s["local"], edge
    got = {r["network"]: r for r in edge["routes"]}
    assert sorted(got) == ["10.1.0.0/16", "10.2.0.0/16", "10.3.3.0/24"], sorted(got)
    for a in ann:
        if a["network"] in got:
            r = got[a["network"]]
            assert (r["as_path"], r["med"], r["next_hop"]) == \
                (a["as_path"], a["med"], s["neighbor"]), r

    edge = check_routes_body(x.routes(nb["id"], advertised=True), nb["path"])
    assert sorted(r["network"] for r in edge["routes"]) == sorted(rt.DEFAULT_ADVERTISE)
    for r in edge["routes"]:
        ipaddress.IPv4Address(r["next_hop"])

    # the prefix list changes: the neighbor that uses it is re-derived
    expect(fresh_server.patch(pl, {"prefixes": [
        {"network": "10.0.0.0/8", "action": "PERMIT", "ge": 24}]}), 200)
    x.advance(2000)
    assert x.route_nets(nb["id"]) == ["10.1.1.0/24", "10.3.3.0/24", "10.4.4.128/25"]
    assert x.bgp(nb["address"])["total_in_prefix_count"] == 3
    # the neighbor drops the filter: everything
    expect(fresh_server.patch(nb["path"], {"route_filtering": [
        {"enabled": True, "address_family": "IPV4"}]}), 200)
    x.advance(2000)
    assert len(x.route_nets(nb["id"])) == len(ann)


def test_as_path_loop_prevention(fresh_server):
    """A learned path with the SDDC's own AS (65000) is dropped unless allow_as_in."""
    x = RT(fresh_server)
    ann = [{"network": "10.80.0.0/16", "as_path": "65006 65000 65010", "med": 0},
           {"network": "10.81.0.0/16", "as_path": "65006 65010", "med": 0}]
    s, nb = setup_bgp(x, peer_def={"bgp": {"as": "65006", "announce": ann}})
    x.advance(2000)
    assert x.route_nets(nb["id"]) == ["10.81.0.0/16"]
    expect(fresh_server.patch(nb["path"], {"allow_as_in": True}), 200)
    x.advance(2000)
    assert x.route_nets(nb["id"]) == ["10.80.0.0/16", "10.81.0.0/16"]


@pytest.mark.parametrize("case", [
    ("none", None, rt.DEFAULT_ADVERTISE),
    ("permit-le", [{"network": "10.2.0.0/16", "action": "PERMIT", "le": 24}],
     ["10.2.0.0/24", "10.2.32.0/20"]),
    ("deny-then-any", [{"network": "192.168.0.0/16", "action": "DENY", "le": 32},
                       {"network": "ANY", "action": "PERMIT"}], ["10.2.0.0/24", "10.2.32.0/20"]),
    ("exact", [{"network": "10.2.32.0/20", "action": "PERMIT"}], ["10.2.32.0/20"]),
    ("implicit-deny", [{"network": "172.16.0.0/12", "action": "PERMIT", "le": 32}], []),
], ids=lambda c: c[0])
def test_advertised_through_out_filter(make_server, case):
    _, prefixes, want = case
    x = RT(make_server())
    out = x.prefix_list(prefixes) if prefixes else None
    _, nb = setup_bgp(x, out_filter=out)
    x.advance(2000)
    assert x.route_nets(nb["id"], advertised=True) == sorted(want), x.bgp(nb["address"])
    assert x.bgp(nb["address"])["total_out_prefix_count"] == len(want)


def test_advertise_flag(make_server):
    """--advertise sets the SDDC networks announced to every neighbor."""
    x = RT(make_server(["--advertise", "172.20.0.0/16,10.9.0.0/24"]))
    out = x.prefix_list([{"network": "172.16.0.0/12", "action": "PERMIT", "le": 24}])
    _, nb1 = setup_bgp(x)
    _, nb2 = setup_bgp(x, out_filter=out)
    x.advance(2000)
    assert x.route_nets(nb1["id"], advertised=True) == ["10.9.0.0/24", "172.20.0.0/16"]
    assert x.route_nets(nb2["id"], advertised=True) == ["172.20.0.0/16"]


def test_routes_unknown_neighbor_404(fresh_server):
    RT(fresh_server)
    for tail in ("/routes", "/advertised-routes"):
        expect_error(fresh_server.get(nsx.NB + "/nope" + tail), 404)
        expect_error(fresh_server.get(nsx.NB + "/nope" + tail, params={"format": "csv"}), 404)


# ---------------------------------------------------------------------------------------------
# CSV

def parse_csv(r):
    assert r.status_code == 200, nsx.describe(r)
    assert r.headers["Content-Type"].split(";")[0].strip() == "text/csv", r.headers
    text = r.content.decode("utf-8")
    assert text.endswith("\r\n"), repr(text[-40:])
    lines = text.split("\r\n")[:-1]
    assert "\n" not in "".join(lines).replace("\r\n", ""), "bare LF line ends: %r" % text[:200]
    assert lines[0] == rt.CSV_HEADER, lines[0]
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return text, rows


@pytest.mark.parametrize("advertised", [False, True], ids=["routes", "advertised-routes"])
def test_routes_csv(fresh_server, advertised):
    """?format=csv (GET and POST): text/csv, the spec's CSV record columns, CRLF lines, one
    record per route, quoting where a field needs it (the neighbor id here)."""
    x = RT(fresh_server)
    ann = [{"network": "10.90.%d.0/24" % i, "as_path": "65006 6510%d" % i, "med": i}
           for i in range(5)]
    peer = nsx.peer_ip()
    x.put_peer(peer, {"bgp": {"as": "65006", "announce": ann}})
    s = x.route_session(peer=peer)
    nid = 'nb,"%s"' % nsx.uid("csv")                  # needs quoting in CSV
    nb = x.neighbor(s["neighbor"], nid=nid)
    x.advance(2000)
    tail = "/advertised-routes" if advertised else "/routes"
    url = nsx.NB + "/" + nid + tail
    edge = check_routes_body(fresh_server.get_json(url), nb["path"])
    r_get = fresh_server.get(url, params={"format": "csv"})
    r_post = fresh_server.api("POST", url, params={"format": "csv"})
    text, rows = parse_csv(r_get)
    assert parse_csv(r_post)[0] == text, "GET and POST ?format=csv differ"
    quoted = '"nb,""' + nid[4:-1] + '"""'
    assert quoted in text, "neighbor id not quoted as RFC 4180 wants: %r" % text[:400]
    assert len(rows) == len(edge["routes"]) == (3 if advertised else 5), rows
    by_net = {r["network"]: r for r in edge["routes"]}
    lrids = set()
    for row in rows:
        j = by_net[row["network"]]
        assert row["neighbor_id"] == nid, row
        assert row["neighbor_address"] == s["neighbor"], row
        assert row["as_path"] == j["as_path"] and row["next_hop"] == j["next_hop"], (row, j)
        assert (int(row["med"]), int(row["local_pref"]), int(row["weight"])) == \
            (j["med"], j["local_pref"], j["weight"]), (row, j)
        assert row["source_address"] == edge["source_address"], row
        assert row["transport_node_id"] == edge["transport_node_id"], row
        assert row["logical_router_id"], row
        lrids.add(row["logical_router_id"])
    assert len(lrids) == 1, lrids
    # POST without format=csv: 400
    expect_error(fresh_server.api("POST", url), 400)


def test_routes_csv_empty(fresh_server):
    """No routes (not established): the header line alone."""
    x = RT(fresh_server)
    nb = x.neighbor("169.254.198.1")
    x.advance(2000)
    for tail in ("/routes", "/advertised-routes"):
        for method in ("GET", "POST"):
            r = fresh_server.api(method, nsx.NB + "/" + nb["id"] + tail,
                                 params={"format": "csv"})
            text, rows = parse_csv(r)
            assert text == rt.CSV_HEADER + "\r\n" and rows == [], text
        check_routes_body(fresh_server.get_json(nsx.NB + "/" + nb["id"] + tail), nb["path"])


def test_bgp_views_auditor(fresh_server):
    """Runtime views are readable by an auditor (CSV POST included: it is a read)."""
    x = RT(fresh_server)
    _, nb = setup_bgp(x)
    x.advance(2000)
    aud = fresh_server.token("bgp-auditor", "auditor")
    expect(fresh_server.get(nsx.NB + "/status", token=aud), 200)
    expect(fresh_server.get(nsx.NB + "/" + nb["id"] + "/routes", token=aud), 200)
    r = fresh_server.api("POST", nsx.NB + "/" + nb["id"] + "/advertised-routes",
                         params={"format": "csv"}, token=aud)
    expect(r, 200)


# ---------------------------------------------------------------------------------------------
# prefix-list cases through the API, against known FRR results (`ip prefix-list`: entries in
# order, first match wins; no ge/le = exact length; le/ge bound the route's length; `any`;
# implicit deny). One server for the table: every case gets its own session, peer and neighbor,
# all set up at one frozen instant; the tests only read.

ANNOUNCED = ["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24", "10.1.1.0/26",
             "10.1.1.0/27", "10.1.1.1/32", "10.1.1.128/25", "10.2.0.0/16", "10.2.3.0/24",
             "10.2.3.128/25", "11.0.0.0/8", "172.16.0.0/12", "172.16.5.0/24",
             "192.168.0.0/16", "192.168.5.0/24", "192.168.5.0/28", "192.168.5.0/29",
             "192.168.7.0/30"]

P, D = "PERMIT", "DENY"


def e(network, action=P, ge=None, le=None):
    out = {"network": network, "action": action}
    if ge is not None:
        out["ge"] = ge
    if le is not None:
        out["le"] = le
    return out


# (id, prefixes (None: no filter), the learned set FRR gives for ANNOUNCED)
FRR_CASES = [
    ("no-filter", None, ANNOUNCED),
    ("exact", [e("10.1.0.0/16")], ["10.1.0.0/16"]),
    ("exact-default-route", [e("0.0.0.0/0")], ["0.0.0.0/0"]),
    ("le", [e("10.0.0.0/8", le=24)],
     ["10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24", "10.2.0.0/16", "10.2.3.0/24"]),
    ("seed-example-le-26", [e("10.0.0.0/8", le=26)],
     ["10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24", "10.1.1.0/26", "10.1.1.128/25",
      "10.2.0.0/16", "10.2.3.0/24", "10.2.3.128/25"]),
    ("ge", [e("10.0.0.0/8", ge=25)],
     ["10.1.1.0/26", "10.1.1.0/27", "10.1.1.1/32", "10.1.1.128/25", "10.2.3.128/25"]),
    ("ge-equal-length", [e("10.1.0.0/16", ge=16)],
     ["10.1.0.0/16", "10.1.1.0/24", "10.1.1.0/26", "10.1.1.0/27", "10.1.1.1/32",
      "10.1.1.128/25"]),
    ("ge-le", [e("192.168.0.0/16", ge=24, le=28)], ["192.168.5.0/24", "192.168.5.0/28"]),
    ("le-on-24", [e("192.168.5.0/24", le=29)],
     ["192.168.5.0/24", "192.168.5.0/28", "192.168.5.0/29"]),
    ("default-le-32", [e("0.0.0.0/0", le=32)], ANNOUNCED),
    ("any-permit", [e("ANY")], ANNOUNCED),
    ("any-deny", [e("ANY", D)], []),
    ("deny-before-permit", [e("10.1.0.0/16", D, le=32), e("10.0.0.0/8", le=32)],
     ["10.0.0.0/8", "10.2.0.0/16", "10.2.3.0/24", "10.2.3.128/25"]),
    ("permit-before-deny", [e("10.0.0.0/8", le=32), e("10.1.0.0/16", D, le=32)],
     ["10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24", "10.1.1.0/26", "10.1.1.0/27",
      "10.1.1.1/32", "10.1.1.128/25", "10.2.0.0/16", "10.2.3.0/24", "10.2.3.128/25"]),
    ("deny-exact-then-any", [e("10.1.1.0/24", D), e("ANY")],
     [n for n in ANNOUNCED if n != "10.1.1.0/24"]),
    ("implicit-deny", [e("172.16.0.0/12")], ["172.16.0.0/12"]),
    ("deny-only", [e("10.0.0.0/8", D, le=32)], []),
    ("docs-worked-example", [e("10.1.0.0/16", D, le=32), e("10.0.0.0/8", le=24),
                             e("192.168.0.0/16", ge=24, le=28), e("ANY", D)],
     ["10.0.0.0/8", "10.2.0.0/16", "10.2.3.0/24", "192.168.5.0/24", "192.168.5.0/28"]),
    ("several-permits", [e("11.0.0.0/8"), e("172.16.0.0/12", ge=24), e("192.168.7.0/24", le=30)],
     ["11.0.0.0/8", "172.16.5.0/24", "192.168.7.0/30"]),
]


@pytest.fixture(scope="module")
def frr_table(tmp_path_factory):
    from conftest import Vpnd, _finish
    srv = Vpnd(tmp_path_factory.mktemp("vpnd-frr"))
    srv.start()
    x = RT(srv)
    ann = [{"network": n, "as_path": "65006", "med": 0} for n in ANNOUNCED]
    made = {}
    for cid, prefixes, _ in FRR_CASES:
        pl = x.prefix_list(prefixes, plid="frr-" + cid) if prefixes else None
        _, nb = setup_bgp(x, peer_def={"bgp": {"as": "65006", "announce": ann}}, in_filter=pl)
        made[cid] = nb
    x.advance(2000)
    yield x, made
    _finish(srv)


@pytest.mark.parametrize("case", FRR_CASES, ids=[c[0] for c in FRR_CASES])
def test_prefix_list_frr_table(frr_table, case):
    cid, _, want = case
    x, made = frr_table
    nb = made[cid]
    e_ = x.bgp(nb["address"])
    assert e_["connection_state"] == "ESTABLISHED", e_
    got = x.route_nets(nb["id"])
    assert got == sorted(want), "learned %r, FRR gives %r" % (got, sorted(want))
    assert e_["total_in_prefix_count"] == len(want)
