"""Regression tests for findings of the code reviews of issues 3 and 4 (each test names its
finding). Each uses a server of its own where it moves the clock or restarts."""
import nsx
from nsx import expect, expect_error
from test_auth import AUDIT, audit_all

CLOCK = "/emulator/api/v1/clock"


def test_token_minted_under_advanced_clock_dies_with_it(fresh_server):
    """Review H1: an admin advanced the emulator clock by years, exchanged a token, and kept
    it valid for years after a restart. Now a token never outlives the verifier's now + one
    lifetime: after the restart (virtual clock back at wall time) it is refused."""
    srv = fresh_server
    expect(srv.api("POST", CLOCK, json={"advance_ms": 10 * 365 * 86400 * 1000}, prefix=""), 200)
    long_lived = srv.token("time-traveller")
    expect(srv.get(nsx.IKE, token=long_lived), 200)      # fine while the clock is there
    srv.stop()
    srv.start()
    srv.reauth()
    r = srv.get(nsx.IKE, token=long_lived)
    expect_error(r, 401)
    assert "outlives" in r.json()["error_message"]
    expect(srv.get(nsx.IKE), 200)                        # a fresh token works


def test_refusals_and_emulator_changes_are_audited(fresh_server):
    """Review M7: 403s on admin-only top-level routes, the list show_sensitive_data refusal
    and the emulator's own changes were missing from the audit log."""
    srv = fresh_server
    aud = srv.token("aud-rev", role="auditor")
    before = audit_all(srv)
    since = before[-1]["id"] if before else 0
    expect_error(srv.api("POST", CLOCK, json={"advance_ms": 1}, prefix="", token=aud), 403)
    expect_error(srv.get(nsx.SES, params={"action": "show_sensitive_data"}, token=aud), 403)
    expect(srv.api("POST", CLOCK, json={"advance_ms": 5}, prefix=""), 200)
    recs = [r for r in audit_all(srv, since=since) if r["path"] in (CLOCK, nsx.SES)]
    got = [(r["user"], r["method"], r["path"], r["status"]) for r in recs]
    assert ("aud-rev", "POST", CLOCK, 403) in got, got
    assert ("aud-rev", "GET", nsx.SES, 403) in got, got
    assert ("admin", "POST", CLOCK, 200) in got, got
    for r in recs:
        if r["status"] == 403:
            assert r["error_code"] is not None, r


def test_aggregate_counters_saturate(fresh_server):
    """Review M6: counters wrapped to negative numbers. NSX counters are int64: they saturate
    at 2**63-1, per tunnel and in every aggregate."""
    srv = fresh_server
    expect(srv.api("POST", CLOCK, json={"freeze": True}, prefix=""), 200)
    path = nsx.SES + "/" + nsx.uid("sat")
    srv.create(path, nsx.route_session_body())
    expect(srv.api("POST", CLOCK, json={"advance_ms": 1000}, prefix=""), 200)
    sid = path.rsplit("/", 1)[1]
    big = 2 ** 63 - 1
    for _ in range(2):
        expect(srv.api("POST", "/emulator/api/v1/sessions/%s/traffic" % sid,
                       json={"tunnel": 0, "packets_in": big}, prefix=""), 200)
    ds = srv.get_json(path + "/detailed-status")["results"][0]
    assert ds["aggregate_traffic_counters"]["packets_in"] == big
    st = srv.get_json(path + "/statistics")["results"][0]
    assert st["aggregate_traffic_counters"]["packets_in"] == big
    assert st["policy_statistics"][0]["tunnel_statistics"][0]["packets_in"] == big


def test_display_name_equal_to_id_survives_new_versions(fresh_server):
    """Merge of issue 6's load and dirty-read work: an object whose display_name is its id
    shares the id's bytes, which live in the path. A second version gives its own path up for
    its node's, and left display_name pointing into the freed copy (an invalid free under ASan
    when that version was superseded). Versions 2..4 of objects with and without an explicit
    display_name, read back after each write and after a restart."""
    srv = fresh_server
    a, b = nsx.DPD + "/dn-same", nsx.DPD + "/dn-other"
    srv.create(a, nsx.dpd_body())                                   # display_name defaults to id
    srv.create(b, nsx.dpd_body(display_name="dn-same"))             # another object's id
    for i in range(3):
        expect(srv.patch(a, {"retry_count": 6 + i}), 200)
        expect(srv.patch(b, {"retry_count": 6 + i}), 200)
        ga, gb = srv.get_json(a), srv.get_json(b)
        assert (ga["display_name"], ga["retry_count"], ga["_revision"]) == ("dn-same", 6 + i, i + 1)
        assert (gb["display_name"], gb["retry_count"], gb["_revision"]) == ("dn-same", 6 + i, i + 1)
    expect(srv.patch(a, {"display_name": "renamed"}), 200)
    assert srv.get_json(a)["display_name"] == "renamed"
    srv.stop()
    srv.start()
    srv.reauth()
    assert srv.get_json(a)["display_name"] == "renamed"
    assert srv.get_json(b)["display_name"] == "dn-same"
    expect(srv.delete(a), 200)
    expect_error(srv.get(a), 404)
