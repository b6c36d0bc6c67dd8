"""Secrets (session psk, BGP neighbor password) are write-only: never in GET, list, PUT responses,
error bodies or the server's log; GET ?action=show_sensitive_data returns the psk (seed).
"""
import json
import uuid

import pytest

import nsx
from nsx import expect, expect_empty, expect_error

SENSITIVE = {"action": "show_sensitive_data"}


def secret(tag):
    return "%s-%s" % (tag, uuid.uuid4().hex[:16])


def assert_absent(server, secrets, responses=()):
    for r in responses:
        for s in secrets:
            assert s.encode() not in r.content, "secret in response: %s" % nsx.describe(r)
    log = server.log_text()
    for s in secrets:
        assert s not in log, "secret %r found in the server log" % s


@pytest.mark.parametrize("kind_name", ["route_session", "policy_session"])
def test_psk_write_only(server, kind_name):
    psk = secret("psk")
    oid = nsx.uid("sec")
    path = nsx.SES + "/" + oid
    body = nsx.KIND[kind_name].make()
    body["psk"] = psk
    seen = []

    r = server.put(path, body)
    expect(r, 200)
    seen.append(r)
    assert "psk" not in r.json()

    for base in (nsx.SES, nsx.SES_ALT):
        for prefix in nsx.ALL_PREFIXES:
            r = server.get(base + "/" + oid, prefix=prefix)
            expect(r, 200)
            seen.append(r)
            assert "psk" not in r.json()
            r = server.get(base, prefix=prefix)
            expect(r, 200)
            seen.append(r)
            for o in r.json()["results"]:
                assert "psk" not in o, o["id"]

    for base in (nsx.SES, nsx.SES_ALT):
        o = server.get_json(base + "/" + oid, params=SENSITIVE)
        assert o["psk"] == psk
        plain = server.get_json(base + "/" + oid)
        assert {k: v for k, v in o.items() if k != "psk"} == plain

    # replace: the response hides the new psk too; the new one is stored
    psk2 = secret("psk2")
    r = server.put(path, dict(body, psk=psk2, _revision=0))
    expect(r, 200)
    seen.append(r)
    assert "psk" not in r.json()
    assert server.get_json(path, params=SENSITIVE)["psk"] == psk2

    r = server.patch(path, {"psk": psk})
    expect_empty(r)
    assert server.get_json(path, params=SENSITIVE)["psk"] == psk

    assert_absent(server, [psk, psk2], seen)


def test_show_sensitive_data_is_only_for_get(server):
    """show_sensitive_data does not make PUT responses carry the psk."""
    psk = secret("psk")
    path = nsx.SES + "/" + nsx.uid("sec")
    r = server.put(path, nsx.route_session_body(psk=psk), params=SENSITIVE)
    assert r.status_code in (200, 400)
    assert psk.encode() not in r.content
    assert_absent(server, [psk])


def test_bgp_password_write_only(server):
    pw = secret("pw")[:32]
    oid = nsx.uid("nbsec")
    path = nsx.NB + "/" + oid
    seen = []
    r = server.put(path, nsx.neighbor_body(password=pw))
    expect(r, 200)
    seen.append(r)
    assert "password" not in r.json()
    for prefix in nsx.ALL_PREFIXES:
        for p in (path, nsx.NB):
            r = server.get(p, prefix=prefix)
            expect(r, 200)
            seen.append(r)
    assert "password" not in server.get_json(path)
    for o in server.get_json(nsx.NB)["results"]:
        assert "password" not in o
    r = server.put(path, nsx.neighbor_body(address=server.get_json(path)["neighbor_address"],
                                           password=pw, remote_as_num="65100", _revision=0))
    expect(r, 200)
    seen.append(r)
    assert "password" not in r.json() and r.json()["remote_as_num"] == "65100"
    expect_empty(server.patch(path, {"password": pw, "keep_alive_time": 20, "hold_down_time": 60}))
    assert_absent(server, [pw], seen)


# ------------------------------------------------------------------ secrets in rejected requests

