"""CRUD on every user object type, PUT/PATCH/_revision semantics, server-set fields, NSX defaults,
lenient input, and method/URL errors (docs/api.md "Semantics" and "Server-set fields")."""
import json

import pytest

import nsx
from nsx import KINDS, KIND, expect, expect_empty, expect_error, assert_subset, without_secrets


# ------------------------------------------------------------------ full lifecycle per type

@pytest.mark.parametrize("kind", KINDS, ids=repr)
def test_crud_lifecycle(server, kind):
    oid = nsx.uid(kind.name)
    path = kind.path(oid)
    body = kind.make()

    t0 = nsx.now_ms()
    created = server.create(path, body)
    t1 = nsx.now_ms()
    nsx.check_server_fields(created, path, kind.rtype, kind.parent, revision=0, t0=t0, t1=t1)
    assert_subset(without_secrets(body), created)
    assert created["_create_time"] == created["_last_modified_time"]
    assert "psk" not in created and "password" not in created

    got = server.get_json(path)
    assert got == created, "GET differs from the PUT response"
    listed = {o["id"]: o for o in server.list_all(kind.coll)}
    assert listed.get(oid) == got, "list entry differs from GET"

    # PUT replace with the current _revision
    repl = dict(body, _revision=0, **kind.update)
    r = server.put(path, repl)
    expect(r, 200)
    replaced = nsx.body_json(r)
    assert replaced["_revision"] == 1
    assert_subset(kind.update, replaced)
    assert replaced["unique_id"] == created["unique_id"]
    assert replaced["_create_time"] == created["_create_time"]
    assert replaced["_last_modified_time"] >= created["_last_modified_time"]
    assert server.get_json(path) == replaced

    # PATCH merge: 200, empty body, +1 revision, other fields kept
    expect_empty(server.patch(path, kind.patch))
    patched = server.get_json(path)
    assert patched["_revision"] == 2
    assert_subset(kind.patch, patched)
    assert_subset({k: v for k, v in kind.update.items() if k not in kind.patch}, patched)
    assert patched["unique_id"] == created["unique_id"]
    assert patched["_create_time"] == created["_create_time"]
    for k, v in without_secrets(replaced).items():
        if k not in kind.patch and not k.startswith("_last_modified") and k != "_revision":
            assert patched[k] == v, "PATCH changed %s" % k

    # DELETE: 200, empty body; then gone everywhere
    expect_empty(server.delete(path))
    expect_error(server.get(path), 404, nsx.EC_NOT_FOUND)
    assert oid not in {o["id"] for o in server.list_all(kind.coll)}
    expect_error(server.delete(path), 404, nsx.EC_NOT_FOUND)


def test_policy_session_rules_round_trip(server):
    path = nsx.SES + "/" + nsx.uid("pol")
    body = nsx.policy_session_body()
    o = server.create(path, body)
    assert len(o["rules"]) == 1
    r = o["rules"][0]
    assert r["id"] == "rule-1"
    assert r["sources"] == [{"subnet": "192.168.98.0/24"}, {"subnet": "10.2.1.140/32"}]
    assert r["destinations"] == [{"subnet": "192.168.123.0/24"}]
    assert r["action"] == "PROTECT"       # read-only; "always returned as PROTECT"
    assert r["enabled"] is True and r["logged"] is False and r["sequence_number"] == 0
    expect_empty(server.delete(path))


# ------------------------------------------------------------------ PUT and _revision

def _make(server, kind_name="ike"):
    kind = KIND[kind_name]
    path = kind.path(nsx.uid(kind_name))
    body = kind.make()
    return path, body, server.create(path, body)


def test_put_create_with_any_revision(server):
    path = nsx.IKE + "/" + nsx.uid("ike")
    o = server.create(path, nsx.ike_body(_revision=7))
    assert o["_revision"] == 0


@pytest.mark.parametrize("kind_name", ["ike", "route_session", "neighbor"])
def test_put_over_existing_without_revision_412(server, kind_name):
    path, body, before = _make(server, kind_name)
    changed = dict(body, enabled=False) if "session" in kind_name else dict(body, description="x")
    err = expect_error(server.put(path, changed), 412, nsx.EC_STALE)
    assert err["httpStatus"] == "PRECONDITION_FAILED"
    assert server.get_json(path) == before


