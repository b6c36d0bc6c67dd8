"""Bad input: every request gets an NSX error JSON with a 4xx status, the server stays up, and
nothing is stored. Requests are sent byte-exact over a raw socket (conftest Vpnd.raw).
"""
import json

import pytest

import nsx

P = nsx.POLICY
DPD_URL = P + nsx.DPD

# The seed's DPD example, verbatim: note the trailing comma after the last member.
SEED_DPD = """{

    "enabled": true,

    "dpd_probe_mode": "PERIODIC",

    "dpd_probe_interval": 60,

    "retry_count": 5,

    "resource_type": "IPSecVpnDpdProfile",

    "id": "nsx-custom-l3vpn-dpd-profile",

    "display_name": "nsx-custom-l3vpn-dpd-profile",

 }"""

GOOD_DPD = json.dumps(nsx.dpd_body()).encode()


def nested(n):
    return ("[" * n + "]" * n).encode()


def nested_obj(n):
    return ('{"a":' * n + "1" + "}" * n).encode()


BAD_BODIES = [
    ("seed-dpd-trailing-comma", SEED_DPD.encode()),
    ("trailing-comma-array", b'{"resource_type":"IPSecVpnDpdProfile","tags":[{"tag":"a"},]}'),
    ("truncated", b'{"resource_type": "IPSecVpnDpdProfile", "dpd_probe_mode": "PERI'),
    ("truncated-after-colon", b'{"resource_type":'),
    ("only-open-brace", b"{"),
    ("top-level-empty-array", b"[]"),
    ("top-level-array", b'[{"resource_type":"IPSecVpnDpdProfile"}]'),
    ("top-level-string", b'"IPSecVpnDpdProfile"'),
    ("top-level-number", b"42"),
    ("top-level-null", b"null"),
    ("top-level-true", b"true"),
    ("deep-array-10000", nested(10000)),
    ("deep-object-10000", nested_obj(10000)),
    ("deep-in-field", b'{"resource_type":"IPSecVpnDpdProfile","description":' + nested(5000) + b"}"),
    ("invalid-utf8", b'{"resource_type":"IPSecVpnDpdProfile","display_name":"\xff\xfe"}'),
    ("overlong-utf8", b'{"resource_type":"IPSecVpnDpdProfile","display_name":"\xc0\xaf"}'),
    ("utf8-surrogate", b'{"resource_type":"IPSecVpnDpdProfile","display_name":"\xed\xa0\x80"}'),
    ("escaped-lone-surrogate", b'{"resource_type":"IPSecVpnDpdProfile","display_name":"\\ud800"}'),
    ("invalid-utf8-key", b'{"resource_type":"IPSecVpnDpdProfile","\xff":1}'),
    ("empty", b""),
    ("whitespace", b"   \r\n\t "),
    ("binary", bytes(range(256))),
    ("single-quotes", b"{'resource_type':'IPSecVpnDpdProfile'}"),
    ("comment", b'{"resource_type":"IPSecVpnDpdProfile" /* c */}'),
    ("huge-integer", b'{"resource_type":"IPSecVpnDpdProfile","retry_count":99999999999999999999999999}'),
    ("huge-exponent", b'{"resource_type":"IPSecVpnDpdProfile","retry_count":1e400}'),
    ("nan", b'{"resource_type":"IPSecVpnDpdProfile","retry_count":NaN}'),
    ("two-documents", b'{"resource_type":"IPSecVpnDpdProfile"}{"resource_type":"IPSecVpnDpdProfile"}'),
    ("nul-in-body", b'{"resource_type":"IPSecVpnDpdProfile"\x00}'),
]


def check_alive(srv):
    r = srv.get(nsx.DPD)
    assert r.status_code == 200, "server not answering after bad input: %s" % nsx.describe(r)
    assert srv.alive()


