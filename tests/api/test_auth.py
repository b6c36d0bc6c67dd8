"""Access (issue 3): CSP token exchange, access tokens, roles, SDDC discovery, health, audit log.

The VMC flow: a refresh (API) token is exchanged at POST /csp/gateway/am/api/auth/api-tokens/authorize
for a short-lived JWT access token, sent as "csp-auth-token" (or "Authorization: Bearer") on every
call. Expiry is driven through the emulator clock (POST /emulator/api/v1/clock), never by sleeping.
Tokens are managed with `vpnd token create|list|revoke --data DIR`, also while the daemon runs.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import stat
import threading
import time

import pytest
import requests

import nsx
from conftest import AUTHORIZE, CLOCK, Vpnd, run_cli
from nsx import expect, expect_empty, expect_error

AUDIT = "/vpnd/api/v1/audit"
SENSITIVE = {"action": "show_sensitive_data"}
WRITE_METHODS = ("PUT", "PATCH", "DELETE", "POST")
DEFAULT_TTL = 1800
ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
LONG_TOKENISH = re.compile(r"[A-Za-z0-9_\-+/=.]{32,}")


# ------------------------------------------------------------------ helpers

def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt_parts(tok):
    parts = tok.split(".")
    assert len(parts) == 3, "not a JWT (three base64url parts): %r" % tok
    for p in parts:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", p), "not base64url: %r" % p
    return json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1])), parts[2]


def jwt_payload(tok):
    return jwt_parts(tok)[1]


def jwt_make(header, payload, key=b"not-the-server-key", sig=None):
    h = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    p = b64url_encode(json.dumps(payload, separators=(",", ":")).encode())
    if sig is None:
        sig = b64url_encode(hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest())
    return "%s.%s.%s" % (h, p, sig)


def flip(c):
    return "B" if c == "A" else "A"


def forge_signature(tok):
    """The same header and payload with one signature character changed (in the middle, where
    every bit of the character is signature, not base64 padding)."""
    h, p, s = tok.split(".")
    i = len(s) // 2
    return "%s.%s.%s" % (h, p, s[:i] + flip(s[i]) + s[i + 1:])


def repayload(tok, **changes):
    """The payload changed, the original header and signature kept."""
    h, p, s = tok.split(".")
    payload = json.loads(b64url_decode(p))
    payload.update(changes)
    return "%s.%s.%s" % (h, b64url_encode(json.dumps(payload, separators=(",", ":")).encode()), s)


def expect_401(r, secrets=()):
    err = expect_error(r, 401, secrets=secrets)
    assert err["httpStatus"] == "UNAUTHORIZED", err
    assert isinstance(err.get("module_name"), str), "401 without module_name: %r" % err
    return err


def expect_403(r, secrets=()):
    err = expect_error(r, 403, secrets=secrets)
    assert err["httpStatus"] == "FORBIDDEN", err
    return err


def expect_oauth_error(r, error, secrets=()):
    assert r.status_code == 400, nsx.describe(r)
    for s in secrets:
        assert s.encode() not in r.content, "secret echoed: %s" % nsx.describe(r)
    body = nsx.body_json(r)
    assert body.get("error") == error, body
    assert isinstance(body.get("error_description"), str) and body["error_description"], body
    assert body.get("statusCode") == 400, body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def check_exchange_body(r, refresh, ttl=DEFAULT_TTL):
    expect(r, 200)
    assert "json" in r.headers.get("Content-Type", ""), r.headers
    body = nsx.body_json(r)
    for k in ("id_token", "scope", "access_token"):
        assert isinstance(body.get(k), str), (k, body)
    assert body["access_token"]
    assert body["token_type"] == "bearer", body
    assert body["expires_in"] == ttl and type(body["expires_in"]) is int, body
    assert body["refresh_token"] == refresh, "refresh_token is not the one exchanged"
    jwt_parts(body["access_token"])
    return body


def audit_all(srv, since=0, token=None, limit=1000):
    """Every audit record after id SINCE, following since= pages."""
    out = []
    for _ in range(1000):
        kw = {} if token is None else {"token": token}
        r = srv.api("GET", AUDIT, prefix="", params={"since": since, "limit": limit}, **kw)
        expect(r, 200)
        page = nsx.body_json(r)
        assert isinstance(page.get("results"), list) and isinstance(page.get("result_count"), int), page
        if not page["results"]:
            return out
        ids = [rec["id"] for rec in page["results"]]
        assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids[0] > since, ids
        out.extend(page["results"])
        since = ids[-1]
    raise AssertionError("audit pages do not end")


def last_audit_id(srv):
    recs = audit_all(srv)
    return recs[-1]["id"] if recs else 0


def token_lines(srv):
    p = srv.cli("token", "list", check=0)
    rows = {}
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        m = re.fullmatch(r"(\S+) (admin|auditor) created=(\S+) last_used=(\S+)", line)
        assert m, "token list line %r is not NAME ROLE created=... last_used=..." % line
        rows[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    return p, rows


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def auditor(server):
    """An auditor access token on the session server."""
    name = nsx.uid("auditor")
    return server.token(name, "auditor")


@pytest.fixture(scope="module")
def routes():
    p = run_cli("routes", check=0)
    table = json.loads(p.stdout)
    assert isinstance(table, list) and table, p.stdout[:500]
    for r in table:
        assert set(r) >= {"pattern", "methods", "writes", "prefix"}, r
        assert r["pattern"].startswith("/") and r["methods"], r
        assert r["writes"] == any(m in WRITE_METHODS and not (m == "POST" and r.get("post_reads"))
                                  for m in r["methods"]), r
    return table


@pytest.fixture(scope="module")
def audit_srv(tmp_path_factory):
    """A server of its own, so audit record ids and contents are predictable."""
    srv = Vpnd(tmp_path_factory.mktemp("vpnd-audit"))
    srv.start()
    yield srv
    from conftest import _finish
    _finish(srv)


# ------------------------------------------------------------------ token exchange

@pytest.mark.parametrize("how", ["query", "api_token", "form"])
def test_exchange_every_path(server, how):
    name = nsx.uid("ex-" + how.replace("_", ""))
    refresh = server.create_refresh(name, "admin")
    body = check_exchange_body(server.authorize(refresh, how), refresh)
    tok = body["access_token"]
    expect(server.get(nsx.DPD, token=tok), 200)
    oid = nsx.uid("ex")
    o = server.create(nsx.DPD + "/" + oid, nsx.dpd_body(), token=tok)
    assert o["_create_user"] == name


def test_exchange_needs_no_auth_header(server):
    refresh = server.create_refresh(nsx.uid("noh"), "admin")
    r = requests.post(server.base + AUTHORIZE, params={"refresh_token": refresh},
                      headers={"Accept": "application/json"}, timeout=30)
    check_exchange_body(r, refresh)


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_access_token_payload(server, role):
    name = nsx.uid("jwt-" + role)
    refresh = server.create_refresh(name, role)
    now = server.clock().json()["now_ms"] // 1000
    body = check_exchange_body(server.authorize(refresh), refresh)
    header, payload, sig = jwt_parts(body["access_token"])
    assert header.get("alg") == "HS256", header
    assert payload["sub"] == name
    assert payload["role"] == role
    assert payload["context_name"] == nsx.ORG
    assert "tid" in payload
    assert isinstance(payload["iat"], int) and isinstance(payload["exp"], int), payload
    assert payload["exp"] - payload["iat"] == DEFAULT_TTL, payload
    assert now - 60 <= payload["iat"] <= now + 60, (now, payload)
    assert len(b64url_decode(sig)) == 32        # HMAC-SHA256
    for v in payload.values():
        assert refresh not in json.dumps(v)


def test_two_exchanges_give_working_tokens(server):
    refresh = server.create_refresh(nsx.uid("twice"), "admin")
    a = server.exchange(refresh)
    b = server.exchange(refresh, "form")
    for t in (a, b):
        expect(server.get(nsx.IKE, token=t), 200)


@pytest.mark.parametrize("how", ["query", "api_token", "form"])
def test_exchange_unknown_token_invalid_grant(server, how):
    bogus = "bogus-" + os.urandom(16).hex()
    expect_oauth_error(server.authorize(bogus, how), "invalid_grant", secrets=[bogus])


def test_exchange_access_token_is_not_a_refresh_token(server):
    expect_oauth_error(server.authorize(server.access_token), "invalid_grant",
                       secrets=[server.access_token])


def test_exchange_near_miss_refresh_token(server):
    """A refresh token with one character changed is just unknown."""
    refresh = server.create_refresh(nsx.uid("near"), "admin")
    i = len(refresh) // 2
    near = refresh[:i] + flip(refresh[i]) + refresh[i + 1:]
    expect_oauth_error(server.authorize(near), "invalid_grant", secrets=[refresh])
    expect_oauth_error(server.authorize(refresh + "x"), "invalid_grant", secrets=[refresh])
    expect_oauth_error(server.authorize(refresh[:-1]), "invalid_grant", secrets=[refresh])


def test_exchange_oversized_token(server):
    expect_oauth_error(server.authorize("x" * 20000, "form"), "invalid_grant")
    expect_oauth_error(server.authorize("%00" + "a" * 40, "form"), "invalid_grant")


def test_exchange_missing_token_invalid_request(server):
    url = server.base + AUTHORIZE
    expect_oauth_error(requests.post(url, timeout=30), "invalid_request")
    expect_oauth_error(requests.post(url, data={"grant_type": "refresh_token"}, timeout=30),
                       "invalid_request")
    expect_oauth_error(requests.post(url, params={"other": "x"}, timeout=30), "invalid_request")


def test_refresh_tokens_are_random_and_stored_hashed(fresh_server):
    srv = fresh_server
    made = [srv.create_refresh("rnd-%d" % i, "admin") for i in range(3)]
    toks = made + [srv.refresh_token]
    assert len(set(toks)) == len(toks)
    for t in toks:
        # >= 128 bits: at least 22 base64 characters or 32 hex digits
        assert len(t) >= 22 and not re.search(r"\s", t), t
    expect(srv.put(nsx.DPD + "/flush", nsx.dpd_body()), 200)
    srv.stop()
    for f in srv.data.rglob("*"):
        if f.is_file() and f.name != "admin-refresh-token":
            data = f.read_bytes()
            for t in toks:
                assert t.encode() not in data, "refresh token stored in the clear in %s" % f


# ------------------------------------------------------------------ presenting the access token

@pytest.mark.parametrize("auth", ["csp", "bearer"])
def test_both_headers(server, auth):
    tok = server.token(nsx.uid("hdr"), "admin")
    expect(server.get(nsx.DPD, token=tok, auth=auth), 200)
    oid = nsx.uid("hdr")
    expect(server.put(nsx.DPD + "/" + oid, nsx.dpd_body(), token=tok, auth=auth), 200)
    expect_empty(server.delete(nsx.DPD + "/" + oid, token=tok, auth=auth))


def test_header_name_case_insensitive(server):
    r = server.get(nsx.DPD, token=None, headers={"CSP-AUTH-TOKEN": server.access_token})
    expect(r, 200)
    r = server.get(nsx.DPD, token=None, headers={"authorization": "Bearer " + server.access_token})
    expect(r, 200)


@pytest.mark.parametrize("prefix", nsx.ALL_PREFIXES, ids=["policy", "sks", "rp"])
def test_missing_token_401(server, prefix):
    oid = nsx.uid("anon")
    path = nsx.DPD + "/" + oid
    for method, body in (("GET", None), ("PUT", nsx.dpd_body()), ("PATCH", nsx.dpd_body()),
                         ("DELETE", None)):
        expect_401(server.api(method, path, json=body, prefix=prefix, token=None))
    expect_401(server.get(nsx.DPD, prefix=prefix, token=None))
    expect_401(server.get(nsx.SES, prefix=prefix, token=None, params=SENSITIVE))
    expect_error(server.get(path), 404)     # nothing was created


def test_missing_token_401_outside_policy(server):
    for method, path, body in (("GET", "/vmc/api/orgs/%s/sddcs/%s" % (nsx.ORG, nsx.SDDC), None),
                               ("GET", "/vmc/api/orgs/%s/sddcs" % nsx.ORG, None),
                               ("GET", AUDIT, None), ("GET", CLOCK, None),
                               ("POST", CLOCK, {"advance_ms": 0})):
        expect_401(server.api(method, path, json=body, prefix="", token=None))


def test_raw_request_without_token_401(server):
    oid = nsx.uid("rawanon")
    r = server.raw("PUT", nsx.POLICY + nsx.DPD + "/" + oid, json.dumps(nsx.dpd_body()).encode(), token=None)
    assert r.status_code == 401
    err = r.json()
    assert err["httpStatus"] == "UNAUTHORIZED" and "module_name" in err
    expect_error(server.get(nsx.DPD + "/" + oid), 404)


def _malformed(server):
    tok = server.access_token
    h, p, s = tok.split(".")
    alg_none = jwt_make({"alg": "none", "typ": "JWT"}, jwt_payload(tok), sig="")
    return [
        "", "x", "abc.def", "a.b.c", "...", tok + ".", h + "." + p, h + "." + p + ".",
        "." + p + "." + s, tok[:-5], tok + "AAAA", "%s.%s.%s" % (h, "!!!!", s),
        "%s.%s.%s" % (h, b64url_encode(b"not json"), s),
        "%s.%s.%s" % (b64url_encode(b"{"), p, s),
        alg_none, alg_none[:-1] if alg_none.endswith(".") else alg_none,
        "\u00e9" * 10, "x" * 5000,
    ]


def test_malformed_tokens_401(server):
    secrets = [server.access_token]
    for bad in _malformed(server):
        try:
            bad.encode("latin-1")
        except UnicodeEncodeError:
            continue
        for auth in ("csp", "bearer"):
            r = server.get(nsx.DPD, token=bad, auth=auth)
            expect_401(r, secrets=secrets)


def test_bad_authorization_schemes_401(server):
    tok = server.access_token
    for value in ("Basic " + base64.b64encode(b"admin:admin").decode(), "Bearer", "Bearer ",
                  "Token " + tok, tok, "Bearer  x"):
        r = server.get(nsx.DPD, token=None, headers={"Authorization": value})
        expect_401(r, secrets=[tok])


def test_forged_signature_401(server, auditor):
    for tok in (server.access_token, auditor):
        expect_401(server.get(nsx.DPD, token=forge_signature(tok)), secrets=[tok])
        expect_401(server.put(nsx.DPD + "/" + nsx.uid("forged"), nsx.dpd_body(),
                              token=forge_signature(tok)))
        # the whole signature replaced
        h, p, s = tok.split(".")
        expect_401(server.get(nsx.DPD, token="%s.%s.%s" % (h, p, b64url_encode(os.urandom(32)))))


def test_forged_payload_401(server, auditor):
    """Changing the payload (role, subject, expiry) without the key breaks the signature."""
    expect_401(server.put(nsx.DPD + "/" + nsx.uid("esc"), nsx.dpd_body(),
                          token=repayload(auditor, role="admin")))
    expect_401(server.get(nsx.DPD, token=repayload(server.access_token, sub="someone-else")))
    p = jwt_payload(server.access_token)
    expect_401(server.get(nsx.DPD, token=repayload(server.access_token, exp=p["exp"] + 10 ** 6)))


def test_token_signed_with_another_key_401(server):
    p = dict(jwt_payload(server.access_token))
    for key in (b"", b"secret", b"vpnd", os.urandom(32)):
        expect_401(server.get(nsx.DPD, token=jwt_make({"alg": "HS256", "typ": "JWT"}, p, key)))


def test_token_of_another_server_401(server, make_server):
    other = make_server()
    expect(other.get(nsx.DPD), 200)
    expect_401(server.get(nsx.DPD, token=other.access_token))
    expect_401(other.get(nsx.DPD, token=server.access_token))


# ------------------------------------------------------------------ the clock and expiry

def test_clock_endpoint(fresh_server):
    srv = fresh_server
    r = srv.clock()
    expect(r, 200)
    c = r.json()
    assert set(c) >= {"now_ms", "offset_ms"} and c["offset_ms"] == 0, c
    assert abs(c["now_ms"] - nsx.now_ms()) < 60000, c
    c2 = srv.advance_clock(5000)
    assert c2["offset_ms"] == 5000 and c2["now_ms"] >= c["now_ms"] + 5000, c2
    c3 = srv.advance_clock(0)
    assert c3["offset_ms"] == 5000, c3
    assert srv.clock().json()["offset_ms"] == 5000
    for bad in ({"advance_ms": -1}, {}, {"advance_ms": "x"}, {"advance_ms": 1.5}):
        r = srv.api("POST", CLOCK, json=bad, prefix="")
        assert r.status_code == 400, (bad, nsx.describe(r))
    assert srv.clock().json()["offset_ms"] == 5000


def test_clock_admin_only(server, auditor):
    expect_403(server.clock(token=auditor))
    expect_403(server.api("POST", CLOCK, json={"advance_ms": 10 ** 9}, prefix="", token=auditor))
    assert server.clock().json()["offset_ms"] == 0


def test_no_emulator_404(make_server):
    srv = make_server(["--no-emulator"])
    assert srv.clock().status_code == 404
    r = srv.api("POST", CLOCK, json={"advance_ms": 10 ** 7}, prefix="")
    assert r.status_code == 404
    expect(srv.get(nsx.DPD), 200)       # the token did not expire


def test_expiry_default_ttl(fresh_server):
    srv = fresh_server
    ops = srv.token("ops", "admin")
    auditor = srv.token("aud", "auditor")
    srv.advance_clock((DEFAULT_TTL - 30) * 1000)
    for tok in (srv.access_token, ops, auditor):
        expect(srv.get(nsx.DPD, token=tok), 200)
    srv.advance_clock(31 * 1000)
    for tok in (srv.access_token, ops, auditor):
        expect_401(srv.get(nsx.DPD, token=tok))
        expect_401(srv.put(nsx.DPD + "/late", nsx.dpd_body(), token=tok))
    # an expired token cannot drive the clock either; a new exchange works at the new time
    expect_401(srv.clock(token=ops))
    fresh = srv.reauth()
    body = check_exchange_body(srv.authorize(srv.refresh_tokens["ops"]), srv.refresh_tokens["ops"])
    p = jwt_payload(body["access_token"])
    assert p["iat"] >= time.time() + DEFAULT_TTL - 60, "iat does not follow the emulated clock"
    expect(srv.get(nsx.DPD, token=fresh), 200)
    expect_error(srv.get(nsx.DPD + "/late"), 404)


def test_expiry_custom_ttl(make_server):
    srv = make_server(["--token-ttl", "120"])
    refresh = srv.create_refresh("short", "admin")
    body = check_exchange_body(srv.authorize(refresh), refresh, ttl=120)
    p = jwt_payload(body["access_token"])
    assert p["exp"] - p["iat"] == 120
    tok = body["access_token"]
    srv.advance_clock(100 * 1000)
    expect(srv.get(nsx.IKE, token=tok), 200)
    srv.advance_clock(21 * 1000)
    expect_401(srv.get(nsx.IKE, token=tok))
    expect_401(srv.get(nsx.IKE))                # the default admin token too
    srv.reauth()
    expect(srv.get(nsx.IKE), 200)


# ------------------------------------------------------------------ revocation, CLI

def test_revoked_refresh_token(server):
    name = nsx.uid("rv")
    refresh = server.create_refresh(name, "admin")
    tok_q = server.exchange(refresh)
    tok_f = server.exchange(refresh, "form")
    expect(server.get(nsx.DPD, token=tok_q), 200)
    server.cli("token", "revoke", name, check=0)          # while the daemon runs
    for how in ("query", "api_token", "form"):
        expect_oauth_error(server.authorize(refresh, how), "invalid_grant", secrets=[refresh])
    for tok in (tok_q, tok_f):
        expect_401(server.get(nsx.DPD, token=tok), secrets=[tok])
        oid = nsx.uid("rvw")
        expect_401(server.put(nsx.DPD + "/" + oid, nsx.dpd_body(), token=tok))
        expect_error(server.get(nsx.DPD + "/" + oid), 404)
    # only that token: the admin's and other tokens keep working
    expect(server.get(nsx.DPD), 200)
    other = server.token(nsx.uid("rv-other"), "admin")
    expect(server.get(nsx.DPD, token=other), 200)


def test_revoke_unknown_exit_1(server):
    p = server.cli("token", "revoke", nsx.uid("nobody"), check=1)
    assert p.stderr.strip()


def test_token_create_cli(server):
    name = nsx.uid("cli")
    p = server.cli("token", "create", "--role", "auditor", "--name", name, check=0)
    lines = p.stdout.splitlines()
    assert len(lines) == 1 and lines[0].strip() == lines[0] and lines[0], p.stdout
    refresh = lines[0]
    assert refresh not in p.stderr
    body = check_exchange_body(server.authorize(refresh), refresh)
    assert jwt_payload(body["access_token"])["role"] == "auditor"
    # duplicate name: exit 1, a message, no token
    d = server.cli("token", "create", "--role", "admin", "--name", name)
    assert d.returncode == 1, (d.returncode, d.stdout, d.stderr)
    assert d.stderr.strip() and not d.stdout.strip(), (d.stdout, d.stderr)
    assert jwt_payload(server.exchange(refresh))["role"] == "auditor"   # the first one is intact


@pytest.mark.parametrize("args", [["--role", "root", "--name", "x1"], ["--role", "admin"],
                                  ["--name", "x2"], ["--role", "admin", "--name", ""]],
                         ids=["bad-role", "no-name", "no-role", "empty-name"])
def test_token_create_bad_args(server, args):
    p = server.cli("token", "create", *args)
    assert p.returncode != 0 and not p.stdout.strip(), (p.returncode, p.stdout, p.stderr)


def test_token_list(fresh_server):
    srv = fresh_server
    srv.create_refresh("ops-bot", "admin")
    srv.create_refresh("watcher", "auditor")
    used = srv.create_refresh("used", "auditor")
    used_tok = srv.exchange(used)
    expect(srv.get(nsx.DPD, token=used_tok), 200)
    p, rows = token_lines(srv)
    assert set(rows) == {"admin", "ops-bot", "watcher", "used"}, p.stdout
    assert rows["admin"][0] == "admin" and rows["ops-bot"][0] == "admin"
    assert rows["watcher"][0] == "auditor" and rows["used"][0] == "auditor"
    for name, (_, created, last_used) in rows.items():
        assert ISO8601.match(created), (name, created)
        assert last_used == "never" or ISO8601.match(last_used), (name, last_used)
    assert rows["watcher"][2] == "never" and rows["ops-bot"][2] == "never"
    assert ISO8601.match(rows["used"][2]) and ISO8601.match(rows["admin"][2])
    text = p.stdout + p.stderr
    for secret in list(srv.refresh_tokens.values()) + [srv.refresh_token, srv.access_token, used_tok]:
        assert secret not in text
    for name in rows:
        text = text.replace(name, "")
    assert not LONG_TOKENISH.search(text.replace("created=", "").replace("last_used=", "")), \
        "token list prints something token- or hash-like: %r" % p.stdout


def test_concurrent_exchanges_uses_and_revocations(fresh_server):
    """Threads exchange and use tokens while the CLI creates and revokes others: every answer is
    200 or (for revoked tokens) 400/401, and the server survives (ASan builds check memory)."""
    srv = fresh_server
    names = ["cc-%d" % i for i in range(6)]
    refresh = {n: srv.create_refresh(n, "admin" if i % 2 else "auditor") for i, n in enumerate(names)}
    doomed = set(names[:3])
    bad = []
    lock = threading.Lock()

    def worker(name):
        s = requests.Session()
        for i in range(15):
            r = s.post(srv.base + AUTHORIZE, params={"refresh_token": refresh[name]}, timeout=30)
            if r.status_code != 200:
                if not (name in doomed and r.status_code == 400):
                    with lock:
                        bad.append((name, "exchange", r.status_code, r.content[:200]))
                continue
            tok = r.json()["access_token"]
            g = s.get(srv.url(nsx.DPD), headers={"csp-auth-token": tok}, timeout=30)
            if g.status_code != 200 and not (name in doomed and g.status_code == 401):
                with lock:
                    bad.append((name, "get", g.status_code, g.content[:200]))
        s.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in names]
    for t in threads:
        t.start()
    for n in sorted(doomed):
        srv.cli("token", "revoke", n, check=0)
        srv.create_refresh(n + "-new", "auditor")
    for t in threads:
        t.join(timeout=120)
    assert not bad, bad[:5]
    assert srv.alive()
    for n in names:
        r = srv.authorize(refresh[n])
        assert r.status_code == (400 if n in doomed else 200), (n, r.status_code)


# ------------------------------------------------------------------ restarts

@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_tokens_valid_after_restart(fresh_server, how):
    srv = fresh_server
    admin_tok = srv.access_token
    admin_refresh = srv.refresh_token
    token_file = (srv.data / "admin-refresh-token").read_bytes()
    ops = srv.token("ops-bot", "admin")
    aud = srv.token("aud", "auditor")
    gone_refresh = srv.create_refresh("gone", "admin")
    gone = srv.exchange(gone_refresh)
    srv.cli("token", "revoke", "gone", check=0)
    expect(srv.put(nsx.DPD + "/before", nsx.dpd_body()), 200)
    port = srv.port
    if how == "sigterm":
        assert srv.stop() == 0
        srv.start(port=port)
    else:
        srv.restart_after_kill9()
    assert (srv.data / "admin-refresh-token").read_bytes() == token_file, "token file rewritten"
    assert srv.refresh_token == admin_refresh
    for tok in (admin_tok, ops):
        expect(srv.get(nsx.DPD + "/before", token=tok), 200)
    o = srv.create(nsx.DPD + "/after", nsx.dpd_body(), token=ops)
    assert o["_create_user"] == "ops-bot"
    expect(srv.get(nsx.DPD + "/after", token=aud), 200)
    expect_403(srv.delete(nsx.DPD + "/after", token=aud))
    expect_401(srv.get(nsx.DPD, token=gone))
    expect_oauth_error(srv.authorize(gone_refresh), "invalid_grant")
    check_exchange_body(srv.authorize(srv.refresh_tokens["aud"], "form"), srv.refresh_tokens["aud"])
    assert jwt_payload(srv.access_token)["context_name"] == nsx.ORG


def test_token_created_before_first_start(tmp_path):
    """A store that already has a token gets no generated admin token."""
    srv = Vpnd(tmp_path / "pre")
    refresh = run_cli("token", "create", "--role", "admin", "--name", "first", "--data", srv.data,
                      check=0).stdout.strip()
    srv._login = lambda: (True, None)
    srv.start()
    try:
        assert not (srv.data / "admin-refresh-token").exists()
        tok = srv.exchange(refresh)
        o = srv.create(nsx.DPD + "/pre", nsx.dpd_body(), token=tok)
        assert o["_create_user"] == "first"
        _, rows = token_lines(srv)
        assert set(rows) == {"first"}
    finally:
        from conftest import _finish
        _finish(srv)


# ------------------------------------------------------------------ the admin refresh token file

def test_admin_token_file(fresh_server):
    srv = fresh_server
    f = srv.data / "admin-refresh-token"
    mode = stat.S_IMODE(f.stat().st_mode)
    assert mode == 0o600, oct(mode)
    content = f.read_text()
    assert content.endswith("\n") and content.count("\n") == 1 and content.strip() == content[:-1]
    assert content[:-1] == srv.refresh_token
    log = srv.log_text()
    assert str(f) in log, "the log does not name %s" % f
    assert srv.refresh_token not in log
    _, rows = token_lines(srv)
    assert rows["admin"][0] == "admin"


# ------------------------------------------------------------------ SDDC discovery

def sddc_url():
    return "/vmc/api/orgs/%s/sddcs/%s" % (nsx.ORG, nsx.SDDC)


def check_sddc(s, base):
    assert s["id"] == nsx.SDDC and s["org_id"] == nsx.ORG, s
    assert isinstance(s.get("name"), str) and s["name"], s
    assert s["sddc_state"] == "READY", s
    rc = s["resource_config"]
    assert rc["nsx_api_public_endpoint_url"] == base + nsx.RP_BASE + "/sks-nsxt-manager", rc
    assert isinstance(rc.get("nsx_mgr_url"), str) and rc["nsx_mgr_url"], rc
    assert rc["nsxt"] is True, rc


def test_sddc_discovery(server, auditor):
    r = server.get(sddc_url(), prefix="")
    expect(r, 200)
    s = r.json()
    check_sddc(s, server.base)
    listed = server.get(sddc_url().rsplit("/", 1)[0], prefix="")
    expect(listed, 200)
    arr = listed.json()
    assert isinstance(arr, list) and len(arr) == 1 and arr[0]["id"] == nsx.SDDC, arr
    check_sddc(arr[0], server.base)
    assert server.get(sddc_url(), prefix="", token=auditor).json() == s
    # the URL it gives is the NSX API
    nsx_url = s["resource_config"]["nsx_api_public_endpoint_url"]
    r = requests.get(nsx_url + "/policy/api/v1" + nsx.DEFAULT_DPD,
                     headers={"csp-auth-token": server.access_token}, timeout=30)
    expect(r, 200)
    assert r.json()["id"] == "nsx-default-l3vpn-dpd-profile"


def test_sddc_discovery_follows_host_header(server):
    r = server.get(sddc_url(), prefix="", headers={"Host": "vpnd.example.test:8443"})
    expect(r, 200)
    check_sddc(r.json(), "http://vpnd.example.test:8443")


def test_sddc_discovery_public_url(make_server):
    srv = make_server(["--public-url", "https://vmc.example.test"])
    r = srv.get(sddc_url(), prefix="", headers={"Host": "elsewhere:1"})
    expect(r, 200)
    check_sddc(r.json(), "https://vmc.example.test")


@pytest.mark.parametrize("org,sddc", [("other-org", nsx.SDDC), (nsx.ORG, "other-sddc"),
                                      ("other-org", "other-sddc")])
def test_sddc_wrong_ids_404(server, org, sddc):
    assert server.get("/vmc/api/orgs/%s/sddcs/%s" % (org, sddc), prefix="").status_code == 404
    if org != nsx.ORG:
        assert server.get("/vmc/api/orgs/%s/sddcs" % org, prefix="").status_code == 404
    for tail in ("/sks-nsxt-manager/policy/api/v1", "/policy/api/v1"):
        prefix = "/vmc/reverse-proxy/api/orgs/%s/sddcs/%s%s" % (org, sddc, tail)
        assert server.get(nsx.DPD, prefix=prefix).status_code == 404
        oid = nsx.uid("wrong")
        assert server.put(nsx.DPD + "/" + oid, nsx.dpd_body(), prefix=prefix).status_code == 404
        expect_error(server.get(nsx.DPD + "/" + oid), 404)


def test_generated_org_and_sddc_stable(make_server):
    srv = make_server(fixed_ids=False)
    org = jwt_payload(srv.access_token)["context_name"]
    assert isinstance(org, str) and org and org != nsx.ORG
    listed = srv.get("/vmc/api/orgs/%s/sddcs" % org, prefix="")
    expect(listed, 200)
    arr = listed.json()
    assert len(arr) == 1
    sddc = arr[0]["id"]
    assert arr[0]["org_id"] == org and sddc != nsx.SDDC
    base = "/vmc/reverse-proxy/api/orgs/%s/sddcs/%s" % (org, sddc)
    assert arr[0]["resource_config"]["nsx_api_public_endpoint_url"] == srv.base + base + "/sks-nsxt-manager"
    expect(srv.get(nsx.DPD, prefix=base + "/sks-nsxt-manager/policy/api/v1"), 200)
    assert srv.get(nsx.DPD, prefix=nsx.PREFIX_SKS).status_code == 404
    assert srv.stop() == 0
    srv.start()
    assert jwt_payload(srv.access_token)["context_name"] == org
    again = srv.get("/vmc/api/orgs/%s/sddcs/%s" % (org, sddc), prefix="")
    expect(again, 200)
    assert again.json()["id"] == sddc


# ------------------------------------------------------------------ health

def test_healthz_without_token(server):
    for token in (None, "garbage", server.access_token):
        r = server.api("GET", "/healthz", prefix="", token=token)
        expect(r, 200)
        assert r.json() == {"status": "UP"}
    text = server.get("/healthz", prefix="", token=None).text
    for secret in (nsx.ORG, nsx.SDDC, "127.0.0.1", str(server.data)):
        assert secret not in text


# ------------------------------------------------------------------ roles

def test_create_user_is_token_name(server):
    name = nsx.uid("ops-bot")
    tok = server.token(name, "admin")
    path = nsx.IKE + "/" + nsx.uid("cu")
    o = server.create(path, nsx.ike_body(), token=tok)
    assert o["_create_user"] == name and o["_last_modified_user"] == name
    expect_empty(server.patch(path, {"sa_life_time": 30000}))
    g = server.get_json(path)
    assert g["_create_user"] == name and g["_last_modified_user"] == "admin"
    expect(server.put(path, nsx.ike_body(_revision=g["_revision"]), token=tok, auth="bearer"), 200)
    g = server.get_json(path)
    assert g["_create_user"] == name and g["_last_modified_user"] == name
    expect_empty(server.delete(path, token=tok))


def _concrete(server, pattern, prefix, existing):
    """The route pattern with each {id} replaced: a real parent for inner ids (first of the
    parent collection, as listed by the admin), and for the last one a fresh id (existing=False)
    or an existing object's id (existing=True; None if there is none)."""
    segs = pattern.split("/")
    holes = [i for i, s in enumerate(segs) if s == "{id}"]
    for n, i in enumerate(holes):
        last = n == len(holes) - 1
        if last and not existing:
            segs[i] = nsx.uid("aud")
            continue
        coll = "/".join(segs[:i])
        r = server.get(coll, prefix=prefix)
        ids = []
        if r.status_code == 200:
            b = r.json()
            ids = [o["id"] for o in b.get("results", [])] if isinstance(b, dict) else []
        if not ids:
            if last:
                return None
            segs[i] = nsx.uid("aud")
        else:
            segs[i] = ids[0]
    return "/".join(segs)


