"""No dirty reads: GETs, lists and the runtime views serve only durable versions, while writers
keep seeing the latest one (docs/model.md, "Committed and latest versions").

The store's test hook holds a commit open: with VPND_TEST_STORE_HOLD=DIR, while DIR/hold exists
the store's writer keeps the batch it took uncommitted and reports in DIR/held how many change
sets wait behind it; removing DIR/hold lets it commit, or fail as a failed COMMIT would when
DIR/fail exists. So each test knows the write is accepted and pending (held exists) before it
reads: no sleeps, no timing assumptions."""
import threading
import time

import pytest
import requests

import nsx
from nsx import expect, expect_empty, expect_error

WAIT = 30   # bound on every wait for the server (seconds); never asserted on


class Hold:
    def __init__(self, d):
        self.d = d
        d.mkdir(parents=True, exist_ok=True)

    def arm(self):
        (self.d / "fail").unlink(missing_ok=True)
        (self.d / "hold").touch()

    def queued(self):
        try:
            return int((self.d / "held").read_text().strip() or "-1")
        except (FileNotFoundError, ValueError):
            return -1

    def wait_held(self, queued=0):
        """Until the writer holds a batch with at least @queued change sets behind it."""
        deadline = time.monotonic() + WAIT
        while self.queued() < queued:
            assert time.monotonic() < deadline, "the store never held the write"
            time.sleep(0.005)

    def release(self, fail=False):
        if fail:
            (self.d / "fail").touch()
        (self.d / "hold").unlink()


class Bg:
    """One request on its own thread and connection; .result() waits for its response."""

    def __init__(self, srv, method, path, body=None):
        self.r = None
        self.exc = None

        def run():
            try:
                self.r = srv.api(method, path, json=body, session=requests.Session(),
                                 timeout=WAIT)
            except Exception as e:      # reported by result()
                self.exc = e
        self.t = threading.Thread(target=run, daemon=True)
        self.t.start()

    def result(self):
        self.t.join(timeout=WAIT + 5)
        assert not self.t.is_alive(), "request did not finish"
        if self.exc:
            raise self.exc
        return self.r


@pytest.fixture
def held(make_server, tmp_path, monkeypatch):
    d = tmp_path / "hold"
    monkeypatch.setenv("VPND_TEST_STORE_HOLD", str(d))
    srv = make_server()
    monkeypatch.delenv("VPND_TEST_STORE_HOLD")
    h = Hold(d)
    yield srv, h
    (d / "hold").unlink(missing_ok=True)


def pending(srv, h, method, path, body=None):
    """Hold the store, send the write, return once it is accepted and its commit held."""
    h.arm()
    w = Bg(srv, method, path, body)
    h.wait_held()
    return w


def ids(srv, coll):
    return {o["id"]: o for o in srv.list_all(coll)}


def wait_writable(srv, path, body):
    """After a failed commit the model reloads in the background: PATCH until it is taken."""
    deadline = time.monotonic() + WAIT
    while True:
        r = srv.patch(path, body)
        if r.status_code != 503:
            return r
        assert time.monotonic() < deadline, "writes never recovered"
        time.sleep(0.05)


def test_pending_patch_serves_old_version_until_durable(held):
    srv, h = held
    p = nsx.IKE + "/" + nsx.uid("dr")
    old = srv.create(p, nsx.ike_body(description="old"))
    w = pending(srv, h, "PATCH", p, {"description": "new"})
    # readers: the committed version, in GET and in the list
    assert srv.get_json(p) == old
    assert ids(srv, nsx.IKE)[old["id"]] == old
    # writers: the pending version (rev 1), so a PUT carrying rev 0 is stale even though no
    # reader has seen rev 1 yet. Its refusal is audited synchronously through the store, so
    # it queues behind the held batch (and occupies an HTTP worker thread: no more reads
    # from here on until the release). Wait for it to queue, then release.
    stale = Bg(srv, "PUT", p, nsx.ike_body(description="stale", _revision=0))
    h.wait_held(queued=1)
    h.release()
    expect_empty(w.result())
    expect_error(stale.result(), 412, nsx.EC_STALE)
    now = srv.get_json(p)
    assert now["_revision"] == 1 and now["description"] == "new"
    assert ids(srv, nsx.IKE)[old["id"]] == now


