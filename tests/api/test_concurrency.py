"""_revision conflicts between concurrent writers: no lost update.

Each writer uses its own HTTP connection. Rounds are lined up with barriers where a test needs
every writer to hold the same _revision; every wait is bounded.
"""
import threading

import requests

import nsx
from nsx import expect

ROUNDS = 25
WAIT = 60


def run_threads(n, target):
    errors = []

    def wrap(tid):
        try:
            target(tid)
        except BaseException as e:      # surfaced in the main thread
            errors.append((tid, e))

    threads = [threading.Thread(target=wrap, args=(t,), daemon=True) for t in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=WAIT * 2)
        assert not t.is_alive(), "writer thread did not finish"
    if errors:
        raise errors[0][1]


def test_two_writers_put_same_object(server):
    path = nsx.DPD + "/" + nsx.uid("race")
    start = server.create(path, nsx.dpd_body())["_revision"]
    results = []
    lock = threading.Lock()
    b1 = threading.Barrier(2, timeout=WAIT)
    b2 = threading.Barrier(2, timeout=WAIT)

    def writer(tid):
        s = requests.Session()
        for i in range(ROUNDS):
            b1.wait()
            rev = server.api("GET", path, session=s).json()["_revision"]
            b2.wait()
            desc = "writer %d round %d" % (tid, i)
            r = server.api("PUT", path, session=s,
                           json=nsx.dpd_body(description=desc, retry_count=5 + i % 5, _revision=rev))
            with lock:
                results.append((i, tid, rev, desc, r.status_code, r.json() if r.content else None))
        s.close()

    run_threads(2, writer)
    final = server.get_json(path)
    oks = [x for x in results if x[4] == 200]
    for i, tid, rev, desc, status, body in results:
        assert status in (200, 412), (status, body)
        if status == 412:
            assert body["error_code"] == nsx.EC_STALE and body["httpStatus"] == "PRECONDITION_FAILED"
        else:
            assert body["_revision"] == rev + 1, body
            assert body["description"] == desc
    # both writers read the same revision each round: exactly one of them wins it
    for i in range(ROUNDS):
        assert [x[4] for x in results if x[0] == i].count(200) == 1, [x for x in results if x[0] == i]
    assert len(oks) == final["_revision"] - start == ROUNDS
    assert sorted(x[5]["_revision"] for x in oks) == list(range(start + 1, final["_revision"] + 1))
    last = max(oks, key=lambda x: x[5]["_revision"])
    assert final["description"] == last[3]


def test_four_writers_free_running_put(server):
    """No barriers: whatever the interleaving, 200s == revision increase, the rest are 412."""
    path = nsx.IKE + "/" + nsx.uid("race4")
    start = server.create(path, nsx.ike_body())["_revision"]
    statuses, revs = [], []
    lock = threading.Lock()

    def writer(tid):
        s = requests.Session()
        for i in range(15):
            got = server.api("GET", path, session=s).json()
            r = server.api("PUT", path, session=s,
                           json=nsx.ike_body(sa_life_time=30000 + tid * 100 + i, _revision=got["_revision"]))
            with lock:
                statuses.append(r.status_code)
                if r.status_code == 200:
                    revs.append(r.json()["_revision"])
                    assert r.json()["_revision"] == got["_revision"] + 1
        s.close()

    run_threads(4, writer)
    final = server.get_json(path)
    assert set(statuses) <= {200, 412}, statuses
    assert statuses.count(200) == final["_revision"] - start
    assert sorted(revs) == list(range(start + 1, final["_revision"] + 1))