KIND_BY_COLL = {nsx.IKE: "ike", nsx.TUN: "tunnel", nsx.DPD: "dpd", nsx.PL: "prefix_list",
                nsx.NB: "neighbor", nsx.SES: "route_session", nsx.SES_ALT: "route_session"}


def _write_body(server, path, method):
    """A body that would succeed for an admin where the type is known (so a missing role check
    shows as a change), else the object as it is, else {}."""
    if method == "DELETE":
        return None
    cur = server.get(path)
    cur = cur.json() if cur.status_code == 200 and isinstance(cur.json(), dict) else None
    kind = KIND_BY_COLL.get(path.rsplit("/", 1)[0])
    if kind and cur and cur.get("resource_type") == "PolicyBasedIPSecVpnSession":
        kind = "policy_session"
    if kind:
        body = nsx.KIND[kind].make()
        if cur:
            body["_revision"] = cur["_revision"]
        return body
    return cur or {}


def _ensure_objects(server):
    """One object of every user-creatable kind, so write routes have existing targets."""
    made = {}
    for k in nsx.KINDS:
        path = k.path(nsx.uid("audtarget-" + k.name))
        server.create(path, k.make())
        made[k.name] = path
    return made


def test_route_table_covers_the_policy_api(routes):
    pol = {(r["prefix"], r["pattern"]): r for r in routes}
    for coll in (nsx.IKE, nsx.TUN, nsx.DPD, nsx.PL, nsx.NB, nsx.SES, nsx.SES_ALT):
        r = pol.get((nsx.POLICY, coll + "/{id}"))
        assert r, "no route %s/{id} in `vpnd routes`" % coll
        assert {"GET", "PUT", "PATCH", "DELETE"} <= set(r["methods"]) and r["writes"], r
        assert pol.get((nsx.POLICY, coll)), "no collection route %s" % coll