def test_pending_create_is_404_and_absent_everywhere(held):
    srv, h = held
    p = nsx.IKE + "/" + nsx.uid("dr")
    s = nsx.SES + "/" + nsx.uid("dr")
    w = pending(srv, h, "PUT", p, nsx.ike_body())
    expect_error(srv.get(p), 404)
    assert p.rsplit("/", 1)[1] not in ids(srv, nsx.IKE)
    expect_error(srv.get("/infra/realized-state/status", params={"intent_path": p}), 404)
    # a writer already sees it: a session may refer to it (queued behind the held batch)
    ws = Bg(srv, "PUT", s, nsx.route_session_body(ike_profile_path=p))
    h.wait_held(queued=1)
    expect_error(srv.get(s), 404)
    expect_error(srv.get(s + "/statistics"), 404)
    expect_error(srv.get(s + "/detailed-status"), 404)
    summary = srv.get_json(nsx.SVC + "/summary")
    assert s not in [x["ipsec_vpn_session"]["target_id"]
                     for x in summary["traffic_summary_per_session"]]
    h.release()
    created = expect(w.result(), 200).json()
    expect(ws.result(), 200)
    assert srv.get_json(p) == created
    assert srv.get_json(s)["ike_profile_path"] == p
    expect(srv.get(s + "/statistics"), 200)


def test_pending_delete_still_shows_the_object(held):
    srv, h = held
    p = nsx.IKE + "/" + nsx.uid("dr")
    old = srv.create(p, nsx.ike_body())
    w = pending(srv, h, "DELETE", p)
    assert srv.get_json(p) == old
    assert ids(srv, nsx.IKE)[old["id"]] == old
    h.release()
    expect_empty(w.result())
    expect_error(srv.get(p), 404)
    assert old["id"] not in ids(srv, nsx.IKE)
    # the path can be created again (the node of the deleted object was reclaimed or reused)
    again = srv.create(p, nsx.ike_body())
    assert again["_revision"] == 0


def test_failed_commit_was_never_visible_and_its_revision_is_not_reused_unseen(held):
    """The lost-update scenario: the failed PATCH's rev 1 must never have been served, so no
    client can hold it when a later PATCH gets rev 1 with other content."""
    srv, h = held
    p = nsx.IKE + "/" + nsx.uid("dr")
    c = nsx.IKE + "/" + nsx.uid("dr")
    old = srv.create(p, nsx.ike_body(description="old"))
    w = pending(srv, h, "PATCH", p, {"description": "lost"})
    wc = Bg(srv, "PUT", c, nsx.ike_body())      # a creation queued behind it fails too
    h.wait_held(queued=1)
    assert srv.get_json(p) == old
    expect_error(srv.get(c), 404)
    h.release(fail=True)
    r = w.result()
    assert r.status_code == 503, r.text
    assert wc.result().status_code == 503
    assert srv.get_json(p) == old
    expect_error(srv.get(c), 404)
    assert ids(srv, nsx.IKE)[old["id"]] == old and c.rsplit("/", 1)[1] not in ids(srv, nsx.IKE)
    expect_empty(wait_writable(srv, p, {"description": "kept"}))
    now = srv.get_json(p)
    assert now["_revision"] == 1 and now["description"] == "kept"
    srv.restart_after_kill9()
    assert srv.get_json(p) == now
    expect_error(srv.get(c), 404)


def test_failed_delete_keeps_the_object(held):
    srv, h = held
    p = nsx.IKE + "/" + nsx.uid("dr")
    old = srv.create(p, nsx.ike_body())
    w = pending(srv, h, "DELETE", p)
    assert srv.get_json(p) == old
    h.release(fail=True)
    assert w.result().status_code == 503
    assert srv.get_json(p) == old
    expect_empty(wait_writable(srv, p, {"description": "after"}))
    assert srv.get_json(p)["_revision"] == 1
