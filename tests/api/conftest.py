"""Fixtures that run the vpnd binary for black-box API tests.

Run with Debian's Python:  VPND_BIN=$PWD/build/vpnd /usr/bin/python3 -m pytest -q tests/api

  VPND_BIN            the binary (default: build/vpnd relative to the repository root)
  VPND_START_TIMEOUT  seconds to wait for the server to answer (default 20; ASan builds are slow)

Every server is started with --org nsx.ORG --sddc nsx.SDDC (so the reverse-proxy prefixes in nsx
resolve) unless its extra args name --org/--sddc or it is made with fixed_ids=False. After it
answers /healthz, the admin refresh token vpnd wrote to DATA/admin-refresh-token on first start is
exchanged (POST /csp/gateway/am/api/auth/api-tokens/authorize?refresh_token=...) and every request
helper sends the access token in the csp-auth-token header. Pass token=None to send none, or
token=<jwt> to send another one; auth="bearer" sends it as "Authorization: Bearer" instead.

Fixtures:
  server          one vpnd for the whole session (fast; tests use unique ids, see nsx.uid)
  module_server   one vpnd per test module
  fresh_server    one vpnd per test, on its own empty data directory
  make_server     factory: make_server(extra_args) -> a started Vpnd, stopped at test end
  api             server.api, the common request helper

Each server's stderr (and stdout) go to files next to its data directory; Vpnd.log_text() reads
them so tests can assert that secrets never reach the log. When a server stops, any
sanitizer report in its log fails the test that owned it.
"""
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

import nsx

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "build" / "vpnd"
START_TIMEOUT = float(os.environ.get("VPND_START_TIMEOUT", "20"))
REQ_TIMEOUT = 30
READY_PATH = "/healthz"
AUTHORIZE = "/csp/gateway/am/api/auth/api-tokens/authorize"
CLOCK = "/emulator/api/v1/clock"
ADMIN = object()        # token=ADMIN (the default): the server's admin access token

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: ThreadSanitizer", "WARNING: ThreadSanitizer")


def vpnd_bin():
    return Path(os.environ.get("VPND_BIN") or DEFAULT_BIN)


