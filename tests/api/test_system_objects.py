"""System-defined objects: present from the first start, readable and listable, never modifiable.

Seed: "The system defined objects are the IP Endpoint (either public IP or private IP), and the
default DPD profile ... The default system profile cannot be modified." docs/api.md lists the
rest (tier-0 vmc, locale-service default, bgp, the service, default IKE/tunnel profiles) and says
PUT/PATCH/DELETE on them -> 403, error_code 500041.
"""
import pytest

import nsx
from nsx import expect, expect_error

SYSTEM_OBJECTS = [
    # path, resource_type, parent_path
    (nsx.T0, "Tier0", "/infra"),
    (nsx.LS, "LocaleServices", nsx.T0),
    (nsx.BGP, "BgpRoutingConfig", nsx.LS),
    (nsx.SVC, "IPSecVpnService", nsx.LS),
    (nsx.PUBLIC_IP1, "IPSecVpnLocalEndpoint", nsx.SVC),
    (nsx.PRIVATE_IP1, "IPSecVpnLocalEndpoint", nsx.SVC),
    (nsx.DEFAULT_DPD, "IPSecVpnDpdProfile", "/infra"),
    (nsx.DEFAULT_IKE, "IPSecVpnIkeProfile", "/infra"),
    (nsx.DEFAULT_TUN, "IPSecVpnTunnelProfile", "/infra"),
]

SYSTEM_LISTS = [
    # collection, id expected in it, resource_type
    ("/infra/tier-0s", "vmc", "Tier0"),
    (nsx.T0 + "/locale-services", "default", "LocaleServices"),
    (nsx.LS + "/ipsec-vpn-services", "default", "IPSecVpnService"),
    (nsx.LE, "Public-IP1", "IPSecVpnLocalEndpoint"),
    (nsx.LE, "Private-IP1", "IPSecVpnLocalEndpoint"),
    (nsx.DPD, "nsx-default-l3vpn-dpd-profile", "IPSecVpnDpdProfile"),
    (nsx.IKE, "nsx-default-l3vpn-ike-profile", "IPSecVpnIkeProfile"),
    (nsx.TUN, "nsx-default-l3vpn-tunnel-profile", "IPSecVpnTunnelProfile"),
]


@pytest.mark.parametrize("path,rtype,parent", SYSTEM_OBJECTS, ids=[p for p, _, _ in SYSTEM_OBJECTS])
def test_system_object_get(server, path, rtype, parent):
    obj = server.get_json(path)
    nsx.check_server_fields(obj, path, rtype, parent, system_owned=True)
    assert obj["_system_owned"] is True


@pytest.mark.parametrize("coll,oid,rtype", SYSTEM_LISTS, ids=["%s:%s" % (c, i) for c, i, _ in SYSTEM_LISTS])
def test_system_object_listed(server, coll, oid, rtype):
    page = server.get_json(coll)
    by_id = {o["id"]: o for o in page["results"]}
    assert oid in by_id, page
    assert by_id[oid]["resource_type"] == rtype
    assert by_id[oid]["path"] == coll + "/" + oid
    # a list entry is the same object a GET returns
    assert by_id[oid] == server.get_json(coll + "/" + oid)


def test_default_dpd_profile_values(server):
    o = server.get_json(nsx.DEFAULT_DPD)
    assert o["dpd_probe_mode"] == "PERIODIC"
    assert o["dpd_probe_interval"] == 60
    assert o["retry_count"] == 5
    assert o["enabled"] is True


def test_default_ike_profile_values(server):
    o = server.get_json(nsx.DEFAULT_IKE)
    assert o["ike_version"] == "IKE_V2"
    assert o["encryption_algorithms"] == ["AES_128"]
    assert o["digest_algorithms"] == ["SHA2_256"]
    assert o["dh_groups"] == ["GROUP14"]
    assert o["sa_life_time"] == 86400


