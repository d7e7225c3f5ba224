"""Catalog changes while the collector reads: an object dropped meanwhile is left out (or kept as the
snapshot had it), or the database is read again in batches that leave it out; the run succeeds."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import IsolationLevel

from collect import HOST, extractor_config, read_extract, run_extract
from conftest import LOW_PRIVILEGE_USER, create_low_privilege_role
from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.postgres.session import connect
from kada_collectors.extractors.postgres.statements import BY_NAME
from kada_collectors.lib.contract import EXTRACT_COLUMNS
from kada_collectors.lib.validate import validate_folder
from kada_collectors.lib.writer import ExtractFile

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from catalog_churn import ALIVE, CatalogChurn  # noqa: E402  (the DDL loop, shared with the figures script)

CHURN = "churn"
RUNS = 50
RETRIED_DATABASE = "retrying with a fresh snapshot"


@pytest.fixture(scope="module")
def churn_db(pg18):
    pg18.create_database(CHURN)
    create_low_privilege_role(pg18)
    pg18.execute("CREATE TABLE steady (id int PRIMARY KEY, name text); "
                 "CREATE VIEW steady_names AS SELECT name FROM steady", CHURN)
    return pg18


@pytest.mark.slow  # about 20 s on 2 cores: 50 runs of the collector
def test_fifty_runs_under_continuous_ddl_all_succeed(churn_db, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="kada_collectors")
    started, windows_end = time.monotonic(), None
    with CatalogChurn(churn_db.dsn(CHURN)) as churn:
        while churn.loops < ALIVE + 1 and not churn.errors:
            time.sleep(0.01)
        for run in range(RUNS):
            output = tmp_path / f"run{run:02d}"
            extract = run_extract(churn_db, [CHURN], output, user=LOW_PRIVILEGE_USER, password=churn_db.password,
                                  snapshot_path=str(tmp_path / "snapshots.sqlite"), window=(windows_end, None))
            windows_end = extract.manifest["window"]["end_hwm"]
            report = validate_folder(output)
            assert report.ok, (run, report.problems)
            assert "steady_names" in {r["OBJECT_NAME"] for r in extract.metadata("VIEW")}
    assert churn.errors == []
    assert churn.loops > RUNS, "the DDL loop barely ran"
    left_out = [r.getMessage() for r in caplog.records if "are left out" in r.getMessage()]
    retried = [r.getMessage() for r in caplog.records if RETRIED_DATABASE in r.getMessage()]
    print(f"{RUNS} runs in {time.monotonic() - started:.1f}s, {churn.loops} DDL loops ({churn.deadlocks} DDL "
          f"statements ended a deadlock), {len(left_out)} statements left objects out, {len(retried)} databases read again")
    # Every run succeeded (run_extract raises otherwise); a database read again was read so because
    # DDL got in the way of a statement in one piece, and the second read went in batches.
    assert all("in batches" in message for message in retried), retried


# -- an object dropped at an exact moment: after the collector's snapshot, before its deparse ------

# LOCK TABLE on a view locks the relations it reads too: the collector may wait for either.
WAITING_FOR_LOCK = """
SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE a.application_name LIKE 'kada-collector/%' AND NOT l.granted
"""


def _run_while_locked(server, relation, then, tmp_path):
    """Run the collector while another session holds ``relation`` in ACCESS EXCLUSIVE mode; once the
    collector waits for it (its snapshot is taken, a deparse function asks for the lock), that
    session runs the statements ``then`` and commits. Returns the run's Extract."""
    outcome = {}

    def collect():
        try:
            outcome["extract"] = run_extract(server, [CHURN], tmp_path, user=LOW_PRIVILEGE_USER,
                                             password=server.password, lock_timeout_seconds=60)
        except Exception as e:  # re-raised below
            outcome["error"] = e

    with psycopg.connect(server.dsn(CHURN)) as blocker, psycopg.connect(server.dsn(CHURN), autocommit=True) as watch:
        # Should the two sessions deadlock, the collector's is the one the server cancels.
        blocker.execute("SET deadlock_timeout = '30s'")
        blocker.execute(f"LOCK TABLE {relation} IN ACCESS EXCLUSIVE MODE")
        collector = threading.Thread(target=collect)
        collector.start()
        deadline = time.monotonic() + 60
        while not watch.execute(WAITING_FOR_LOCK).fetchone()[0]:
            assert collector.is_alive() and time.monotonic() < deadline, outcome
            time.sleep(0.01)
        for statement in then:
            blocker.execute(statement)
        blocker.commit()
        collector.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["extract"]


def test_a_view_dropped_after_the_snapshot_is_left_out(churn_db, tmp_path, caplog):
    churn_db.execute("CREATE SCHEMA exact; CREATE TABLE exact.t (a int); "
                     "CREATE TABLE exact.u (b int); CREATE VIEW exact.kept AS SELECT a FROM exact.t; "
                     "CREATE VIEW exact.gone AS SELECT b FROM exact.u",
                     CHURN)
    try:
        extract = _run_while_locked(churn_db, "exact.gone", ["DROP VIEW exact.gone"], tmp_path)
    finally:
        churn_db.execute("DROP SCHEMA exact CASCADE", CHURN)
    views = {r["OBJECT_NAME"]: r for r in extract.metadata("VIEW")}
    assert "gone" not in views and "FROM exact.t" in views["kept"]["DEFINITION"]
    assert extract.manifest["status"] == "succeeded"
    assert any("1 object(s) read by VIEWS_SQL" in w for w in extract.manifest["warnings"]), extract.manifest["warnings"]
    assert not any(RETRIED_DATABASE in r.getMessage() for r in caplog.records)
    assert validate_folder(tmp_path).ok


