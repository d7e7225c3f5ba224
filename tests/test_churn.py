"""Catalog changes while the collector reads: an object dropped meanwhile is left out (or kept as the
snapshot had it), and the run succeeds without reading the database again."""

from __future__ import annotations

import logging
import threading
import time

import psycopg
import pytest

from collect import run_extract
from conftest import LOW_PRIVILEGE_USER, create_low_privilege_role
from kada_collectors.lib.validate import validate_folder
from watch import Alongside

CHURN = "churn"
RUNS = 50
# Object sets alive at once in the churn session: each loop creates one and drops the oldest.
ALIVE = 3
RETRIED_DATABASE = "retrying with a fresh snapshot"


def _create(i: int) -> list[str]:
    """One set of objects that use each other: the deparse functions of every batched statement
    meet them (a domain's check, a default calling a function, an expression index, a partition
    key and bound, a trigger, a view)."""
    s = f"churn_{i}"
    return [
        f"CREATE SCHEMA {s}",
        f"CREATE TYPE {s}.mood AS ENUM ('low', 'high')",
        f"CREATE DOMAIN {s}.positive AS int CHECK (VALUE > 0)",
        f"CREATE FUNCTION {s}.one(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x + 1'",
        f"CREATE FUNCTION {s}.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
        f"CREATE SEQUENCE {s}.ids",
        f"CREATE TABLE {s}.t (id bigint PRIMARY KEY DEFAULT nextval('{s}.ids'), mood {s}.mood, "
        f"amount {s}.positive, n int DEFAULT {s}.one(1) CHECK (n > 0), UNIQUE (n) INCLUDE (amount))",
        f"CREATE INDEX t_expr ON {s}.t ({s}.one(n)) WHERE n > 1",
        f"CREATE TRIGGER t_touch BEFORE INSERT ON {s}.t FOR EACH ROW EXECUTE FUNCTION {s}.touch()",
        f"CREATE TABLE {s}.p (k int, mood {s}.mood) PARTITION BY LIST (k)",
        f"CREATE TABLE {s}.p1 PARTITION OF {s}.p FOR VALUES IN (1)",
        f"CREATE VIEW {s}.v AS SELECT id, mood, {s}.one(n) AS m FROM {s}.t",
        f"CREATE VIEW {s}.vv AS SELECT id, m FROM {s}.v WHERE m > 1",
    ]


def _drop(i: int) -> list[str]:
    """Drop a set piece by piece, starting at a piece that changes with ``i``, then the rest at once."""
    s = f"churn_{i}"
    pieces = [f"DROP VIEW IF EXISTS {s}.vv", f"DROP INDEX IF EXISTS {s}.t_expr", f"DROP TRIGGER IF EXISTS t_touch ON {s}.t",
              f"DROP FUNCTION IF EXISTS {s}.one(int) CASCADE", f"DROP TABLE IF EXISTS {s}.p",
              f"DROP TABLE IF EXISTS {s}.t CASCADE", f"DROP TYPE IF EXISTS {s}.mood CASCADE",
              f"DROP DOMAIN IF EXISTS {s}.positive CASCADE"]
    shift = i % len(pieces)
    return pieces[shift:] + pieces[:shift] + [f"DROP SCHEMA {s} CASCADE"]


class Churn(Alongside):
    """A session of its own running DDL in a tight loop while the ``with`` block runs."""

    def __init__(self, server, dbname):
        super().__init__()
        self.server, self.dbname = server, dbname
        self.loops, self.errors = 0, []

    def run(self):
        try:
            with psycopg.connect(self.server.dsn(self.dbname), autocommit=True) as conn:
                conn.execute("SET client_min_messages = warning")  # no notice per skipped IF EXISTS
                while not self._done.is_set():
                    i = self.loops
                    for statement in _create(i) + (_drop(i - ALIVE) if i >= ALIVE else []):
                        conn.execute(statement)
                    self.loops += 1
        except Exception as e:  # reported by the test
            self.errors.append(e)


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
    with Churn(churn_db, CHURN) as churn:
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
    print(f"{RUNS} runs in {time.monotonic() - started:.1f}s, {churn.loops} DDL loops, "
          f"{len(left_out)} statements left objects out, {len(retried)} databases read again")
    assert retried == [], retried


# -- an object dropped at an exact moment: after the collector's snapshot, before its deparse ------

# LOCK TABLE on a view locks the relations it reads too: the collector may wait for either.
WAITING_FOR_LOCK = """
SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE a.application_name LIKE 'kada-collector/%' AND NOT l.granted
"""


def _run_while_locked(server, relation, drop, tmp_path, prepare=None):
    """Run the collector while another session holds ``relation`` in ACCESS EXCLUSIVE mode; once the
    collector waits for it (its snapshot is taken, a deparse function asks for the lock), that
    session runs ``drop`` and commits. Returns the run's Extract."""
    outcome = {}

    def collect():
        try:
            outcome["extract"] = run_extract(server, [CHURN], tmp_path, user=LOW_PRIVILEGE_USER,
                                             password=server.password, lock_timeout_seconds=60, prepare=prepare)
        except Exception as e:  # re-raised below
            outcome["error"] = e

    with psycopg.connect(server.dsn(CHURN)) as blocker, psycopg.connect(server.dsn(CHURN), autocommit=True) as watch:
        blocker.execute(f"LOCK TABLE {relation} IN ACCESS EXCLUSIVE MODE")
        collector = threading.Thread(target=collect)
        collector.start()
        deadline = time.monotonic() + 60
        while not watch.execute(WAITING_FOR_LOCK).fetchone()[0]:
            assert collector.is_alive() and time.monotonic() < deadline, outcome
            time.sleep(0.01)
        blocker.execute(drop)
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
        extract = _run_while_locked(churn_db, "exact.gone", "DROP VIEW exact.gone", tmp_path)
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
        extract = _run_while_locked(churn_db, "exact.t", "DROP FUNCTION exact.one() CASCADE", tmp_path)
    finally:
        churn_db.execute("DROP SCHEMA exact CASCADE", CHURN)
    columns = {(r["SCHEMA_NAME"], r["OBJECT_NAME"]) for r in extract.metadata("COLUMN")}
    assert ("exact", "other") in columns and ("exact", "third") in columns and ("exact", "t") not in columns
    assert ("steady", "id") not in columns and ("public", "steady") in columns
    assert "t" in {r["OBJECT_NAME"] for r in extract.metadata("TABLE") if r["SCHEMA_NAME"] == "exact"}
    assert any("1 object(s) read by COLUMNS_SQL" in w for w in extract.manifest["warnings"]), extract.manifest["warnings"]
    assert not any(RETRIED_DATABASE in r.getMessage() for r in caplog.records)