def _psk_requests():
    """(name, method, path-suffix maker, raw body or json body) with the secret embedded."""
    def sess(**f):
        b = nsx.route_session_body()
        b.update(f)
        return b
    return [
        ("unknown-property", lambda s: sess(psk=s, colour="blue")),
        ("invalid-peer", lambda s: sess(psk=s, peer_address="nope")),
        ("invalid-vti", lambda s: sess(psk=s, tunnel_interfaces=[{"ip_subnets": [
            {"ip_addresses": ["10.0.0.1"], "prefix_length": 30}]}])),
        ("psk-too-long", lambda s: sess(psk=s + "x" * (129 - len(s)))),
        ("psk-object", lambda s: sess(psk={"value": s})),
        ("psk-array", lambda s: sess(psk=[s])),
        ("missing-profile", lambda s: sess(psk=s, ike_profile_path=nsx.IKE + "/nope")),
        ("bad-type", lambda s: sess(psk=s, resource_type="Nope")),
    ]


@pytest.mark.parametrize("name,make", _psk_requests(), ids=[n for n, _ in _psk_requests()])
def test_psk_not_in_validation_errors(server, name, make):
    s = secret("psk")
    path = nsx.SES + "/" + nsx.uid("secbad")
    body = make(s)
    seen = []
    for method in ("PUT", "PATCH"):
        r = server.api(method, path, json=body)
        assert 400 <= r.status_code < 500, nsx.describe(r)
        nsx.check_error_body(r.status_code, nsx.body_json(r))
        seen.append(r)
    expect_error(server.get(path), 404)
    assert_absent(server, [s[:20]], seen)    # not even a prefix of it (psk-too-long pads it)


MALFORMED = [
    ("colon-missing", '{"resource_type":"RouteBasedIPSecVpnSession","psk" "%s"}'),
    ("comma-missing", '{"resource_type":"RouteBasedIPSecVpnSession","psk":"%s" "peer_id":"1.1.1.1"}'),
    ("unquoted", '{"resource_type":"RouteBasedIPSecVpnSession","psk":%s}'),
    ("truncated", '{"resource_type":"RouteBasedIPSecVpnSession","psk":"%s'),
    ("bad-escape", '{"psk":"%s\\q"}'),
]