@pytest.mark.parametrize("rev", [-1, 1, 5])
def test_put_stale_or_future_revision_412(server, rev):
    path, body, before = _make(server)
    err = expect_error(server.put(path, dict(body, _revision=rev, sa_life_time=30000)), 412,
                       nsx.EC_STALE)
    assert err["httpStatus"] == "PRECONDITION_FAILED"
    assert server.get_json(path) == before


def test_put_stale_after_update_412(server):
    path, body, _ = _make(server)
    expect(server.put(path, dict(body, _revision=0, sa_life_time=30000)), 200)
    current = server.get_json(path)
    expect_error(server.put(path, dict(body, _revision=0, sa_life_time=40000)), 412, nsx.EC_STALE)
    assert server.get_json(path) == current
    r = server.put(path, dict(body, _revision=1, sa_life_time=40000))
    expect(r, 200)
    assert r.json()["_revision"] == 2 and r.json()["sa_life_time"] == 40000


def test_put_replace_drops_omitted_optional_fields(server):
    path = nsx.IKE + "/" + nsx.uid("ike")
    server.create(path, nsx.ike_body(description="first", sa_life_time=30000))
    body = nsx.ike_body(_revision=0)
    del body["sa_life_time"]
    r = server.put(path, body)
    expect(r, 200)
    o = r.json()
    assert "description" not in o or o["description"] in (None, "")
    assert o["sa_life_time"] == 86400          # back to the default: PUT replaces


# ------------------------------------------------------------------ PATCH

@pytest.mark.parametrize("kind", KINDS, ids=repr)
def test_patch_creates(server, kind):
    oid = nsx.uid("pc-" + kind.name)
    path = kind.path(oid)
    body = kind.make()
    t0 = nsx.now_ms()
    expect_empty(server.patch(path, body))
    o = server.get_json(path)
    nsx.check_server_fields(o, path, kind.rtype, kind.parent, revision=0, t0=t0)
    assert_subset(without_secrets(body), o)


def test_patch_merge_keeps_fields_and_replaces_arrays(server):
    path = nsx.IKE + "/" + nsx.uid("ike")
    server.create(path, nsx.ike_body(dh_groups=["GROUP14", "GROUP15"], description="keep me",
                                     tags=[{"scope": "s", "tag": "t1"}]))
    expect_empty(server.patch(path, {"dh_groups": ["GROUP21"]}))
    o = server.get_json(path)
    assert o["dh_groups"] == ["GROUP21"]              # replaced, not merged or appended
    assert o["description"] == "keep me"
    assert o["tags"] == [{"scope": "s", "tag": "t1"}]
    assert o["encryption_algorithms"] == ["AES_128"] and o["sa_life_time"] == 86400
    assert o["_revision"] == 1


def test_patch_replaces_prefix_list_prefixes(server):
    path = nsx.PL + "/" + nsx.uid("pl")
    server.create(path, nsx.prefix_list_body(prefixes=[
        {"network": "10.0.0.0/8", "action": "PERMIT", "le": 26},
        {"network": "192.168.0.0/16", "action": "DENY"}]))
    expect_empty(server.patch(path, {"prefixes": [{"network": "172.16.0.0/12", "action": "DENY"}]}))
    o = server.get_json(path)
    assert len(o["prefixes"]) == 1
    assert_subset({"network": "172.16.0.0/12", "action": "DENY"}, o["prefixes"][0])


def test_patch_replaces_nested_object_whole(server):
    path = nsx.SES + "/" + nsx.uid("rb")
    server.create(path, nsx.route_session_body(
        tcp_mss_clamping={"direction": "BOTH", "max_segment_size": 1325}))
    expect_empty(server.patch(path, {"tcp_mss_clamping": {"direction": "INBOUND_CONNECTION"}}))
    mss = server.get_json(path)["tcp_mss_clamping"]
    assert mss["direction"] == "INBOUND_CONNECTION"
    assert mss.get("max_segment_size") != 1325       # the old nested value is not merged in


def test_patch_session_keeps_psk_and_type(server):
    path = nsx.SES + "/" + nsx.uid("rb")
    server.create(path, nsx.route_session_body(psk="keep-this-psk-1"))
    expect_empty(server.patch(path, {"enabled": False}))      # no resource_type, no psk
    o = server.get_json(path, params={"action": "show_sensitive_data"})
    assert o["enabled"] is False
    assert o["psk"] == "keep-this-psk-1"
    assert o["resource_type"] == "RouteBasedIPSecVpnSession"


