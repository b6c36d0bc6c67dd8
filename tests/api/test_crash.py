"""Crash consistency: concurrent writers, vpnd SIGKILLed at random moments, restarted on the same
data directory each time, and after every restart the durable state checked against a precise
model of what the clients were told.

  VPND_CRASH_SEED   the seed (default: random; printed, and named in every failure)
  VPND_CRASH_KILLS  how many SIGKILLs (default 24)

Writers: WRITERS threads, each with its own HTTP connection and its own refresh token (so the
audit log names the writer), PUT / PATCH / DELETE at random on a small shared pool of IKE and
DPD profiles, prefix lists, BGP neighbors (route filters -> prefix lists) and policy-based
sessions (nested rules; IKE/DPD profile paths -> profiles). Every write carries a unique tag in
description (and psk, for sessions), so a stored object shows which write produced it.

A write's outcome is one of: answered (status known), or in flight (the request raised: the
connection was reset or refused by the kill; the outcome is unknown). A writer whose request
raises stops until the next restart, so an in-flight write is always the writer's last one in
that incarnation.

The oracle is the audit log, checked against the clients' view. vpnd commits a write and its
audit record (status 200) in one change set, and audits every refusal before answering it, so:
- per writer and incarnation, the records for the writer's writes are exactly its answered writes
  (same method, path and status, same order), followed by at most one record for its in-flight
  write (applied if status 200) - an acknowledged write without its record, or a record for a
  write nobody answered, fails;
- replaying the status-200 records in id order (= commit order) from an empty state gives the
  durable history: each record's revision_before is the object's revision at that point, every
  revision_after is +1 (0 for a create), a DELETE finds its object, an acknowledged PUT's
  _revision is its record's, and no object ever references a missing profile or prefix list;
- after every restart each pool object is exactly the replayed state: absent after a DELETE,
  otherwise every field any write sent is the last applied write's value (PATCH merged onto the
  state before it, PUT replacing it), psk included, with the replayed _revision; an object whose
  last write was an acknowledged PUT is byte-for-byte the body that PUT returned.
So every acknowledged write is present (or superseded by a later acknowledged or applied
in-flight write), and an in-flight write is either wholly applied (its record, its fields, its
revision) or wholly absent (neither).
"""
import os
import random
import threading
import time

import requests

import nsx
from nsx import assert_subset, check_error_body

WRITERS = 6
KILLS = int(os.environ.get("VPND_CRASH_KILLS", "24"))
RUN_MIN_S, RUN_MAX_S = 0.1, 0.8      # how long writers run before each kill (seeded random)
WAIT = 60

IKES = [nsx.IKE + "/crash-ike-%d" % i for i in range(3)]
DPDS = [nsx.DPD + "/crash-dpd-%d" % i for i in range(2)]
PLS = [nsx.PL + "/crash-pl-%d" % i for i in range(3)]
NBS = [nsx.NB + "/crash-nb-%d" % i for i in range(3)]
SESS = [nsx.SES + "/crash-ses-%d" % i for i in range(4)]
POOL = IKES + DPDS + PLS + NBS + SESS
COLLECTIONS = (nsx.IKE, nsx.DPD, nsx.PL, nsx.NB, nsx.SES)
WRITE_METHODS = ("PUT", "PATCH", "DELETE")
SENSITIVE = {"action": "show_sensitive_data"}


def nb_address(path):
    return "169.254.201.%d" % (1 + 4 * NBS.index(path))


def ses_peer(path):
    return "198.51.100.%d" % (10 + SESS.index(path))


def rules_for(n):
    return [{"resource_type": "IPSecVpnRule", "id": "r%d" % k, "display_name": "r%d" % k,
             "sources": [{"subnet": "192.168.%d.0/24" % ((n + k) % 250)}],
             "destinations": [{"subnet": "10.%d.0.0/16" % ((n * 3 + k) % 250)}],
             "action": "PROTECT", "enabled": True, "logged": False, "sequence_number": k}
            for k in range(1 + n % 3)]


def route_filtering(rng):
    return [{"enabled": True, "address_family": "IPV4",
             "in_route_filters": [rng.choice(PLS)], "out_route_filters": [rng.choice(PLS)]}]


def prefixes_for(n):
    return [{"network": "10.%d.0.0/16" % ((n + k) % 250),
             "action": "PERMIT" if (n + k) % 2 else "DENY", "le": 24}
            for k in range(1 + n % 3)]


