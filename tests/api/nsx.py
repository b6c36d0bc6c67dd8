"""Shared constants, body builders and assertion helpers for the vpnd API tests.

Everything here follows docs/api.md (the decisions vpnd implements), the seed
(../shared/seed/vmc-ipsec-vpn-api.txt) and ../shared/docs/nsx-api-reference.md.
"""
import ipaddress
import itertools
import re
import threading
import time
import uuid

POLICY = "/policy/api/v1"
# The org and SDDC ids conftest starts every server with (--org/--sddc), so these prefixes resolve.
ORG = "2f3c-org-1"
SDDC = "9a1b-sddc-7"
RP_BASE = "/vmc/reverse-proxy/api/orgs/%s/sddcs/%s" % (ORG, SDDC)
PREFIX_SKS = RP_BASE + "/sks-nsxt-manager/policy/api/v1"
PREFIX_RP = RP_BASE + "/policy/api/v1"
ALL_PREFIXES = [POLICY, PREFIX_SKS, PREFIX_RP]

IKE = "/infra/ipsec-vpn-ike-profiles"
TUN = "/infra/ipsec-vpn-tunnel-profiles"
DPD = "/infra/ipsec-vpn-dpd-profiles"
T0 = "/infra/tier-0s/vmc"
LS = T0 + "/locale-services/default"
PL = T0 + "/prefix-lists"
BGP = LS + "/bgp"
NB = BGP + "/neighbors"
SVC = LS + "/ipsec-vpn-services/default"
SES = SVC + "/sessions"
LE = SVC + "/local-endpoints"
# Deprecated aliases (no /locale-services/default); objects always report the SVC form.
SVC_ALT = T0 + "/ipsec-vpn-services/default"
SES_ALT = SVC_ALT + "/sessions"
LE_ALT = SVC_ALT + "/local-endpoints"

DEFAULT_DPD = DPD + "/nsx-default-l3vpn-dpd-profile"
DEFAULT_IKE = IKE + "/nsx-default-l3vpn-ike-profile"
DEFAULT_TUN = TUN + "/nsx-default-l3vpn-tunnel-profile"
PUBLIC_IP1 = LE + "/Public-IP1"
PRIVATE_IP1 = LE + "/Private-IP1"

# Common server-set fields in the order docs/api.md says they are rendered.
COMMON_ORDER = ["resource_type", "id", "display_name", "description", "tags", "path",
                "relative_path", "parent_path", "unique_id", "realization_id",
                "marked_for_delete", "overridden", "_create_time", "_create_user",
                "_last_modified_time", "_last_modified_user", "_system_owned", "_protection",
                "_revision"]

HTTP_NAMES = {
    400: {"BAD_REQUEST"},
    401: {"UNAUTHORIZED"},
    403: {"FORBIDDEN"},
    404: {"NOT_FOUND"},
    405: {"METHOD_NOT_ALLOWED"},
    412: {"PRECONDITION_FAILED"},
    413: {"PAYLOAD_TOO_LARGE", "REQUEST_ENTITY_TOO_LARGE"},
    414: {"URI_TOO_LONG", "REQUEST_URI_TOO_LONG"},
    415: {"UNSUPPORTED_MEDIA_TYPE"},
    429: {"TOO_MANY_REQUESTS"},
    431: {"REQUEST_HEADER_FIELDS_TOO_LARGE"},
    503: {"SERVICE_UNAVAILABLE"},
}

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

EC_NOT_FOUND = 600
EC_DESERIALIZE = 287
EC_INVALID = 500012
EC_IN_USE = 500030
EC_SYSTEM_OWNED = 500041
EC_STALE = 604

_ids = itertools.count(1)
_ids_lock = threading.Lock()


def uid(prefix="t"):
    """A unique object id for this test run (tests share one server)."""
    with _ids_lock:
        n = next(_ids)
    return "%s-%d-%s" % (prefix, n, uuid.uuid4().hex[:6])


