#!/usr/bin/python3
"""Write the seed corpora and dictionaries of the fuzz harnesses (tests/fuzz/corpus/NAME/).

Sources: the seed's JSON bodies and URLs (../shared/seed/vmc-ipsec-vpn-api.txt), the API tests'
body builders (tests/api/nsx.py), the BIRD replies captured for the unit tests
(tests/unit/bird_captures.inc) and hand-written edge cases. Deterministic; files are named by
content hash, so re-running only adds. Existing files (crash reproducers) are kept.
    /usr/bin/python3 tests/fuzz/gen_corpus.py [SEED]
"""
import hashlib
import json
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "seed",
                                                          "vmc-ipsec-vpn-api.txt")
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))
import nsx  # noqa: E402

POLICY = "/policy/api/v1"


def put(name, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    h = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, "seed-" + h), "wb") as f:
        f.write(data)


def seed_text():
    if not os.path.exists(SEED):
        return ""
    s = open(SEED, encoding="utf-8").read()
    return s.replace("\xa0", " ").replace("\u201c", '"').replace("\u201d", '"')


def seed_objects(s):
    out, i = [], 0
    while True:
        i = s.find("{", i)
        if i < 0:
            return out
        depth, j = 0, i
        while j < len(s):
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            if depth == 0:
                break
            j += 1
        try:
            out.append(json.loads(s[i:j + 1]))
            i = j + 1
        except ValueError:
            i += 1


def seed_urls(s):
    urls = set()
    for u in re.findall(r"(/infra/[^\s\"<>)]*)", s):
        urls.add(u.replace("<Session_ID>", "s1").replace("<Neighbor_ID>", "n1").rstrip(".,"))
    return sorted(urls)


def c_strings(path):
    """The string constants of a C file: {NAME: bytes}."""
    text = open(path, encoding="utf-8").read()
    out = {}
    for m in re.finditer(r"static const char (\w+)\[\] =((?:\s*\"(?:[^\"\\]|\\.)*\")+);", text):
        parts = re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(2))
        out[m.group(1)] = "".join(parts).encode().decode("unicode_escape").encode("latin-1")
    return out