def test_patch_with_current_revision(server):
    path, _, before = _make(server)
    expect_empty(server.patch(path, {"sa_life_time": 50000, "_revision": before["_revision"]}))
    o = server.get_json(path)
    assert o["sa_life_time"] == 50000 and o["_revision"] == 1


@pytest.mark.parametrize("rev", [-1, 1, 9])
def test_patch_stale_revision_412(server, rev):
    path, _, before = _make(server)
    err = expect_error(server.patch(path, {"sa_life_time": 50000, "_revision": rev}), 412,
                       nsx.EC_STALE)
    assert err["httpStatus"] == "PRECONDITION_FAILED"
    assert server.get_json(path) == before


def test_patch_without_revision_needs_none(server):
    path, _, _ = _make(server)
    for i in range(3):
        expect_empty(server.patch(path, {"sa_life_time": 30000 + i}))
    o = server.get_json(path)
    assert o["_revision"] == 3 and o["sa_life_time"] == 30002


# ------------------------------------------------------------------ GET / DELETE

@pytest.mark.parametrize("kind", KINDS, ids=repr)
def test_get_missing_404(server, kind):
    err = expect_error(server.get(kind.path(nsx.uid("missing"))), 404, nsx.EC_NOT_FOUND)
    assert err["httpStatus"] == "NOT_FOUND"


@pytest.mark.parametrize("kind", KINDS, ids=repr)
def test_delete_missing_404(server, kind):
    err = expect_error(server.delete(kind.path(nsx.uid("missing"))), 404, nsx.EC_NOT_FOUND)
    assert err["httpStatus"] == "NOT_FOUND"


def test_delete_then_recreate_gets_new_identity(server):
    path, body, first = _make(server)
    expect_empty(server.delete(path))
    second = server.create(path, body)
    assert second["_revision"] == 0
    assert second["unique_id"] != first["unique_id"]


# ------------------------------------------------------------------ server-set fields

def test_revision_counts_every_change(server):
    path, body, o = _make(server)
    revs = [o["_revision"]]
    times = [o["_last_modified_time"]]
    for i in range(3):
        r = server.put(path, dict(body, _revision=revs[-1], sa_life_time=30000 + i))
        expect(r, 200)
        revs.append(r.json()["_revision"])
        times.append(r.json()["_last_modified_time"])
        expect_empty(server.patch(path, {"sa_life_time": 40000 + i}))
        g = server.get_json(path)
        revs.append(g["_revision"])
        times.append(g["_last_modified_time"])
        assert g["unique_id"] == o["unique_id"] and g["_create_time"] == o["_create_time"]
    assert revs == list(range(7))
    assert times == sorted(times)


def test_create_and_modify_user(server):
    _, _, o = _make(server)
    assert o["_create_user"] == "admin" and o["_last_modified_user"] == "admin"


def test_unique_ids_differ(server):
    ids = {_make(server)[2]["unique_id"] for _ in range(3)}
    assert len(ids) == 3


def test_display_name_explicit_kept(server):
    path = nsx.IKE + "/" + nsx.uid("ike")
    o = server.create(path, nsx.ike_body(display_name="My IKE profile"))
    assert o["display_name"] == "My IKE profile"
    expect_empty(server.patch(path, {"sa_life_time": 30000}))
    assert server.get_json(path)["display_name"] == "My IKE profile"


def test_field_order(server):
    """docs/api.md: the type's own fields first, then the common ones in a fixed order."""
    path = nsx.IKE + "/" + nsx.uid("ike")
    server.create(path, nsx.ike_body(description="d", tags=[{"scope": "a", "tag": "b"}]))
    r = server.get(path)
    keys = list(json.loads(r.text, object_pairs_hook=lambda kv: dict(kv)).keys())
    own = [k for k in keys if k not in nsx.COMMON_ORDER and not k.startswith("_")]
    common = [k for k in keys if k in nsx.COMMON_ORDER]
    assert common == [k for k in nsx.COMMON_ORDER if k in keys], keys
    assert keys.index(own[-1]) < keys.index(common[0]), keys
    assert set(own) >= {"encryption_algorithms", "digest_algorithms", "dh_groups",
                        "ike_version", "sa_life_time"}