def check_error(r, statuses=(400,), json_required=True):
    assert r.status_code in statuses, "status %d, body %r" % (r.status_code, r.content[:300])
    if json_required:
        assert "json" in r.headers.get("Content-Type", ""), r.headers
        nsx.check_error_body(r.status_code, r.json())


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("name,body", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_body(module_server, name, body, method):
    srv = module_server
    oid = "nsx-custom-l3vpn-dpd-profile" if name.startswith("seed") else nsx.uid("bad")
    r = srv.raw(method, DPD_URL + "/" + oid, body)
    check_error(r)
    check_alive(srv)
    assert srv.get(nsx.DPD + "/" + oid).status_code == 404


def test_seed_dpd_with_comma_fixed_is_accepted(module_server):
    srv = module_server
    fixed = SEED_DPD.replace('"nsx-custom-l3vpn-dpd-profile",\n\n }', '"nsx-custom-l3vpn-dpd-profile"\n\n }')
    assert fixed != SEED_DPD
    oid = "nsx-custom-l3vpn-dpd-profile"
    r = srv.raw("PUT", DPD_URL + "/" + oid, fixed.encode())
    assert r.status_code == 200, r.content
    o = r.json()
    assert o["id"] == oid and o["dpd_probe_interval"] == 60 and o["retry_count"] == 5
    assert srv.get_json(nsx.DPD + "/" + oid) == o
    nsx.expect_empty(srv.delete(nsx.DPD + "/" + oid))


def test_body_of_2mib_413(module_server):
    srv = module_server
    oid = nsx.uid("big")
    body = b'{"resource_type":"IPSecVpnDpdProfile","description":"' + b"a" * (2 << 20) + b'"}'
    r = srv.raw("PUT", DPD_URL + "/" + oid, body)
    check_error(r, (413,))
    check_alive(srv)
    assert srv.get(nsx.DPD + "/" + oid).status_code == 404


def test_chunked_body_of_2mib_413(module_server):
    srv = module_server
    oid = nsx.uid("bigchunk")
    payload = b'{"resource_type":"IPSecVpnDpdProfile","description":"' + b"a" * (2 << 20) + b'"}'
    chunks = b""
    for i in range(0, len(payload), 65536):
        part = payload[i:i + 65536]
        chunks += b"%x\r\n" % len(part) + part + b"\r\n"
    chunks += b"0\r\n\r\n"
    r = srv.raw("PUT", DPD_URL + "/" + oid, chunks, headers={"Transfer-Encoding": "chunked"})
    # without a Content-Length the limit can only be applied while reading
    check_error(r, (413,))
    check_alive(srv)
    assert srv.get(nsx.DPD + "/" + oid).status_code == 404


def test_declared_huge_content_length_413(module_server):
    srv = module_server
    oid = nsx.uid("bigdecl")
    r = srv.raw("PUT", DPD_URL + "/" + oid, b'{"a":1}', headers={"Content-Length": str(1 << 31)},
                timeout=10)
    check_error(r, (413,))
    check_alive(srv)


def test_large_body_is_parsed_not_413(module_server):
    """A large but sane body is parsed (and here rejected for its description length), not 413."""
    srv = module_server
    oid = nsx.uid("mid")
    body = json.dumps(nsx.dpd_body(description="b" * 200000)).encode()
    r = srv.raw("PUT", DPD_URL + "/" + oid, body)
    check_error(r, (400,))
    err = r.json()
    assert "description" in nsx.error_text(err)


def test_nul_in_url_id(module_server):
    srv = module_server
    base = nsx.uid("nul")
    r = srv.raw("PUT", DPD_URL + "/" + base + "%00tail", GOOD_DPD)
    check_error(r, (400, 404))
    check_alive(srv)
    for oid in (base, base + "tail", base + "\x00tail"):
        assert srv.get(nsx.DPD + "/" + oid).status_code == 404
    assert not [o for o in srv.list_all(nsx.DPD) if o["id"].startswith(base)]


def test_nul_in_body_id(module_server):
    srv = module_server
    base = nsx.uid("nulb")
    body = json.dumps(nsx.dpd_body(id=base + "\u0000x")).encode()
    r = srv.raw("PUT", DPD_URL + "/" + base, body)
    check_error(r)
    check_alive(srv)
    assert srv.get(nsx.DPD + "/" + base).status_code == 404


def test_nul_in_string_value(module_server):
    """Either rejected, or stored exactly (never silently truncated)."""
    srv = module_server
    oid = nsx.uid("nuls")
    body = json.dumps(nsx.dpd_body(display_name="left\u0000right")).encode()
    r = srv.raw("PUT", DPD_URL + "/" + oid, body)
    if r.status_code == 200:
        assert srv.get_json(nsx.DPD + "/" + oid)["display_name"] == "left\u0000right"
    else:
        check_error(r)
        assert srv.get(nsx.DPD + "/" + oid).status_code == 404


def test_encoded_slash_in_id(module_server):
    srv = module_server
    base = nsx.uid("slash")
    r = srv.raw("PUT", DPD_URL + "/" + base + "%2Fsub", GOOD_DPD)
    check_error(r, (400, 404))
    check_alive(srv)
    assert not [o for o in srv.list_all(nsx.DPD) if o["id"].startswith(base)]


def test_long_url_8k(module_server):
    srv = module_server
    oid = "L" * 8000
    r = srv.raw("GET", DPD_URL + "/" + oid, None)
    check_error(r, (400, 404, 414))
    r = srv.raw("PUT", DPD_URL + "/" + oid, GOOD_DPD)
    check_error(r, (400, 404, 414))
    check_alive(srv)
    assert srv.get(nsx.DPD + "/" + oid).status_code in (400, 404, 414)
    assert not [o for o in srv.list_all(nsx.DPD) if o["id"].startswith("LLLL")]


def test_long_url_100k(module_server):
    """Beyond the HTTP library's request-head buffer: a 4xx, and the server stays up. (The body
    is libmicrohttpd's own there, so its format is not required.)"""
    srv = module_server
    r = srv.raw("PUT", DPD_URL + "/" + "M" * 100000, GOOD_DPD, timeout=10)
    assert 400 <= r.status_code < 500, r.status_code
    check_alive(srv)
    assert not [o for o in srv.list_all(nsx.DPD) if o["id"].startswith("MMMM")]


def test_long_query_string(module_server):
    srv = module_server
    r = srv.raw("GET", DPD_URL + "?sort_by=" + "x" * 8000, None)
    assert r.status_code in (200, 400, 414), r.status_code
    if r.status_code != 200:
        check_error(r, (400, 414))
    check_alive(srv)


def test_many_bad_requests_in_a_row(module_server):
    """The server survives a burst of mixed bad requests on keep-alive connections."""
    srv = module_server
    for i in range(40):
        name, body = BAD_BODIES[i % len(BAD_BODIES)]
        r = srv.api("PUT", nsx.DPD + "/" + nsx.uid("burst"), data=body)
        assert 400 <= r.status_code < 500
        nsx.check_error_body(r.status_code, r.json())
    check_alive(srv)


def test_huge_header(module_server):
    srv = module_server
    r = srv.raw("GET", DPD_URL, None, headers={"X-Filler": "h" * 100000}, timeout=10)
    assert 400 <= r.status_code < 500, r.status_code
    check_alive(srv)
