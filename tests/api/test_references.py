"""References between objects (seed notes; docs/api.md "Deleting a referenced object -> 400,
error_code 500030, naming the referrer's path"; "Reference to a missing object -> 400").
"""
import pytest

import nsx
from nsx import expect, expect_empty, expect_error

PROFILE_KINDS = [
    ("ike", nsx.IKE, nsx.ike_body, "ike_profile_path"),
    ("tunnel", nsx.TUN, nsx.tunnel_body, "tunnel_profile_path"),
    ("dpd", nsx.DPD, nsx.dpd_body, "dpd_profile_path"),
]


def _session(server, base=nsx.SES, kind="route_session", vti=None, **fields):
    oid = nsx.uid("s")
    body = nsx.route_session_body(vti=vti) if kind == "route_session" else nsx.policy_session_body()
    body.update(fields)
    server.create(base + "/" + oid, body)
    return nsx.SES + "/" + oid, body


@pytest.mark.parametrize("session_kind", ["route_session", "policy_session"])
@pytest.mark.parametrize("name,coll,make,field", PROFILE_KINDS, ids=[p[0] for p in PROFILE_KINDS])
def test_profile_in_use_cannot_be_deleted(server, name, coll, make, field, session_kind):
    ppath = coll + "/" + nsx.uid(name)
    server.create(ppath, make())
    spath, _ = _session(server, kind=session_kind, **{field: ppath})
    before = server.get_json(ppath)

    err = expect_error(server.delete(ppath), 400, nsx.EC_IN_USE, fields=spath)
    assert err["httpStatus"] == "BAD_REQUEST"
    assert server.get_json(ppath) == before

    # modifying a profile in use is allowed
    expect_empty(server.patch(ppath, {"description": "still in use"}))

    expect_empty(server.delete(spath))
    expect_empty(server.delete(ppath))
    expect_error(server.get(ppath), 404)


def test_profile_used_by_two_sessions(server):
    ppath = nsx.IKE + "/" + nsx.uid("ike")
    server.create(ppath, nsx.ike_body())
    s1, _ = _session(server, ike_profile_path=ppath)
    s2, _ = _session(server, base=nsx.SES_ALT, kind="policy_session", ike_profile_path=ppath)
    err = expect_error(server.delete(ppath), 400, nsx.EC_IN_USE)
    assert s1 in nsx.error_text(err) or s2 in nsx.error_text(err)
    expect_empty(server.delete(s1))
    expect_error(server.delete(ppath), 400, nsx.EC_IN_USE, fields=s2)
    expect_empty(server.delete(nsx.SES_ALT + "/" + s2.rsplit("/", 1)[1]))
    expect_empty(server.delete(ppath))


def test_reference_moves_with_update(server):
    """After a session stops referencing a profile (PATCH or PUT), the profile can go."""
    p1 = nsx.TUN + "/" + nsx.uid("tun")
    p2 = nsx.TUN + "/" + nsx.uid("tun")
    server.create(p1, nsx.tunnel_body())
    server.create(p2, nsx.tunnel_body())
    spath, body = _session(server, tunnel_profile_path=p1)
    expect_error(server.delete(p1), 400, nsx.EC_IN_USE, fields=spath)
    expect_empty(server.patch(spath, {"tunnel_profile_path": p2}))
    expect_error(server.delete(p2), 400, nsx.EC_IN_USE, fields=spath)
    expect_empty(server.delete(p1))
    r = server.put(spath, dict(body, tunnel_profile_path=nsx.DEFAULT_TUN, _revision=1))
    expect(r, 200)
    expect_empty(server.delete(p2))


def test_session_create_with_missing_references(server):
    for field, target in (("ike_profile_path", nsx.IKE + "/gone-ike"),
                          ("tunnel_profile_path", nsx.TUN + "/gone-tun"),
                          ("dpd_profile_path", nsx.DPD + "/gone-dpd"),
                          ("local_endpoint_path", nsx.LE + "/Gone-IP1")):
        oid = nsx.uid("s")
        body = nsx.route_session_body(**{field: target})
        expect_error(server.put(nsx.SES + "/" + oid, body), 400, nsx.EC_INVALID, fields=(field, target))
        expect_error(server.get(nsx.SES + "/" + oid), 404)


def test_session_reference_to_deleted_profile(server):
    ppath = nsx.DPD + "/" + nsx.uid("dpd")
    server.create(ppath, nsx.dpd_body())
    expect_empty(server.delete(ppath))
    oid = nsx.uid("s")
    expect_error(server.put(nsx.SES + "/" + oid, nsx.route_session_body(dpd_profile_path=ppath)), 400,
                 fields="dpd_profile_path")
    expect_error(server.get(nsx.SES + "/" + oid), 404)


# ------------------------------------------------------------------ prefix lists and neighbors

