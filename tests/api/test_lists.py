"""Collections: the NSX list envelope, page_size/cursor paging, sorting (docs/api.md "Lists":
default sort display_name ascending, ties by id; page_size default and max 1000; cursor opaque and
absent on the last page)."""
import random

import pytest

import nsx
from nsx import expect

N = 25


@pytest.fixture(scope="module")
def populated(module_server):
    """25 prefix lists whose display names are created in shuffled order (no system objects
    live in this collection)."""
    srv = module_server
    names = ["Prefix %02d" % i for i in range(N)]
    order = list(range(N))
    random.Random(7).shuffle(order)
    ids = {}
    for i in order:
        oid = "pl-%s" % format(random.Random(i).getrandbits(32), "08x")
        srv.create(nsx.PL + "/" + oid, nsx.prefix_list_body(display_name=names[i]))
        ids[oid] = names[i]
    return srv, ids


def _key(o):
    return (o["display_name"], o["id"])


def check_envelope(page, ascending=True):
    for k in ("results", "result_count", "sort_by", "sort_ascending"):
        assert k in page, (k, page.keys())
    assert isinstance(page["results"], list)
    assert page["sort_by"] == "display_name"
    assert page["sort_ascending"] is ascending


def test_empty_collections(fresh_server):
    for coll in (nsx.PL, nsx.NB, nsx.SES, nsx.SES_ALT):
        page = fresh_server.get_json(coll)
        assert page["results"] == [] and page["result_count"] == 0, coll
        assert "cursor" not in page or page["cursor"] in (None, "")


def test_default_list_sorted_by_display_name(populated):
    srv, ids = populated
    page = srv.get_json(nsx.PL)
    check_envelope(page)
    assert page["result_count"] == N
    assert len(page["results"]) == N
    assert "cursor" not in page
    assert [o["display_name"] for o in page["results"]] == sorted(ids.values())
    for o in page["results"]:
        assert o == srv.get_json(o["path"])


def test_sort_descending(populated):
    srv, ids = populated
    page = srv.get_json(nsx.PL, params={"sort_by": "display_name", "sort_ascending": "false"})
    check_envelope(page, ascending=False)
    assert [o["display_name"] for o in page["results"]] == sorted(ids.values(), reverse=True)


@pytest.mark.parametrize("ascending", [True, False])
def test_paging_page_size_10(populated, ascending):
    srv, ids = populated
    pages, cursor = [], None
    for _ in range(10):                                 # bounded: 3 pages expected
        q = {"page_size": 10, "sort_by": "display_name",
             "sort_ascending": "true" if ascending else "false"}
        if cursor:
            q["cursor"] = cursor
        page = srv.get_json(nsx.PL, params=q)
        pages.append(page)
        cursor = page.get("cursor")
        if not cursor:
            break
    assert [len(p["results"]) for p in pages] == [10, 10, 5]
    assert pages[0]["result_count"] == N
    for p in pages[1:]:
        assert p.get("result_count", N) == N
    for p in pages[:-1]:
        assert isinstance(p["cursor"], str) and p["cursor"]
    assert "cursor" not in pages[-1] or not pages[-1]["cursor"]
    seen = [o["id"] for p in pages for o in p["results"]]
    assert len(seen) == len(set(seen)) == N
    assert set(seen) == set(ids)
    flat = [o for p in pages for o in p["results"]]
    assert flat == sorted(flat, key=_key, reverse=not ascending)


@pytest.mark.parametrize("size,expected", [(1, [1] * N), (24, [24, 1]), (25, [25]), (1000, [25])])
def test_paging_other_sizes(populated, size, expected):
    srv, ids = populated
    sizes, cursor, seen = [], None, []
    for _ in range(N + 5):
        q = {"page_size": size}
        if cursor:
            q["cursor"] = cursor
        page = srv.get_json(nsx.PL, params=q)
        sizes.append(len(page["results"]))
        seen += [o["id"] for o in page["results"]]
        cursor = page.get("cursor")
        if not cursor:
            break
    assert sizes == expected
    assert sorted(seen) == sorted(ids)


def test_paging_under_every_prefix(populated):
    srv, ids = populated
    for prefix in nsx.ALL_PREFIXES:
        p1 = srv.get_json(nsx.PL, params={"page_size": 10}, prefix=prefix)
        p2 = srv.get_json(nsx.PL, params={"page_size": 10, "cursor": p1["cursor"]}, prefix=prefix)
        assert not {o["id"] for o in p1["results"]} & {o["id"] for o in p2["results"]}


def test_ties_sorted_by_id(module_server):
    srv = module_server
    tag = nsx.uid("tie")
    oids = ["%s-%s" % (tag, c) for c in "dbeac"]
    for oid in oids:
        srv.create(nsx.NB + "/" + oid, nsx.neighbor_body(display_name="Same Name " + tag))
    res = [o for o in srv.list_all(nsx.NB) if o["id"].startswith(tag)]
    assert [o["id"] for o in res] == sorted(oids)
    res = [o for o in srv.list_all(nsx.NB, params={"sort_ascending": "false"}) if o["id"].startswith(tag)]
    assert [o["id"] for o in res] == sorted(oids, reverse=True)


def test_session_list_has_both_kinds_without_psk(fresh_server):
    srv = fresh_server
    created = {}
    for i in range(3):
        for kind in ("route_session", "policy_session"):
            oid = "%s-%d" % (kind.split("_")[0], i)
            body = nsx.KIND[kind].make()
            body["psk"] = "list-psk-%s" % oid
            created[oid] = srv.create(nsx.SES + "/" + oid, body)
    for base in (nsx.SES, nsx.SES_ALT):
        r = srv.get(base)
        expect(r, 200)
        assert b"list-psk-" not in r.content
        page = r.json()
        check_envelope(page)
        assert page["result_count"] == 6
        by_id = {o["id"]: o for o in page["results"]}
        assert by_id == created
        kinds = {o["resource_type"] for o in page["results"]}
        assert kinds == {"RouteBasedIPSecVpnSession", "PolicyBasedIPSecVpnSession"}
        for o in page["results"]:
            assert "psk" not in o
            assert o["path"] == nsx.SES + "/" + o["id"]


def test_list_reflects_deletes(module_server):
    srv = module_server
    oid = nsx.uid("gone")
    srv.create(nsx.DPD + "/" + oid, nsx.dpd_body())
    assert oid in {o["id"] for o in srv.list_all(nsx.DPD)}
    nsx.expect_empty(srv.delete(nsx.DPD + "/" + oid))
    assert oid not in {o["id"] for o in srv.list_all(nsx.DPD)}
