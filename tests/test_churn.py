"""Catalog changes while the collector reads: an object dropped meanwhile is left out (or kept as the
snapshot had it), and the run succeeds without reading the database again."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from collect import run_extract
from conftest import LOW_PRIVILEGE_USER, create_low_privilege_role
from kada_collectors.lib.validate import validate_folder

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


@pytest.mark.slow  # about 30 s: 50 runs of the collector
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
    assert retried == [], retried


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


def test_a_table_whose_default_lost_its_function_is_left_out_alone(churn_db, tmp_path, caplog):
    """The table still exists, but its default (as the snapshot has it) calls a function dropped
    meanwhile: the batch is halved until that table is alone; the other tables keep their columns."""
    churn_db.execute("CREATE SCHEMA exact; CREATE FUNCTION exact.one() RETURNS int LANGUAGE sql AS 'SELECT 1'; "
                     "CREATE TABLE exact.other (a int DEFAULT 2); CREATE TABLE exact.t (a int DEFAULT exact.one()); "
                     "CREATE TABLE exact.third (c text)", CHURN)
    try:
        extract = _run_while_locked(churn_db, "exact.t", ["DROP FUNCTION exact.one() CASCADE"], tmp_path)
    finally:
        churn_db.execute("DROP SCHEMA exact CASCADE", CHURN)
    columns = {(r["SCHEMA_NAME"], r["OBJECT_NAME"]) for r in extract.metadata("COLUMN")}
    assert ("exact", "other") in columns and ("exact", "third") in columns and ("exact", "t") not in columns
    assert ("steady", "id") not in columns and ("public", "steady") in columns
    assert "t" in {r["OBJECT_NAME"] for r in extract.metadata("TABLE") if r["SCHEMA_NAME"] == "exact"}
    assert any("1 object(s) read by COLUMNS_SQL" in w for w in extract.manifest["warnings"]), extract.manifest["warnings"]
    assert not any(RETRIED_DATABASE in r.getMessage() for r in caplog.records)


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
