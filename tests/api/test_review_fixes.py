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
