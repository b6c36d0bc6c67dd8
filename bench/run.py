#!/usr/bin/python3
"""vpnd's comparative benchmark suite (issue 6): `make bench`, `make bench-smoke`.

Runs every scenario on loopback against a release build, each one alternating vpnd and its
reference (A B A B ..., BENCH_ROUNDS rounds, median), and prints a Markdown report: the machine,
one table per scenario (req/s, p50, p99, ratio, goal, met/MISSED), the per-round values and the
exact commands. The report also goes to BUILD/bench-report.md. See bench/README.md.

  1 GET one session, 32 connections            vs nginx serving the same bytes
  2 durable PATCH, 1 and 32 connections         vs build/sqlite_raw (single, batched 100)
  3 list of 1,000 sessions                      vs nginx serving the same bytes
  4 scale sweep 100 / 10k / 100k sessions: GET/PATCH latency, start-up time, RSS
  5 route filtering: build/prefix_bench (1M routes x 1,000 entries)
  6 real mode: API call -> IKE UP, -> BGP ESTABLISHED (root + `ip netns add` only)
  7 load/soak: BENCH_SOAK_SECS of mixed reads and writes at 64 connections

Knobs (environment): BENCH_SECS (per measurement, default 5), BENCH_ROUNDS (default 3),
BENCH_SOAK_SECS (default 60), BENCH_QUICK=1 (smoke run: 1 s, small sweep, 5 s soak),
BENCH_SCALE (sweep sizes, default 100,10000,100000), BENCH_ONLY (scenario numbers, e.g. 1,3),
BENCH_TIMEOUT (whole run, seconds), BENCH_VPND_ARGS (extra vpnd flags), BENCH_REAL_ROUNDS,
BENCH_TMP (parent of the temporary directory).

Bounded and tidy: every child gets a timeout, the whole run an alarm (BENCH_TIMEOUT); every
process it started is stopped by its PID and the temporary directory removed on any exit
(normal, error, SIGINT/SIGTERM/SIGHUP, timeout). The access token never appears in the output.
"""
import argparse
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"


def env_int(name, default):
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        sys.exit("bench: %s must be an integer, not %r" % (name, v))


QUICK = os.environ.get("BENCH_QUICK") == "1"
SECS = env_int("BENCH_SECS", 1 if QUICK else 5)
ROUNDS = env_int("BENCH_ROUNDS", 3)
SOAK_SECS = env_int("BENCH_SOAK_SECS", 5 if QUICK else 60)
TIMEOUT = env_int("BENCH_TIMEOUT", 900 if QUICK else 3600)
REAL_ROUNDS = env_int("BENCH_REAL_ROUNDS", 1 if QUICK else 3)
CREATE_SECS = env_int("BENCH_CREATE_SECS", 60 if QUICK else 600)
START_LIMIT = env_int("BENCH_START_LIMIT", 30 if QUICK else 120)
SCALE = [int(x) for x in (os.environ.get("BENCH_SCALE") or
                          ("100,1000,3000" if QUICK else "100,10000,100000")).split(",")]
ONLY = set((os.environ.get("BENCH_ONLY") or "1,2,3,4,5,6,7").replace(" ", "").split(","))
VPND_ARGS = shlex.split(os.environ.get("BENCH_VPND_ARGS", ""))
NPROC = os.cpu_count() or 1
LIST_N = 1000
COLL = ("/policy/api/v1/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/default"
        "/sessions/")
AUTHORIZE = "/csp/gateway/am/api/auth/api-tokens/authorize"
TOKEN_HDR = "csp-auth-token"


class BenchError(Exception):
    pass


class Timeout(BaseException):
    """BENCH_TIMEOUT passed (BaseException: no scenario's error handling swallows it)."""


# ------------------------------------------------------------------ output

class Report:
    def __init__(self):
        self.lines = []
        self.commands = []
        self.goals = []         # (scenario, goal, value text, met: True/False/None)
        self.secrets = []

    def hide(self, text):
        for sec in self.secrets:
            text = text.replace(sec, "<token>")
        return text

    def out(self, text=""):
        text = self.hide(text)
        print(text, flush=True)
        self.lines.append(text)

    def cmd(self, argv):
        text = self.hide(" ".join(shlex.quote(str(a)) for a in argv))
        text = text.replace(str(TMP) + "/", "$TMP/") if TMP else text
        if text not in self.commands:
            self.commands.append(text)

    def goal(self, scenario, goal, value, met):
        self.goals.append((scenario, goal, value, met))
        return "met" if met else ("report only" if met is None else "**MISSED**")


R = Report()
TMP = None
PROCS = []      # Popen objects this run started, stopped on exit


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(v, nd=2):
    if v is None or v != v:
        return "-"
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    return "%.*f" % (nd, v)


def table(head, rows):
    R.out("| " + " | ".join(head) + " |")
    R.out("|" + "---|" * len(head))
    for r in rows:
        R.out("| " + " | ".join(str(c) for c in r) + " |")
    R.out()


# ------------------------------------------------------------------ processes

def free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def spawn(argv, log, show=True, **kw):
    if show:
        R.cmd(argv)
    f = open(log, "ab")
    try:
        p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT, **kw)
    finally:
        f.close()
    PROCS.append(p)
    return p


def stop_proc(p, sig=signal.SIGTERM, wait=20):
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
        except ProcessLookupError:
            pass
    if p in PROCS:
        PROCS.remove(p)
    return p.returncode


def run(argv, timeout, check=True):
    R.cmd(argv)
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise BenchError("%s exited %d: %s" % (Path(str(argv[0])).name, p.returncode,
                                               (p.stderr or p.stdout)[-1500:]))
    return p


