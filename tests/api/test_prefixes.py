"""URL prefixes and the deprecated session path (docs/api.md "URL prefixes").

/policy/api/v1, /vmc/reverse-proxy/api/orgs/ORG/sddcs/SDDC/sks-nsxt-manager/policy/api/v1 and the
same without /sks-nsxt-manager reach the same objects (ORG and SDDC: the server's --org/--sddc;
any other ids are 404). Sessions are also reachable at
/infra/tier-0s/vmc/ipsec-vpn-services/default/sessions/X; real clients create through one form and
delete through the other; `path` is always the locale-services form.
"""
import pytest

import nsx
from nsx import expect, expect_empty, expect_error, KINDS

PREFIX_IDS = ["policy", "sks", "rp"]


@pytest.mark.parametrize("create_prefix", nsx.ALL_PREFIXES, ids=PREFIX_IDS)
@pytest.mark.parametrize("kind", [k for k in KINDS if k.name in ("ike", "prefix_list", "neighbor",
                                                                 "route_session")], ids=repr)
def test_same_object_under_every_prefix(server, kind, create_prefix):
    oid = nsx.uid("px-" + kind.name)
    path = kind.path(oid)
    r = server.put(path, kind.make(), prefix=create_prefix)
    expect(r, 200)
    created = r.json()
    assert created["path"] == path            # never carries the URL prefix
    for p in nsx.ALL_PREFIXES:
        r = server.get(path, prefix=p)
        expect(r, 200)
        assert r.json() == created, p
        listed = {o["id"]: o for o in server.get_json(kind.coll, prefix=p)["results"]}
        assert listed.get(oid) == created, p
    # modify under another prefix, see it under all
    other = nsx.ALL_PREFIXES[(nsx.ALL_PREFIXES.index(create_prefix) + 1) % 3]
    expect_empty(server.patch(path, {"description": "via " + other}, prefix=other))
    for p in nsx.ALL_PREFIXES:
        assert server.get_json(path, prefix=p)["description"] == "via " + other
    # delete under the third prefix
    third = nsx.ALL_PREFIXES[(nsx.ALL_PREFIXES.index(create_prefix) + 2) % 3]
    expect_empty(server.delete(path, prefix=third))
    for p in nsx.ALL_PREFIXES:
        expect_error(server.get(path, prefix=p), 404)


@pytest.mark.parametrize("prefix", nsx.ALL_PREFIXES, ids=PREFIX_IDS)
def test_system_objects_under_every_prefix(server, prefix):
    for path in (nsx.DEFAULT_DPD, nsx.PUBLIC_IP1, nsx.SVC, nsx.T0, nsx.BGP):
        assert server.get_json(path, prefix=prefix) == server.get_json(path)


@pytest.mark.parametrize("tail", ["/sks-nsxt-manager/policy/api/v1", "/policy/api/v1"], ids=["sks", "rp"])
@pytest.mark.parametrize("org,sddc", [("ORG", nsx.SDDC), (nsx.ORG, "SDDC"),
                                      ("8b6f1c2e-0000-4a5b-9c3d-1234567890ab",
                                       "f00dfeed-1111-2222-3333-444455556666")],
                         ids=["other-org", "other-sddc", "both"])
def test_other_org_or_sddc_404(server, org, sddc, tail):
    """Only this server's org and SDDC (--org/--sddc) are served under the reverse proxy."""
    prefix = "/vmc/reverse-proxy/api/orgs/%s/sddcs/%s%s" % (org, sddc, tail)
    assert server.get(nsx.DEFAULT_DPD, prefix=prefix).status_code == 404
    oid = nsx.uid("wrong-org")
    assert server.put(nsx.DPD + "/" + oid, nsx.dpd_body(), prefix=prefix).status_code == 404
    expect_error(server.get(nsx.DPD + "/" + oid), 404)


@pytest.mark.parametrize("create_base,other_base", [(nsx.SES, nsx.SES_ALT), (nsx.SES_ALT, nsx.SES)],
                         ids=["create-locale-delete-alt", "create-alt-delete-locale"])
@pytest.mark.parametrize("kind_name", ["route_session", "policy_session"])
def test_session_both_paths(server, create_base, other_base, kind_name):
    oid = nsx.uid("alt")
    body = nsx.KIND[kind_name].make()
    created = server.create(create_base + "/" + oid, body)
    assert created["path"] == nsx.SES + "/" + oid
    assert created["parent_path"] == nsx.SVC

    got = server.get_json(other_base + "/" + oid)
    assert got == created
    assert server.get_json(create_base + "/" + oid) == created
    for base in (nsx.SES, nsx.SES_ALT):
        listed = {o["id"]: o for o in server.list_all(base)}
        assert listed.get(oid) == created, base

    sens = server.get_json(other_base + "/" + oid, params={"action": "show_sensitive_data"})
    assert sens["psk"] == body["psk"]

    # PUT replace through the other path with the revision read there
    r = server.put(other_base + "/" + oid, dict(body, _revision=got["_revision"], enabled=False))
    expect(r, 200)
    assert r.json()["_revision"] == 1 and r.json()["path"] == nsx.SES + "/" + oid
    expect_empty(server.patch(create_base + "/" + oid, {"enabled": True}))
    assert server.get_json(other_base + "/" + oid)["_revision"] == 2

    expect_empty(server.delete(other_base + "/" + oid))
    expect_error(server.get(create_base + "/" + oid), 404)
    expect_error(server.get(other_base + "/" + oid), 404)
    expect_error(server.delete(create_base + "/" + oid), 404)


def test_session_alt_path_with_reverse_proxy_prefix(server):
    oid = nsx.uid("altrp")
    r = server.put(nsx.SES_ALT + "/" + oid, nsx.route_session_body(), prefix=nsx.PREFIX_SKS)
    expect(r, 200)
    assert r.json()["path"] == nsx.SES + "/" + oid
    assert server.get_json(nsx.SES + "/" + oid, prefix=nsx.PREFIX_RP) == r.json()
    expect_empty(server.delete(nsx.SES + "/" + oid, prefix=nsx.PREFIX_RP))
    expect_error(server.get(nsx.SES_ALT + "/" + oid, prefix=nsx.PREFIX_SKS), 404)


def test_session_ids_are_one_namespace(server):
    """One object, two paths: creating the same id through the other form is an update."""
    oid = nsx.uid("ns")
    body = nsx.route_session_body()
    server.create(nsx.SES + "/" + oid, body)
    expect_error(server.put(nsx.SES_ALT + "/" + oid, body), 412, nsx.EC_STALE)
    ids = [o["id"] for o in server.list_all(nsx.SES)]
    assert ids.count(oid) == 1