def test_other_server_fields_ignored_on_input(server):
    """Read-only fields with bogus values are ignored, not stored."""
    path = nsx.DPD + "/" + nsx.uid("dpd")
    bogus = {"path": "/infra/elsewhere", "parent_path": "/nope", "relative_path": "zzz",
             "unique_id": "00000000-0000-0000-0000-000000000000", "_create_time": 1,
             "_last_modified_time": 2, "_create_user": "mallory", "_last_modified_user": "eve",
             "_system_owned": True, "_protection": "PROTECTED", "marked_for_delete": False,
             "overridden": False, "realization_id": "x"}
    o = server.create(path, nsx.dpd_body(**bogus))
    nsx.check_server_fields(o, path, "IPSecVpnDpdProfile", "/infra", revision=0, t0=nsx.now_ms() - 60000)
    assert o["unique_id"] != bogus["unique_id"]
    assert o["_create_user"] == "admin"


# ------------------------------------------------------------------ NSX defaults

def test_ike_profile_defaults(server):
    path = nsx.IKE + "/" + nsx.uid("ike")
    o = server.create(path, {"resource_type": "IPSecVpnIkeProfile",
                             "encryption_algorithms": ["AES_256"], "dh_groups": ["GROUP14"]})
    assert o["sa_life_time"] == 86400
    assert o["ike_version"] == "IKE_V2"
    assert o["digest_algorithms"] == ["SHA2_256"]     # default digest for AES_128/AES_256


def test_ike_profile_gcm_without_digest_is_empty_list(server):
    path = nsx.IKE + "/" + nsx.uid("ike")
    o = server.create(path, {"resource_type": "IPSecVpnIkeProfile", "ike_version": "IKE_V2",
                             "encryption_algorithms": ["AES_GCM_256"], "dh_groups": ["GROUP21"]})
    assert o["digest_algorithms"] == []
    assert o["sa_life_time"] == 86400


def test_tunnel_profile_defaults(server):
    path = nsx.TUN + "/" + nsx.uid("tun")
    o = server.create(path, {"resource_type": "IPSecVpnTunnelProfile"})
    assert o["encryption_algorithms"] == ["AES_GCM_128"]
    assert o["enable_perfect_forward_secrecy"] is True
    assert o["dh_groups"] == ["GROUP14"]
    assert o["df_policy"] == "COPY"
    assert o["sa_life_time"] == 3600
    assert o["digest_algorithms"] == []


@pytest.mark.parametrize("mode,interval", [("ON_DEMAND", 3), ("PERIODIC", 60)])
def test_dpd_interval_default_by_mode(server, mode, interval):
    path = nsx.DPD + "/" + nsx.uid("dpd")
    o = server.create(path, {"resource_type": "IPSecVpnDpdProfile", "dpd_probe_mode": mode})
    assert o["dpd_probe_interval"] == interval
    assert o["dpd_probe_mode"] == mode


def test_dpd_profile_defaults(server):
    path = nsx.DPD + "/" + nsx.uid("dpd")
    o = server.create(path, {"resource_type": "IPSecVpnDpdProfile"})
    assert o["dpd_probe_mode"] == "PERIODIC"
    assert o["dpd_probe_interval"] == 60
    assert o["retry_count"] == 5
    assert o["enabled"] is True


def test_session_defaults(server):
    path = nsx.SES + "/" + nsx.uid("rb")
    body = nsx.route_session_body()
    for k in ("dpd_profile_path", "enabled", "compliance_suite", "connection_initiation_mode",
              "authentication_mode"):
        del body[k]
    o = server.create(path, body)
    assert o["dpd_profile_path"] == nsx.DEFAULT_DPD
    assert o["enabled"] is True
    assert o["compliance_suite"] == "NONE"
    assert o["connection_initiation_mode"] == "INITIATOR"
    assert o["authentication_mode"] == "PSK"


def test_neighbor_defaults_and_empty_lists(server):
    path = nsx.NB + "/" + nsx.uid("nb")
    o = server.create(path, {"resource_type": "BgpNeighborConfig",
                             "neighbor_address": nsx.vti_pair()[1], "remote_as_num": "65001"})
    assert o["keep_alive_time"] == 60
    assert o["hold_down_time"] == 180
    assert o["maximum_hop_limit"] == 1
    assert o["allow_as_in"] is False
    assert o["route_filtering"] == []


