"""Validation: one negative test per rule, each on create (PUT and PATCH) and on update of an
existing object (PUT with the current _revision, PATCH). Every rejection is a 400 NSX error whose
message names the field, and a GET proves nothing was stored (404, or the object unchanged).
Valid edge values are accepted (test_valid_edges), so the limits sit where the notes put them.
"""
import copy

import pytest

import nsx
from nsx import KIND, expect, expect_error

PSK_129 = "Q" * 120 + "psk129xZ"[:8] + "9"          # 129 chars, distinctive
PASSWORD_33 = "bgpPW" + "w" * 27 + "7"              # 33 chars


def setf(**fields):
    def m(b):
        b.update(fields)
        return b
    return m


def delf(*names):
    def m(b):
        for n in names:
            b.pop(n, None)
        return b
    return m


def vti(addr, plen=30):
    def m(b):
        b["tunnel_interfaces"][0]["ip_subnets"][0] = {"ip_addresses": [addr], "prefix_length": plen}
        return b
    return m


def entry(**e):
    return setf(prefixes=[e])


def mss(**m_):
    return setf(tcp_mss_clamping=m_)


def sources(subnets, key="sources"):
    def m(b):
        b["rules"][0][key] = [{"subnet": s} for s in subnets]
        return b
    return m


def many_subnets(n):
    return ["10.%d.%d.0/24" % (i // 256, i % 256) for i in range(n)]


def route_filter(**rf):
    def m(b):
        b["route_filtering"] = [dict({"enabled": True, "address_family": "IPV4"}, **rf)]
        return b
    return m


EITHER = (nsx.EC_INVALID, nsx.EC_DESERIALIZE)
INV = nsx.EC_INVALID

# id, kind, mutation, fields the message may name, expected error_code (None: any), secret
CASES = [
    # IKE profile
    ("ike-enc-lowercase", "ike", setf(encryption_algorithms=["aes_128"]), "encryption_algorithms", INV, None),
    ("ike-enc-unknown", "ike", setf(encryption_algorithms=["AES_512"]), "encryption_algorithms", INV, None),
    ("ike-version-unknown", "ike", setf(ike_version="IKE_V3"), "ike_version", INV, None),
    ("ike-version-lowercase", "ike", setf(ike_version="ike_v2"), "ike_version", INV, None),
    ("ike-dh-unknown", "ike", setf(dh_groups=["GROUP1"]), "dh_groups", INV, None),
    ("ike-digest-unknown", "ike", setf(digest_algorithms=["MD5"]), "digest_algorithms", INV, None),
    ("ike-sa-too-low", "ike", setf(sa_life_time=100), "sa_life_time", INV, None),
    ("ike-sa-too-high", "ike", setf(sa_life_time=31536001), "sa_life_time", INV, None),
    ("ike-sa-negative", "ike", setf(sa_life_time=-1), "sa_life_time", INV, None),
    ("ike-gcm-ikev1", "ike", setf(encryption_algorithms=["AES_GCM_128"], digest_algorithms=[],
                                  ike_version="IKE_V1"), ("ike_version", "encryption_algorithms"), INV, None),
    ("ike-gcm-with-digest", "ike", setf(encryption_algorithms=["AES_GCM_256"],
                                        digest_algorithms=["SHA2_256"]),
     ("digest_algorithms", "encryption_algorithms"), INV, None),
    ("ike-enc-not-array", "ike", setf(encryption_algorithms="AES_128"), "encryption_algorithms", EITHER, None),
    ("ike-sa-not-number", "ike", setf(sa_life_time="abc"), "sa_life_time", EITHER, None),
    ("ike-unknown-resource-type", "ike", setf(resource_type="IPSecVpnIkeProfileX"), "resource_type", None, None),
    # tunnel profile
    ("tun-enc-unknown", "tunnel", setf(encryption_algorithms=["AES_GCM_512"]), "encryption_algorithms", INV, None),
    ("tun-df-lowercase", "tunnel", setf(df_policy="copy"), "df_policy", INV, None),
    ("tun-sa-too-low", "tunnel", setf(sa_life_time=100), "sa_life_time", INV, None),
    ("tun-sa-too-high", "tunnel", setf(sa_life_time=31536001), "sa_life_time", INV, None),
    ("tun-gcm-with-digest", "tunnel", setf(encryption_algorithms=["AES_GCM_128"], digest_algorithms=["SHA1"]),
     ("digest_algorithms", "encryption_algorithms"), INV, None),
    # the seed lists only AES_128/AES_256/AES_GCM_*: GMAC is refused (seed-restricted enum)
    ("tun-gmac-with-digest", "tunnel", setf(encryption_algorithms=["NO_ENCRYPTION_AUTH_AES_GMAC_128"],
                                            digest_algorithms=["SHA2_256"]),
     ("digest_algorithms", "encryption_algorithms"), INV, None),
    ("tun-pfs-not-boolean", "tunnel", setf(enable_perfect_forward_secrecy="yes"),
     "enable_perfect_forward_secrecy", EITHER, None),
    # DPD profile
    ("dpd-periodic-2", "dpd", setf(dpd_probe_mode="PERIODIC", dpd_probe_interval=2), "dpd_probe_interval", INV, None),
    ("dpd-periodic-361", "dpd", setf(dpd_probe_mode="PERIODIC", dpd_probe_interval=361), "dpd_probe_interval", INV, None),
    ("dpd-on-demand-0", "dpd", setf(dpd_probe_mode="ON_DEMAND", dpd_probe_interval=0), "dpd_probe_interval", INV, None),
    ("dpd-on-demand-11", "dpd", setf(dpd_probe_mode="ON_DEMAND", dpd_probe_interval=11), "dpd_probe_interval", INV, None),
    ("dpd-mode-lowercase", "dpd", setf(dpd_probe_mode="periodic"), "dpd_probe_mode", INV, None),
    ("dpd-enabled-maybe", "dpd", setf(enabled="maybe"), "enabled", EITHER, None),
    ("dpd-interval-not-number", "dpd", setf(dpd_probe_interval="sixty"), "dpd_probe_interval", EITHER, None),
    # prefix list
    ("pl-network-len-33", "prefix_list", entry(network="10.0.0.0/33", action="PERMIT"), "network", INV, None),
    ("pl-network-text", "prefix_list", entry(network="not-a-cidr", action="PERMIT"), "network", INV, None),
    ("pl-network-bad-octet", "prefix_list", entry(network="10.0.300.0/24", action="PERMIT"), "network", INV, None),
    ("pl-action-unknown", "prefix_list", entry(network="10.0.0.0/8", action="ALLOW"), "action", INV, None),
    ("pl-action-lowercase", "prefix_list", entry(network="10.0.0.0/8", action="permit"), "action", INV, None),
    ("pl-ge-gt-le", "prefix_list", entry(network="10.0.0.0/8", action="PERMIT", ge=26, le=24), ("ge", "le"), INV, None),
    ("pl-le-lt-prefix-len", "prefix_list", entry(network="10.0.0.0/16", action="PERMIT", le=8), "le", INV, None),
    ("pl-le-33", "prefix_list", entry(network="10.0.0.0/8", action="PERMIT", le=33), "le", INV, None),
    ("pl-prefixes-not-array", "prefix_list", setf(prefixes="10.0.0.0/8"), "prefixes", EITHER, None),
    # BGP neighbor
    ("nb-address-text", "neighbor", setf(neighbor_address="not-an-ip"), "neighbor_address", INV, None),
    ("nb-address-bad-octet", "neighbor", setf(neighbor_address="169.254.151.256"), "neighbor_address", INV, None),
    ("nb-address-cidr", "neighbor", setf(neighbor_address="169.254.151.1/30"), "neighbor_address", INV, None),
    ("nb-as-text", "neighbor", setf(remote_as_num="abc"), "remote_as_num", INV, None),
    ("nb-as-zero", "neighbor", setf(remote_as_num="0"), "remote_as_num", INV, None),
    ("nb-as-too-big", "neighbor", setf(remote_as_num="4294967296"), "remote_as_num", INV, None),
    ("nb-as-negative", "neighbor", setf(remote_as_num="-1"), "remote_as_num", INV, None),
    ("nb-password-33", "neighbor", setf(password=PASSWORD_33), "password", INV, PASSWORD_33),
    ("nb-hop-limit-0", "neighbor", setf(maximum_hop_limit=0), "maximum_hop_limit", INV, None),
    ("nb-hop-limit-256", "neighbor", setf(maximum_hop_limit=256), "maximum_hop_limit", INV, None),
    ("nb-keep-alive-0", "neighbor", setf(keep_alive_time=0), "keep_alive_time", INV, None),
    ("nb-address-family-lowercase", "neighbor", route_filter(address_family="ipv4"), "address_family", INV, None),
    ("nb-filter-not-a-prefix-list", "neighbor", route_filter(in_route_filters=[nsx.DEFAULT_IKE]),
     "in_route_filters", INV, None),
    ("nb-filter-missing-prefix-list", "neighbor",
     route_filter(out_route_filters=[nsx.PL + "/does-not-exist"]), ("out_route_filters", "does-not-exist"), INV, None),
    # route-based session
    ("rs-vti-outside-link-local", "route_session", vti("10.1.1.1"), ("ip_addresses", "tunnel_interfaces"), INV, None),
    ("rs-vti-network-address", "route_session", vti("169.254.199.0"), ("ip_addresses", "tunnel_interfaces"), INV, None),
    ("rs-vti-broadcast-address", "route_session", vti("169.254.199.3"), ("ip_addresses", "tunnel_interfaces"), INV, None),
    ("rs-vti-not-ip", "route_session", vti("abc"), ("ip_addresses", "tunnel_interfaces"), INV, None),
    ("rs-prefix-length-text", "route_session", vti("169.254.199.1", "abc"), "prefix_length", EITHER, None),
    ("rs-peer-address-bad-octet", "route_session", setf(peer_address="10.0.0.256"), "peer_address", INV, None),
    ("rs-peer-address-text", "route_session", setf(peer_address="not-an-ip"), "peer_address", INV, None),
    ("rs-mss-direction-lowercase", "route_session", mss(direction="both", max_segment_size=1325), "direction", INV, None),
    ("rs-mss-size-too-low", "route_session", mss(direction="BOTH", max_segment_size=100), "max_segment_size", INV, None),
    ("rs-mss-size-too-high", "route_session", mss(direction="BOTH", max_segment_size=9000), "max_segment_size", INV, None),
    ("rs-psk-129", "route_session", setf(psk=PSK_129), "psk", INV, PSK_129),
    ("rs-auth-mode-lowercase", "route_session", setf(authentication_mode="psk"), "authentication_mode", INV, None),
    ("rs-initiation-mode-unknown", "route_session", setf(connection_initiation_mode="ANSWER"),
     "connection_initiation_mode", INV, None),
    ("rs-compliance-unknown", "route_session", setf(compliance_suite="NSA"), "compliance_suite", INV, None),
    ("rs-compliance-with-psk", "route_session", setf(compliance_suite="CNSA"),
     ("compliance_suite", "authentication_mode"), INV, None),
    ("rs-enabled-maybe", "route_session", setf(enabled="maybe"), "enabled", EITHER, None),
    ("rs-abstract-resource-type", "route_session", setf(resource_type="IPSecVpnSession"), "resource_type", None, None),
    ("rs-unknown-resource-type", "route_session", setf(resource_type="FooBasedIPSecVpnSession"),
     "resource_type", None, None),
    ("rs-missing-local-endpoint", "route_session", setf(local_endpoint_path=nsx.LE + "/Nope-IP9"),
     ("local_endpoint_path", "Nope-IP9"), INV, None),
    ("rs-missing-ike-profile", "route_session", setf(ike_profile_path=nsx.IKE + "/no-such-ike"),
     ("ike_profile_path", "no-such-ike"), INV, None),
    ("rs-missing-tunnel-profile", "route_session", setf(tunnel_profile_path=nsx.TUN + "/no-such-tun"),
     ("tunnel_profile_path", "no-such-tun"), INV, None),
    ("rs-missing-dpd-profile", "route_session", setf(dpd_profile_path=nsx.DPD + "/no-such-dpd"),
     ("dpd_profile_path", "no-such-dpd"), INV, None),
    ("rs-ike-path-is-tunnel-profile", "route_session", setf(ike_profile_path=nsx.DEFAULT_TUN),
     "ike_profile_path", INV, None),
    # policy-based session
    ("ps-129-sources", "policy_session", sources(many_subnets(129)), "sources", INV, None),
    ("ps-129-destinations", "policy_session", sources(many_subnets(129), "destinations"), "destinations", INV, None),
    ("ps-subnet-len-33", "policy_session", sources(["10.0.0.0/33"]), ("subnet", "sources"), INV, None),
    ("ps-subnet-text", "policy_session", sources(["abc"]), ("subnet", "sources"), INV, None),
    ("ps-subnet-bad-octet", "policy_session", sources(["192.168.256.0/24"], "destinations"),
     ("subnet", "destinations"), INV, None),
    # common fields
    ("display-name-256", "ike", setf(display_name="d" * 256), "display_name", INV, None),
    ("description-1025", "dpd", setf(description="e" * 1025), "description", INV, None),
    ("tags-31", "prefix_list", setf(tags=[{"scope": "s", "tag": "t%d" % i} for i in range(31)]), "tags", INV, None),
    ("tag-257", "tunnel", setf(tags=[{"scope": "s", "tag": "t" * 257}]), "tag", INV, None),
    ("unknown-property", "ike", setf(colour="blue"), "colour", nsx.EC_DESERIALIZE, None),
    ("unknown-nested-property", "prefix_list", entry(network="10.0.0.0/8", action="PERMIT", colour="red"),
     "colour", nsx.EC_DESERIALIZE, None),
    ("unknown-session-property", "route_session", setf(psk_hint="h"), "psk_hint", nsx.EC_DESERIALIZE, None),
]

def rules(*rs):
    return setf(rules=list(rs))


def source_ips(n):
    return ["169.254.199.%d" % (i + 10) for i in range(n)]


# Rules beyond the brief's list: required fields, list sizes and the cross-field rules the
# reference states (TF validators / spec text).
CASES += [
    ("ike-enc-empty", "ike", setf(encryption_algorithms=[]), "encryption_algorithms", INV, None),
    ("ike-dh-empty", "ike", setf(dh_groups=[]), "dh_groups", INV, None),
    ("ike-cbc-without-digest", "ike", setf(encryption_algorithms=["AES_256"], digest_algorithms=[]),
     "digest_algorithms", INV, None),
    ("ike-gcm-mixed-with-cbc", "ike", setf(encryption_algorithms=["AES_GCM_128", "AES_128"],
                                           digest_algorithms=["SHA1"]),
     ("encryption_algorithms", "digest_algorithms"), INV, None),
    ("tun-pfs-without-dh", "tunnel", setf(enable_perfect_forward_secrecy=True, dh_groups=[]),
     "dh_groups", INV, None),
    ("dpd-retry-0", "dpd", setf(retry_count=0), "retry_count", INV, None),
    ("dpd-retry-101", "dpd", setf(retry_count=101), "retry_count", INV, None),
    ("pl-prefixes-empty", "prefix_list", setf(prefixes=[]), "prefixes", INV, None),
    ("pl-prefixes-missing", "prefix_list", delf("prefixes"), "prefixes", INV, None),
    ("pl-network-missing", "prefix_list", entry(action="PERMIT", le=24), "network", INV, None),
    ("nb-address-missing", "neighbor", delf("neighbor_address"), "neighbor_address", INV, None),
    ("nb-as-missing", "neighbor", delf("remote_as_num"), "remote_as_num", INV, None),
    ("nb-hold-below-3x-keep-alive", "neighbor", setf(keep_alive_time=60, hold_down_time=120),
     "hold_down_time", INV, None),
    ("nb-multihop-without-source", "neighbor", setf(maximum_hop_limit=2), "source_addresses", INV, None),
    ("nb-9-source-addresses", "neighbor", setf(maximum_hop_limit=2, source_addresses=source_ips(9)),
     "source_addresses", INV, None),
    ("nb-source-address-not-ip", "neighbor", setf(maximum_hop_limit=2, source_addresses=["x.y"]),
     "source_addresses", INV, None),
    ("nb-3-route-filterings", "neighbor", setf(route_filtering=[
        {"address_family": "IPV4"}, {"address_family": "IPV6"}, {"address_family": "L2VPN_EVPN"}]),
     "route_filtering", INV, None),
    ("nb-duplicate-address-family", "neighbor", setf(route_filtering=[
        {"address_family": "IPV4"}, {"address_family": "IPV4"}]), "address_family", INV, None),
    ("nb-maximum-routes-0", "neighbor", route_filter(maximum_routes=0), "maximum_routes", INV, None),
    ("nb-bfd-interval-49", "neighbor", setf(bfd={"enabled": True, "interval": 49}), "interval", INV, None),
    ("nb-bfd-multiple-17", "neighbor", setf(bfd={"enabled": True, "multiple": 17}), "multiple", INV, None),
    ("nb-graceful-restart-unknown", "neighbor", setf(graceful_restart_mode="ALWAYS"),
     "graceful_restart_mode", INV, None),
    ("rs-psk-missing", "route_session", delf("psk"), "psk", INV, None),
    ("rs-psk-with-certificate", "route_session", setf(authentication_mode="CERTIFICATE"),
     ("psk", "authentication_mode"), INV, None),
    ("rs-tunnel-interfaces-missing", "route_session", delf("tunnel_interfaces"), "tunnel_interfaces", INV, None),
    ("rs-tunnel-interfaces-empty", "route_session", setf(tunnel_interfaces=[]), "tunnel_interfaces", INV, None),
    # 169.254.101.0/30 is in vpnd's built-in reserved table (docs: configurable, sourced)
    ("rs-vti-reserved", "route_session", vti("169.254.101.1"), ("ip_addresses", "reserved"), INV, None),
    ("rs-vti-prefix-32", "route_session", vti("169.254.199.1", 32), "prefix_length", INV, None),
    ("rs-vti-prefix-0", "route_session", vti("169.254.199.1", 0), "prefix_length", INV, None),
    ("rs-vti-ipv6", "route_session", vti("fe80::1", 64), ("ip_addresses", "prefix_length"), INV, None),
    ("rs-peer-address-missing", "route_session", delf("peer_address"), "peer_address", INV, None),
    ("rs-peer-id-missing", "route_session", delf("peer_id"), "peer_id", INV, None),
    ("rs-local-endpoint-missing", "route_session", delf("local_endpoint_path"), "local_endpoint_path", INV, None),
    ("ps-rules-empty", "policy_session", setf(rules=[]), "rules", INV, None),
    ("ps-rules-missing", "policy_session", delf("rules"), "rules", INV, None),
    ("ps-duplicate-rule-ids", "policy_session", rules(nsx.rule(rid="r"), nsx.rule(rid="r")), "id", INV, None),
    ("ps-subnet-missing", "policy_session", rules({"id": "r", "sources": [{}]}), "subnet", INV, None),
    ("ps-sequence-negative", "policy_session", rules(dict(nsx.rule(), sequence_number=-1)),
     "sequence_number", INV, None),
    ("display-name-empty", "ike", setf(display_name=""), "display_name", INV, None),
    ("tag-scope-129", "dpd", setf(tags=[{"scope": "s" * 129, "tag": "t"}]), "scope", INV, None),
]

CREATE_ONLY = {"rs-missing-resource-type"}
CASES.append(("rs-missing-resource-type", "route_session", delf("resource_type"), "resource_type", None, None))
CASES.append(("ps-missing-resource-type", "policy_session", delf("resource_type"), "resource_type", None, None))
CREATE_ONLY.add("ps-missing-resource-type")

CASE_IDS = [c[0] for c in CASES]


def _bad_body(kind_name, mutate):
    return mutate(copy.deepcopy(KIND[kind_name].make()))


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_invalid_create_rejected(server, case, method):
    cid, kind_name, mutate, fields, code, secret = case
    kind = KIND[kind_name]
    path = kind.path(nsx.uid("bad"))
    body = _bad_body(kind_name, mutate)
    r = server.api(method, path, json=body)
    err = expect_error(r, 400, code, fields, secrets=(secret,) if secret else ())
    assert err["httpStatus"] == "BAD_REQUEST"
    expect_error(server.get(path), 404)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("case", [c for c in CASES if c[0] not in CREATE_ONLY],
                         ids=[c[0] for c in CASES if c[0] not in CREATE_ONLY])
def test_invalid_update_leaves_object_unchanged(server, case, method):
    cid, kind_name, mutate, fields, code, secret = case
    kind = KIND[kind_name]
    path = kind.path(nsx.uid("upd"))
    good = kind.make()
    server.create(path, good)
    before = server.get_json(path, params={"action": "show_sensitive_data"})
    body = mutate(copy.deepcopy(good))
    body["_revision"] = before["_revision"]
    if method == "PATCH":
        # the merge result is what gets validated, so send only the fields the mutation touched
        body = {k: v for k, v in body.items() if k not in good or good[k] != v}
        if set(body) == {"_revision"}:     # a deletion cannot be expressed as a merge
            pytest.skip("the mutation only removes fields")
    r = server.api(method, path, json=body)
    expect_error(r, 400, code, fields, secrets=(secret,) if secret else ())
    assert server.get_json(path, params={"action": "show_sensitive_data"}) == before


def test_three_violations_all_reported(server):
    path = nsx.IKE + "/" + nsx.uid("three")
    body = nsx.ike_body(ike_version="IKE_V9", dh_groups=["GROUP99"], sa_life_time=5)
    err = expect_error(server.put(path, body), 400)
    rel = err.get("related_errors") or []
    assert len(rel) == 3, err
    text = nsx.error_text(err)
    for f in ("ike_version", "dh_groups", "sa_life_time"):
        assert any(f in e["error_message"] for e in rel), (f, err)
        assert f in text
    for e in rel:
        nsx.check_error_body(400, e)
    expect_error(server.get(path), 404)


def test_violations_across_nested_objects_all_reported(server):
    path = nsx.SES + "/" + nsx.uid("three")
    body = nsx.route_session_body(vti="10.1.1.1", peer_address="nope",
                                  tcp_mss_clamping={"direction": "SIDEWAYS"})
    err = expect_error(server.put(path, body), 400)
    rel = err.get("related_errors") or []
    assert len(rel) >= 3, err
    text = nsx.error_text(err)
    assert "peer_address" in text and "direction" in text
    assert "ip_addresses" in text or "tunnel_interfaces" in text
    expect_error(server.get(path), 404)


# ------------------------------------------------------------------ valid edges are accepted

def _tags(n):
    return [{"scope": "s", "tag": "t%d" % i} for i in range(n)]


EDGES = [
    ("ike-sa-min", "ike", setf(sa_life_time=21600)),
    ("ike-sa-max", "ike", setf(sa_life_time=31536000)),
    ("ike-seed-gcm", "ike", setf(encryption_algorithms=["AES_GCM_128"], digest_algorithms=[],
                                 ike_version="IKE_V2", dh_groups=["GROUP21"])),
    ("ike-all-seed-values", "ike", setf(encryption_algorithms=["AES_128", "AES_256"],
                                        digest_algorithms=["SHA1", "SHA2_256"], ike_version="IKE_FLEX",
                                        dh_groups=["GROUP2", "GROUP5", "GROUP14", "GROUP15", "GROUP16",
                                                   "GROUP19", "GROUP20", "GROUP21"])),
    ("ike-v1-cbc", "ike", setf(ike_version="IKE_V1", encryption_algorithms=["AES_256"], digest_algorithms=["SHA1"])),
    ("ike-gcm-192-256", "ike", setf(encryption_algorithms=["AES_GCM_192", "AES_GCM_256"], digest_algorithms=[])),
    ("tun-sa-min", "tunnel", setf(sa_life_time=900)),
    ("tun-sa-max", "tunnel", setf(sa_life_time=31536000)),
    ("tun-df-clear", "tunnel", setf(df_policy="CLEAR")),
    ("tun-cbc-digest", "tunnel", setf(encryption_algorithms=["AES_256"], digest_algorithms=["SHA2_256"])),
    ("dpd-periodic-3", "dpd", setf(dpd_probe_mode="PERIODIC", dpd_probe_interval=3)),
    ("dpd-periodic-360", "dpd", setf(dpd_probe_mode="PERIODIC", dpd_probe_interval=360)),
    ("dpd-on-demand-1", "dpd", setf(dpd_probe_mode="ON_DEMAND", dpd_probe_interval=1)),
    ("dpd-on-demand-10", "dpd", setf(dpd_probe_mode="ON_DEMAND", dpd_probe_interval=10)),
    ("pl-any", "prefix_list", entry(network="ANY", action="DENY")),
    ("pl-ge-le", "prefix_list", entry(network="10.0.0.0/8", action="PERMIT", ge=16, le=24)),
    ("pl-le-32", "prefix_list", entry(network="10.0.0.0/8", action="PERMIT", le=32)),
    ("pl-several", "prefix_list", setf(prefixes=[{"network": "10.0.0.0/8", "action": "PERMIT", "le": 26},
                                                 {"network": "192.168.0.0/16", "action": "DENY"}])),
    ("nb-as-max", "neighbor", setf(remote_as_num="4294967295")),
    ("nb-as-1", "neighbor", setf(remote_as_num="1")),
    ("nb-password-32", "neighbor", setf(password="p" * 32)),
    ("nb-route-filtering", "neighbor", route_filter()),
    ("rs-vti-low-host", "route_session", vti("169.254.198.1")),
    ("rs-mss-1325", "route_session", mss(direction="BOTH", max_segment_size=1325)),
    ("rs-mss-inbound", "route_session", mss(direction="INBOUND_CONNECTION", max_segment_size=1400)),
    ("rs-mss-outbound", "route_session", mss(direction="OUTBOUND_CONNECTION", max_segment_size=1400)),
    ("rs-psk-128", "route_session", setf(psk="k" * 128)),
    ("nb-multihop-with-source", "neighbor", setf(maximum_hop_limit=2, source_addresses=source_ips(8))),
    ("nb-bfd", "neighbor", setf(bfd={"enabled": True, "interval": 500, "multiple": 3})),
    ("nb-two-families", "neighbor", setf(route_filtering=[{"address_family": "IPV4", "enabled": True},
                                                          {"address_family": "IPV6", "enabled": True}])),
    ("nb-hold-3x-keep-alive", "neighbor", setf(keep_alive_time=10, hold_down_time=30)),
    ("dpd-retry-1", "dpd", setf(retry_count=1)),
    ("dpd-retry-100", "dpd", setf(retry_count=100)),
    ("ps-two-rules", "policy_session", rules(nsx.rule(rid="a"), nsx.rule(("10.50.0.0/16",), ("10.60.0.0/16",), "b"))),
    ("ps-sources-only", "policy_session", rules({"id": "r", "sources": [{"subnet": "10.70.0.0/16"}]})),
    ("rs-public-ip1", "route_session", setf(local_endpoint_path=nsx.PUBLIC_IP1)),
    ("rs-respond-only", "route_session", setf(connection_initiation_mode="RESPOND_ONLY")),
    ("ps-128-sources", "policy_session", sources(many_subnets(128))),
    ("display-name-255", "ike", setf(display_name="d" * 255)),
    ("description-1024", "dpd", setf(description="e" * 1024)),
    ("tags-30", "prefix_list", setf(tags=_tags(30))),
    ("tag-256", "tunnel", setf(tags=[{"scope": "s", "tag": "t" * 256}])),
]


@pytest.mark.parametrize("case", EDGES, ids=[c[0] for c in EDGES])
def test_valid_edges(server, case):
    cid, kind_name, mutate = case
    kind = KIND[kind_name]
    path = kind.path(nsx.uid("edge"))
    body = _bad_body(kind_name, mutate)
    r = server.put(path, body)
    expect(r, 200)
    nsx.assert_subset(nsx.without_secrets(body), r.json())
