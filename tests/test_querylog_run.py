"""The query log through run(): pg_stat_statements deltas, server log files and CloudWatch, masked,
with the lineage and DDL events they prove."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from collect import HOST, run_extract
from kada_collectors.extractors.postgres.querylog.ddl import ddl_events
from kada_collectors.lib.hwm import HWM_FORMAT
from kada_collectors.lib.validate import validate_folder
from log_servers import RDS_PREFIX, start_logging_server
from servers import SERVER_NAMES

SECRET = "Zq9-literal-value"
DB = "busy"


def hwm(moment):
    return moment.strftime(HWM_FORMAT)


def now():
    return datetime.now(timezone.utc).replace(microsecond=0)


def statements_of(extract):
    return {r["QUERY_TEXT"]: r for r in extract.rows("databaselog")}


@pytest.fixture
def busy(pg_server):
    pg_server.create_database(DB)
    pg_server.execute("CREATE EXTENSION pg_stat_statements; CREATE TABLE src (a int, b text); "
                      "CREATE TABLE dst (a int, b text); INSERT INTO src SELECT g, 'v' || g FROM generate_series(1, 10) g",
                      DB)
    yield pg_server
    pg_server.drop_database(DB)


def work(server, times, value=SECRET):
    with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
        for _ in range(times):
            conn.execute(f"SELECT a FROM src WHERE b = '{value}'")
        conn.execute("INSERT INTO dst SELECT a, b FROM src WHERE a > 5")


def test_pg_stat_statements_window_deltas(busy, tmp_path):
    first = now()
    run_extract(busy, [DB], tmp_path, meta_only=False, window=(None, hwm(first)))
    work(busy, 3)
    second = first + timedelta(seconds=1)
    extract = run_extract(busy, [DB], tmp_path, meta_only=False, window=(hwm(first), hwm(second)))
    rows = statements_of(extract)
    select = rows["SELECT a FROM src WHERE b = $1"]
    assert select["CALLS"] == "3" and select["LOG_SOURCE"] == "pg_stat_statements" and select["IS_MASKED"] == "Y"
    assert select["START_TIME"] == hwm(first) and select["END_TIME"] == hwm(second) and select["STATEMENT_TYPE"] == "SELECT"
    insert = rows["INSERT INTO dst SELECT a, b FROM src WHERE a > $1"]
    assert insert["CALLS"] == "1" and insert["ROWS"] == "5" and insert["DATABASE_NAME"] == DB
    assert not any("kada" in text.lower() for text in rows), "the collector's own statements are left out"
    for entry in extract.manifest["files"]:
        assert SECRET not in (tmp_path / entry["name"]).read_text(encoding="utf-8")
    lineage = {(r["SOURCE_ID"], r["TARGET_ID"]) for r in extract.rows("linkages") if r["EVIDENCE"] == "QUERY_LOG"}
    assert (f'"{HOST}".{DB}.public.src', f'"{HOST}".{DB}.public.dst') in lineage
    assert extract.manifest["query_log"] == [{"source": "pg_stat_statements", "status": "succeeded",
                                              "rows": len(rows), "error": None}]

    # A reset between runs: counters start again from zero, never go negative.
    busy.execute("SELECT pg_stat_statements_reset()", DB)
    work(busy, 1)
    third = second + timedelta(seconds=1)
    after_reset = statements_of(run_extract(busy, [DB], tmp_path, meta_only=False, window=(hwm(second), hwm(third))))
    assert after_reset["SELECT a FROM src WHERE b = $1"]["CALLS"] == "1"
    assert all(int(r["CALLS"]) > 0 for r in after_reset.values())


def test_unmasked_text_is_kept_as_logged(busy, tmp_path):
    work(busy, 1, value="plain-value")
    rows = statements_of(run_extract(busy, [DB], tmp_path, meta_only=False, mask=False))
    assert rows["SELECT a FROM src WHERE b = $1"]["IS_MASKED"] == "N", "pg_stat_statements itself normalises"


def test_missing_extension_is_a_warning(pg_server, tmp_path):
    pg_server.create_database("plain")
    try:
        extract = run_extract(pg_server, ["plain"], tmp_path, meta_only=False)
    finally:
        pg_server.drop_database("plain")
    (report,) = extract.manifest["query_log"]
    assert report["status"] == "skipped" and "CREATE EXTENSION pg_stat_statements" in report["error"]
    assert extract.manifest["status"] == "succeeded" and extract.rows("databaselog") == []


@pytest.fixture(scope="module", params=SERVER_NAMES, ids=SERVER_NAMES)
def logged(request):
    """A server of each major in turn writing stderr and csvlog files."""
    server = start_logging_server(request.param, RDS_PREFIX, "UTC", destinations="stderr,csvlog", log_statement="all",
                                  log_min_duration_statement="0")
    try:
        server.server.create_database(DB)
        yield server
    finally:
        server.stop()


def test_log_files_statements_ddl_events_and_lineage(logged, tmp_path):
    server = logged.server
    start = now() - timedelta(seconds=1)
    with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
        conn.execute("CREATE TABLE src (a int, b text); CREATE TABLE dst (a int, b text)")
        conn.execute("INSERT INTO src VALUES (%s, %s)", (1, SECRET))  # bind parameters
        conn.execute("INSERT INTO dst SELECT a, b FROM src")
        conn.execute("ALTER TABLE dst ADD COLUMN c int")
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM nowhere")
    end = now() + timedelta(seconds=2)
    logged.rotate()
    for log_format in ("csvlog", "stderr"):
        extract = run_extract(server, [DB], tmp_path / log_format, meta_only=False, window=(hwm(start), hwm(end)),
                              query_log={"log_files": {"path": str(logged.log_dir), "format": log_format,
                                                       "line_prefix": RDS_PREFIX}})
        rows = extract.rows("databaselog")
        texts = [r["QUERY_TEXT"] for r in rows]
        assert "INSERT INTO dst SELECT a, b FROM src" in texts and "ALTER TABLE dst ADD COLUMN c int" in texts
        assert all(r["LOG_SOURCE"] == "log_file" and r["USER_NAME"] == "postgres" for r in rows)
        assert not any("kada" in t.lower() for t in texts), "the collector's own statements are left out"
        failed = [r for r in rows if r["QUERY_TEXT"] == "SELECT * FROM nowhere"]
        assert failed and (log_format == "stderr" or failed[0]["ERROR_CODE"] == "42P01")
        for entry in extract.manifest["files"]:
            assert SECRET not in (tmp_path / log_format / entry["name"]).read_text(encoding="utf-8")
        ddl = {(e["EVENT_TYPE"], e["OBJECT_ID"]) for e in extract.rows("events") if e["EVIDENCE"] == "DDL_LOG"}
        assert ("CREATED", f'"{HOST}".{DB}.public.src') in ddl and ("ALTERED", f'"{HOST}".{DB}.public.dst') in ddl
        ddl_rows = [e for e in extract.rows("events") if e["EVIDENCE"] == "DDL_LOG"]
        assert all(e["USER_NAME"] == "postgres" and hwm(start) <= e["EVENT_TIME"][:19] <= hwm(end) for e in ddl_rows)
        lineage = {(r["SOURCE_ID"], r["TARGET_ID"]) for r in extract.rows("linkages") if r["EVIDENCE"] == "QUERY_LOG"}
        assert (f'"{HOST}".{DB}.public.src', f'"{HOST}".{DB}.public.dst') in lineage
        assert extract.manifest["status"] == "succeeded"


def test_identical_log_records_are_one_row(pg18, tmp_path):
    """Two sessions logging the same statement in the same second (RDS's prefix stamps seconds)
    make identical records: the databaselog file is a set, and the manifest says so."""
    pg18.create_database(DB)
    logs = tmp_path / "logs"
    logs.mkdir()
    line = "2026-12-03 10:00:00 UTC:127.0.0.1({}):postgres@busy:[{}]:LOG:  statement: SELECT count(*) FROM pg_class\n"
    (logs / "postgresql.log").write_text(line.format(40000, 101) + line.format(40001, 102), encoding="utf-8")
    try:
        extract = run_extract(pg18, [DB], tmp_path / "out", meta_only=False,
                              window=("2026-12-03 09:59:00", "2026-12-03 10:01:00"),
                              query_log={"log_files": {"path": str(logs), "format": "stderr", "line_prefix": RDS_PREFIX}})
    finally:
        pg18.drop_database(DB)
    rows = [r for r in extract.rows("databaselog") if r["QUERY_TEXT"] == "SELECT count(*) FROM pg_class"]
    assert len(rows) == 1
    assert ("the query log: 1 databaselog record(s) identical to another in every field were written once"
            in extract.manifest["warnings"])
    assert validate_folder(extract.output).problems == []


def test_an_unreadable_log_source_fails_the_run(pg_server, tmp_path):
    from kada_collectors.lib.errors import ExtractError
    with pytest.raises(ExtractError, match="the query log"):
        run_extract(pg_server, ["postgres"], tmp_path, meta_only=False,
                    query_log={"log_files": {"path": str(tmp_path / "no-logs"), "format": "csvlog"}})
    manifest = json.loads(next(tmp_path.glob("*_manifest_*.json")).read_text())
    assert manifest["status"] == "failed" and manifest["query_log"][0]["status"] == "failed"
    assert manifest["databases"][0]["status"] == "succeeded"


def test_cloudwatch_source(logged, tmp_path, aws_env):
    from landing_servers import MotoServer
    server = logged.server
    start = now() - timedelta(seconds=1)
    with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS cw (a int)")
        conn.execute("SELECT count(*) FROM cw WHERE a = 42")
    end = now() + timedelta(seconds=2)
    logged.rotate()
    lines = []
    for path in sorted(logged.log_dir.glob("*.log")):
        lines += [line for line in path.read_text().splitlines() if line]
    moto = MotoServer()
    try:
        logs = moto.client("logs")
        group = "/aws/rds/instance/busy-db/postgresql"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="busy-db")
        stamp = int(datetime.now(timezone.utc).timestamp() * 1000)
        logs.put_log_events(logGroupName=group, logStreamName="busy-db",
                            logEvents=[{"timestamp": stamp, "message": line} for line in lines])
        extract = run_extract(server, [DB], tmp_path, meta_only=False, window=(hwm(start), hwm(end)),
                              query_log={"cloudwatch": {"log_group": group, "region": "eu-west-1",
                                                        "endpoint_url": moto.url}})
    finally:
        moto.stop()
    rows = [r for r in extract.rows("databaselog") if r["LOG_SOURCE"] == "cloudwatch"]
    assert any(r["QUERY_TEXT"] == "SELECT count(*) FROM cw WHERE a = $1" for r in rows)


@pytest.mark.parametrize("statement, events", [
    ("CREATE TABLE p (a int) PARTITION BY RANGE (a)", [("CREATED", "PARTITIONED_TABLE", "public.p")]),
    ("CREATE FOREIGN TABLE s.f (a int) SERVER x", [("CREATED", "FOREIGN_TABLE", "s.f")]),
    ("CREATE MATERIALIZED VIEW m AS SELECT 1", [("CREATED", "MATERIALIZED_VIEW", "public.m")]),
    ("CREATE INDEX i ON s.t (a)", [("CREATED", "INDEX", "s.i")]),
    ("CREATE SCHEMA AUTHORIZATION etl", [("CREATED", "SCHEMA", "etl")]),
    ("ALTER TABLE x RENAME TO y", [("ALTERED", "TABLE", "public.x")]),
    ("COMMENT ON DOMAIN s.d IS 'x'", [("ALTERED", "DOMAIN", "s.d")]),
    ('DROP TABLE a.b, "C"', [("DROPPED", "TABLE", "a.b"), ("DROPPED", "TABLE", 'public."C"')]),
    ("DROP TYPE t.x; DROP SCHEMA s", [("DROPPED", "TYPE", "t.x"), ("DROPPED", "SCHEMA", "s")]),
    ("DROP FUNCTION f(int)", []),  # left to the snapshot comparison
    ("SELECT 1", []),
    ("CREATE TABLE (", []),  # not parsed: not an event
])
def test_what_each_logged_ddl_statement_becomes(statement, events):
    found = [(event, kind, object_id.removeprefix("h.db.")) for event, kind, object_id, *_ in
             ddl_events(statement, "db", "u", "h")]
    assert found == events
