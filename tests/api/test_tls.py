"""TLS: `vpnd cert generate`, --tls-cert/--tls-key through libmicrohttpd's GnuTLS support, and the
clear-text warning for non-loopback addresses.

The certificate comes from `VPND_BIN cert generate --data DIR`. Until the `cert` subcommand is
wired into main(), the serving tests fall back to an equivalent openssl-made certificate and the
tests of the subcommand itself are skipped with that reason.
"""
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests

import conftest
import nsx

CURL = shutil.which("curl")
OPENSSL = shutil.which("openssl")
NOT_WIRED = "`vpnd cert` is not wired into main()'s subcommand table yet"
CLEAR_TEXT = "clear text"


def run(args, timeout=60):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    for m in conftest.SANITIZER_MARKERS:
        assert m not in p.stderr, "sanitizer report:\n" + p.stderr[-4000:]
    return p


_wired = None


def cert_wired():
    """Whether main() dispatches `vpnd cert` (asked once, with --help)."""
    global _wired
    if _wired is None:
        p = run([conftest.vpnd_bin(), "cert", "generate", "--help"])
        _wired = p.returncode == 0 and "usage: vpnd cert generate" in p.stdout
    return _wired


def cert_generate(data, *extra):
    """VPND_BIN cert generate --data DATA EXTRA...; None when `cert` is not a subcommand yet."""
    if not cert_wired():
        return None
    return run([conftest.vpnd_bin(), "cert", "generate", "--data", data] + list(extra))


class Pair:
    def __init__(self, data):
        self.dir = Path(data) / "tls"
        self.cert = self.dir / "cert.pem"
        self.key = self.dir / "key.pem"


def _openssl_pair(data):
    pair = Pair(data)
    pair.dir.mkdir(parents=True, mode=0o700)
    p = run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-sha256", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
             "-keyout", pair.key, "-out", pair.cert])
    assert p.returncode == 0, p.stderr
    return pair


@pytest.fixture
def pair(tmp_path):
    """A certificate and key for localhost, 127.0.0.1 and ::1 in tmp_path/certs/tls."""
    data = tmp_path / "certs"
    p = cert_generate(data)
    if p is None:
        if not OPENSSL:
            pytest.skip(NOT_WIRED + " and openssl is not installed")
        return _openssl_pair(data)
    assert p.returncode == 0, p.stderr
    return Pair(data)


class TlsVpnd(conftest.Vpnd):
    """A Vpnd whose helpers speak HTTPS to localhost (the certificate's DNS name)."""

    @property
    def base(self):
        return "https://localhost:%d" % self.port


@pytest.fixture
def tls_server(tmp_path, pair, monkeypatch):
    # requests (conftest's readiness probe, login and helpers) trusts exactly this certificate
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pair.cert))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    srv = TlsVpnd(tmp_path / "vpnd-tls", ["--tls-cert", pair.cert, "--tls-key", pair.key])
    srv.pair = pair
    srv.start()
    yield srv
    conftest._finish(srv)


def curl(*args):
    if not CURL:
        pytest.skip("curl is not installed")
    return run([CURL, "-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}"]
               + list(args))