def test_auditor_refused_on_every_write_route(server, auditor, routes):
    """Driven by `vpnd routes`: every write method of every policy route, under every prefix, on
    a fresh id and on an existing object: 403, and nothing changes."""
    _ensure_objects(server)
    checked = 0
    for route in routes:
        if route["prefix"] != nsx.POLICY or not route["writes"]:
            continue
        for prefix in nsx.ALL_PREFIXES:
            for existing in (False, True):
                path = _concrete(server, route["pattern"], nsx.POLICY, existing)
                if path is None:
                    continue
                for method in route["methods"]:
                    if method not in WRITE_METHODS or (method == "POST" and route["post_reads"]):
                        continue
                    before = server.get(path) if "GET" in route["methods"] else None
                    body = _write_body(server, path, method)
                    r = server.api(method, path, json=body, prefix=prefix, token=auditor)
                    what = "%s %s%s (auditor)" % (method, prefix, path)
                    assert r.status_code == 403, "%s -> %d %s" % (what, r.status_code, r.content[:300])
                    expect_403(r)
                    if before is not None:
                        after = server.get(path)
                        assert after.status_code == before.status_code, what
                        if after.status_code == 200:
                            assert _untimed(after.json()) == _untimed(before.json()), \
                                what + " changed the object"
                        else:
                            assert after.content == before.content, what + " changed it"
                    checked += 1
    assert checked >= 7 * 3 * 3 * 2, "only %d write requests were checked" % checked