# /30 VTI subnets inside 169.254.160.0 - 169.254.189.255: clear of the seed's 169.254.151.0/30,
# of VMC's reserved ranges in the low part of 169.254.0.0/16, and of 190-199 (fixed test values).
_vti = itertools.count(0)


def vti_pair():
    """(local VTI address, peer/neighbor address, network) of a fresh /30."""
    with _ids_lock:
        n = next(_vti)
    third = 160 + (n // 64) % 30
    fourth = (n % 64) * 4
    net = "169.254.%d.%d" % (third, fourth)
    return ("169.254.%d.%d" % (third, fourth + 2), "169.254.%d.%d" % (third, fourth + 1), net)


_peer = itertools.count(1)


def peer_ip():
    with _ids_lock:
        n = next(_peer)
    return "203.0.%d.%d" % (113 + (n // 250) % 100, 1 + n % 250)


def now_ms():
    return int(time.time() * 1000)


# ---------------------------------------------------------------- body builders

def ike_body(**over):
    b = {"resource_type": "IPSecVpnIkeProfile", "ike_version": "IKE_V2",
         "encryption_algorithms": ["AES_128"], "digest_algorithms": ["SHA2_256"],
         "dh_groups": ["GROUP14"], "sa_life_time": 86400}
    b.update(over)
    return b


def tunnel_body(**over):
    b = {"resource_type": "IPSecVpnTunnelProfile", "encryption_algorithms": ["AES_GCM_128"],
         "digest_algorithms": [], "dh_groups": ["GROUP14"],
         "enable_perfect_forward_secrecy": True, "df_policy": "COPY", "sa_life_time": 3600}
    b.update(over)
    return b


def dpd_body(**over):
    b = {"resource_type": "IPSecVpnDpdProfile", "dpd_probe_mode": "PERIODIC",
         "dpd_probe_interval": 60, "retry_count": 5, "enabled": True}
    b.update(over)
    return b


def prefix_list_body(**over):
    b = {"resource_type": "PrefixList",
         "prefixes": [{"network": "10.0.0.0/8", "action": "PERMIT", "le": 26}]}
    b.update(over)
    return b


def neighbor_body(address=None, **over):
    if address is None:
        address = vti_pair()[1]
    b = {"resource_type": "BgpNeighborConfig", "neighbor_address": address,
         "remote_as_num": "65006", "keep_alive_time": 60, "hold_down_time": 180,
         "allow_as_in": False, "maximum_hop_limit": 1}
    b.update(over)
    return b


def route_session_body(vti=None, prefix_length=30, psk="test123456", **over):
    if vti is None:
        vti = vti_pair()[0]
    peer = peer_ip()
    b = {"resource_type": "RouteBasedIPSecVpnSession",
         "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [vti],
                                                "prefix_length": prefix_length}],
                                "resource_type": "IPSecVpnTunnelInterface",
                                "id": "default-tunnel-interface",
                                "display_name": "default-tunnel-interface"}],
         "enabled": True, "local_endpoint_path": PRIVATE_IP1, "authentication_mode": "PSK",
         "psk": psk, "ike_profile_path": DEFAULT_IKE, "tunnel_profile_path": DEFAULT_TUN,
         "dpd_profile_path": DEFAULT_DPD, "compliance_suite": "NONE",
         "connection_initiation_mode": "INITIATOR", "peer_address": peer, "peer_id": peer}
    b.update(over)
    return b


def rule(sources=("192.168.98.0/24",), destinations=("192.168.123.0/24",), rid="rule-1"):
    return {"sources": [{"subnet": s} for s in sources],
            "destinations": [{"subnet": d} for d in destinations],
            "logged": False, "enabled": True, "action": "PROTECT", "sequence_number": 0,
            "resource_type": "IPSecVpnRule", "id": rid, "display_name": rid}