FUNCTION_AND_TABLES = ("CREATE SCHEMA exact; CREATE FUNCTION exact.one() RETURNS int LANGUAGE sql AS 'SELECT 1'; "
                       "CREATE TABLE exact.other (a int DEFAULT 2); CREATE TABLE exact.t (a int DEFAULT exact.one()); "
                       "CREATE TABLE exact.third (c text)")


def test_a_statement_in_one_piece_that_fails_is_read_again_in_batches(churn_db, tmp_path, caplog):
    """COLUMNS_SQL runs in one piece; the function t's default calls (as the snapshot has it) is
    dropped before the default is deparsed: the database is read again, with a fresh snapshot
    (t's column as it is now, without its default), in batches."""
    churn_db.execute(FUNCTION_AND_TABLES, CHURN)
    try:
        extract = _run_while_locked(churn_db, "exact.t", ["DROP FUNCTION exact.one() CASCADE"], tmp_path)
    finally:
        churn_db.execute("DROP SCHEMA exact CASCADE", CHURN)
    columns = {(r["SCHEMA_NAME"], r["OBJECT_NAME"]): r for r in extract.metadata("COLUMN")}
    assert columns[("exact", "t")]["DEFAULT_VALUE"] == "" and columns[("exact", "other")]["DEFAULT_VALUE"] == "2"
    retried = [r.getMessage() for r in caplog.records if RETRIED_DATABASE in r.getMessage()]
    assert len(retried) == 1 and "COLUMNS_SQL failed: cache lookup failed for function" in retried[0], retried
    assert "in batches" in retried[0] and extract.manifest["status"] == "succeeded"


def test_in_batches_an_object_that_lost_what_it_uses_is_left_out_alone(churn_db, tmp_path):
    """t still exists, but its default (as the snapshot has it) calls a function dropped after the
    snapshot: no object of the batch is gone, so it is halved until t is alone and left out."""
    churn_db.execute(FUNCTION_AND_TABLES, CHURN)
    extractor = Extractor(**extractor_config(churn_db, [CHURN], tmp_path, user=LOW_PRIVILEGE_USER,
                                             password=churn_db.password))
    part = ExtractFile(str(tmp_path), "postgres", "metadata", "20260101000000", EXTRACT_COLUMNS["metadata"], False).part("t")
    try:
        with connect(extractor._settings, extractor._password, CHURN) as conn:
            conn.autocommit, conn.isolation_level = False, IsolationLevel.REPEATABLE_READ
            conn.execute("SELECT FROM pg_class LIMIT 1")  # the snapshot
            churn_db.execute("DROP FUNCTION exact.one() CASCADE", CHURN)
            warnings = extractor._read(conn, CHURN, BY_NAME["COLUMNS_SQL"], (HOST, "1970-01-01 00:00:00",
                                       "2026-01-01 00:00:00"), part, None, None, short=False, batched=True)
        part.close()
    finally:
        churn_db.execute("DROP SCHEMA exact CASCADE", CHURN)
    tables = {(r["SCHEMA_NAME"], r["OBJECT_NAME"]) for r in read_extract(Path(part.path))}
    assert ("exact", "other") in tables and ("exact", "third") in tables and ("exact", "t") not in tables
    assert ("public", "steady") in tables and part.rows == len(read_extract(Path(part.path)))
    assert len(warnings) == 1 and "1 object(s) read by COLUMNS_SQL" in warnings[0], warnings


def test_a_batch_cancelled_to_end_a_deadlock_with_ddl_is_read_again(churn_db, tmp_path, caplog):
    """The collector holds a lock on what the view a_kept reads and waits for b, which a DDL session
    holds; that session then asks for a: the server cancels the collector's batch, the DDL goes
    through (it drops b_gone), and the batch is read again, without b_gone."""
    churn_db.execute("CREATE SCHEMA exact; CREATE TABLE exact.a (x int); CREATE TABLE exact.b (y int); "
                     "CREATE VIEW exact.a_kept AS SELECT x FROM exact.a; CREATE VIEW exact.b_gone AS SELECT y FROM exact.b",
                     CHURN)
    try:
        extract = _run_while_locked(churn_db, "exact.b", ["LOCK TABLE exact.a IN ACCESS EXCLUSIVE MODE",
                                                          "DROP VIEW exact.b_gone"], tmp_path)
    finally:
        churn_db.execute("DROP SCHEMA exact CASCADE", CHURN)
    views = {r["OBJECT_NAME"] for r in extract.metadata("VIEW") if r["SCHEMA_NAME"] == "exact"}
    assert views == {"a_kept"}
    assert any("1 object(s) read by VIEWS_SQL" in w and "(2 batch(es) run again)" in w
               for w in extract.manifest["warnings"]), extract.manifest["warnings"]
    assert not any(RETRIED_DATABASE in r.getMessage() for r in caplog.records)