@pytest.mark.parametrize("name,template", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_secret_not_in_parse_errors(server, name, template):
    s = secret("pskjson").replace("-", "")
    path = nsx.SES + "/" + nsx.uid("secjson")
    seen = []
    for method in ("PUT", "PATCH"):
        r = server.api(method, path, data=(template % s).encode())
        expect_error(r, 400)
        seen.append(r)
    expect_error(server.get(path), 404)
    assert_absent(server, [s], seen)


def test_password_not_in_errors(server):
    pw = secret("pw")[:28]
    path = nsx.NB + "/" + nsx.uid("nbbad")
    seen = []
    bodies = [
        nsx.neighbor_body(password=pw + "z" * (33 - len(pw))),
        nsx.neighbor_body(password=pw, neighbor_address="not-an-ip"),
        nsx.neighbor_body(password=pw, colour="x"),
        nsx.neighbor_body(password={"p": pw}),
        nsx.neighbor_body(password=pw, remote_as_num="0"),
    ]
    for b in bodies:
        r = server.put(path, b)
        expect_error(r, 400)
        seen.append(r)
    for raw in ('{"password" "%s"}' % pw, '{"password": %s}' % pw.replace("-", ""),
                '{"password":"%s' % pw):
        r = server.api("PUT", path, data=raw.encode())
        expect_error(r, 400)
        seen.append(r)
    expect_error(server.get(path), 404)
    assert_absent(server, [pw, pw.replace("-", "")], seen)


def test_psk_not_in_other_errors(server):
    s = secret("psk")
    seen = []
    # 412: stale revision
    path = nsx.SES + "/" + nsx.uid("sec412")
    body = nsx.route_session_body(psk="first-psk-value")
    server.create(path, body)
    r = server.put(path, dict(body, psk=s, _revision=5))
    expect_error(r, 412)
    seen.append(r)
    # 400: id mismatch
    r = server.put(nsx.SES + "/" + nsx.uid("sec"), nsx.route_session_body(psk=s, id="other"))
    expect_error(r, 400)
    seen.append(r)
    # 403: system object
    r = server.patch(nsx.PUBLIC_IP1, {"psk": s})
    assert r.status_code in (400, 403)
    seen.append(r)
    # 404: unknown URL
    r = server.put("/infra/nothing-here/" + nsx.uid("x"), nsx.route_session_body(psk=s))
    expect_error(r, 404)
    seen.append(r)
    # 405: wrong method
    r = server.api("POST", path, json=nsx.route_session_body(psk=s))
    expect_error(r, 405)
    seen.append(r)
    # 400: in use (a neighbor in the VTI subnet); the refusal must not render the session
    local, peer, _ = nsx.vti_pair()
    spath = nsx.SES + "/" + nsx.uid("secuse")
    server.create(spath, nsx.route_session_body(vti=local, psk=s))
    nb = nsx.NB + "/" + nsx.uid("nb")
    server.create(nb, nsx.neighbor_body(peer))
    r = server.delete(spath)
    expect_error(r, 400, nsx.EC_IN_USE)
    seen.append(r)
    assert server.get_json(path, params=SENSITIVE)["psk"] == "first-psk-value"
    assert_absent(server, [s], seen)


def test_seed_secrets_not_logged(fresh_server):
    """The seed's own PSKs and BGP password, through a full create/read/update/delete cycle."""
    srv = fresh_server
    nb = nsx.NB + "/VPNtoDFWDC1BGP"
    srv.create(nb, nsx.neighbor_body("169.254.151.1", password="MyBGPPassword"))
    s1 = nsx.SES + "/VPNtoDFWDC1"
    srv.create(s1, nsx.route_session_body(vti="169.254.151.2", psk="test123456"))
    s2 = nsx.SES + "/VPNtoDFWDC1-policy"
    srv.create(s2, nsx.policy_session_body(psk="VMware12345"))
    assert srv.get_json(s1, params=SENSITIVE)["psk"] == "test123456"
    assert srv.get_json(s2, params=SENSITIVE)["psk"] == "VMware12345"
    expect_error(srv.delete(s1), 400, nsx.EC_IN_USE)
    for p in (nb, s1, s2):
        expect_empty(srv.delete(p))
    srv.stop()
    log = srv.log_text()
    for s in ("MyBGPPassword", "test123456", "VMware12345"):
        assert s not in log


def test_secrets_not_in_debug_log(make_server):
    """With --log-level debug, every kind of request that carries a secret: valid and invalid,
    PUT, PATCH, GET with show_sensitive_data, malformed JSON."""
    srv = make_server(["--log-level", "debug"])
    psk, pw = secret("dbgpsk"), secret("dbgpw")[:30]
    s1 = nsx.SES + "/dbg-route"
    local, peer, _ = nsx.vti_pair()
    srv.create(s1, nsx.route_session_body(vti=local, psk=psk))
    nb = nsx.NB + "/dbg-nb"
    srv.create(nb, nsx.neighbor_body(peer, password=pw))
    expect_empty(srv.patch(s1, {"psk": psk, "enabled": False}))
    expect_empty(srv.patch(nb, {"password": pw}))
    assert srv.get_json(s1, params=SENSITIVE)["psk"] == psk
    srv.get_json(nsx.SES)
    srv.get_json(nsx.NB)
    expect_error(srv.put(nsx.SES + "/dbg-bad", nsx.route_session_body(psk=psk, peer_address="x")), 400)
    expect_error(srv.put(nsx.NB + "/dbg-bad", nsx.neighbor_body(password=pw, colour=1)), 400)
    expect_error(srv.api("PUT", nsx.SES + "/dbg-bad", data=('{"psk" "%s"}' % psk).encode()), 400)
    expect_error(srv.put(s1, nsx.route_session_body(vti=local, psk=psk, _revision=99)), 412)
    expect_error(srv.delete(s1), 400, nsx.EC_IN_USE)
    srv.stop()
    log = srv.log_text()
    assert log.strip(), "no log output at all"
    for s in (psk, pw):
        assert s not in log


def test_put_without_password_keeps_it(fresh_server):
    """Review L6: the password is never returned, so a GET-edit-PUT must not silently clear
    it; "" clears it (NSX: 'Empty string ("") clears existing password'). The stored value is
    observed through the store file, since no API returns it."""
    import sqlite3

    srv = fresh_server
    path = nsx.NB + "/" + nsx.uid("pw")
    srv.create(path, nsx.neighbor_body(password="keep-me-pw"))

    def stored():
        db = sqlite3.connect(str(srv.data / "vpnd.db"))
        try:
            row = db.execute("SELECT body FROM objects WHERE path = ?", (path,)).fetchone()
        finally:
            db.close()
        return json.loads(row[0]).get("password")

    body = srv.get_json(path)
    body["keep_alive_time"] = 30
    body["hold_down_time"] = 90
    expect(srv.put(path, body), 200)
    assert stored() == "keep-me-pw"
    body = srv.get_json(path)
    body["password"] = ""
    expect(srv.put(path, body), 200)
    assert stored() in ("", None)