def make_write(rng, tag, n):
    """(method, path, body) of one random write; body None for DELETE."""
    path = rng.choice(POOL)
    r = rng.random()
    method = "PUT" if r < 0.45 else "PATCH" if r < 0.85 else "DELETE"
    if method == "DELETE":
        return method, path, None
    common = {"description": tag}
    if path in IKES:
        life = 21600 + n % 50000
        if method == "PUT":
            return method, path, nsx.ike_body(display_name=tag, sa_life_time=life, **common)
        return method, path, dict(common, sa_life_time=life)
    if path in DPDS:
        if method == "PUT":
            return method, path, nsx.dpd_body(display_name=tag, dpd_probe_interval=10 + n % 300,
                                              retry_count=1 + n % 10, **common)
        return method, path, dict(common, retry_count=1 + n % 10)
    if path in PLS:
        if method == "PUT":
            return method, path, nsx.prefix_list_body(display_name=tag, prefixes=prefixes_for(n),
                                                      **common)
        return method, path, dict(common, prefixes=prefixes_for(n))
    if path in NBS:
        keep = 10 + n % 50
        if method == "PUT":
            return method, path, nsx.neighbor_body(
                nb_address(path), display_name=tag, keep_alive_time=keep,
                hold_down_time=3 * keep, route_filtering=route_filtering(rng), **common)
        if rng.random() < 0.5:
            return method, path, dict(common, route_filtering=route_filtering(rng))
        return method, path, dict(common, keep_alive_time=keep, hold_down_time=3 * keep)
    # a policy-based session
    profiles = {"ike_profile_path": rng.choice(IKES + [nsx.DEFAULT_IKE]),
                "dpd_profile_path": rng.choice(DPDS + [nsx.DEFAULT_DPD])}
    if method == "PUT":
        peer = ses_peer(path)
        return method, path, nsx.policy_session_body(
            psk="psk-" + tag, display_name=tag, rules=rules_for(n), peer_address=peer,
            peer_id=peer, **dict(common, **profiles))
    if rng.random() < 0.5:
        return method, path, dict(common, rules=rules_for(n), psk="psk-" + tag)
    return method, path, dict(common, **profiles)


def refs_of(body):
    """Pool paths an expected body references."""
    out = [body.get("ike_profile_path"), body.get("dpd_profile_path")]
    for rf in body.get("route_filtering") or []:
        out += rf.get("in_route_filters", []) + rf.get("out_route_filters", [])
    return [p for p in out if p in POOL]


class Op:
    def __init__(self, tid, inc, method, path, body, tag):
        self.tid, self.inc, self.method, self.path, self.body, self.tag = \
            tid, inc, method, path, body, tag
        self.status = None          # None: in flight (unknown outcome)
        self.resp = None            # the PUT's response body
        self.record = None          # its audit record, once matched

    def __repr__(self):
        return "w%d/inc%d %s %s %s -> %s" % (self.tid, self.inc, self.method, self.path,
                                             self.tag, self.status)