def run_cli(*args, timeout=60, check=None):
    """Run VPND_BIN with args (a subcommand: token, audit, routes, ...). Returns the
    CompletedProcess (text). check=0/1: assert that exit status. A sanitizer report fails."""
    p = subprocess.run([str(vpnd_bin())] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    for m in SANITIZER_MARKERS:
        assert m not in p.stderr, "sanitizer report from vpnd %s:\n%s" % (" ".join(map(str, args)),
                                                                          p.stderr[-4000:])
    if check is not None:
        assert p.returncode == check, "vpnd %s -> exit %d (wanted %d)\nstdout: %s\nstderr: %s" % (
            " ".join(map(str, args)), p.returncode, check, p.stdout[-2000:], p.stderr[-2000:])
    return p


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class RawResponse:
    def __init__(self, status, headers, body):
        self.status_code = status
        self.headers = headers
        self.content = body

    def json(self):
        import json
        return json.loads(self.content.decode("utf-8"))


class Vpnd:
    """One vpnd process bound to one data directory."""

    def __init__(self, workdir, extra_args=(), fixed_ids=True):
        self.workdir = Path(workdir)
        self.extra_args = list(extra_args)
        self.fixed_ids = fixed_ids and not any(a in ("--org", "--sddc") for a in self.extra_args)
        self.refresh_token = None       # the admin refresh token (DATA/admin-refresh-token)
        self.access_token = None        # its access token, sent by default
        self.refresh_tokens = {}        # name -> refresh token, for tokens made by token()
        self.data = self.workdir / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.stderr_path = self.workdir / "vpnd.stderr.log"
        self.stdout_path = self.workdir / "vpnd.stdout.log"
        self.proc = None
        self.port = None
        self.http = None
        self._errf = None
        self._outf = None

    # ------------------------------------------------------------ lifecycle
    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, port=None):
        binary = vpnd_bin()
        if not binary.is_file() or not os.access(binary, os.X_OK):
            pytest.fail("vpnd binary %s not found or not executable (make build/vpnd, or set "
                        "VPND_BIN)" % binary, pytrace=False)
        last = None
        for attempt in range(3):
            p = port if (port and attempt == 0) else free_port()
            ok, why = self._start_once(binary, p)
            if ok:
                ok, why = self._login()
                if not ok:
                    pytest.fail("vpnd started but the test could not log in: %s\n--- log tail ---\n%s"
                                % (why, self.log_text()[-4000:]), pytrace=False)
                return self
            last = why
        pytest.fail("vpnd did not start: %s\n--- log tail ---\n%s" % (last, self.log_text()[-4000:]),
                    pytrace=False)

    def _start_once(self, binary, port):
        self.port = port
        self._errf = open(self.stderr_path, "ab")
        self._outf = open(self.stdout_path, "ab")
        self.proc = subprocess.Popen(
            [str(binary), "--listen", "127.0.0.1:%d" % port, "--data", str(self.data)]
            + (["--org", nsx.ORG, "--sddc", nsx.SDDC] if self.fixed_ids else [])
            + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=self._outf, stderr=self._errf,
            cwd=str(self.workdir))
        self.http = requests.Session()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self._close_files()
                return False, "exited with status %s" % rc
            try:
                r = requests.get(self.base + READY_PATH, timeout=2)
                if r.status_code == 200:
                    return True, None
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self._kill(signal.SIGKILL)
        return False, "no answer on %s within %.0f s" % (READY_PATH, START_TIMEOUT)

    def _login(self):
        """Read DATA/admin-refresh-token and exchange it for the default access token."""
        f = self.data / "admin-refresh-token"
        if not f.is_file():
            return False, "%s not written" % f
        self.refresh_token = f.read_text().strip()
        r = self.authorize(self.refresh_token)
        if r.status_code != 200:
            return False, "token exchange: %d %r" % (r.status_code, r.content[:300])
        self.access_token = r.json()["access_token"]
        return True, None

    def reauth(self):
        """Exchange the admin refresh token again (after the clock moved past expiry)."""
        self.access_token = self.exchange(self.refresh_token)
        return self.access_token

    def _close_files(self):
        for f in (self._errf, self._outf):
            if f:
                f.close()
        self._errf = self._outf = None
        if self.http:
            self.http.close()

    def _kill(self, sig):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
        if self.proc:
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._close_files()

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s. Returns the exit status."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._close_files()
        return self.proc.returncode

    def kill9(self):
        """kill -9, no chance to flush anything."""
        self._kill(signal.SIGKILL)

    def restart_after_kill9(self):
        """kill -9 and start again on the same data directory (same port if it is free)."""
        port = self.port
        self.kill9()
        return self.start(port=port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        out = []
        for p in (self.stderr_path, self.stdout_path):
            if p.exists():
                out.append(p.read_bytes().decode("utf-8", "replace"))
        return "\n".join(out)

    def sanitizer_report(self):
        text = self.log_text()
        for m in SANITIZER_MARKERS:
            i = text.find(m)
            if i >= 0:
                return text[max(0, i - 200):i + 3000]
        return None

    # ------------------------------------------------------------ auth
    def cli(self, *args, check=None, timeout=60):
        """VPND_BIN args... --data DATA (token create/list/revoke, audit)."""
        return run_cli(*args, "--data", self.data, check=check, timeout=timeout)

    def authorize(self, refresh, how="query", timeout=REQ_TIMEOUT):
        """The raw token-exchange response. how: query (?refresh_token=), api_token
        (?api_token=) or form (refresh_token= in an x-www-form-urlencoded body)."""
        url = self.base + AUTHORIZE
        if how == "query":
            return requests.post(url, params={"refresh_token": refresh}, timeout=timeout)
        if how == "api_token":
            return requests.post(url, params={"api_token": refresh}, timeout=timeout)
        if how == "form":
            return requests.post(url, data={"refresh_token": refresh}, timeout=timeout)
        raise ValueError(how)

    def exchange(self, refresh, how="query"):
        """Exchange a refresh token; returns the access token (asserts 200)."""
        r = self.authorize(refresh, how)
        nsx.expect(r, 200)
        return nsx.body_json(r)["access_token"]

    def create_refresh(self, name, role="admin"):
        """vpnd token create; returns the new refresh token."""
        p = self.cli("token", "create", "--role", role, "--name", name, check=0)
        refresh = p.stdout.strip()
        assert refresh and "\n" not in refresh, p.stdout
        self.refresh_tokens[name] = refresh
        return refresh

    def token(self, name, role="admin", how="query"):
        """A new refresh token NAME with ROLE, exchanged; returns the access token."""
        return self.exchange(self.create_refresh(name, role), how)

    def clock(self, token=ADMIN):
        return self.api("GET", CLOCK, prefix="", token=token)

    def advance_clock(self, ms, token=ADMIN):
        """Move the emulated clock forward by ms; returns {"now_ms", "offset_ms"}."""
        r = self.api("POST", CLOCK, json={"advance_ms": ms}, prefix="", token=token)
        nsx.expect(r, 200)
        return nsx.body_json(r)

    def auth_headers(self, token=ADMIN, auth="csp"):
        if token is ADMIN:
            token = self.access_token
        if token is None:
            return {}
        if auth == "bearer":
            return {"Authorization": "Bearer " + token}
        return {"csp-auth-token": token}

    # ------------------------------------------------------------ requests
    def url(self, path, prefix=nsx.POLICY):
        return self.base + (prefix or "") + path

    def api(self, method, path, json=None, data=None, params=None, headers=None,
            prefix=nsx.POLICY, session=None, timeout=REQ_TIMEOUT, token=ADMIN, auth="csp"):
        """One request to PREFIX+path (prefix defaults to /policy/api/v1), with the admin access
        token unless token= says otherwise (None: no token)."""
        h = self.auth_headers(token, auth)
        h.update(headers or {})
        if data is not None and "Content-Type" not in h:
            h["Content-Type"] = "application/json"
        s = session or self.http
        return s.request(method, self.url(path, prefix), json=json, data=data, params=params,
                         headers=h, timeout=timeout)

    def get(self, path, **kw):
        return self.api("GET", path, **kw)

    def put(self, path, body, **kw):
        return self.api("PUT", path, json=body, **kw)

    def patch(self, path, body, **kw):
        return self.api("PATCH", path, json=body, **kw)

    def delete(self, path, **kw):
        return self.api("DELETE", path, **kw)

    def get_json(self, path, **kw):
        r = self.get(path, **kw)
        nsx.expect(r, 200)
        return nsx.body_json(r)

    def create(self, path, body, **kw):
        """PUT-create and return the response object (asserts 200)."""
        r = self.put(path, body, **kw)
        nsx.expect(r, 200)
        return nsx.body_json(r)

    def list_all(self, path, params=None, max_pages=200, **kw):
        """Every result of a collection, following cursors (bounded)."""
        out, cursor = [], None
        for _ in range(max_pages):
            q = dict(params or {})
            if cursor:
                q["cursor"] = cursor
            page = self.get_json(path, params=q, **kw)
            out.extend(page["results"])
            cursor = page.get("cursor")
            if not cursor:
                return out
        raise AssertionError("more than %d pages listing %s" % (max_pages, path))

    def raw(self, method, target, body=b"", headers=None, timeout=20, read_limit=1 << 20,
            token=ADMIN):
        """A hand-made HTTP/1.1 request (for bytes requests would not send). The body is sent
        from a second thread while the response is read, so a server that answers early (413)
        and closes is still heard. Returns RawResponse; status 0 if no response arrived."""
        hdrs = {"Host": "127.0.0.1:%d" % self.port, "Connection": "close",
                "Content-Type": "application/json"}
        hdrs.update(self.auth_headers(token))
        hdrs.update(headers or {})
        chunked = "Transfer-Encoding" in hdrs
        if not chunked and (body or (body is not None and method not in ("GET", "HEAD"))):
            hdrs.setdefault("Content-Length", str(len(body)))
        head = "%s %s HTTP/1.1\r\n" % (method, target)
        head += "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n"
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

        def send():
            try:
                sock.sendall(head.encode("latin-1") + (body or b""))
            except OSError:
                pass

        t = threading.Thread(target=send, daemon=True)
        t.start()
        buf = b""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and len(buf) < read_limit:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
                parsed = _parse_http(buf)
                if parsed is not None:
                    break
        finally:
            try:
                sock.close()
            except OSError:
                pass
            t.join(timeout=5)
        parsed = _parse_http(buf, final=True)
        if parsed is None:
            return RawResponse(0, {}, buf)
        return RawResponse(*parsed)


def _parse_http(buf, final=False):
    """(status, headers, body) once a complete response is in buf, else None."""
    while True:
        sep = buf.find(b"\r\n\r\n")
        if sep < 0:
            return None
        lines = buf[:sep].decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            return None
        headers = {}
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                headers[k.strip().title()] = v.strip()
        rest = buf[sep + 4:]
        if 100 <= status < 200:          # interim response (100 Continue): skip it
            buf = rest
            continue
        if "Content-Length" in headers:
            n = int(headers["Content-Length"])
            if len(rest) >= n:
                return status, headers, rest[:n]
            return (status, headers, rest) if final else None
        if headers.get("Transfer-Encoding", "").lower() == "chunked":
            body, i = b"", 0
            while True:
                j = rest.find(b"\r\n", i)
                if j < 0:
                    return (status, headers, body) if final else None
                size = int(rest[i:j].split(b";")[0] or b"0", 16)
                if size == 0:
                    return status, headers, body
                if len(rest) < j + 2 + size:
                    return (status, headers, body) if final else None
                body += rest[j + 2:j + 2 + size]
                i = j + 2 + size + 2
        return (status, headers, rest) if final else None


def _finish(srv):
    srv.stop()
    report = srv.sanitizer_report()
    if report:
        pytest.fail("sanitizer report in vpnd log:\n" + report, pytrace=False)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Vpnd(tmp_path_factory.mktemp("vpnd-session"))
    srv.start()
    yield srv
    _finish(srv)


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    srv = Vpnd(tmp_path_factory.mktemp("vpnd-module"))
    srv.start()
    yield srv
    _finish(srv)


@pytest.fixture
def fresh_server(tmp_path):
    srv = Vpnd(tmp_path / "vpnd")
    srv.start()
    yield srv
    _finish(srv)


@pytest.fixture
def make_server(tmp_path):
    made = []

    def make(extra_args=(), fixed_ids=True):
        srv = Vpnd(tmp_path / ("vpnd-%d" % len(made)), extra_args, fixed_ids=fixed_ids)
        made.append(srv)
        return srv.start()

    yield make
    for srv in made:
        _finish(srv)


@pytest.fixture
def api(server):
    return server.api


@pytest.fixture(autouse=True)
def _server_still_up(request):
    """A test that crashed the shared server fails, rather than the tests after it."""
    yield
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        if srv.proc is not None and not srv.alive():
            rc, tail = srv.proc.returncode, srv.log_text()[-3000:]
            srv.start()         # same data directory, so the tests after this one can run
            pytest.fail("vpnd exited during this test (status %s); restarted it. Log tail:\n%s"
                        % (rc, tail), pytrace=False)