def test_default_tunnel_profile_values(server):
    o = server.get_json(nsx.DEFAULT_TUN)
    assert o["encryption_algorithms"] == ["AES_GCM_128"]
    assert o["enable_perfect_forward_secrecy"] is True
    assert o["dh_groups"] == ["GROUP14"]
    assert o["sa_life_time"] == 3600
    assert o["df_policy"] == "COPY"


@pytest.mark.parametrize("path", [nsx.PUBLIC_IP1, nsx.PRIVATE_IP1])
def test_local_endpoint_has_address(server, path):
    o = server.get_json(path)
    assert nsx.is_ip(o["local_address"]), o


@pytest.mark.parametrize("path", [nsx.LE_ALT + "/Public-IP1", nsx.LE_ALT + "/Private-IP1"])
def test_local_endpoint_via_deprecated_path(server, path):
    o = server.get_json(path)
    assert o["path"] == nsx.LE + "/" + path.rsplit("/", 1)[1]
    assert o == server.get_json(o["path"])


def test_service_via_deprecated_path(server):
    o = server.get_json(nsx.SVC_ALT)
    assert o["path"] == nsx.SVC


MODIFIABLE_SYSTEM = [p for p, _, _ in SYSTEM_OBJECTS]


@pytest.mark.parametrize("path", MODIFIABLE_SYSTEM)
def test_system_object_put_forbidden(server, path):
    before = server.get_json(path)
    body = dict(before)            # the object itself, with its current _revision
    body["description"] = "changed by a test"
    r = server.put(path, body)
    expect_error(r, 403, nsx.EC_SYSTEM_OWNED)
    assert server.get_json(path) == before


@pytest.mark.parametrize("path", MODIFIABLE_SYSTEM)
def test_system_object_patch_forbidden(server, path):
    before = server.get_json(path)
    r = server.patch(path, {"description": "changed by a test"})
    expect_error(r, 403, nsx.EC_SYSTEM_OWNED)
    assert server.get_json(path) == before


@pytest.mark.parametrize("path", MODIFIABLE_SYSTEM)
def test_system_object_delete_forbidden(server, path):
    before = server.get_json(path)
    r = server.delete(path)
    expect_error(r, 403, nsx.EC_SYSTEM_OWNED)
    assert server.get_json(path) == before


def test_default_dpd_profile_patch_values_forbidden(server):
    """Seed: the default system DPD profile cannot be modified."""
    before = server.get_json(nsx.DEFAULT_DPD)
    r = server.patch(nsx.DEFAULT_DPD, {"dpd_probe_interval": 30, "_revision": before["_revision"]})
    expect_error(r, 403, nsx.EC_SYSTEM_OWNED)
    after = server.get_json(nsx.DEFAULT_DPD)
    assert after == before and after["dpd_probe_interval"] == 60


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_default_dpd_profile_forbidden_even_with_allow_overwrite(server, method):
    """NSX lets X-Allow-Overwrite modify some protected objects; the seed says the default
    system profile cannot be modified at all."""
    before = server.get_json(nsx.DEFAULT_DPD)
    body = dict(before, retry_count=9) if method != "DELETE" else None
    r = server.api(method, nsx.DEFAULT_DPD, json=body, headers={"X-Allow-Overwrite": "true"})
    expect_error(r, 403, nsx.EC_SYSTEM_OWNED)
    assert server.get_json(nsx.DEFAULT_DPD) == before


def test_local_endpoint_via_deprecated_path_delete_forbidden(server):
    before = server.get_json(nsx.PUBLIC_IP1)
    expect_error(server.delete(nsx.LE_ALT + "/Public-IP1"), 403, nsx.EC_SYSTEM_OWNED)
    assert server.get_json(nsx.PUBLIC_IP1) == before


def test_system_objects_exist_on_a_fresh_server(fresh_server):
    for path, rtype, parent in SYSTEM_OBJECTS:
        o = fresh_server.get_json(path)
        assert o["resource_type"] == rtype and o["_system_owned"] is True