class Crash:
    def __init__(self, srv, seed):
        self.srv = srv
        self.seed = seed
        self.names = ["crash-w%d" % t for t in range(WRITERS)]
        self.refresh = [srv.create_refresh(n) for n in self.names]
        self.access = [None] * WRITERS
        self.ops = [[] for _ in range(WRITERS)]     # per writer, in order
        self.cond = threading.Condition()
        self.inc = -1                               # the incarnation writers may run in
        self.paused = set()                         # writers done with self.inc
        self.stop = False
        self.errors = []
        self.audit_cursor = 0
        self.records = []                           # every audit record seen, id order
        self.state = {}                             # replay: path -> [body, revision, last op]
        self.applied_inflight = 0

    def fail(self, msg):
        raise AssertionError("crash test seed %d (VPND_CRASH_SEED=%d to repeat): %s"
                             % (self.seed, self.seed, msg))

    # ------------------------------------------------------------ writers
    def writer(self, tid):
        rng = random.Random(self.seed * 1000 + tid)
        n = 0
        done_inc = -1
        try:
            while True:
                with self.cond:
                    self.cond.wait_for(lambda: self.stop or self.inc > done_inc, timeout=WAIT * 4)
                    if self.stop:
                        return
                    inc = self.inc
                s = requests.Session()
                try:
                    while self.run_one(tid, inc, rng, n, s):
                        n += 1
                finally:
                    s.close()
                n += 1
                done_inc = inc
                with self.cond:
                    self.paused.add(tid)
                    self.cond.notify_all()
        except BaseException as e:      # surfaced by the main thread
            with self.cond:
                self.errors.append((tid, e))
                self.paused.add(tid)
                self.cond.notify_all()

    def run_one(self, tid, inc, rng, n, s):
        """One write (PUT preceded by a GET for _revision). False once a request raised."""
        tag = "s%d-w%d-n%d" % (self.seed, tid, n)
        method, path, body = make_write(rng, tag, n)
        token = self.access[tid]
        if method == "PUT":
            try:
                g = self.srv.api("GET", path, session=s, token=token, timeout=WAIT)
            except requests.RequestException:
                return False
            if g.status_code == 200:
                body = dict(body, _revision=g.json()["_revision"])
            elif g.status_code != 404:
                self.fail("GET %s -> %d %r" % (path, g.status_code, g.content[:300]))
        op = Op(tid, inc, method, path, body, tag)
        self.ops[tid].append(op)
        try:
            r = self.srv.api(method, path, json=body, session=s, token=token, timeout=WAIT)
        except requests.RequestException:
            return False                # in flight: op.status stays None
        op.status = r.status_code
        if r.status_code == 200:
            if method == "PUT":
                op.resp = r.json()
            elif r.content.strip():
                self.fail("%r answered a body %r" % (op, r.content[:200]))
            return True
        if r.status_code not in (400, 404, 412):
            self.fail("%r: unexpected %d %r" % (op, r.status_code, r.content[:400]))
        err = r.json()
        check_error_body(r.status_code, err, " for %r" % op)
        expected = {400: (nsx.EC_IN_USE, nsx.EC_INVALID), 404: (nsx.EC_NOT_FOUND,),
                    412: (nsx.EC_STALE,)}[r.status_code]
        if err["error_code"] not in expected:
            self.fail("%r: error %r" % (op, err))
        return True

    # ------------------------------------------------------------ the oracle
    def fetch_audit(self):
        """Every audit record since the last call (all durable: the writers are stopped)."""
        new = []
        while True:
            page = self.srv.get_json("/vpnd/api/v1/audit", prefix="",
                                     params={"since": self.audit_cursor, "limit": 1000})
            res = page["results"]
            if not res:
                return new
            for rec in res:
                if rec["id"] <= self.audit_cursor:
                    self.fail("audit ids not increasing: %r after %d" % (rec, self.audit_cursor))
                self.audit_cursor = rec["id"]
            new += res

    def match(self, inc, new_records):
        """Pair incarnation inc's writes with their audit records, writer by writer."""
        mine = [r for r in new_records if r.get("user") in self.names
                and r.get("method") in WRITE_METHODS]
        for tid, name in enumerate(self.names):
            recs = [r for r in mine if r["user"] == name]
            ops = [o for o in self.ops[tid] if o.inc == inc]
            i = 0
            for op in ops:
                rec = recs[i] if i < len(recs) else None
                same = rec is not None and rec["method"] == op.method and rec["path"] == op.path
                if op.status is None:           # in flight: its record or none
                    if same:
                        op.record = rec
                        op.status = rec["status"]   # its outcome, now known
                        i += 1
                        if op.status == 200:
                            self.applied_inflight += 1
                    continue
                if not same or rec["status"] != op.status:
                    self.fail("%r: audit record %r does not match (records of %s in incarnation "
                              "%d: %r)" % (op, rec, name, inc, recs))
                op.record = rec
                i += 1
            if i != len(recs):
                self.fail("audit records for writes %s never made or never answered in "
                          "incarnation %d: %r (its writes: %r)" % (name, inc, recs[i:], ops))

    def replay(self, new_records):
        """Apply the status-200 write records (commit order) to the replayed state."""
        by_rec = {}
        for ops in self.ops:
            for op in ops:
                if op.record is not None:
                    by_rec[op.record["id"]] = op
        for rec in new_records:
            op = by_rec.get(rec["id"])
            if op is None or rec["status"] != 200:
                continue
            cur = self.state.get(op.path)
            before = cur[1] if cur else None
            if rec["revision_before"] != before:
                self.fail("%r: revision_before %r, the object was at %r" % (
                    op, rec["revision_before"], before))
            if op.method == "DELETE":
                if cur is None:
                    self.fail("%r deleted an object that was not there" % op)
                del self.state[op.path]
                for p, (b, _, _) in self.state.items():
                    if op.path in refs_of(b):
                        self.fail("%r: deleted while %s still references it" % (op, p))
                continue
            after = 0 if cur is None else before + 1
            if rec["revision_after"] != after:
                self.fail("%r: revision_after %r, expected %r" % (op, rec["revision_after"],
                                                                   after))
            sent = {k: v for k, v in op.body.items() if k != "_revision"}
            # docs/api.md: a PUT that creates ignores _revision; one that replaces must match
            if cur is not None and "_revision" in op.body and op.body["_revision"] != before:
                self.fail("%r carried _revision %r but replaced revision %r" % (
                    op, op.body["_revision"], before))
            if op.resp is not None and op.resp["_revision"] != after:
                self.fail("%r answered _revision %r, its record says %r" % (
                    op, op.resp["_revision"], after))
            body = sent if (op.method == "PUT" or cur is None) else dict(cur[0], **sent)
            self.state[op.path] = [body, after, op]
            for target in refs_of(body):
                if target not in self.state:
                    self.fail("%r references %s, which does not exist" % (op, target))

    def check_server(self):
        """The restarted server holds exactly the replayed state."""
        for path in POOL:
            params = SENSITIVE if path in SESS else None
            r = self.srv.get(path, params=params)
            want = self.state.get(path)
            if want is None:
                if r.status_code != 404:
                    self.fail("%s exists after restart but its last durable write deleted it "
                              "(or none created it): %r" % (path, r.content[:400]))
                continue
            if r.status_code != 200:
                self.fail("%s: %d after restart; last durable write %r" % (
                    path, r.status_code, want[2]))
            got = r.json()
            body, rev, op = want
            if got.get("_revision") != rev:
                self.fail("%s: _revision %r, replay says %r (last write %r)" % (
                    path, got.get("_revision"), rev, op))
            try:
                assert_subset(body, got)
            except AssertionError as e:
                self.fail("%s is not what its durable writes made it (last %r): %s" % (
                    path, op, e))
            if op.resp is not None and {k: v for k, v in got.items() if k != "psk"} != op.resp:
                self.fail("%s differs from the acknowledged PUT %r: %r vs %r" % (
                    path, op, got, op.resp))
        for coll in COLLECTIONS:
            listed = {o["path"] for o in self.srv.list_all(coll)} & set(POOL)
            want = {p for p in self.state if p.startswith(coll + "/")}
            if listed != want:
                self.fail("%s lists %r, replay has %r" % (coll, sorted(listed), sorted(want)))

    def verify(self, inc):
        new = self.fetch_audit()
        self.records += new
        if inc >= 0:
            self.match(inc, new)
        self.replay(new)
        self.check_server()

    # ------------------------------------------------------------ the run
    def run(self, kills):
        rng = random.Random(self.seed)
        threads = [threading.Thread(target=self.writer, args=(t,), daemon=True)
                   for t in range(WRITERS)]
        for t in threads:
            t.start()
        try:
            self.verify(-1)
            for inc in range(kills):
                self.access = [self.srv.exchange(r) for r in self.refresh]
                with self.cond:
                    self.paused.clear()
                    self.inc = inc
                    self.cond.notify_all()
                time.sleep(rng.uniform(RUN_MIN_S, RUN_MAX_S))
                port = self.srv.port
                self.srv.kill9()
                with self.cond:
                    if not self.cond.wait_for(lambda: len(self.paused) == WRITERS, timeout=WAIT):
                        self.fail("writers did not stop after kill %d" % inc)
                if self.errors:
                    raise self.errors[0][1]
                self.srv.start(port=port)
                self.verify(inc)
        finally:
            with self.cond:
                self.stop = True
                self.cond.notify_all()
            for t in threads:
                t.join(timeout=WAIT)
        if self.errors:
            raise self.errors[0][1]


def test_sigkill_under_concurrent_writers(fresh_server):
    seed = int(os.environ.get("VPND_CRASH_SEED") or random.SystemRandom().randrange(1, 1 << 31))
    print("crash test: seed %d, %d kills, %d writers" % (seed, KILLS, WRITERS))
    c = Crash(fresh_server, seed)
    c.run(KILLS)
    ops = [o for w in c.ops for o in w]
    applied = sum(1 for o in ops if o.record is not None and o.status == 200)
    lost = sum(1 for o in ops if o.status is None)
    print("crash test: %d writes: %d applied (%d of them in flight at a kill), %d in flight and "
          "not applied; %d audit records" % (len(ops), applied, c.applied_inflight, lost,
                                             len(c.records)))
    if applied == 0:
        c.fail("no write was applied in %d incarnations" % KILLS)