def main():
    text = seed_text()
    objs = seed_objects(text)
    bodies = [o for o in objs if isinstance(o, dict) and o.get("resource_type")]
    bodies += [nsx.ike_body(), nsx.tunnel_body(), nsx.dpd_body(), nsx.prefix_list_body(),
               nsx.neighbor_body("169.254.160.1"), nsx.route_session_body(vti="169.254.160.2"),
               nsx.policy_session_body(),
               nsx.prefix_list_body(prefixes=[{"network": "ANY", "action": "DENY"},
                                              {"network": "2001:db8::/32", "ge": 48, "le": 64}]),
               nsx.neighbor_body("169.254.160.1", password="bgp-secret-123456",
                                 route_filtering=[{"enabled": True, "address_family": "IPV4",
                                                   "in_route_filters": [nsx.PL + "/pl1"]}])]
    types = set()
    for b in bodies:
        rt = b["resource_type"]
        types.add(rt)
        put("fuzz_json_schema", rt + "\n" + json.dumps(b, indent=1))
    for rt in ("Tier0", "LocaleServices", "IPSecVpnService", "BgpRoutingConfig",
               "IPSecVpnLocalEndpoint"):
        put("fuzz_json_schema", rt + "\n{\"display_name\": \"x\"}")

    # router: every route pattern under every URL form, plus the seed's URLs
    pats = [nsx.IKE, nsx.IKE + "/p1", nsx.TUN + "/t1", nsx.DPD + "/d1", nsx.PL + "/pl1",
            nsx.NB + "/n1/routes", nsx.NB + "/status", nsx.BGP, nsx.SES + "/s1/statistics",
            nsx.SES_ALT + "/s1", nsx.LE_ALT + "/Public-IP1", nsx.SVC + "/summary",
            "/infra/realized-state/status", "/infra/tier-0s/vmc/locale-services/default"]
    for p in pats + seed_urls(text):
        for pre in nsx.ALL_PREFIXES:
            put("fuzz_router", pre + p)
    for u in ("/healthz", "/csp/gateway/am/api/auth/api-tokens/authorize",
              "/vmc/api/orgs/o1/sddcs", "/vmc/api/orgs/o1/sddcs/s1", "/vpnd/api/v1/audit",
              "/emulator/api/v1/peers/203.0.113.1", "/emulator/api/v1/sessions/s1/traffic",
              POLICY + "//infra//", POLICY + nsx.IKE + "///"):
        put("fuzz_router", u)

    # cidr: text mode (byte 0 even), structured mode (odd)
    for s in ("10.0.0.0/8", "192.168.1.7/24", "0.0.0.0/0", "255.255.255.255/32", "1.2.3.4",
              "2001:db8::/32", "::/0", "::ffff:1.2.3.4/128", "fe80::1%eth0/64", "ANY",
              "10.0.0.0/08", "10.0.0.0/33", "1.2.3.4/ 8", "::1/129", "2001:DB8::1/64"):
        put("fuzz_cidr", b"\x00" + s.encode())
    put("fuzz_cidr", bytes([1, 4, 0x40 | 0x80 | 0x10, 16, 24, 10, 0, 0, 0, 8,
                            0x10 | 0x20, 0, 0, 10, 1, 0, 0, 16, 0x0e, 0, 0, 0, 0, 0, 0, 0,
                            0, 10, 1, 2, 3, 24, 0, 10, 9, 9, 9, 20, 1, 32, 1, 13, 184, 0, 48]))

    # token: 0 raw, 1 mutate, 2 forge, 3 form, 4 header
    put("fuzz_token", b"\x00eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA")
    put("fuzz_token", b"\x01\x00\x05\x01\x02\x10\x20\x03\x30\x00")
    put("fuzz_token", b"\x02{\"alg\":\"none\",\"typ\":\"JWT\"}\x00"
        b"{\"typ\":\"access\",\"tid\":\"x\",\"exp\":9999999999}\x00")
    put("fuzz_token", b"\x02{\"alg\":\"HS256\",\"typ\":\"JWT\"}\x00"
        b"{\"typ\":\"access\",\"tid\":\"x\",\"exp\":9999999999}\x00abc")
    put("fuzz_token", b"\x03refresh_token=abc%2Bdef+g&api_token=x")
    put("fuzz_token", b"\x03grant_type=refresh_token&refresh_token=%zz%4")
    put("fuzz_token", b"\x04\x00Bearer   eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.x")
    put("fuzz_token", b"\x04\x01eyJ")

    # csv: neighbor fields then routes
    def route(fam, addr, plen, nh, asp, med, lp, w):
        return (bytes([fam]) + addr + bytes([plen]) + nh + b"\x00" + asp + b"\x00" +
                struct.pack(">qqq", med, lp, w))
    put("fuzz_csv", b"169.254.1.1\x00nb-1\x00t0\x00169.254.1.2\x00edge\x00" +
        route(0, bytes([10, 0, 0, 0]), 8, b"169.254.1.1", b"65006 65010", 0, 100, 0) +
        route(1, bytes(16), 0, b"::1", b"1,\"2\"\r\n3", -1, 2 ** 63 - 1, -2 ** 63))
    put("fuzz_csv", b"a,b\x00\"q\"\x00\r\n\x00\x00x\x00")

    # bird: 0 protocols, 1 learned routes, 2 exported routes, 3 names
    caps = c_strings(os.path.join(ROOT, "tests", "unit", "bird_captures.inc"))
    for name, data in caps.items():
        mode = 0 if "PROTOCOLS" in name else 2 if "EXPORT" in name else 1
        put("fuzz_bird", bytes([mode]) + data)
    put("fuzz_bird", b"\x03peer-1\x00peer_1")
    put("fuzz_bird", b"\x03nbr_peer_2d1\x00" + b"x" * 60)

    # vici: messages (README example shapes): section, kv, list
    def kv(k, v):
        return b"\x03" + bytes([len(k)]) + k + struct.pack(">H", len(v)) + v
    msg = (kv(b"key1", b"value1") + b"\x01\x08section1" + b"\x01\x0bsub-section" +
           kv(b"key2", b"value2") + b"\x02" + b"\x04\x05list1" + b"\x05\x00\x05item1" +
           b"\x05\x00\x05item2" + b"\x06" + b"\x02")
    put("fuzz_vici", msg)
    put("fuzz_vici", b"\x01\x07version" + msg)
    put("fuzz_vici", b"\x05")

    # query: "METHOD URL?query", one request per input
    base = POLICY
    for q in ("page_size=2&sort_by=id&sort_ascending=false", "cursor=1&page_size=1",
              "included_fields=id,display_name,sa_life_time", "sort_by=sa_life_time",
              "page_size=-1", "sort_ascending=maybe", "cursor=abc", "action=show_sensitive_data"):
        put("fuzz_query", "GET " + base + nsx.IKE + "?" + q)
    for u in (nsx.SES + "?action=show_sensitive_data", nsx.SES + "/s1?action=show_sensitive_data",
              nsx.SES + "/s1?action=show_sensitive_data&_as=auditor",
              nsx.NB + "/n1/routes?format=csv", nsx.NB + "/n1/advertised-routes?format=csv",
              nsx.NB + "/n1/routes", nsx.NB + "/status", nsx.SES + "/s1/statistics",
              nsx.SES + "/s1/detailed-status", nsx.SVC + "/summary",
              "/infra/realized-state/status?intent_path=" + nsx.SES + "/s1",
              "/infra/realized-state/realized-entities?intent_path=" + nsx.NB + "/n1",
              nsx.NB + "?included_fields=password,neighbor_address"):
        put("fuzz_query", "GET " + base + u)
    put("fuzz_query", "POST " + base + nsx.NB + "/n1/routes?format=csv")
    put("fuzz_query", "POST " + base + nsx.SES + "/s1/statistics?action=reset")
    put("fuzz_query", "GET /vpnd/api/v1/audit?since=0&limit=5")
    put("fuzz_query", "HEAD /vmc/api/orgs/" + nsx.ORG + "/sddcs/" + nsx.SDDC)

    # write: "METHOD path\nbody"
    writes = [(nsx.IKE + "/w1", nsx.ike_body()), (nsx.TUN + "/w1", nsx.tunnel_body()),
              (nsx.DPD + "/w1", nsx.dpd_body()), (nsx.PL + "/w1", nsx.prefix_list_body()),
              (nsx.SES + "/w1", nsx.route_session_body(vti="169.254.161.2", psk="a-long-psk-value")),
              (nsx.SES_ALT + "/w2", nsx.policy_session_body()),
              (nsx.NB + "/w1", nsx.neighbor_body("169.254.161.1", password="bgp-password-1")),
              (nsx.BGP, {"enabled": True, "local_as_num": "65000"})]
    for path, b in writes:
        for m in ("PUT", "PATCH"):
            put("fuzz_write", m + " " + path + "\n" + json.dumps(b))
    put("fuzz_write", "PATCH " + nsx.IKE + "/w1\n{\"_revision\": 0, \"sa_life_time\": 28800}")
    put("fuzz_write", "DELETE " + nsx.IKE + "/w1\n")
    put("fuzz_write", "PUT " + nsx.DEFAULT_DPD + "\n{}")
    put("fuzz_write", "PATCH " + nsx.IKE + "/w1\n{\"id\": \"other\"}")

    # dictionaries: field names and enum values from the generated spec table
    spec = open(os.path.join(ROOT, "src", "schema", "spec_gen.c"), encoding="utf-8").read()
    words = sorted(set(re.findall(r"\"([A-Za-z0-9_]{2,40})\"", spec)))
    for name, extra in (("fuzz_json_schema", ()),
                        ("fuzz_write", ("PUT /infra/", "PATCH /infra/", "DELETE /infra/",
                                        "_revision"))):
        with open(os.path.join(HERE, name + ".dict"), "w") as f:
            f.write("# generated by gen_corpus.py from src/schema/spec_gen.c\n")
            for w in words:
                f.write("\"\\\"%s\\\"\"\n" % w)
            for w in ("{", "}", "[", "]", ":", ",", "null", "true", "false", "\\\"\\\"",
                      "169.254.0.1", "10.0.0.0/8", "/infra/", nsx.DEFAULT_IKE,
                      nsx.PRIVATE_IP1) + extra:
                f.write("\"%s\"\n" % w)
    segs = set()
    for p in pats + [nsx.PREFIX_SKS, "/vmc/api/orgs", "/emulator/api/v1"]:
        segs.update(s for s in p.split("/") if s)
    with open(os.path.join(HERE, "fuzz_router.dict"), "w") as f:
        f.write("# generated by gen_corpus.py\n")
        for s in sorted(segs):
            f.write("\"/%s\"\n" % s)
    with open(os.path.join(HERE, "fuzz_query.dict"), "w") as f:
        f.write("# generated by gen_corpus.py\n")
        for s in ("page_size=", "cursor=", "sort_by=", "sort_ascending=", "included_fields=",
                  "format=csv", "action=", "show_sensitive_data", "reset", "intent_path=",
                  "since=", "limit=", "_as=auditor", "_as=none", "&", "%2C", "%00",
                  "display_name", "id", "psk", "password", "_revision", "resource_type"):
            f.write("\"%s\"\n" % s)


if __name__ == "__main__":
    main()
