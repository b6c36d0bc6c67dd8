"""Helpers for the runtime-plane tests (issue 4): the emulator API, the virtual clock, and the
NSX runtime views (detailed-status, statistics, summary, BGP status, routes, realized state).

The contract these helpers and the tests follow:
  - src/realize/sim.h: the simulated peers (mirror by default; emulator overrides), the fail
    reasons and the timings (SIM_IKE_NEGOTIATE_MS, SIM_IKE_RETRY_MS, SIM_BGP_OPEN_MS, ...);
  - issue 4 ("Runtime plane"): negotiation, DPD, tunnels, BGP FSM, filters, views;
  - the seed's Troubleshooting samples (../shared/seed/vmc-ipsec-vpn-api.txt): field sets.

Every runtime test runs on its own server (the virtual clock is process-global) and freezes
the clock first (RT(srv) does it), then advances it explicitly: no test sleeps for a timer.
"""
import nsx
from nsx import expect

EMU = "/emulator/api/v1"

# sim.h timings (virtual ms)
NEGOTIATE_MS = 300
IKE_RETRY_MS = 10000
BGP_OPEN_MS = 500
BGP_RETRY_MS = 5000

# sim.h fail reasons
FR_NO_PROPOSAL = "No proposal chosen"
FR_AUTH = "Authentication failed"
FR_TIMEOUT = "Peer not responding"
FR_DPD = "Peer not responding (DPD timeout)"
FR_VERSION = "IKE version mismatch"
FR_DISABLED = "Session is disabled"
FR_WAITING = "Waiting for the peer to initiate"
FR_ON_DEMAND = "Waiting for traffic (on-demand)"
FR_REKEY = "Rekey failed"
FR_TS = "Traffic selectors unacceptable"
FR_IKE_DOWN = "IKE SA is down"

EP_PATH = "/infra/sites/default/enforcement-points/vmc-enforcementpoint"
TIER0_PATH = "/infra/tier-0s/vmc"
DEFAULT_ADVERTISE = ["10.2.0.0/24", "10.2.32.0/20", "192.168.1.0/24"]

# The seed's samples, as field sets.
TRAFFIC6 = ["packets_in", "packets_out", "bytes_in", "bytes_out", "dropped_packets_in",
            "dropped_packets_out"]
# every counter of the seed's tunnel_statistics sample (14 + the 2 dropped ones)
COUNTERS16 = ["packets_in", "packets_out", "bytes_in", "bytes_out",
              "packets_received_other_error", "replay_errors", "integrity_failures",
              "decryption_failures", "packets_sent_other_error", "seq_number_overflow_error",
              "encryption_failures", "sa_mismatch_errors_in", "nomatching_policy_errors",
              "sa_mismatch_errors_out", "dropped_packets_in", "dropped_packets_out"]
TUNNEL_STATS_KEYS = set(COUNTERS16) | {"tunnel_status", "tunnel_down_reason", "peer_subnet",
                                       "local_subnet"}
DETAILED_KEYS = {"runtime_status", "ike_status", "total_tunnels", "negotiated_tunnels",
                 "failed_tunnels", "aggregate_traffic_counters", "last_update_timestamp",
                 "display_name", "enforcement_point_path", "resource_type"}
STATS_KEYS = {"ike_status", "policy_statistics", "aggregate_traffic_counters",
              "last_update_timestamp", "display_name", "enforcement_point_path", "resource_type"}
BGP_STATUS_KEYS = {"source_address", "local_port", "neighbor_address", "remote_port",
                   "remote_as_number", "connection_state", "messages_received", "messages_sent",
                   "time_since_established", "total_in_prefix_count", "total_out_prefix_count",
                   "address_families", "connection_drop_count", "established_connection_count",
                   "hold_time", "keep_alive_interval", "graceful_restart_mode",
                   "announced_capabilities", "negotiated_capability", "neighbor_router_id",
                   "tier0_path", "last_update_timestamp"}
BGP_STATES = {"IDLE", "CONNECT", "ACTIVE", "OPEN_SENT", "OPEN_CONFIRM", "ESTABLISHED"}
CSV_HEADER = ("as_path,local_pref,logical_router_id,med,neighbor_address,neighbor_id,network,"
              "next_hop,source_address,transport_node_id,weight")