def test_two_writers_patch_with_revision(server):
    path = nsx.TUN + "/" + nsx.uid("prace")
    start = server.create(path, nsx.tunnel_body())["_revision"]
    results = []
    lock = threading.Lock()
    b1 = threading.Barrier(2, timeout=WAIT)
    b2 = threading.Barrier(2, timeout=WAIT)

    def writer(tid):
        s = requests.Session()
        for i in range(ROUNDS):
            b1.wait()
            rev = server.api("GET", path, session=s).json()["_revision"]
            b2.wait()
            r = server.api("PATCH", path, session=s,
                           json={"description": "w%d-r%d" % (tid, i), "_revision": rev})
            with lock:
                results.append((i, tid, r.status_code, r.content))
        s.close()

    run_threads(2, writer)
    final = server.get_json(path)
    for i, tid, status, content in results:
        assert status in (200, 412), (status, content)
        if status == 200:
            assert content.strip() == b""
    for i in range(ROUNDS):
        assert [x[2] for x in results if x[0] == i].count(200) == 1
    assert sum(1 for x in results if x[2] == 200) == final["_revision"] - start == ROUNDS
    winners = {x[0]: x[1] for x in results if x[2] == 200}
    assert final["description"] == "w%d-r%d" % (winners[ROUNDS - 1], ROUNDS - 1)
    assert final["encryption_algorithms"] == ["AES_GCM_128"]      # merged, not replaced


def test_patch_without_revision_loses_nothing(server):
    """Concurrent merges of different fields without _revision all land, one revision each."""
    path = nsx.NB + "/" + nsx.uid("merge")
    server.create(path, nsx.neighbor_body())
    fields = [("description", "d"), ("remote_as_num", "65111"), ("allow_as_in", True),
              ("keep_alive_time", 30)]
    b = threading.Barrier(len(fields), timeout=WAIT)

    def writer(tid):
        s = requests.Session()
        b.wait()
        k, v = fields[tid]
        body = {k: v}
        if k == "keep_alive_time":
            body["hold_down_time"] = 90
        expect(server.api("PATCH", path, json=body, session=s), 200)
        s.close()

    run_threads(len(fields), writer)
    o = server.get_json(path)
    for k, v in fields:
        assert o[k] == v, k
    assert o["_revision"] == len(fields)


def test_concurrent_put_create_same_id(server):
    """Several clients PUT-create the same new id at once: one creates it, the rest get 412."""
    path = nsx.DPD + "/" + nsx.uid("create-race")
    n = 4
    b = threading.Barrier(n, timeout=WAIT)
    statuses = []
    lock = threading.Lock()

    def writer(tid):
        s = requests.Session()
        b.wait()
        r = server.api("PUT", path, json=nsx.dpd_body(description="creator %d" % tid), session=s)
        with lock:
            statuses.append((r.status_code, tid))
        s.close()

    run_threads(n, writer)
    codes = [c for c, _ in statuses]
    assert codes.count(200) == 1 and codes.count(412) == n - 1, statuses
    winner = [t for c, t in statuses if c == 200][0]
    o = server.get_json(path)
    assert o["_revision"] == 0 and o["description"] == "creator %d" % winner


def test_concurrent_creates_of_distinct_objects(server):
    ids = [[nsx.uid("many%d" % t) for _ in range(10)] for t in range(4)]

    def writer(tid):
        s = requests.Session()
        for oid in ids[tid]:
            expect(server.api("PUT", nsx.PL + "/" + oid, json=nsx.prefix_list_body(), session=s), 200)
        s.close()

    run_threads(4, writer)
    listed = {o["id"] for o in server.list_all(nsx.PL)}
    for group in ids:
        for oid in group:
            assert oid in listed
            assert server.get_json(nsx.PL + "/" + oid)["_revision"] == 0