def test_auditor_reads_every_read_route(server, auditor, routes):
    """Driven by `vpnd routes`: every GET route answers the auditor as it answers the admin."""
    _ensure_objects(server)
    checked = 0
    for route in routes:
        if route["prefix"] != nsx.POLICY or "GET" not in route["methods"]:
            continue
        for existing in (True, False):
            path = _concrete(server, route["pattern"], nsx.POLICY, existing)
            if path is None:
                continue
            # runtime views change while sessions on the shared server negotiate: compare the
            # auditor's answer with the admin's only when the admin's is the same before and
            # after it (it flaked under load without this)
            for _ in range(20):
                a = server.get(path)
                b = server.get(path, token=auditor)
                a2 = server.get(path)
                assert b.status_code == a.status_code, "GET %s: admin %d, auditor %d %s" % (
                    path, a.status_code, b.status_code, b.content[:300])
                if a.status_code != 200 or a2.status_code != 200:
                    break
                # runtime views carry the time they were computed at
                if _untimed(a2.json()) == _untimed(a.json()):
                    assert _untimed(b.json()) == _untimed(a.json()), path
                    break
            else:
                raise AssertionError("GET %s never answered the same twice in a row" % path)
            checked += 1
    assert checked >= 14


def _untimed(v):
    """@v without the fields that record when a runtime document was computed."""
    if isinstance(v, dict):
        return {k: _untimed(x) for k, x in v.items()
                if k not in ("last_update_timestamp", "time_since_established")}
    if isinstance(v, list):
        return [_untimed(x) for x in v]
    return v


