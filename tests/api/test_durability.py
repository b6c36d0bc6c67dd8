"""Durability: every acknowledged write survives kill -9; a restart keeps _revision, timestamps
and unique_id, and the reference rules keep working."""
import threading
import time

import requests

import nsx
from nsx import expect, expect_empty, expect_error

SENSITIVE = {"action": "show_sensitive_data"}


def _build_world(srv):
    ike = nsx.IKE + "/d-ike"
    tun = nsx.TUN + "/d-tun"
    dpd = nsx.DPD + "/d-dpd"
    pl = nsx.PL + "/d-pl"
    nb = nsx.NB + "/d-nb"
    rs = nsx.SES + "/d-route"
    ps = nsx.SES + "/d-policy"
    gone = nsx.IKE + "/d-gone"
    srv.create(ike, nsx.ike_body())
    srv.create(tun, nsx.tunnel_body())
    srv.create(dpd, nsx.dpd_body())
    srv.create(pl, nsx.prefix_list_body())
    srv.create(nb, nsx.neighbor_body("169.254.151.1", password="durable-pw", route_filtering=[
        {"enabled": True, "address_family": "IPV4", "in_route_filters": [pl], "out_route_filters": [pl]}]))
    srv.create(rs, nsx.route_session_body(vti="169.254.151.2", psk="durable-psk-1",
                                          ike_profile_path=ike, tunnel_profile_path=tun,
                                          dpd_profile_path=dpd))
    expect_empty(srv.patch(ps, nsx.policy_session_body(psk="durable-psk-2")))   # PATCH-create
    srv.create(gone, nsx.ike_body())
    # changes after create
    expect(srv.put(ike, nsx.ike_body(sa_life_time=30000, _revision=0)), 200)
    expect_empty(srv.patch(dpd, {"dpd_probe_interval": 30}))
    expect_empty(srv.patch(dpd, {"retry_count": 7}))
    expect_empty(srv.delete(gone))
    paths = dict(ike=ike, tun=tun, dpd=dpd, pl=pl, nb=nb, rs=rs, ps=ps)
    return paths, gone


def _snapshot(srv, paths):
    snap = {}
    for name, p in paths.items():
        snap[name] = srv.get_json(p, params=SENSITIVE if name in ("rs", "ps") else None)
    return snap


def test_kill9_then_restart_keeps_every_object(fresh_server):
    srv = fresh_server
    paths, gone = _build_world(srv)
    before = _snapshot(srv, paths)
    lists = {c: srv.get_json(c) for c in (nsx.IKE, nsx.DPD, nsx.PL, nsx.NB, nsx.SES)}
    assert before["ike"]["_revision"] == 1 and before["dpd"]["_revision"] == 2

    srv.restart_after_kill9()

    after = _snapshot(srv, paths)
    for name in paths:
        assert after[name] == before[name], name
    for c, page in lists.items():
        assert srv.get_json(c) == page, c
    expect_error(srv.get(gone), 404)
    assert after["rs"]["psk"] == "durable-psk-1" and after["ps"]["psk"] == "durable-psk-2"

    # system objects are there exactly once
    dpd_ids = [o["id"] for o in srv.list_all(nsx.DPD)]
    assert dpd_ids.count("nsx-default-l3vpn-dpd-profile") == 1
    assert srv.get_json(nsx.PUBLIC_IP1)["_system_owned"] is True

    # references survive the restart
    expect_error(srv.delete(paths["ike"]), 400, nsx.EC_IN_USE, fields=paths["rs"])
    expect_error(srv.delete(paths["pl"]), 400, nsx.EC_IN_USE, fields=paths["nb"])
    expect_error(srv.delete(paths["rs"]), 400, nsx.EC_IN_USE, fields=paths["nb"])

    # revisions continue where they were; identity is kept
    r = srv.put(paths["ike"], nsx.ike_body(sa_life_time=40000, _revision=1))
    expect(r, 200)
    o = r.json()
    assert o["_revision"] == 2
    assert o["unique_id"] == before["ike"]["unique_id"]
    assert o["_create_time"] == before["ike"]["_create_time"]
    assert o["_last_modified_time"] >= before["ike"]["_last_modified_time"]
    expect_error(srv.put(paths["ike"], nsx.ike_body(_revision=1)), 412, nsx.EC_STALE)