def policy_session_body(psk="VMware12345", **over):
    peer = peer_ip()
    b = {"resource_type": "PolicyBasedIPSecVpnSession",
         "rules": [rule(("192.168.98.0/24", "10.2.1.140/32"), ("192.168.123.0/24",))],
         "enabled": True, "local_endpoint_path": PRIVATE_IP1, "authentication_mode": "PSK",
         "psk": psk, "ike_profile_path": DEFAULT_IKE, "tunnel_profile_path": DEFAULT_TUN,
         "dpd_profile_path": DEFAULT_DPD, "compliance_suite": "NONE",
         "connection_initiation_mode": "INITIATOR", "peer_address": peer, "peer_id": peer}
    b.update(over)
    return b


# ---------------------------------------------------------------- assertions

def body_json(r):
    """The response body as JSON, with a readable failure when it is not JSON."""
    try:
        return r.json()
    except ValueError:
        raise AssertionError("%s %s -> %d: body is not JSON: %r"
                             % (r.request.method, r.request.url[:200], r.status_code,
                                r.content[:300]))


def describe(r):
    return "%s %s -> %d %s" % (r.request.method, r.request.url[:200], r.status_code,
                               r.content[:600])


def expect(r, status):
    assert r.status_code == status, "expected %d: %s" % (status, describe(r))
    return r


def expect_empty(r, status=200):
    expect(r, status)
    assert r.content.strip() == b"", "expected an empty body: %s" % describe(r)


def error_text(err):
    """error_message plus every related error's message, for "names the field" checks."""
    parts = [str(err.get("error_message", ""))]
    for rel in err.get("related_errors") or []:
        parts.append(str(rel.get("error_message", "")))
    return "\n".join(parts)


def check_error_body(status, err, where=""):
    assert isinstance(err, dict), "error body is not an object%s: %r" % (where, err)
    names = HTTP_NAMES.get(status)
    assert "httpStatus" in err, "no httpStatus%s: %r" % (where, err)
    if names:
        assert err["httpStatus"] in names, "httpStatus %r for %d%s" % (err["httpStatus"], status, where)
    assert isinstance(err.get("error_code"), int), "error_code not an int%s: %r" % (where, err)
    assert isinstance(err.get("error_message"), str) and err["error_message"], \
        "no error_message%s: %r" % (where, err)
    rel = err.get("related_errors")
    if rel is not None:
        assert isinstance(rel, list)
        for e in rel:
            assert isinstance(e.get("error_message"), str) and e["error_message"]
            assert isinstance(e.get("error_code"), int)


def expect_error(r, status, error_code=None, fields=None, secrets=()):
    """Assert an NSX error JSON body. fields: substrings of which at least one must appear in the
    messages (the field the error names). secrets: strings that must not appear anywhere."""
    assert r.status_code == status, "expected %d: %s" % (status, describe(r))
    for s in secrets:
        assert s.encode() not in r.content, "secret echoed in error body: %s" % describe(r)
    ctype = r.headers.get("Content-Type", "")
    assert "json" in ctype, "error Content-Type %r: %s" % (ctype, describe(r))
    err = body_json(r)
    check_error_body(status, err, " in " + describe(r))
    if error_code is not None:
        codes = error_code if isinstance(error_code, (tuple, list, set)) else (error_code,)
        assert err["error_code"] in codes, "error_code %r not in %r: %s" % (
            err["error_code"], codes, describe(r))
    if fields:
        if isinstance(fields, str):
            fields = (fields,)
        text = error_text(err)
        assert any(f in text for f in fields), "message names none of %r: %r" % (fields, text)
    return err