def seed_ike(**over):
    """The seed's IKE profile: IKE_V2, AES_GCM_128, no digest, GROUP21."""
    b = {"resource_type": "IPSecVpnIkeProfile", "ike_version": "IKE_V2",
         "encryption_algorithms": ["AES_GCM_128"], "digest_algorithms": [],
         "dh_groups": ["GROUP21"], "sa_life_time": 86400}
    b.update(over)
    return b


def seed_tunnel(**over):
    """The seed's tunnel profile: AES_GCM_128, no digest, GROUP21, PFS, COPY, 3600 s."""
    b = {"resource_type": "IPSecVpnTunnelProfile", "encryption_algorithms": ["AES_GCM_128"],
         "digest_algorithms": [], "dh_groups": ["GROUP21"],
         "enable_perfect_forward_secrecy": True, "df_policy": "COPY", "sa_life_time": 3600}
    b.update(over)
    return b


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class RT:
    """One server under test, its clock frozen, plus shorthands for the runtime views."""

    def __init__(self, srv, freeze=True):
        self.srv = srv
        self.ike = self.tun = None
        if freeze:
            self.freeze()

    # ------------------------------------------------------------ clock
    def clock(self):
        r = self.srv.api("GET", EMU + "/clock", prefix="")
        expect(r, 200)
        return r.json()

    def freeze(self, on=True):
        r = self.srv.api("POST", EMU + "/clock", json={"freeze": on}, prefix="")
        expect(r, 200)
        body = r.json()
        assert body["frozen"] is on, body
        return body

    def settle(self):
        """Wait until every committed change is realized: any emulator call that reaches the
        backend settles first (rz_with_backend); GET peers is one."""
        expect(self.srv.api("GET", EMU + "/peers", prefix=""), 200)

    def advance(self, ms, check=True, settle=False):
        """Move the frozen clock forward by exactly ms; returns the new now_ms. POST clock
        itself realizes every change committed before it first (see
        test_runtime.py::test_clock_advance_is_ordered_after_writes), so no settle is needed."""
        if settle:
            self.settle()
        before = self.clock()["now_ms"] if check else None
        r = self.srv.api("POST", EMU + "/clock", json={"advance_ms": ms}, prefix="")
        expect(r, 200)
        body = r.json()
        assert body["frozen"] is True, "the clock must stay frozen: %r" % body
        if check:
            assert body["now_ms"] == before + ms, (before, ms, body)
        return body["now_ms"]

    def now(self):
        return self.clock()["now_ms"]

    # ------------------------------------------------------------ intent
    def profiles(self, ike=None, tun=None):
        """Create the seed's IKE and tunnel profiles (or the given bodies); returns paths."""
        self.ike = nsx.IKE + "/" + nsx.uid("ike")
        self.srv.create(self.ike, ike or seed_ike())
        self.tun = nsx.TUN + "/" + nsx.uid("tun")
        self.srv.create(self.tun, tun or seed_tunnel())
        return self.ike, self.tun

    def dpd(self, interval, retries, mode="PERIODIC"):
        path = nsx.DPD + "/" + nsx.uid("dpd")
        self.srv.create(path, nsx.dpd_body(dpd_probe_mode=mode, dpd_probe_interval=interval,
                                           retry_count=retries))
        return path

    def _paths(self, over):
        if self.ike is None:
            self.profiles()
        over.setdefault("ike_profile_path", self.ike)
        over.setdefault("tunnel_profile_path", self.tun)
        return over

    def route_session(self, sid=None, vti=None, peer=None, **over):
        """A route-based session with a fresh /30 VTI. Returns a dict: id, path, peer,
        local (the SDDC VTI address), neighbor (the peer's address in the /30), body."""
        sid = sid or nsx.uid("rs")
        local, nbr, _ = vti or nsx.vti_pair()
        peer = peer or nsx.peer_ip()
        body = nsx.route_session_body(vti=local, **self._paths(over))
        body["peer_address"] = peer
        body["peer_id"] = over.get("peer_id", peer)
        path = nsx.SES + "/" + sid
        created = self.srv.create(path, body)
        return {"id": sid, "path": path, "peer": peer, "local": local, "neighbor": nbr,
                "body": body, "obj": created}

    def policy_session(self, sid=None, rules=None, peer=None, **over):
        sid = sid or nsx.uid("ps")
        peer = peer or nsx.peer_ip()
        body = nsx.policy_session_body(**self._paths(over))
        if rules is not None:
            body["rules"] = rules
        body["peer_address"] = peer
        body["peer_id"] = over.get("peer_id", peer)
        path = nsx.SES + "/" + sid
        created = self.srv.create(path, body)
        return {"id": sid, "path": path, "peer": peer, "body": body, "obj": created}

    def prefix_list(self, prefixes, plid=None):
        plid = plid or nsx.uid("pl")
        path = nsx.PL + "/" + plid
        self.srv.create(path, {"resource_type": "PrefixList", "prefixes": prefixes})
        return path

    def neighbor(self, address, nid=None, in_filter=None, out_filter=None, **over):
        nid = nid or nsx.uid("nb")
        body = nsx.neighbor_body(address, **over)
        if in_filter or out_filter:
            rf = {"enabled": True, "address_family": "IPV4"}
            if in_filter:
                rf["in_route_filters"] = [in_filter]
            if out_filter:
                rf["out_route_filters"] = [out_filter]
            body["route_filtering"] = [rf]
        path = nsx.NB + "/" + nid
        self.srv.create(path, body)
        return {"id": nid, "path": path, "address": address, "body": body}

    # ------------------------------------------------------------ emulator
    def put_peer(self, addr, definition, status=200):
        r = self.srv.api("PUT", EMU + "/peers/" + addr, json=definition, prefix="")
        expect(r, status)
        return r

    def get_peer(self, addr):
        return self.srv.api("GET", EMU + "/peers/" + addr, prefix="")

    def traffic(self, sid, tunnel=0, status=200, **counters):
        body = dict(counters)
        body["tunnel"] = tunnel
        r = self.srv.api("POST", EMU + "/sessions/" + sid + "/traffic", json=body, prefix="")
        expect(r, status)
        return r

    # ------------------------------------------------------------ views
    def detailed(self, sid, full=False):
        r = self.srv.get(nsx.SES + "/" + sid + "/detailed-status")
        expect(r, 200)
        body = r.json()
        return body if full else body["results"][0]

    def stats(self, sid, full=False, **params):
        r = self.srv.get(nsx.SES + "/" + sid + "/statistics", params=params or None)
        expect(r, 200)
        body = r.json()
        return body if full else body["results"][0]

    def tunnels(self, sid):
        """Every tunnel_statistics entry of the session, in order."""
        out = []
        for ps in self.stats(sid)["policy_statistics"]:
            out.extend(ps["tunnel_statistics"])
        return out

    def reset(self, sid, action="reset", **kw):
        return self.srv.api("POST", nsx.SES + "/" + sid + "/statistics",
                            params={"action": action} if action is not None else None, **kw)

    def summary(self):
        return self.srv.get_json(nsx.SVC + "/summary")

    def bgp_all(self):
        return self.srv.get_json(nsx.NB + "/status")

    def bgp(self, address):
        res = self.bgp_all()["results"]
        hits = [e for e in res if e["neighbor_address"] == address]
        assert len(hits) == 1, "neighbor %s in BGP status: %r" % (address, res)
        return hits[0]

    def routes(self, nid, advertised=False):
        tail = "/advertised-routes" if advertised else "/routes"
        return self.srv.get_json(nsx.NB + "/" + nid + tail)

    def route_nets(self, nid, advertised=False):
        body = self.routes(nid, advertised)
        return sorted(r["network"] for r in body["results"][0]["edge_node_routes"][0]["routes"])

    def realized(self, path, status=200):
        r = self.srv.get("/infra/realized-state/status", params={"intent_path": path})
        expect(r, status)
        return r.json()

    # ------------------------------------------------------------ shorthands
    def state(self, sid):
        d = self.detailed(sid)
        return d["runtime_status"], d["ike_status"]["ike_session_state"], \
            d["ike_status"]["fail_reason"]