@pytest.mark.parametrize("direction", ["in_route_filters", "out_route_filters"])
def test_prefix_list_in_use_by_neighbor(server, direction):
    pl = nsx.PL + "/" + nsx.uid("pl")
    server.create(pl, nsx.prefix_list_body())
    nb = nsx.NB + "/" + nsx.uid("nb")
    server.create(nb, nsx.neighbor_body(route_filtering=[
        {"enabled": True, "address_family": "IPV4", direction: [pl]}]))
    before = server.get_json(pl)
    expect_error(server.delete(pl), 400, nsx.EC_IN_USE, fields=nb)
    assert server.get_json(pl) == before
    expect_empty(server.delete(nb))            # a neighbor can always be deleted
    expect_empty(server.delete(pl))


def test_prefix_list_released_by_removing_it_from_neighbor(server):
    """Seed: delete the BGP neighbor first, "or remove the prefix-list from the BGP neighbor"."""
    pl = nsx.PL + "/" + nsx.uid("pl")
    server.create(pl, nsx.prefix_list_body())
    nb = nsx.NB + "/" + nsx.uid("nb")
    server.create(nb, nsx.neighbor_body(route_filtering=[
        {"enabled": True, "address_family": "IPV4", "in_route_filters": [pl], "out_route_filters": [pl]}]))
    expect_error(server.delete(pl), 400, nsx.EC_IN_USE, fields=nb)
    expect_empty(server.patch(nb, {"route_filtering": []}))
    expect_empty(server.delete(pl))
    assert server.get_json(nb)["route_filtering"] == []


def test_neighbor_with_missing_prefix_list(server):
    nb = nsx.NB + "/" + nsx.uid("nb")
    missing = nsx.PL + "/" + nsx.uid("nopl")
    expect_error(server.put(nb, nsx.neighbor_body(route_filtering=[
        {"enabled": True, "address_family": "IPV4", "in_route_filters": [missing]}])), 400,
        nsx.EC_INVALID, fields=("in_route_filters", missing))
    expect_error(server.get(nb), 404)


# ------------------------------------------------------------------ sessions and BGP neighbors

@pytest.mark.parametrize("order", ["neighbor-first", "session-first"])
def test_session_with_matching_neighbor_cannot_be_deleted(server, order):
    local, peer, _ = nsx.vti_pair()
    nb = nsx.NB + "/" + nsx.uid("nb")
    sid = nsx.uid("s")
    spath = nsx.SES + "/" + sid
    if order == "neighbor-first":
        server.create(nb, nsx.neighbor_body(peer))
        server.create(spath, nsx.route_session_body(vti=local))
    else:
        server.create(spath, nsx.route_session_body(vti=local))
        server.create(nb, nsx.neighbor_body(peer))
    before = server.get_json(spath)

    err = expect_error(server.delete(spath), 400, nsx.EC_IN_USE, fields=nb)
    assert err["httpStatus"] == "BAD_REQUEST"
    expect_error(server.delete(nsx.SES_ALT + "/" + sid), 400, nsx.EC_IN_USE, fields=nb)
    assert server.get_json(spath) == before

    expect_empty(server.delete(nb))
    expect_empty(server.delete(spath))
    expect_error(server.get(spath), 404)


def test_neighbor_moved_out_of_subnet_releases_session(server):
    local, peer, net = nsx.vti_pair()
    spath, _ = _session(server, vti=local)
    nb = nsx.NB + "/" + nsx.uid("nb")
    server.create(nb, nsx.neighbor_body(peer))
    expect_error(server.delete(spath), 400, nsx.EC_IN_USE, fields=nb)
    expect_empty(server.patch(nb, {"neighbor_address": nsx.vti_pair()[1]}))
    expect_empty(server.delete(spath))


def test_neighbor_outside_subnet_does_not_block(server):
    local, _, _ = nsx.vti_pair()
    _, other_peer, _ = nsx.vti_pair()
    spath, _ = _session(server, vti=local)
    nb = nsx.NB + "/" + nsx.uid("nb")
    server.create(nb, nsx.neighbor_body(other_peer))
    expect_empty(server.delete(spath))
    server.get_json(nb)


def test_policy_session_not_blocked_by_neighbors(server):
    spath, _ = _session(server, kind="policy_session")
    nb = nsx.NB + "/" + nsx.uid("nb")
    server.create(nb, nsx.neighbor_body())
    expect_empty(server.delete(spath))


def test_neighbor_can_always_be_deleted(server):
    """Seed: "The BGP neighbor will be deleted even if it is in use by a VPN Session"."""
    local, peer, _ = nsx.vti_pair()
    pl = nsx.PL + "/" + nsx.uid("pl")
    server.create(pl, nsx.prefix_list_body())
    spath, _ = _session(server, vti=local)
    nb = nsx.NB + "/" + nsx.uid("nb")
    server.create(nb, nsx.neighbor_body(peer, password="nbpw", route_filtering=[
        {"enabled": True, "address_family": "IPV4", "in_route_filters": [pl], "out_route_filters": [pl]}]))
    expect_empty(server.delete(nb))
    expect_error(server.get(nb), 404)
    expect_empty(server.delete(spath))
    expect_empty(server.delete(pl))