def test_prefix_entry_action_defaults_to_permit(server):
    path = nsx.PL + "/" + nsx.uid("pl")
    o = server.create(path, {"prefixes": [{"network": "10.1.0.0/16"}]})
    assert o["resource_type"] == "PrefixList"
    assert o["prefixes"][0]["action"] == "PERMIT"


def test_policy_rule_empty_lists(server):
    path = nsx.SES + "/" + nsx.uid("pol")
    body = nsx.policy_session_body(rules=[{"id": "r", "sources": [{"subnet": "10.9.0.0/16"}]}])
    o = server.create(path, body)
    assert o["rules"][0]["destinations"] == []


def test_resource_type_defaults_from_collection(server):
    """The seed's prefix-list body has no id, display_name or resource_type."""
    oid = nsx.uid("pl")
    o = server.create(nsx.PL + "/" + oid,
                      {"prefixes": [{"network": "10.0.0.0/8", "action": "PERMIT", "le": 26}]})
    assert o["resource_type"] == "PrefixList" and o["id"] == oid and o["display_name"] == oid


# ------------------------------------------------------------------ lenient input

@pytest.mark.parametrize("kind", KINDS, ids=repr)
def test_full_get_body_put_back(server, kind):
    """Read-only fields sent back are ignored: a GET body (plus secrets, which GET hides) PUT
    back with its _revision is accepted."""
    path = kind.path(nsx.uid("rt-" + kind.name))
    body = kind.make()
    server.create(path, body)
    got = server.get_json(path, params={"action": "show_sensitive_data"} if "session" in kind.name else None)
    if "password" in body:
        got["password"] = body["password"]
    r = server.put(path, got)
    expect(r, 200)
    o = r.json()
    assert o["_revision"] == 1
    for k in got:
        if k not in ("_revision", "_last_modified_time", "psk", "password"):
            assert o[k] == got[k], k


def test_prefix_length_string_accepted(server):
    path = nsx.SES + "/" + nsx.uid("rb")
    body = nsx.route_session_body()
    body["tunnel_interfaces"][0]["ip_subnets"][0]["prefix_length"] = "30"
    o = server.create(path, body)
    assert o["tunnel_interfaces"][0]["ip_subnets"][0]["prefix_length"] == 30
    assert server.get_json(path)["tunnel_interfaces"][0]["ip_subnets"][0]["prefix_length"] == 30


def test_scalar_coercions(server):
    """Jackson-like coercion (schema.h): "86400" -> 86400, 65006 -> "65006", "false" -> false."""
    p1 = nsx.IKE + "/" + nsx.uid("ike")
    assert server.create(p1, nsx.ike_body(sa_life_time="30000"))["sa_life_time"] == 30000
    p2 = nsx.NB + "/" + nsx.uid("nb")
    assert server.create(p2, nsx.neighbor_body(remote_as_num=65006))["remote_as_num"] == "65006"
    p3 = nsx.DPD + "/" + nsx.uid("dpd")
    assert server.create(p3, nsx.dpd_body(enabled="false"))["enabled"] is False


def test_null_optional_array(server):
    p1 = nsx.IKE + "/" + nsx.uid("ike")
    o = server.create(p1, nsx.ike_body(encryption_algorithms=["AES_GCM_128"], digest_algorithms=None))
    assert o["digest_algorithms"] == []
    p2 = nsx.NB + "/" + nsx.uid("nb")
    o = server.create(p2, nsx.neighbor_body(route_filtering=None))
    assert o["route_filtering"] == []
    p3 = nsx.IKE + "/" + nsx.uid("ike")
    o = server.create(p3, nsx.ike_body(tags=None, description=None))
    assert o.get("tags") in (None, [])
    assert "description" not in o or o["description"] in (None, "")


def test_body_on_get_ignored(server):
    path, _, before = _make(server)
    r = server.api("GET", path, data=b'{"sa_life_time": 1, "garbage": [')
    expect(r, 200)
    assert r.json() == before
    r = server.api("GET", nsx.IKE, data=b"not json at all")
    expect(r, 200)
    assert "results" in r.json()


def test_body_on_delete_ignored(server):
    path, _, _ = _make(server)
    expect_empty(server.api("DELETE", path, data=b'{"id": "something-else", "x": ['))
    expect_error(server.get(path), 404)


