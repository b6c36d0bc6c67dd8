"""The benchmark suite's own tools (bench/, issue 6): build/sqlite_raw writes what it claims,
and bench/create.lua creates every session it is asked for.

sqlite_raw is found next to VPND_BIN (`make api` builds both); wrk is optional (skip).
"""
import json
import shutil
import sqlite3
import subprocess

import pytest

import nsx
from conftest import REPO, SANITIZER_MARKERS, vpnd_bin

BENCH = REPO / "bench"


def sqlite_raw(*args, check=0):
    binary = vpnd_bin().parent / "sqlite_raw"
    if not binary.exists():
        pytest.fail("%s not built (make api builds it)" % binary, pytrace=False)
    p = subprocess.run([str(binary)] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    for m in SANITIZER_MARKERS:
        assert m not in p.stderr, p.stderr[-3000:]
    assert p.returncode == check, (p.returncode, p.stdout, p.stderr)
    return p


@pytest.mark.parametrize("batch", [1, 7])
def test_sqlite_raw_rows(tmp_path, batch):
    """Every transaction writes batch objects upserts + audit rows of the given sizes, on a WAL
    database with vpnd's table shapes; the JSON line adds up."""
    db = tmp_path / "raw.db"
    p = sqlite_raw("--db", db, "--secs", 1, "--batch", batch, "--body-bytes", 1000,
                   "--audit-bytes", 200)
    j = json.loads(p.stdout)
    assert j["batch"] == batch and j["txns"] >= 1, j
    assert j["rows"] == j["txns"] * batch, j
    assert j["body_bytes"] == 1000 and j["audit_bytes"] == 200, j
    assert 0 < j["p50_ms"] <= j["p99_ms"], j
    assert abs(j["rows_per_s"] - j["rows"] / j["secs"]) < 1, j
    con = sqlite3.connect(str(db))
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        objs = con.execute("SELECT length(body), revision, kind FROM objects").fetchall()
        assert objs == [(1000, j["rows"], "PolicyBasedIPSecVpnSession")], objs
        aud = con.execute("SELECT count(*), min(length(record)), max(length(record)) "
                          "FROM audit").fetchone()
        assert aud == (j["rows"], 200, 200), aud
        cols = [r[1] for r in con.execute("PRAGMA table_info(objects)")]
        assert cols == ["path", "kind", "revision", "body"], cols
    finally:
        con.close()


@pytest.mark.parametrize("args", [
    [],                                                 # no --db
    ["--db"],                                           # no value
    ["--db", "X", "--batch", "0"],
    ["--db", "X", "--batch", "100001"],
    ["--db", "X", "--secs", "0"],
    ["--db", "X", "--body-bytes", "12x"],
    ["--db", "X", "--audit-bytes", "-1"],
    ["--db", "X", "--frobnicate", "1"],
])
def test_sqlite_raw_bad_args(tmp_path, args):
    args = [str(tmp_path / "r.db") if a == "X" else a for a in args]
    p = sqlite_raw(*args, check=2)
    assert "usage: sqlite_raw" in p.stderr
    assert not (tmp_path / "r.db").exists()


def test_create_lua_creates_every_session(fresh_server, tmp_path):
    """Regression: wrk calls thread 0's request() once after init() and throws the request
    away, which lost bench-0; create.lua now answers that call with a GET that uses no id."""
    wrk = shutil.which("wrk")
    if not wrk:
        pytest.skip("wrk not installed")
    script = tmp_path / "create.lua"
    script.write_text((BENCH / "create.lua").read_text() + "\n" +
                      (BENCH / "report.lua").read_text())
    n = 40
    p = subprocess.run([wrk, "-t2", "-c4", "-d2s", "--timeout", "10s", "-s", str(script),
                        "-H", "csp-auth-token: " + fresh_server.access_token,
                        fresh_server.url(nsx.SES + "/"), "--", "0", str(n - 1), "2"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("WRKJSON ")]
    assert len(line) == 1, p.stdout
    report = json.loads(line[0][len("WRKJSON "):])
    assert report["status"] == 0 and report["s5xx"] == 0, report
    ids = {s["id"] for s in fresh_server.list_all(nsx.SES)}
    assert ids == {"bench-%d" % i for i in range(n)}, sorted(ids)