def http_req(port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = dict(headers or {})
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_http(port, path, deadline_s, proc=None, poll=0.002):
    """Poll GET path until 200; returns the seconds it took. Raises BenchError on timeout or if
    proc exits."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline_s:
        if proc is not None and proc.poll() is not None:
            raise BenchError("server exited with status %s while starting" % proc.returncode)
        try:
            st, _ = http_req(port, "GET", path, timeout=2)
            if st == 200:
                return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(poll)
    raise BenchError("no 200 on %s within %.0f s" % (path, deadline_s))


def proc_status(pid):
    """VmRSS and VmHWM of pid in MB."""
    out = {}
    try:
        for line in Path("/proc/%d/status" % pid).read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) / 1024.0
    except OSError:
        pass
    return out


# ------------------------------------------------------------------ vpnd and nginx

class Vpnd:
    def __init__(self, name, binary):
        self.bin = binary
        self.dir = TMP / name
        self.data = self.dir / "data"
        self.data.mkdir(parents=True)
        self.port = free_port()
        self.proc = None
        self.token = None

    def start(self, limit=120):
        """Start and wait for /healthz; returns the seconds from exec to the first 200. Raises
        BenchError (the process is stopped) if there is none within limit seconds."""
        argv = [self.bin, "--listen", "127.0.0.1:%d" % self.port, "--data", self.data,
                "--log-level", "warn", "--token-ttl", "86400", "--org", "bench-org",
                "--sddc", "bench-sddc"] + VPND_ARGS
        t0 = time.monotonic()
        self.proc = spawn(argv, self.dir / "vpnd.log")
        try:
            wait_http(self.port, "/healthz", limit, self.proc)
        except BenchError:
            stop_proc(self.proc, signal.SIGKILL)
            self.proc = None
            raise
        took = time.monotonic() - t0
        if self.token is None:
            rt = (self.data / "admin-refresh-token").read_text().strip()
            st, body = http_req(self.port, "POST", AUTHORIZE + "?refresh_token=" + rt)
            if st != 200:
                raise BenchError("token exchange: %d" % st)
            self.token = json.loads(body)["access_token"]
            R.secrets += [rt, self.token]
        return took

    def stop(self):
        if self.proc is not None:
            rc = stop_proc(self.proc)
            self.proc = None
            if rc not in (0, None):
                raise BenchError("vpnd exited with status %s on SIGTERM; log tail: %s"
                                 % (rc, self.log_tail()))

    def log_tail(self):
        try:
            return (self.dir / "vpnd.log").read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def hdr(self):
        return {TOKEN_HDR: self.token}

    def req(self, method, path, body=None):
        return http_req(self.port, method, path, body, self.hdr())

    def count(self):
        st, body = self.req("GET", COLL.rstrip("/") + "?page_size=1")
        if st != 200:
            raise BenchError("list sessions: %d" % st)
        return json.loads(body)["result_count"]

    def ids(self):
        """The numbers of every bench-N session (paged list of ids only)."""
        out, cursor = set(), None
        for _ in range(100000):
            q = "?included_fields=id&page_size=1000" + ("&cursor=" + cursor if cursor else "")
            st, body = self.req("GET", COLL.rstrip("/") + q)
            if st != 200:
                raise BenchError("list session ids: %d" % st)
            page = json.loads(body)
            out.update(int(r["id"][6:]) for r in page["results"] if r["id"].startswith("bench-"))
            cursor = page.get("cursor")
            if not cursor:
                return out
        raise BenchError("list session ids: too many pages")

    def rss(self):
        return proc_status(self.proc.pid)

    def db_sizes(self, path):
        """Stored body size of path and the mean audit record size (for sqlite_raw)."""
        db = sqlite3.connect("file:%s?mode=ro" % (self.data / "vpnd.db"), uri=True, timeout=10)
        try:
            body = db.execute("SELECT length(body) FROM objects WHERE path = ?",
                              (path,)).fetchone()
            audit = db.execute("SELECT avg(length(record)) FROM (SELECT record FROM audit "
                               "ORDER BY id DESC LIMIT 100)").fetchone()
        finally:
            db.close()
        return (body[0] if body else 1424), int(audit[0] or 234)


class Nginx:
    """nginx serving files from its own temporary prefix (no root needed)."""

    def __init__(self):
        self.prefix = TMP / "nginx"
        self.html = self.prefix / "html"
        self.html.mkdir(parents=True)
        (self.prefix / "tmp").mkdir()
        self.port = free_port()
        self.proc = None
        p = self.prefix
        user = "user root;\n" if os.geteuid() == 0 else ""
        temps = "".join("    %s_temp_path %s/tmp/%s;\n" % (t, p, t)
                        for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (p / "nginx.conf").write_text(
            "worker_processes auto;\n%s"
            "pid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
            "events { worker_connections 4096; }\n"
            "http {\n    access_log off;\n%s"
            "    sendfile on;\n    tcp_nopush on;\n    tcp_nodelay on;\n"
            "    keepalive_timeout 65;\n    keepalive_requests 100000000;\n"
            "    open_file_cache max=64 inactive=600s;\n    open_file_cache_valid 600s;\n"
            "    types { application/json json; }\n    default_type application/json;\n"
            "    server {\n        listen 127.0.0.1:%d;\n        root %s;\n    }\n}\n"
            % (user, p, p, temps, self.port, self.html))

    def put(self, name, data):
        (self.html / name).write_bytes(data)
        os.chmod(self.html / name, 0o644)

    def start(self):
        self.put("ready.json", b"{}")
        self.proc = spawn(["nginx", "-p", self.prefix, "-c", self.prefix / "nginx.conf",
                           "-e", self.prefix / "error.log", "-g", "daemon off;"],
                          self.prefix / "stdout.log")
        wait_http(self.port, "/ready.json", 30, self.proc)

    def stop(self):
        if self.proc is not None:
            stop_proc(self.proc, signal.SIGQUIT)
            self.proc = None

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port


# ------------------------------------------------------------------ wrk

WRK_N = [0]


def wrk_script(name, script, headers):
    """TMP/name: headers (set in the script, so the token is not on a command line), then
    bench/script (if any), then bench/report.lua. Returns (path, the equivalent wrk options
    to show: -s bench/... -H 'K: V')."""
    lua = TMP / name
    text = "".join("wrk.headers[%s] = %s\n" % (json.dumps(k), json.dumps(v))
                   for k, v in (headers or {}).items())
    text += (BENCH / script).read_text() if script else ""
    lua.write_text(text + "\n" + (BENCH / "report.lua").read_text())
    shown = ["-s", "bench/%s+report.lua" % script if script else "bench/report.lua"]
    for k, v in (headers or {}).items():
        shown += ["-H", "%s: %s" % (k, v)]
    return lua, shown


def wrk(url, conns, secs, script=None, headers=None, args=(), threads=None):
    """One wrk run; returns rps, p50_ms, p99_ms, requests, errors, non2xx, s5xx."""
    WRK_N[0] += 1
    lua, shown = wrk_script("wrk-%d.lua" % WRK_N[0], script, headers)
    threads = threads or max(1, min(conns, NPROC))
    opts = ["-t%d" % threads, "-c%d" % conns, "-d%ds" % secs, "--timeout", "10s"]
    tail = [url] + (["--"] + [str(a) for a in args] if args else [])
    argv = ["wrk"] + opts + ["-s", lua] + tail
    R.cmd(["wrk"] + opts + shown + tail)
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       timeout=secs + 60, stdin=subprocess.DEVNULL)
    m = re.search(r"^WRKJSON (\{.*\})$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise BenchError("wrk failed (%d): %s%s" % (p.returncode, p.stdout[-800:],
                                                    p.stderr[-800:]))
    j = json.loads(m.group(1))
    dur = j["duration_us"] / 1e6
    return {"rps": j["requests"] / dur if dur else 0.0, "p50_ms": j["p50_us"] / 1000.0,
            "p99_ms": j["p99_us"] / 1000.0, "requests": j["requests"],
            "errors": j["connect"] + j["read"] + j["write"] + j["timeout"],
            "non2xx": j["status"], "s5xx": j["s5xx"]}


def sqlite_raw(binary, db, secs, batch, body_bytes, audit_bytes):
    p = run([binary, "--db", db, "--secs", secs, "--batch", batch, "--body-bytes", body_bytes,
             "--audit-bytes", audit_bytes], timeout=secs + 120)
    j = json.loads(p.stdout.strip().splitlines()[-1])
    return {"rps": j["rows_per_s"], "p50_ms": j["p50_ms"], "p99_ms": j["p99_ms"],
            "txns_per_s": j["txns_per_s"], "requests": j["rows"], "errors": 0, "non2xx": 0,
            "s5xx": 0}


def med(runs):
    """Median of each figure over the rounds, plus the sums of the error counts."""
    out = {k: median([r[k] for r in runs]) for k in ("rps", "p50_ms", "p99_ms")}
    for k in ("requests", "errors", "non2xx", "s5xx"):
        out[k] = sum(r[k] for r in runs)
    out["rounds"] = [r["rps"] for r in runs]
    return out


def problems(m):
    bad = []
    if m["errors"]:
        bad.append("%d socket errors" % m["errors"])
    if m["non2xx"]:
        bad.append("%d non-2xx" % m["non2xx"])
    return "; ".join(bad)


def alternate(measures):
    """measures: [(name, fn)]; runs them in turn ROUNDS times (A B A B ...); name -> med."""
    runs = {n: [] for n, _ in measures}
    for _ in range(ROUNDS):
        for n, fn in measures:
            runs[n].append(fn())
    return {n: med(rs) for n, rs in runs.items()}


def rounds_text(m):
    return ", ".join(fmt(x, 0) for x in m["rounds"])


# ------------------------------------------------------------------ creating sessions

def create_sessions(v, first, last, conns=32, budget=None):
    """PUT-create sessions bench-first .. bench-last through the API (wrk, create.lua), then
    check the server holds them all; fills any gap with plain PUTs. Returns the seconds it
    took. With a budget (seconds) that runs out first: stops, fills the gaps below the highest
    id created and returns (seconds, K) where bench-0 .. bench-(K-1) exist."""
    if last < first:
        return (0.0, first) if budget else 0.0
    want = v.count() + (last - first + 1)
    threads = max(1, min(conns, NPROC))
    lua, shown = wrk_script("create.lua", "create.lua", v.hdr())
    opts = ["-t%d" % threads, "-c%d" % min(conns, last - first + 1), "-d%ds" % 3600,
            "--timeout", "30s"]
    tail = [v.base + COLL, "--", first, last, threads]
    R.cmd(["wrk"] + opts + shown + tail)
    argv = ["wrk"] + opts + ["-s", lua] + tail
    t0 = time.monotonic()
    p = spawn(argv, TMP / "create-wrk.log", show=False)
    limit = budget or 120 + (last - first + 1) / 100.0
    last_count, still = -1, 0
    try:
        # wrk runs until stopped: stop it once every session exists, or once the count has
        # not moved for 2 s (every thread has sent its share; wrk can lose one request)
        while p.poll() is None and time.monotonic() - t0 < limit:
            time.sleep(0.25)
            have = v.count()
            if have >= want:
                break
            still = still + 1 if have == last_count else 0
            last_count = have
            if still >= 8:
                break
    finally:
        stop_proc(p, signal.SIGINT, wait=30)
    took = time.monotonic() - t0
    have = v.count()
    if budget and have < want and time.monotonic() - t0 >= budget:
        ids = v.ids()
        top = max(ids) + 1 if ids else 0
        for i in sorted(set(range(top)) - ids):
            v.req("PUT", COLL + "bench-%d" % i, session_body_json())
        got = len(v.ids() & set(range(top)))
        return took, got if got == top else min(set(range(top + 1)) - v.ids())
    if have < want:
        missing = sorted(set(range(first, last + 1)) - v.ids())
        R.out("note: %d of %d sessions were missing after the wrk run (%s); created them one "
              "by one" % (len(missing), last - first + 1,
                          ", ".join("bench-%d" % i for i in missing[:5])
                          + (" ..." if len(missing) > 5 else "")))
        R.out()
        body = session_body_json()
        for i in missing:
            st, msg = v.req("PUT", COLL + "bench-%d" % i, body)
            if st != 200:
                raise BenchError("PUT bench-%d: %d %s" % (i, st, msg[:300]))
        have = v.count()
    if have != want:
        raise BenchError("expected %d sessions, the server lists %d" % (want, have))
    return (took, last + 1) if budget else took


def session_body_json():
    return json.dumps({
        "resource_type": "PolicyBasedIPSecVpnSession",
        "rules": [{"sources": [{"subnet": "192.168.98.0/24"}, {"subnet": "10.2.1.140/32"}],
                   "destinations": [{"subnet": "192.168.123.0/24"}], "logged": False,
                   "enabled": True, "action": "PROTECT", "sequence_number": 0,
                   "resource_type": "IPSecVpnRule", "id": "rule-1", "display_name": "rule-1"}],
        "enabled": True,
        "local_endpoint_path": "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/"
                               "default/local-endpoints/Private-IP1",
        "authentication_mode": "PSK", "psk": "bench-psk-gap", "compliance_suite": "NONE",
        "connection_initiation_mode": "INITIATOR", "peer_address": "198.18.255.1",
        "peer_id": "198.18.255.1"})


# ------------------------------------------------------------------ scenarios

def vs_nginx(ctx, path, fname):
    """GET path from vpnd (32 connections) alternating with nginx serving the identical bytes
    (fetched from vpnd just before) as the static file fname. Returns (body, vpnd, nginx,
    ratio)."""
    v, ng = ctx["vpnd"], ctx["nginx"]
    st, body = v.req("GET", path)
    if st != 200:
        raise BenchError("GET %s: %d" % (path, st))
    ng.put(fname, body)
    h = v.hdr()
    res = alternate([
        ("vpnd", lambda: wrk(v.base + path, 32, SECS, headers=h)),
        ("nginx", lambda: wrk(ng.base + "/" + fname, 32, SECS, headers=h)),
    ])
    a, b = res["vpnd"], res["nginx"]
    ratio = a["rps"] / b["rps"] if b["rps"] else 0
    table(["server", "req/s (median)", "p50 ms", "p99 ms", "ratio", "rounds (req/s)", "errors"],
          [["vpnd", fmt(a["rps"]), fmt(a["p50_ms"], 3), fmt(a["p99_ms"], 3), fmt(ratio) + "x",
            rounds_text(a), problems(a) or "none"],
           ["nginx (static file)", fmt(b["rps"]), fmt(b["p50_ms"], 3), fmt(b["p99_ms"], 3), "1x",
            rounds_text(b), problems(b) or "none"]])
    return body, a, b, ratio


def sc_get_one(ctx):
    R.out("## 1. GET one session object, 32 connections")
    body, a, _, ratio = vs_nginx(ctx, COLL + "bench-0", "session.json")
    R.out("Body: %d bytes, the same for both." % len(body))
    R.out()
    table(["goal", "measured", "result"],
          [["vpnd >= 1.0x nginx", fmt(ratio) + "x", R.goal(1, ">= 1.0x nginx", ratio,
                                                        ratio >= 1.0 and not problems(a))],
           ["vpnd p99 <= 1 ms", fmt(a["p99_ms"], 3) + " ms",
            R.goal(1, "p99 <= 1 ms", a["p99_ms"], a["p99_ms"] <= 1.0)]])


def sc_list(ctx):
    R.out("## 3. List of %d sessions, 32 connections" % LIST_N)
    body, a, _, ratio = vs_nginx(ctx, COLL.rstrip("/"), "list.json")
    R.out("Body: %s bytes (result_count %d), the same for both." % (
        fmt(len(body), 0), json.loads(body)["result_count"]))
    R.out()
    table(["goal", "measured", "result"],
          [["vpnd >= 0.5x nginx", fmt(ratio) + "x",
            R.goal(3, ">= 0.5x nginx", ratio, ratio >= 0.5 and not problems(a))]])


def sc_patch(ctx):
    v = ctx["vpnd"]
    path = COLL + "bench-1"
    st, _ = v.req("PATCH", path, '{"description":"bench size probe"}')
    if st != 200:
        raise BenchError("PATCH %s: %d" % (path, st))
    body_bytes, audit_bytes = v.db_sizes(path[len("/policy/api/v1"):])
    rev0 = json.loads(v.req("GET", path)[1])["_revision"]
    raw, db = ctx["sqlite_raw"], TMP / "raw" / "raw.db"
    db.parent.mkdir(exist_ok=True)
    h = v.hdr()
    res = alternate([
        ("vpnd1", lambda: wrk(v.base + path, 1, SECS, "patch.lua", h)),
        ("raw1", lambda: sqlite_raw(raw, db, SECS, 1, body_bytes, audit_bytes)),
        ("vpnd32", lambda: wrk(v.base + path, 32, SECS, "patch.lua", h)),
        ("raw100", lambda: sqlite_raw(raw, db, SECS, 100, body_bytes, audit_bytes)),
    ])
    rev1 = json.loads(v.req("GET", path)[1])["_revision"]
    a1, r1, a32, r100 = res["vpnd1"], res["raw1"], res["vpnd32"], res["raw100"]
    q1 = a1["rps"] / r1["rps"] if r1["rps"] else 0
    q32 = a32["rps"] / r100["rps"] if r100["rps"] else 0
    R.out("## 2. Durable PATCH of one session per request (stored row %d bytes + %d-byte audit "
          "record per write)" % (body_bytes, audit_bytes))
    table(["writer", "writes/s (median)", "p50 ms", "p99 ms", "ratio", "rounds (writes/s)",
           "errors"],
          [["vpnd, 1 connection", fmt(a1["rps"]), fmt(a1["p50_ms"], 3), fmt(a1["p99_ms"], 3),
            fmt(q1) + "x raw single", rounds_text(a1), problems(a1) or "none"],
           ["sqlite_raw, 1 row per transaction", fmt(r1["rps"]), fmt(r1["p50_ms"], 3),
            fmt(r1["p99_ms"], 3), "1x", rounds_text(r1), "none"],
           ["vpnd, 32 connections", fmt(a32["rps"]), fmt(a32["p50_ms"], 3),
            fmt(a32["p99_ms"], 3), fmt(q32) + "x raw batched", rounds_text(a32),
            problems(a32) or "none"],
           ["sqlite_raw, 100 rows per transaction", fmt(r100["rps"]), fmt(r100["p50_ms"], 3),
            fmt(r100["p99_ms"], 3), "1x", rounds_text(r100), "none"]])
    R.out("sqlite_raw latencies are per transaction (1 or 100 rows), vpnd's per request. "
          "The session's _revision went from %d to %d: %d PATCHes applied, %d answers counted "
          "by wrk (requests still in flight when wrk stops are applied but not counted)."
          % (rev0, rev1, rev1 - rev0, a1["requests"] + a32["requests"]))
    R.out()
    table(["goal", "measured", "result"],
          [["1 connection >= 0.8x raw single", fmt(q1) + "x",
            R.goal(2, "1 conn >= 0.8x raw single", q1, q1 >= 0.8 and not problems(a1))],
           ["32 connections >= 0.5x raw batched", fmt(q32) + "x",
            R.goal(2, "32 conns >= 0.5x raw batched", q32, q32 >= 0.5 and not problems(a32))],
           ["32 connections p99 <= 5 ms", fmt(a32["p99_ms"], 3) + " ms",
            R.goal(2, "32 conns p99 <= 5 ms", a32["p99_ms"], a32["p99_ms"] <= 5.0)]])


def sc_soak(ctx):
    v = ctx["vpnd"]
    n = v.count()
    rss0 = v.rss()
    m = wrk(v.base + COLL, 64, SOAK_SECS, "soak.lua", v.hdr(), args=(LIST_N,))
    rss1 = v.rss()
    R.out("## 7. Load/soak: %d s mixed at 64 connections over %d sessions" % (SOAK_SECS, n))
    R.out("Mix: 70% GET of a random session, 25% durable PATCH of a random session, 5% list "
          "(page_size=20).")
    R.out()
    table(["requests", "req/s", "p50 ms", "p99 ms", "5xx", "other non-2xx", "socket errors",
           "RSS start MB", "RSS end MB", "peak RSS MB"],
          [[fmt(m["requests"], 0), fmt(m["rps"]), fmt(m["p50_ms"], 3), fmt(m["p99_ms"], 3),
            m["s5xx"], m["non2xx"] - m["s5xx"], m["errors"], fmt(rss0.get("VmRSS"), 1),
            fmt(rss1.get("VmRSS"), 1), fmt(rss1.get("VmHWM"), 1)]])
    growth = rss1.get("VmRSS", 0) - rss0.get("VmRSS", 0)
    table(["goal", "measured", "result"],
          [["zero 5xx", str(m["s5xx"]), R.goal(7, "zero 5xx", m["s5xx"], m["s5xx"] == 0)],
           ["RSS flat (report start/end)", "%+.1f MB" % growth,
            R.goal(7, "RSS flat", growth, None)]])


def sc_scale(ctx):
    v = Vpnd("scale", ctx["vpnd_bin"])
    v.start()
    rows, have, notes = [], 0, []
    R.out("## 4. Scale sweep: %s policy-based sessions" % " / ".join(fmt(n, 0) for n in SCALE))
    R.out("Sessions are created through the API (PUT, 32 connections, wrk + bench/create.lua; "
          "at most BENCH_CREATE_SECS=%d s per size). GET: a random session per request, 32 "
          "connections; PATCH: a random session per request, 1 connection. Start-up: SIGTERM, "
          "start again, exec to the first /healthz 200 (median of %d; one try if it takes "
          "over 10 s; given up after BENCH_START_LIMIT=%d s). RSS (VmRSS) from "
          "/proc/PID/status." % (CREATE_SECS, ROUNDS, START_LIMIT))
    R.out()
    for n in SCALE:
        took, reached = create_sessions(v, have, n - 1, budget=CREATE_SECS)
        rate = (reached - have) / took if took else 0
        if reached < n:
            notes.append("%s: only %s sessions created within %d s (%s/s at the end of the "
                         "run); measured there, larger sizes skipped"
                         % (fmt(n, 0), fmt(reached, 0), CREATE_SECS, fmt(rate, 0)))
        have = reached
        h = v.hdr()
        res = alternate([
            ("get", lambda: wrk(v.base + COLL, 32, SECS, "get_random.lua", h, args=(have,))),
            ("patch", lambda: wrk(v.base + COLL, 1, SECS, "patch.lua", h, args=(have,))),
        ])
        loaded = v.rss()
        starts, fresh, up = [], {}, True
        for _ in range(ROUNDS):
            v.stop()
            try:
                starts.append(v.start(limit=START_LIMIT))
            except BenchError as e:
                notes.append("%s: no /healthz 200 within BENCH_START_LIMIT=%d s after a "
                             "restart (%s); sweep ended" % (fmt(have, 0), START_LIMIT, e))
                starts.append(float("inf"))
                up = False
                break
            fresh = v.rss()
            if starts[-1] > 10:
                break
        rows.append({"n": have, "create_rate": rate, "get": res["get"],
                     "patch": res["patch"], "start_s": starts, "rss_loaded": loaded,
                     "rss_fresh": fresh})
        if reached < n or not up:
            break
    table(["sessions", "created/s", "GET req/s", "GET p50 ms", "GET p99 ms", "PATCH req/s",
           "PATCH p50 ms", "PATCH p99 ms", "start-up s (median, max)", "RSS MB after load",
           "RSS MB after restart", "errors"],
          [[fmt(r["n"], 0), fmt(r["create_rate"], 0), fmt(r["get"]["rps"]),
            fmt(r["get"]["p50_ms"], 3), fmt(r["get"]["p99_ms"], 3), fmt(r["patch"]["rps"]),
            fmt(r["patch"]["p50_ms"], 3), fmt(r["patch"]["p99_ms"], 3),
            "%s, %s" % (fmt(median(r["start_s"]), 3), fmt(max(r["start_s"]), 3))
            if max(r["start_s"]) < float("inf") else "> %d" % START_LIMIT,
            fmt(r["rss_loaded"].get("VmRSS"), 1), fmt(r["rss_fresh"].get("VmRSS"), 1),
            "; ".join(x for x in (problems(r["get"]), problems(r["patch"])) if x) or "none"]
           for r in rows])
    for note in notes:
        R.out("- " + note)
    if notes:
        R.out()
    lo, hi = rows[0], rows[-1]
    target = SCALE[-1]
    at = fmt(target, 0) + ("" if hi["n"] == target else " (measured at %s)" % fmt(hi["n"], 0))
    short = hi["n"] < target
    goals = []
    for what, key in (("GET p50", ("get", "p50_ms")), ("GET p99", ("get", "p99_ms")),
                      ("PATCH p50", ("patch", "p50_ms")), ("PATCH p99", ("patch", "p99_ms"))):
        a, b = lo[key[0]][key[1]], hi[key[0]][key[1]]
        q = b / a if a else float("inf")
        goals.append(["%s at %s within 1.2x of %s" % (what, at, fmt(lo["n"], 0)),
                      "%sx (%s -> %s ms)" % (fmt(q), fmt(a, 3), fmt(b, 3)),
                      R.goal(4, "%s within 1.2x" % what, q, q <= 1.2 and not short)])
    st = median(hi["start_s"])
    goals.append(["start-up <= 1 s at %s" % at,
                  "%s s" % fmt(st, 3) if st < float("inf") else "> %d s" % START_LIMIT,
                  R.goal(4, "start-up <= 1 s", st, st <= 1.0 and not short)])
    rss = max(hi["rss_loaded"].get("VmRSS", 0), hi["rss_fresh"].get("VmRSS", 0))
    goals.append(["RSS <= 100 MB at %s" % at, "%s MB" % fmt(rss, 1),
                  R.goal(4, "RSS <= 100 MB", rss, rss <= 100.0 and not short)])
    if target < 100000:
        R.out("(BENCH_SCALE / BENCH_QUICK: the largest size is %d, not 100,000; the goals "
              "below are checked at that size.)" % target)
        R.out()
    table(["goal", "measured", "result"], goals)
    v.stop()


def sc_prefix(ctx):
    p = run([ctx["prefix_bench"]], timeout=600)
    R.out("## 5. Route filtering: 1,000,000 routes x 1,000-entry prefix list")
    R.out("```")
    for line in p.stdout.strip().splitlines():
        R.out(line)
    R.out("```")
    m = re.search(r"^trie:\s+(\d+) routes x (\d+) entries: ([\d.]+) ms", p.stdout, re.M)
    if not m:
        raise BenchError("prefix_bench: no trie line in its output")
    t = float(m.group(3))
    table(["goal", "measured", "result"],
          [["1M routes x 1,000 entries <= 1 s", "%s ms" % fmt(t, 1),
            R.goal(5, "1M routes <= 1 s", t, t <= 1000.0)]])


def real_round(e2e, gw1, gw2, sid):
    """One round of scenario 6 with the end-to-end test's helpers: a policy-based session
    (responder gw2 realized first, then the timed PUT on gw1 until UP on both), deleted; then a
    route-based session + BGP neighbors on both (timed from the PUT on gw1 until UP, and until
    ESTABLISHED on both), deleted. Returns the three times in ms."""
    t = {}
    ses = e2e.nsx.SES + "/" + sid
    e2e.put_session(gw2, sid, e2e.session_body("gw2", False))
    e2e.wait_realized(gw2, sid)
    t0 = time.monotonic()
    e2e.put_session(gw1, sid, e2e.session_body("gw1", False))
    e2e.wait_for("policy-based UP on both", lambda: e2e.both_up(gw1, gw2, sid), 20)
    t["policy_ike_up_ms"] = e2e.ms(t0)
    for g in (gw1, gw2):
        e2e.expect(g.srv.delete(ses), 200)
    rid = sid + "-r"
    e2e.put_session(gw2, rid, e2e.session_body("gw2", True))
    e2e.wait_realized(gw2, rid)
    t0 = time.monotonic()
    e2e.put_session(gw1, rid, e2e.session_body("gw1", True))
    nb2 = gw2.x.neighbor(e2e.VTI["gw1"], nid=rid, remote_as_num=str(e2e.AS["gw1"]),
                         keep_alive_time=3, hold_down_time=9)
    nb1 = gw1.x.neighbor(e2e.VTI["gw2"], nid=rid, remote_as_num=str(e2e.AS["gw2"]),
                         keep_alive_time=3, hold_down_time=9)
    e2e.wait_for("route-based UP on both", lambda: e2e.both_up(gw1, gw2, rid), 20)
    t["route_ike_up_ms"] = e2e.ms(t0)

    def established():
        s1, s2 = e2e.bgp_state(gw1, e2e.VTI["gw2"]), e2e.bgp_state(gw2, e2e.VTI["gw1"])
        return s1 == "ESTABLISHED" and s2 == "ESTABLISHED", s1, s2
    e2e.wait_for("BGP ESTABLISHED on both", established, 20)
    t["bgp_established_ms"] = e2e.ms(t0)
    for g, nb in ((gw1, nb1), (gw2, nb2)):
        e2e.expect(g.srv.delete(nb["path"]), 200)
        e2e.expect(g.srv.delete(e2e.nsx.SES + "/" + rid), 200)
    for g in (gw1, gw2):
        for s_ in (sid, rid):
            e2e.wait_for("%s gone on %s" % (s_, g.role),
                         lambda g=g, s_=s_: (g.srv.get(e2e.nsx.SES + "/" + s_ +
                                                       "/detailed-status").status_code == 404,
                                             None), 10)
    return t


def sc_real(ctx):
    R.out("## 6. Real mode: API call -> IKE UP, -> BGP ESTABLISHED")
    sys.path.insert(0, str(REPO / "tests" / "api"))
    os.environ["VPND_BIN"] = str(ctx["vpnd_bin"])
    try:
        import pytest
        import test_e2e_real as e2e
    except ImportError as e:
        R.out("skipped: cannot import the end-to-end test helpers (%s)" % e)
        R.out()
        return
    why = e2e.unavailable()
    if why:
        R.out("skipped: %s" % why)
        R.out()
        return
    rounds = {"policy_ike_up_ms": [], "route_ike_up_ms": [], "bgp_established_ms": []}
    R.commands.append("# scenario 6: test_e2e_real.topology(prefix=\"vb\") starts, per gateway, "
                      "VPND_BIN --listen 127.0.0.1:PORT --data DIR --org ... --sddc ... --mode "
                      "real --netns vb-gwN-SUFFIX --public-ip/--private-ip/--router-id WAN "
                      "--local-as AS --advertise NETS --log-level info")
    try:
        with e2e.topology(prefix="vb") as (ns, gw1, gw2):
            for g in (gw1, gw2):
                g.x.profiles(e2e.rt.seed_ike(), e2e.rt.seed_tunnel())
            for i in range(REAL_ROUNDS):
                t = real_round(e2e, gw1, gw2, "vb-%d" % i)
                for k in rounds:
                    rounds[k].append(t[k])
    except e2e.Unavailable as e:
        R.out("skipped: %s" % e)
        R.out()
        return
    except (pytest.fail.Exception, pytest.skip.Exception) as e:
        raise BenchError("real mode: %s" % e)
    R.out("Two vpnd --mode real (charon + BIRD each) in network namespaces vb-*, the set-up of "
          "tests/api/test_e2e_real.py (imported, not copied); %d rounds, each creating and "
          "deleting a policy-based and a route-based session + BGP neighbors; polled every "
          "%d ms." % (REAL_ROUNDS, int(e2e.POLL_S * 1000)))
    R.out()
    names = {"policy_ike_up_ms": "policy-based: API call -> IKE UP on both",
             "route_ike_up_ms": "route-based: API call -> IKE UP on both",
             "bgp_established_ms": "route-based: API call -> BGP ESTABLISHED on both"}
    goals = {"policy_ike_up_ms": 1000, "route_ike_up_ms": 1000, "bgp_established_ms": 3000}
    table(["measurement", "median ms", "rounds ms", "goal", "result"],
          [[names[k], fmt(median(v), 0), ", ".join(str(x) for x in v), "<= %d ms" % goals[k],
            R.goal(6, names[k], median(v), median(v) <= goals[k])]
           for k, v in rounds.items()])


SCENARIOS = [("1", sc_get_one), ("3", sc_list), ("2", sc_patch), ("7", sc_soak),
             ("4", sc_scale), ("5", sc_prefix), ("6", sc_real)]
MAIN_SCENARIOS = {"1", "2", "3", "7"}      # on the shared vpnd with 1,000 sessions (+ nginx)


# ------------------------------------------------------------------ main

def machine():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    fs = subprocess.run(["df", "-T", str(TMP)], capture_output=True, text=True).stdout
    fs = fs.splitlines()[-1].split()[1] if fs.strip() else "?"
    def ver(argv):
        p = subprocess.run([str(a) for a in argv], capture_output=True, text=True)
        return ((p.stdout + p.stderr).strip().splitlines() or ["?"])[0]
    return cpu, fs, ver


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def on_alarm(signum, frame):
    raise Timeout("bench: BENCH_TIMEOUT (%d s) passed" % TIMEOUT)


def main():
    global TMP
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="build directory with vpnd, sqlite_raw, "
                    "prefix_bench (default build)")
    ap.add_argument("--out", help="also write the report here (default BUILD/bench-report.md)")
    o = ap.parse_args()
    build = (REPO / o.build).resolve() if not Path(o.build).is_absolute() else Path(o.build)
    bins = {"vpnd_bin": build / "vpnd", "sqlite_raw": build / "sqlite_raw",
            "prefix_bench": build / "prefix_bench"}
    for k, b in bins.items():
        if not os.access(b, os.X_OK):
            sys.exit("bench: %s missing (make bench builds it)" % b)
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not os.access("/usr/sbin/" + tool, os.X_OK):
            sys.exit("bench: %s is needed (scripts/install-deps.sh installs it)" % tool)
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TIMEOUT)
    TMP = Path(tempfile.mkdtemp(prefix="vpnd-bench-", dir=os.environ.get("BENCH_TMP")))
    t_start = time.monotonic()
    failed = []
    try:
        cpu, fs, ver = machine()
        load0 = os.getloadavg()
        R.out("# vpnd benchmark report%s" % (" (BENCH_QUICK smoke run)" if QUICK else ""))
        R.out()
        R.out("- date: %s UTC" % time.strftime("%Y-%m-%d %H:%M", time.gmtime()))
        R.out("- machine: nproc %d, CPU %s, %s %s, temp dir on %s" % (
            NPROC, cpu, platform.system(), platform.release(), fs))
        R.out("- load average at start: %.2f %.2f %.2f" % load0)
        R.out("- tools: %s; %s; SQLite %s; %s" % (
            " ".join(ver(["wrk", "-v"]).split()[:2]), ver(["nginx", "-v"]),
            sqlite3.sqlite_version, ver([bins["vpnd_bin"], "--version"])))
        R.out("- command: `%s` with BENCH_SECS=%d BENCH_ROUNDS=%d BENCH_SOAK_SECS=%d "
              "BENCH_SCALE=%s BENCH_ONLY=%s%s" % (
                  " ".join(["bench/run.py"] + sys.argv[1:]), SECS, ROUNDS, SOAK_SECS,
                  ",".join(map(str, SCALE)), ",".join(sorted(ONLY)),
                  (" BENCH_VPND_ARGS=%r" % " ".join(VPND_ARGS)) if VPND_ARGS else ""))
        R.out("- wrk, nginx, vpnd and sqlite_raw share the same %d cores on loopback; only "
              "ratios from one run are meaningful." % NPROC)
        R.out()
        ctx = dict(bins)
        need_main = bool(ONLY & MAIN_SCENARIOS)
        if need_main:
            v = Vpnd("main", bins["vpnd_bin"])
            ctx["vpnd"] = v
            v.start()
            took = create_sessions(v, 0, LIST_N - 1)
            R.out("Set-up: %d policy-based sessions created through the API in %.1f s "
                  "(%s/s, 32 connections)." % (LIST_N, took, fmt(LIST_N / took, 0)))
            R.out()
            ng = Nginx()
            ctx["nginx"] = ng
            ng.start()
        for num, fn in SCENARIOS:
            if num not in ONLY:
                continue
            if need_main and num not in MAIN_SCENARIOS:
                # the shared vpnd and nginx are done: stop them before the others run
                ctx["nginx"].stop()
                ctx["vpnd"].stop()
                need_main = False
            try:
                fn(ctx)
            except (BenchError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
                failed.append(num)
                R.out("scenario %s FAILED: %s" % (num, e))
                R.out()
        if need_main:
            ctx["nginx"].stop()
            ctx["vpnd"].stop()
        R.out("## Summary of goals")
        table(["scenario", "goal", "result"],
              [[s, g, "met" if m else ("report only" if m is None else "**MISSED**")]
               for s, g, _, m in R.goals])
        if failed:
            R.out("Scenarios that failed to run: %s" % ", ".join(failed))
        R.out("Load average at the end: %.2f %.2f %.2f; the run took %.0f s." % (
            os.getloadavg() + (time.monotonic() - t_start,)))
        R.out()
        R.out("## Commands")
        R.out("$TMP is the run's temporary directory; `<token>` the admin access token; "
              "`bench/X.lua+report.lua` the scenario script with bench/report.lua appended.")
        R.out("```")
        for c in R.commands:
            R.out(c)
        R.out("```")
    except Timeout as e:
        R.out(str(e))
        failed.append("timeout")
    except (BenchError, subprocess.TimeoutExpired, OSError) as e:
        R.out("bench FAILED: %s" % e)
        failed.append("set-up")
    finally:
        signal.alarm(0)
        for s_ in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s_, signal.SIG_IGN)       # let the clean-up finish
        for p in list(PROCS):
            stop_proc(p, wait=10)
        shutil.rmtree(TMP, ignore_errors=True)
        out = Path(o.out) if o.out else build / "bench-report.md"
        try:
            out.write_text("\n".join(R.lines) + "\n")
        except OSError:
            pass
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