def test_auditor_reads(server, auditor):
    ses = nsx.SES + "/" + nsx.uid("audread")
    created = server.create(ses, nsx.route_session_body(psk="audit-psk-visible-to-admin"))
    for prefix in nsx.ALL_PREFIXES:
        for path in (ses, nsx.SES_ALT + ses[len(nsx.SES):]):
            r = server.get(path, prefix=prefix, token=auditor)
            expect(r, 200)
            assert r.json() == created and b"audit-psk" not in r.content
        r = server.get(nsx.SES, prefix=prefix, token=auditor)
        expect(r, 200)
        assert b"audit-psk" not in r.content
    for path in (nsx.DEFAULT_DPD, nsx.PUBLIC_IP1, nsx.SVC, nsx.T0, nsx.BGP, nsx.LS):
        assert server.get_json(path, token=auditor) == server.get_json(path)
    expect(server.get("/healthz", prefix="", token=auditor), 200)


@pytest.fixture(scope="module")
def sensitive_objects(server):
    psk = "sens-" + os.urandom(8).hex()
    pw = "nbpw-" + os.urandom(6).hex()
    ses = nsx.SES + "/" + nsx.uid("sens")
    local, peer, _ = nsx.vti_pair()
    server.create(ses, nsx.route_session_body(vti=local, psk=psk))
    nb = nsx.NB + "/" + nsx.uid("sensnb")
    server.create(nb, nsx.neighbor_body(peer, password=pw))
    return {"session": ses, "session-alt": nsx.SES_ALT + ses[len(nsx.SES):], "neighbor": nb,
            "ike": nsx.DEFAULT_IKE, "sessions": nsx.SES, "sessions-alt": nsx.SES_ALT,
            "neighbors": nsx.NB}, [psk, pw]