# ------------------------------------------------------------------ vpnd cert generate
def test_cert_generate_cli(tmp_path):
    data = tmp_path / "d"
    p = cert_generate(data)
    if p is None:
        pytest.skip(NOT_WIRED)
    assert p.returncode == 0, p.stderr
    pair = Pair(data)
    assert stat.S_IMODE(pair.dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(pair.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(pair.cert.stat().st_mode) == 0o644
    assert sorted(x.name for x in pair.dir.iterdir()) == ["cert.pem", "key.pem"]
    assert str(pair.cert) in p.stdout and str(pair.key) in p.stdout
    assert "curl --cacert %s https://localhost:8080/" % pair.cert in p.stdout
    assert "PRIVATE KEY" not in p.stdout + p.stderr
    if OPENSSL:
        t = run([OPENSSL, "x509", "-in", pair.cert, "-noout", "-text"]).stdout
        assert "DNS:localhost" in t and "IP Address:127.0.0.1" in t
        assert "IP Address:0:0:0:0:0:0:0:1" in t
        assert "CA:TRUE" in t and "ecdsa-with-SHA256" in t and "prime256v1" in t
        assert "TLS Web Server Authentication" in t

    # refuses to overwrite; --force replaces both
    before = pair.cert.read_bytes(), pair.key.read_bytes()
    p = cert_generate(data)
    assert p.returncode == 1 and "--force" in p.stderr and str(pair.key) in p.stderr
    assert (pair.cert.read_bytes(), pair.key.read_bytes()) == before
    p = cert_generate(data, "--force", "--name", "vpn.example.net", "--name", "192.0.2.7",
                      "--days", "3")
    assert p.returncode == 0, p.stderr
    after = pair.cert.read_bytes(), pair.key.read_bytes()
    assert after[0] != before[0] and after[1] != before[1]
    assert stat.S_IMODE(pair.key.stat().st_mode) == 0o600
    if OPENSSL:
        t = run([OPENSSL, "x509", "-in", pair.cert, "-noout", "-text"]).stdout
        assert "DNS:vpn.example.net" in t and "IP Address:192.0.2.7" in t
        assert "DNS:localhost" not in t


@pytest.mark.parametrize("args", [["--name", "not a name"], ["--days", "0"], ["--days", "x"],
                                  ["--bogus"], ["extra"]])
def test_cert_generate_usage_errors(tmp_path, args):
    p = cert_generate(tmp_path / "d", *args)
    if p is None:
        pytest.skip(NOT_WIRED)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert not (tmp_path / "d" / "tls" / "cert.pem").exists()


# ------------------------------------------------------------------ serving HTTPS
def test_https_with_curl_cacert(tls_server):
    srv = tls_server
    for host in ("localhost", "127.0.0.1"):
        url = "https://%s:%d%s" % (host, srv.port, conftest.READY_PATH)
        p = curl("--cacert", srv.pair.cert, url)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "200"
    # TLS 1.2 is accepted as well as 1.3
    p = curl("--tls-max", "1.2", "--cacert", srv.pair.cert,
             "https://localhost:%d%s" % (srv.port, conftest.READY_PATH))
    assert p.returncode == 0 and p.stdout == "200", p.stderr


def test_https_without_cacert_fails_verification(tls_server):
    srv = tls_server
    p = curl("https://localhost:%d%s" % (srv.port, conftest.READY_PATH))
    assert p.returncode == 60, (p.returncode, p.stderr)      # CURLE_PEER_FAILED_VERIFICATION
    # the system's trust store (not REQUESTS_CA_BUNDLE, which the fixture points at the cert)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(srv.base + conftest.READY_PATH, timeout=10, verify=requests.certs.where())


def test_plain_http_to_tls_port_fails(tls_server):
    srv = tls_server
    with pytest.raises(requests.RequestException):
        requests.get("http://127.0.0.1:%d%s" % (srv.port, conftest.READY_PATH), timeout=10)
    p = curl("http://127.0.0.1:%d%s" % (srv.port, conftest.READY_PATH))
    assert p.returncode != 0 and p.stdout in ("000", ""), (p.returncode, p.stdout)
    # the server is unharmed
    r = requests.get(srv.base + conftest.READY_PATH, timeout=10, verify=str(srv.pair.cert))
    assert r.status_code == 200


def test_requests_verify_cert_and_api(tls_server):
    srv = tls_server
    r = requests.get(srv.base + conftest.READY_PATH, timeout=10, verify=str(srv.pair.cert))
    assert r.status_code == 200
    # the API itself over HTTPS (with whatever authentication conftest's helpers add)
    oid = nsx.uid("tls")
    created = srv.create(nsx.DPD + "/" + oid, nsx.dpd_body())
    assert created["id"] == oid
    assert srv.get_json(nsx.DPD + "/" + oid)["id"] == oid
    assert CLEAR_TEXT not in srv.log_text()


# ------------------------------------------------------------------ start-up failures
def _start_fails(tmp_path, extra):
    data = tmp_path / "bad-start"
    data.mkdir(exist_ok=True)
    p = run([conftest.vpnd_bin(), "--listen", "127.0.0.1:%d" % conftest.free_port(),
             "--data", data] + [str(a) for a in extra], timeout=60)
    assert p.returncode != 0, "vpnd started with %r" % (extra,)
    return p


@pytest.mark.parametrize("which", ["cert", "key"])
def test_only_one_of_cert_and_key(tmp_path, pair, which):
    flag, path = ("--tls-cert", pair.cert) if which == "cert" else ("--tls-key", pair.key)
    p = _start_fails(tmp_path, [flag, path])
    assert p.returncode == 2
    assert "--tls-cert" in p.stderr and "--tls-key" in p.stderr


def test_bad_pem_fails_at_start(tmp_path, pair):
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    p = _start_fails(tmp_path, ["--tls-cert", junk, "--tls-key", pair.key])
    assert str(junk) in p.stderr and "certificate" in p.stderr
    # a certificate where the key belongs
    p = _start_fails(tmp_path, ["--tls-cert", pair.cert, "--tls-key", pair.cert])
    assert str(pair.cert) in p.stderr and "private key" in p.stderr
    # a key where the certificate belongs: refused, and the key's text never reaches the log
    p = _start_fails(tmp_path, ["--tls-cert", pair.key, "--tls-key", pair.key])
    assert str(pair.key) in p.stderr and "certificate" in p.stderr
    body = [ln for ln in pair.key.read_text().splitlines() if not ln.startswith("-----")]
    assert body and not any(ln in p.stderr for ln in body)
    # a missing file
    p = _start_fails(tmp_path, ["--tls-cert", tmp_path / "nope.pem", "--tls-key", pair.key])
    assert "nope.pem" in p.stderr


def test_mismatched_key_fails_at_start(tmp_path, pair):
    other = tmp_path / "other"
    if cert_generate(other) is None:
        if not OPENSSL:
            pytest.skip(NOT_WIRED + " and openssl is not installed")
        _openssl_pair(other)
    p = _start_fails(tmp_path, ["--tls-cert", pair.cert, "--tls-key", Pair(other).key])
    assert "does not belong" in p.stderr


# ------------------------------------------------------------------ clear-text warning
def _warning_for(tmp_path, extra):
    """Start vpnd on 0.0.0.0 just long enough to accept on 127.0.0.1, stop it, return its log."""
    port = conftest.free_port()
    data = tmp_path / "wide"
    data.mkdir(exist_ok=True)
    log = tmp_path / "wide.log"
    with open(log, "wb") as errf:
        proc = subprocess.Popen([str(conftest.vpnd_bin()), "--listen", "0.0.0.0:%d" % port,
                                 "--data", str(data)] + [str(a) for a in extra],
                                stdin=subprocess.DEVNULL, stdout=errf, stderr=errf)
        try:
            deadline = time.monotonic() + conftest.START_TIMEOUT
            up = False
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    up = True
                    break
                except OSError:
                    time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
    text = log.read_text(errors="replace")
    for m in conftest.SANITIZER_MARKERS:
        assert m not in text, "sanitizer report:\n" + text[-4000:]
    assert up, "vpnd did not accept on port %d:\n%s" % (port, text[-3000:])
    return text


def test_clear_text_warning_on_wildcard(tmp_path):
    text = _warning_for(tmp_path, [])
    lines = [ln for ln in text.splitlines() if CLEAR_TEXT in ln]
    assert len(lines) == 1, text[-3000:]
    assert "vpnd[warn]" in lines[0] and "0.0.0.0" in lines[0] and "TLS" in lines[0]
    assert "tokens" in lines[0] and "pre-shared keys" in lines[0]


def test_no_warning_with_tls_on_wildcard(tmp_path, pair):
    text = _warning_for(tmp_path, ["--tls-cert", pair.cert, "--tls-key", pair.key])
    assert CLEAR_TEXT not in text
    assert "TLS on" in text


def test_no_warning_on_loopback(make_server):
    srv = make_server()
    assert CLEAR_TEXT not in srv.log_text()