def test_seed_dependency_order(server):
    """The seed's order: profiles, prefix list, neighbor, session; deletes in reverse, each blocked
    until its referrer is gone."""
    ike = nsx.IKE + "/" + nsx.uid("ike")
    tun = nsx.TUN + "/" + nsx.uid("tun")
    pl = nsx.PL + "/" + nsx.uid("pl")
    nb = nsx.NB + "/" + nsx.uid("nb")
    local, peer, _ = nsx.vti_pair()
    server.create(ike, nsx.ike_body(encryption_algorithms=["AES_GCM_128"], digest_algorithms=[],
                                    dh_groups=["GROUP21"]))
    server.create(tun, nsx.tunnel_body(dh_groups=["GROUP21"]))
    server.create(pl, nsx.prefix_list_body())
    server.create(nb, nsx.neighbor_body(peer, route_filtering=[
        {"enabled": True, "address_family": "IPV4", "in_route_filters": [pl], "out_route_filters": [pl]}]))
    spath, _ = _session(server, vti=local, ike_profile_path=ike, tunnel_profile_path=tun)

    expect_error(server.delete(ike), 400, nsx.EC_IN_USE, fields=spath)
    expect_error(server.delete(tun), 400, nsx.EC_IN_USE, fields=spath)
    expect_error(server.delete(pl), 400, nsx.EC_IN_USE, fields=nb)
    expect_error(server.delete(spath), 400, nsx.EC_IN_USE, fields=nb)
    for p in (nb, spath, ike, tun, pl):
        expect_empty(server.delete(p))
        expect_error(server.get(p), 404)


# ---------------------------------------------------------------- tunnel-interface overlap

@pytest.mark.parametrize("second_vti,second_len", [
    ("same", 30),            # the very same /30
    ("peer", 30),            # the other usable address of the same /30
    ("inside", 31),          # a /31 inside the first /30
    ("around", 29),          # a /29 that contains the first /30
])
def test_vti_subnets_may_not_overlap(server, second_vti, second_len):
    local, peer, net = nsx.vti_pair()
    first, _ = _session(server, vti=local)
    octets = net.split(".")
    addr = {"same": local, "peer": peer, "inside": local,
            "around": "%s.%s.%s.%d" % (octets[0], octets[1], octets[2],
                                        (int(octets[3]) & ~7) + 1)}[second_vti]
    spath = nsx.SES + "/" + nsx.uid("ovl")
    err = expect_error(server.put(spath, nsx.route_session_body(vti=addr, prefix_length=second_len)),
                       400, 500105, ["tunnel_interfaces"])
    assert first in nsx.error_text(err)
    expect_error(server.get(spath), 404)
    # the first session can still be replaced with its own subnet (no overlap with itself)
    cur = server.get_json(first, params={"action": "show_sensitive_data"})
    expect(server.put(first, cur), 200)
    # once the first session is gone, the subnet is free again
    expect_empty(server.delete(first))
    expect(server.put(spath, nsx.route_session_body(vti=local)), 200)
    expect_empty(server.delete(spath))


# ---------------------------------------------------------------- no iBGP (VMC)

@pytest.mark.parametrize("asn", ["65000", "0.65000"])
def test_neighbor_remote_as_must_differ_from_local_as(server, asn):
    """VMC: "The local ASN must be different from the remote ASN" (iBGP is not supported); the
    SDDC's local AS is the BGP config's local_as_num, 65000 by default."""
    local_as = server.get_json(nsx.BGP)["local_as_num"]
    assert local_as == "65000"
    path = nsx.NB + "/" + nsx.uid("ibgp")
    err = expect_error(server.put(path, nsx.neighbor_body(remote_as_num=asn)), 400,
                       nsx.EC_INVALID, ["remote_as_num"])
    assert "iBGP" in nsx.error_text(err)
    expect_error(server.get(path), 404)
    expect(server.put(path, nsx.neighbor_body(remote_as_num="65001")), 200)
    expect_empty(server.delete(path))


# ---------------------------------------------------------------- neighbor vs. the SDDC's own VTI

def test_neighbor_may_not_take_the_sddc_side_address(server):
    """The neighbor is the peer's end of the /30 (seed: "the other device IP in the network");
    the SDDC's own tunnel-interface address is refused, in either order of creation."""
    local, peer, _ = nsx.vti_pair()
    spath, _ = _session(server, vti=local)
    nb = nsx.NB + "/" + nsx.uid("own")
    err = expect_error(server.put(nb, nsx.neighbor_body(local)), 400, nsx.EC_INVALID,
                       ["neighbor_address"])
    assert spath in nsx.error_text(err)
    expect_error(server.get(nb), 404)
    expect(server.put(nb, nsx.neighbor_body(peer)), 200)
    expect_empty(server.delete(nb))
    expect_empty(server.delete(spath))

    # neighbor first, then a session claiming the neighbor's address as its own
    local2, peer2, _ = nsx.vti_pair()
    expect(server.put(nb, nsx.neighbor_body(peer2)), 200)
    s2 = nsx.SES + "/" + nsx.uid("own")
    err = expect_error(server.put(s2, nsx.route_session_body(vti=peer2)), 400, nsx.EC_INVALID,
                       ["tunnel_interfaces"])
    assert nb in nsx.error_text(err)
    expect_error(server.get(s2), 404)
    expect_empty(server.delete(nb))