@pytest.mark.parametrize("what", ["session", "session-alt", "neighbor", "ike", "sessions",
                                  "sessions-alt", "neighbors"])
@pytest.mark.parametrize("prefix", nsx.ALL_PREFIXES, ids=["policy", "sks", "rp"])
def test_auditor_refused_show_sensitive_data(server, auditor, sensitive_objects, prefix, what):
    paths, secrets = sensitive_objects
    expect_403(server.get(paths[what], prefix=prefix, params=SENSITIVE, token=auditor), secrets=secrets)
    expect(server.get(paths[what], prefix=prefix, params=SENSITIVE), 200)           # admin
    if what == "session":
        assert server.get_json(paths[what], prefix=prefix, params=SENSITIVE)["psk"] == secrets[0]


def test_auditor_refused_on_deprecated_session_path(server, auditor):
    """The alias /infra/tier-0s/vmc/ipsec-vpn-services/default/sessions/{id} is a write route too."""
    oid = nsx.uid("audalt")
    for prefix in nsx.ALL_PREFIXES:
        for method in ("PUT", "PATCH"):
            expect_403(server.api(method, nsx.SES_ALT + "/" + oid, json=nsx.route_session_body(),
                                  prefix=prefix, token=auditor))
    expect_error(server.get(nsx.SES + "/" + oid), 404)
    server.create(nsx.SES + "/" + oid, nsx.route_session_body())
    before = server.get(nsx.SES + "/" + oid).content
    for prefix in nsx.ALL_PREFIXES:
        expect_403(server.delete(nsx.SES_ALT + "/" + oid, prefix=prefix, token=auditor))
        expect_403(server.patch(nsx.SES_ALT + "/" + oid, {"enabled": False}, prefix=prefix, token=auditor))
    assert server.get(nsx.SES + "/" + oid).content == before
    for path in (nsx.LE_ALT + "/Private-IP1", nsx.SVC_ALT):
        b = server.get(path).content
        expect_403(server.patch(path, {"description": "x"}, token=auditor))
        expect_403(server.delete(path, token=auditor))
        assert server.get(path).content == b


