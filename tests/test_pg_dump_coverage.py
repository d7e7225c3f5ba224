"""benchmarks/pg_dump_coverage.py: every kind in pg_dump's table of contents of the every_kind_*.sql
database is in the metadata extract with the same count, or documented as carried elsewhere."""

import json
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import make_conninfo

from kada_collectors.extractors.postgres.pg_dump_kinds import ELSEWHERE, MATCHES

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "pg_dump_coverage.py"


def test_every_toc_kind_is_in_the_extract_or_documented_elsewhere(pg_server, tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--dsn", make_conninfo(host=pg_server.host, port=pg_server.port, user=pg_server.superuser),
         "--pg-bin", str(pg_server.client("pg_dump").parent), "--results-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=pg_server.client_env())  # the password in PGPASSWORD
    assert result.returncode == 0, result.stdout + result.stderr
    assert pg_server.password not in result.stdout + result.stderr
    (path,) = tmp_path.glob("*-pg_dump_coverage.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["server"].startswith(str(pg_server.version))
    matched = {kind for m in MATCHES for kind in m.toc}
    for kind in report["kinds"]:
        if kind["status"] == "elsewhere":
            assert kind["kind"] in ELSEWHERE and kind["extract"] is None
        else:
            assert kind["kind"] in matched and kind["status"] == "equal", kind
            assert kind["pg_dump"] == kind["extract"] > 0
    present = {k["kind"] for k in report["kinds"]}
    assert {"COLLATION", "OPERATOR CLASS", "TEXT SEARCH PARSER", "PROCEDURAL LANGUAGE", "TRANSFORM", "COMMENT"} <= present
    assert report["summary"]["differ"] == report["summary"]["unknown"] == []
    assert "COMMENT" in result.stdout and "TOC kinds accounted for" in result.stdout