def test_delete_races_with_new_reference(server):
    """A profile (or prefix list) deleted while another client creates an object that references
    it: never both succeed, and no object is left pointing at something missing."""
    for i in range(15):
        if i % 2:
            target = nsx.DPD + "/" + nsx.uid("rdpd")
            server.create(target, nsx.dpd_body())
            ref_path = nsx.SES + "/" + nsx.uid("rses")
            ref_body = nsx.route_session_body(dpd_profile_path=target)
        else:
            target = nsx.PL + "/" + nsx.uid("rpl")
            server.create(target, nsx.prefix_list_body())
            ref_path = nsx.NB + "/" + nsx.uid("rnb")
            ref_body = nsx.neighbor_body(route_filtering=[
                {"enabled": True, "address_family": "IPV4", "in_route_filters": [target]}])
        b = threading.Barrier(2, timeout=WAIT)
        out = {}

        def deleter(_):
            s = requests.Session()
            b.wait()
            out["delete"] = server.api("DELETE", target, session=s).status_code
            s.close()

        def creator(_):
            s = requests.Session()
            b.wait()
            out["create"] = server.api("PUT", ref_path, json=ref_body, session=s).status_code
            s.close()

        threads = [threading.Thread(target=f, args=(0,), daemon=True) for f in (deleter, creator)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=WAIT)
            assert not t.is_alive()
        assert out["delete"] in (200, 400) and out["create"] in (200, 400), out
        assert not (out["delete"] == 200 and out["create"] == 200), (i, out)
        target_exists = server.get(target).status_code == 200
        ref_exists = server.get(ref_path).status_code == 200
        assert target_exists == (out["delete"] != 200)
        assert ref_exists == (out["create"] == 200)
        if ref_exists:
            assert target_exists, "dangling reference from %s to %s" % (ref_path, target)


def test_n_clients_read_modify_write_counters(server):
    """8 clients x 3 objects: each client GETs, increments a counter kept in description and
    PATCHes with the _revision it read, retrying on 412. No update is lost: each object's counter
    equals its number of 200s, every 200 wrote a different value, every 412 is NSX error JSON,
    and _revision grew by exactly the number of successes."""
    clients, per_object, max_tries = 8, 4, 400
    paths = [nsx.DPD + "/" + nsx.uid("ctr%d" % i) for i in range(3)]
    start = {p: server.create(p, nsx.dpd_body(description="counter=0"))["_revision"]
             for p in paths}
    lock = threading.Lock()
    wins = {p: [] for p in paths}       # the counter value each 200 wrote
    stale = {p: 0 for p in paths}
    read0 = threading.Barrier(clients, timeout=WAIT)

    def target(tid, n):
        # the first increment of every client is lined up on paths[0]: all read the same
        # _revision before any writes, so exactly one wins it and clients - 1 get 412
        return paths[0] if n == 0 else paths[(tid + n) % len(paths)]

    planned = {p: 0 for p in paths}
    for tid in range(clients):
        for n in range(per_object * len(paths)):
            planned[target(tid, n)] += 1

    def client(tid):
        s = requests.Session()
        for n in range(per_object * len(paths)):
            p = target(tid, n)
            for attempt in range(max_tries):
                got = server.api("GET", p, session=s)
                expect(got, 200)
                if n == 0 and attempt == 0:
                    read0.wait()
                cur = got.json()
                assert cur["description"].startswith("counter="), cur
                value = int(cur["description"][len("counter="):]) + 1
                r = server.api("PATCH", p, session=s,
                               json={"description": "counter=%d" % value,
                                     "_revision": cur["_revision"]})
                if r.status_code == 200:
                    assert r.content.strip() == b"", r.content
                    with lock:
                        wins[p].append(value)
                    break
                nsx.expect_error(r, 412, nsx.EC_STALE)
                with lock:
                    stale[p] += 1
            else:
                raise AssertionError("%s: no PATCH won in %d tries" % (p, max_tries))
        s.close()

    run_threads(clients, client)
    for p in paths:
        final = server.get_json(p)
        n = len(wins[p])
        assert n == planned[p], (p, n, planned[p])
        assert final["description"] == "counter=%d" % n, (p, final["description"])
        assert sorted(wins[p]) == list(range(1, n + 1)), (p, sorted(wins[p]))
        assert final["_revision"] - start[p] == n, (p, final["_revision"], start[p], n)
        assert final["dpd_probe_interval"] == 60 and final["retry_count"] == 5   # merged
    assert stale[paths[0]] >= clients - 1, stale