def test_auditor_refused_audit_log(server, auditor):
    expect_403(server.api("GET", AUDIT, prefix="", token=auditor))
    expect_403(server.api("GET", AUDIT, prefix="", params={"since": 0, "limit": 5}, token=auditor))


# ------------------------------------------------------------------ audit log

AUDIT_KEYS = {"id", "time_ms", "user", "role", "method", "path", "revision_before",
              "revision_after", "status", "error_code"}


def check_record(rec, **want):
    assert set(rec) >= AUDIT_KEYS, rec
    assert isinstance(rec["id"], int) and isinstance(rec["time_ms"], int), rec
    assert 1_500_000_000_000 < rec["time_ms"] < 4_000_000_000_000, rec
    for k, v in want.items():
        assert rec[k] == v, "%s: want %r, got %r in %r" % (k, v, rec[k], rec)


def test_audit_records_writes(audit_srv):
    srv = audit_srv
    start = last_audit_id(srv)
    ops = srv.token("ops-bot", "admin")
    path = nsx.IKE + "/audited"
    t0 = srv.clock().json()["now_ms"]
    expect(srv.put(path, nsx.ike_body()), 200)                                    # create
    expect(srv.put(path, nsx.ike_body(sa_life_time=30000, _revision=0), token=ops,
                   prefix=nsx.PREFIX_SKS), 200)                                    # replace
    expect_empty(srv.patch(path, {"description": "x"}, prefix=nsx.PREFIX_RP))     # merge
    bad = expect_error(srv.put(nsx.IKE + "/audited-bad", nsx.ike_body(ike_version="IKE_V9")), 400)
    stale = expect_error(srv.put(path, nsx.ike_body(_revision=0)), 412)
    missing = expect_error(srv.delete(nsx.IKE + "/never-was"), 404)
    expect(srv.get(path), 200)                                                      # not audited
    expect(srv.get(nsx.IKE), 200)                                                   # not audited
    expect_empty(srv.delete(path, token=ops))
    t1 = srv.clock().json()["now_ms"]
    recs = audit_all(srv, since=start)
    assert len(recs) == 7, json.dumps(recs, indent=1)
    for rec in recs:
        assert t0 - 5000 <= rec["time_ms"] <= t1 + 5000, rec
    create, replace, patch, r400, r412, r404, delete = recs
    check_record(create, user="admin", role="admin", method="PUT", path=path, revision_before=None,
                 revision_after=0, status=200, error_code=None)
    check_record(replace, user="ops-bot", role="admin", method="PUT", path=path, revision_before=0,
                 revision_after=1, status=200, error_code=None)
    check_record(patch, user="admin", role="admin", method="PATCH", path=path, revision_before=1,
                 revision_after=2, status=200, error_code=None)
    check_record(r400, user="admin", method="PUT", path=nsx.IKE + "/audited-bad", status=400,
                 error_code=bad["error_code"], revision_before=None, revision_after=None)
    check_record(r412, user="admin", method="PUT", path=path, status=412,
                 error_code=stale["error_code"])
    assert r412["revision_before"] in (None, 2) and r412["revision_after"] in (None, 2), r412
    check_record(r404, user="admin", method="DELETE", path=nsx.IKE + "/never-was", status=404,
                 error_code=missing["error_code"], revision_before=None, revision_after=None)
    check_record(delete, user="ops-bot", role="admin", method="DELETE", path=path,
                 revision_before=2, revision_after=None, status=200, error_code=None)


def test_audit_canonical_session_path(audit_srv):
    srv = audit_srv
    start = last_audit_id(srv)
    oid = nsx.uid("alt")
    expect(srv.put(nsx.SES_ALT + "/" + oid, nsx.route_session_body(), prefix=nsx.PREFIX_SKS), 200)
    expect_empty(srv.delete(nsx.SES_ALT + "/" + oid))
    recs = audit_all(srv, since=start)
    assert [r["path"] for r in recs] == [nsx.SES + "/" + oid] * 2, recs
    assert [r["method"] for r in recs] == ["PUT", "DELETE"]