def test_graceful_restart_and_second_kill(fresh_server):
    srv = fresh_server
    paths, _ = _build_world(srv)
    before = _snapshot(srv, paths)
    srv.stop()
    srv.start()
    assert _snapshot(srv, paths) == before
    expect_empty(srv.patch(paths["tun"], {"sa_life_time": 7200}))
    tun = srv.get_json(paths["tun"])
    srv.restart_after_kill9()
    assert srv.get_json(paths["tun"]) == tun
    assert tun["_revision"] == before["tun"]["_revision"] + 1


def test_acknowledged_burst_survives_kill9(fresh_server):
    """Writes from several clients; kill -9 the moment the last response arrives."""
    srv = fresh_server
    acked = {}
    lock = threading.Lock()

    def writer(tid):
        s = requests.Session()
        for i in range(12):
            oid = "burst-%d-%d" % (tid, i)
            r = srv.api("PUT", nsx.DPD + "/" + oid, session=s,
                        json=nsx.dpd_body(description="t%d i%d" % (tid, i), retry_count=5 + i % 3))
            assert r.status_code == 200, r.content
            with lock:
                acked[oid] = r.json()
        s.close()

    threads = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive()
    srv.kill9()
    srv.start()
    assert len(acked) == 48
    for oid, body in acked.items():
        assert srv.get_json(nsx.DPD + "/" + oid) == body, oid


def test_kill9_during_writes(fresh_server):
    """Killed mid-stream: every acknowledged write is there, and whatever else is there is whole."""
    srv = fresh_server
    acked = {}
    stop = threading.Event()

    def writer():
        s = requests.Session()
        i = 0
        while not stop.is_set() and i < 2000:
            oid = "mid-%d" % i
            body = nsx.prefix_list_body(description="n%d" % i)
            try:
                r = srv.api("PUT", nsx.PL + "/" + oid, json=body, session=s, timeout=5)
            except requests.RequestException:
                break
            if r.status_code == 200:
                acked[oid] = r.json()
            i += 1
        s.close()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while len(acked) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    srv.kill9()
    stop.set()
    t.join(timeout=30)
    assert not t.is_alive()
    srv.start()
    assert acked, "no write was acknowledged before the kill"
    stored = {o["id"]: o for o in srv.list_all(nsx.PL)}
    for oid, body in acked.items():
        assert stored.get(oid) == body, oid
    for oid, o in stored.items():
        assert o["prefixes"] and o["description"] == "n" + oid.split("-")[1]
        assert srv.get_json(nsx.PL + "/" + oid) == o


def test_system_objects_keep_identity_across_restarts(fresh_server):
    srv = fresh_server
    system = [nsx.DEFAULT_DPD, nsx.DEFAULT_IKE, nsx.DEFAULT_TUN, nsx.T0, nsx.LS, nsx.BGP, nsx.SVC,
              nsx.PUBLIC_IP1, nsx.PRIVATE_IP1]
    before = {p: srv.get_json(p) for p in system}
    srv.restart_after_kill9()
    assert {p: srv.get_json(p) for p in system} == before
    srv.stop()
    srv.start()
    assert {p: srv.get_json(p) for p in system} == before


def test_failed_store_write_is_not_kept_and_writes_recover(fresh_server):
    """Regression (review H1): a write the store could not commit was answered 503 "not
    applied" yet stayed visible, and every later write was refused until restart. Another
    process holds SQLite's write lock longer than vpnd's busy timeout (5 s): the PUT fails,
    the object must not exist, and once the lock is gone writes work again."""
    import sqlite3
    import time

    srv = fresh_server
    keep = nsx.IKE + "/" + nsx.uid("keep")
    srv.create(keep, nsx.ike_body())
    ghost = nsx.IKE + "/" + nsx.uid("ghost")
    db = sqlite3.connect(str(srv.data / "vpnd.db"), timeout=1, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        r = srv.put(ghost, nsx.ike_body(), timeout=30)
        assert r.status_code == 503, r.text
        assert "durable" in r.json()["error_message"]
    finally:
        db.execute("ROLLBACK")
        db.close()
    # the model reloads from the store in the background: poll (bounded) until it has
    deadline = time.monotonic() + 20
    while True:
        r = srv.put(keep, dict(nsx.ike_body(), _revision=0), timeout=30)
        if r.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.status_code == 200, r.text
    assert r.json()["_revision"] == 1
    expect_error(srv.get(ghost), 404)
    # and after a restart the store agrees
    srv.restart_after_kill9()
    expect_error(srv.get(ghost), 404)
    assert srv.get_json(keep)["_revision"] == 1