def test_body_id_equal_to_url_id_accepted(server):
    oid = nsx.uid("ike")
    o = server.create(nsx.IKE + "/" + oid, nsx.ike_body(id=oid, display_name=oid))
    assert o["id"] == oid


def test_body_id_differs_from_url_id_put(server):
    oid = nsx.uid("ike")
    path = nsx.IKE + "/" + oid
    expect_error(server.put(path, nsx.ike_body(id=oid + "-other")), 400, fields="id")
    expect_error(server.get(path), 404)
    expect_error(server.get(nsx.IKE + "/" + oid + "-other"), 404)


def test_body_id_differs_from_url_id_patch(server):
    path, _, before = _make(server)
    expect_error(server.patch(path, {"id": "another-id", "sa_life_time": 30000}), 400, fields="id")
    assert server.get_json(path) == before
    oid = nsx.uid("ike")
    expect_error(server.patch(nsx.IKE + "/" + oid, nsx.ike_body(id="x" + oid)), 400, fields="id")
    expect_error(server.get(nsx.IKE + "/" + oid), 404)


# ------------------------------------------------------------------ resource_type rules

def test_resource_type_of_another_collection_400(server):
    oid = nsx.uid("ike")
    expect_error(server.put(nsx.IKE + "/" + oid, nsx.dpd_body()), 400, fields="resource_type")
    expect_error(server.get(nsx.IKE + "/" + oid), 404)


def test_session_cannot_change_type(server):
    path = nsx.SES + "/" + nsx.uid("rb")
    before = server.create(path, nsx.route_session_body())
    pol = nsx.policy_session_body(_revision=0, psk="abc")
    expect_error(server.put(path, pol), 400, fields="resource_type")
    expect_error(server.patch(path, {"resource_type": "PolicyBasedIPSecVpnSession",
                                     "rules": [nsx.rule()]}), 400, fields="resource_type")
    assert server.get_json(path) == before


# ------------------------------------------------------------------ methods and URLs

OBJ = nsx.IKE + "/nsx-default-l3vpn-ike-profile"


@pytest.mark.parametrize("method,path", [
    ("POST", OBJ),
    ("POST", nsx.SES + "/whatever"),
    ("DELETE", nsx.IKE),
    ("DELETE", nsx.SES),
    ("PUT", nsx.TUN),
    ("PATCH", nsx.PL),
    ("POST", nsx.NB),
    ("PUT", nsx.NB),
    ("OPTIONS", nsx.IKE),
    ("TRACE", OBJ),
])
def test_wrong_method_405(server, method, path):
    r = server.api(method, path, json=nsx.ike_body())
    err = expect_error(r, 405)
    assert err["httpStatus"] == "METHOD_NOT_ALLOWED"
    allow = [m.strip() for m in r.headers.get("Allow", "").split(",")]
    assert "GET" in allow and method not in allow, r.headers     # RFC 9110: 405 carries Allow
    assert method in err["error_message"], err
    server.get_json(OBJ)


@pytest.mark.parametrize("path", [
    "/infra/no-such-collection",
    "/infra/ipsec-vpn-ike-profiles/a/b",
    "/infra/tier-0s/vmc/no-such-thing/x",
    "/infra/tier-0s/nosuch/prefix-lists/x",
    "/infra/tier-0s/vmc/locale-services/other/bgp/neighbors/x",
    "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/other/sessions/x",
    "/nothing",
])
def test_unknown_url_404(server, path):
    err = expect_error(server.get(path), 404)
    assert err["httpStatus"] == "NOT_FOUND"


@pytest.mark.parametrize("url", ["/", "/api/v1/infra/ipsec-vpn-ike-profiles",
                                 "/policy/api/v2/infra/ipsec-vpn-ike-profiles",
                                 "/vmc/reverse-proxy/api/orgs/o/policy/api/v1/infra/ipsec-vpn-ike-profiles"])
def test_unknown_prefix_404(server, url):
    r = server.api("GET", url, prefix="")
    expect_error(r, 404)


def test_put_under_unknown_parent_not_stored(server):
    r = server.put("/infra/tier-0s/nosuch/prefix-lists/" + nsx.uid("pl"), nsx.prefix_list_body())
    assert 400 <= r.status_code < 500
    nsx.check_error_body(r.status_code, nsx.body_json(r))