def test_audit_sensitive_reads_and_refusals(audit_srv):
    srv = audit_srv
    psk = "audpsk-" + os.urandom(8).hex()
    aud = srv.token(nsx.uid("aud"), "auditor")
    aud_name = jwt_payload(aud)["sub"]
    ses = nsx.SES + "/" + nsx.uid("sens")
    srv.create(ses, nsx.route_session_body(psk=psk))
    start = last_audit_id(srv)
    assert srv.get_json(ses, params=SENSITIVE)["psk"] == psk
    e_read = expect_403(srv.get(ses, params=SENSITIVE, token=aud))
    e_write = expect_403(srv.put(nsx.DPD + "/by-auditor", nsx.dpd_body(), token=aud))
    expect_401(srv.put(nsx.DPD + "/anonymous", nsx.dpd_body(), token=None))
    recs = audit_all(srv, since=start)
    assert len(recs) == 3, json.dumps(recs, indent=1)
    check_record(recs[0], user="admin", role="admin", method="GET", path=ses, status=200,
                 error_code=None)
    check_record(recs[1], user=aud_name, role="auditor", method="GET", path=ses, status=403,
                 error_code=e_read["error_code"])
    check_record(recs[2], user=aud_name, role="auditor", method="PUT", path=nsx.DPD + "/by-auditor",
                 status=403, revision_after=None, error_code=e_write["error_code"])
    assert psk not in json.dumps(recs)


def test_audit_paging(audit_srv):
    srv = audit_srv
    for i in range(5):
        expect(srv.put(nsx.DPD + "/" + nsx.uid("page"), nsx.dpd_body()), 200)
    everything = audit_all(srv)
    assert len(everything) >= 5
    r = srv.api("GET", AUDIT, prefix="", params={"since": 0, "limit": 2})
    expect(r, 200)
    first = r.json()["results"]
    assert first == everything[:2]
    mid = everything[len(everything) // 2]["id"]
    r = srv.api("GET", AUDIT, prefix="", params={"since": mid})
    expect(r, 200)
    assert r.json()["results"] == [x for x in everything if x["id"] > mid]
    assert r.json()["result_count"] == len(r.json()["results"])


def test_audit_cli(audit_srv):
    srv = audit_srv
    expect(srv.put(nsx.DPD + "/" + nsx.uid("cli"), nsx.dpd_body()), 200)
    api_recs = audit_all(srv)
    p = srv.cli("audit", check=0)
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    cli_recs = [json.loads(ln) for ln in lines]
    assert cli_recs == api_recs
    mid = api_recs[len(api_recs) // 2]["id"]
    p = srv.cli("audit", "--since", str(mid), check=0)
    assert [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()] == \
        [x for x in api_recs if x["id"] > mid]


def test_audit_no_secrets(audit_srv):
    srv = audit_srv
    psk, pw = "audsec-" + os.urandom(8).hex(), "audpw-" + os.urandom(6).hex()
    local, peer, _ = nsx.vti_pair()
    ses = nsx.SES + "/" + nsx.uid("s")
    srv.create(ses, nsx.route_session_body(vti=local, psk=psk))
    nb = nsx.NB + "/" + nsx.uid("n")
    srv.create(nb, nsx.neighbor_body(peer, password=pw))
    expect_empty(srv.patch(ses, {"psk": psk}))
    expect_empty(srv.patch(nb, {"password": pw}))
    expect_error(srv.put(nsx.SES + "/bad", nsx.route_session_body(psk=psk, peer_address="x")), 400)
    srv.get_json(ses, params=SENSITIVE)
    ops = srv.create_refresh(nsx.uid("sec"), "admin")
    tok = srv.exchange(ops)
    expect(srv.put(nsx.DPD + "/" + nsx.uid("d"), nsx.dpd_body(), token=tok), 200)
    dump = json.dumps(audit_all(srv)) + srv.cli("audit", check=0).stdout
    for s in (psk, pw, ops, tok, srv.refresh_token, srv.access_token):
        assert s not in dump


# ------------------------------------------------------------------ secrets and the log

def test_secrets_never_in_debug_log(make_server):
    """--log-level debug; every token path, both headers, refusals, revocation, expiry: no refresh
    token, access token, psk or password in the log or in any error body."""
    srv = make_server(["--log-level", "debug"])
    psk, pw = "logpsk-" + os.urandom(8).hex(), "logpw-" + os.urandom(6).hex()
    tokens = [srv.refresh_token, srv.access_token]
    access = {}
    responses = []
    for how in ("query", "api_token", "form"):
        name = "log-" + how.replace("_", "")
        refresh = srv.create_refresh(name, "admin")
        r = srv.authorize(refresh, how)
        expect(r, 200)
        access[name] = r.json()["access_token"]
        tokens += [refresh, access[name], access[name].split(".")[2]]
        for auth in ("csp", "bearer"):
            responses.append(srv.get(nsx.DPD, token=access[name], auth=auth))
    aud = srv.create_refresh("log-aud", "auditor")
    aud_tok = srv.exchange(aud)
    tokens += [aud, aud_tok]
    local, peer, _ = nsx.vti_pair()
    ses = nsx.SES + "/logged"
    srv.create(ses, nsx.route_session_body(vti=local, psk=psk))
    srv.create(nsx.NB + "/logged", nsx.neighbor_body(peer, password=pw))
    assert srv.get_json(ses, params=SENSITIVE)["psk"] == psk
    responses += [
        srv.get(ses, params=SENSITIVE, token=aud_tok),
        srv.put(ses, nsx.route_session_body(vti=local, psk=psk), token=aud_tok),
        srv.patch(ses, {"psk": psk}, token=aud_tok),
        srv.patch(nsx.NB + "/logged", {"password": pw}, token=aud_tok),
        srv.put(nsx.SES + "/logged-bad", nsx.route_session_body(psk=psk, peer_address="x")),
        srv.get(nsx.DPD, token=forge_signature(srv.access_token)),
        srv.get(nsx.DPD, token=repayload(aud_tok, role="admin")),
        srv.authorize(srv.refresh_token[:-2] + "zz"),
        srv.api("GET", AUDIT, prefix=""),
        srv.get(sddc_url(), prefix=""),
    ]
    srv.cli("token", "revoke", "log-query", check=0)
    responses.append(srv.get(nsx.DPD, token=access["log-query"]))
    responses.append(srv.authorize(srv.refresh_tokens["log-query"]))
    srv.advance_clock((DEFAULT_TTL + 1) * 1000)
    responses.append(srv.get(nsx.DPD))          # expired
    srv.stop()
    log = srv.log_text()
    assert log.strip()
    assert str(srv.data / "admin-refresh-token") in log
    for s in tokens + [psk, pw]:
        assert s not in log, "secret %r... in the server log" % s[:10]
    for r in responses:
        for s in tokens + ([psk, pw] if r.status_code >= 400 else []):
            assert s.encode() not in r.content, "secret in a response body: %s" % nsx.describe(r)
    assert sum(r.status_code >= 400 for r in responses) >= 10