def is_ip(s):
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def check_server_fields(obj, path, resource_type, parent_path, revision=None,
                        display_name=None, system_owned=False, t0=None, t1=None):
    """The server-set fields every object carries (docs/api.md, "Server-set fields")."""
    oid = path.rsplit("/", 1)[1]
    assert obj["id"] == oid, obj
    assert obj["resource_type"] == resource_type, obj
    assert obj["path"] == path, obj
    assert obj["relative_path"] == oid, obj
    assert obj["parent_path"] == parent_path, obj
    if display_name is not None:
        assert obj["display_name"] == display_name, obj
    elif system_owned:
        assert isinstance(obj.get("display_name"), str) and obj["display_name"], obj
    else:
        assert obj["display_name"] == oid, obj
    assert isinstance(obj.get("unique_id"), str) and UUID_RE.match(obj["unique_id"]), obj
    assert obj["marked_for_delete"] is False, obj
    assert obj["_system_owned"] is system_owned, obj
    if not system_owned:
        assert obj["_protection"] == "NOT_PROTECTED", obj
    assert isinstance(obj["_create_user"], str) and obj["_create_user"], obj
    assert isinstance(obj["_last_modified_user"], str) and obj["_last_modified_user"], obj
    for k in ("_create_time", "_last_modified_time", "_revision"):
        assert isinstance(obj[k], int) and not isinstance(obj[k], bool), (k, obj)
    # epoch milliseconds, not seconds or microseconds
    assert 1_500_000_000_000 < obj["_create_time"] < 4_000_000_000_000, obj
    assert obj["_last_modified_time"] >= obj["_create_time"], obj
    if t0 is not None:
        assert t0 - 5000 <= obj["_last_modified_time"] <= (t1 or now_ms()) + 5000, obj
    if revision is not None:
        assert obj["_revision"] == revision, obj


def assert_subset(expected, actual, where="$"):
    """Every field of expected is in actual with the same value (dicts recursively, lists
    element by element with equal length)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), "%s: expected an object, got %r" % (where, actual)
        for k, v in expected.items():
            assert k in actual, "%s.%s missing in %r" % (where, k, actual)
            assert_subset(v, actual[k], "%s.%s" % (where, k))
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), \
            "%s: expected %r, got %r" % (where, expected, actual)
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_subset(e, a, "%s[%d]" % (where, i))
    else:
        assert expected == actual and type(expected) == type(actual), \
            "%s: expected %r, got %r" % (where, expected, actual)


SECRET_FIELDS = ("psk", "password")


def without_secrets(body):
    return {k: v for k, v in body.items() if k not in SECRET_FIELDS}


class Kind:
    """One user-creatable object type: where it lives and a valid body for it."""

    def __init__(self, name, coll, rtype, parent, make, update, patch):
        self.name, self.coll, self.rtype, self.parent = name, coll, rtype, parent
        self.make = make            # () -> a fresh valid body (unique addresses where needed)
        self.update = update        # fields changed by a PUT replace
        self.patch = patch          # fields sent by a PATCH merge

    def path(self, oid):
        return self.coll + "/" + oid

    def __repr__(self):
        return self.name


KINDS = [
    Kind("ike", IKE, "IPSecVpnIkeProfile", "/infra", ike_body,
         {"sa_life_time": 28800}, {"dh_groups": ["GROUP19", "GROUP20"]}),
    Kind("tunnel", TUN, "IPSecVpnTunnelProfile", "/infra", tunnel_body,
         {"df_policy": "CLEAR"}, {"sa_life_time": 7200}),
    Kind("dpd", DPD, "IPSecVpnDpdProfile", "/infra", dpd_body,
         {"retry_count": 7}, {"dpd_probe_interval": 30}),
    Kind("prefix_list", PL, "PrefixList", T0, prefix_list_body,
         {"prefixes": [{"network": "192.168.0.0/16", "action": "DENY", "ge": 24, "le": 28},
                       {"network": "ANY", "action": "PERMIT"}]},
         {"prefixes": [{"network": "172.16.0.0/12", "action": "PERMIT"}]}),
    Kind("neighbor", NB, "BgpNeighborConfig", BGP, neighbor_body,
         {"remote_as_num": "65010"}, {"keep_alive_time": 30, "hold_down_time": 90}),
    Kind("route_session", SES, "RouteBasedIPSecVpnSession", SVC, route_session_body,
         {"enabled": False}, {"tcp_mss_clamping": {"direction": "BOTH", "max_segment_size": 1325}}),
    Kind("policy_session", SES, "PolicyBasedIPSecVpnSession", SVC, policy_session_body,
         {"connection_initiation_mode": "RESPOND_ONLY"},
         {"rules": [rule(("10.10.0.0/16",), ("10.20.0.0/16",), "r2")]}),
]
KIND = {k.name: k for k in KINDS}
