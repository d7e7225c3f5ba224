"""A session that changes a database's catalog in a tight loop, as migrations do, while the collector reads it.

Each loop creates a set of objects that use each other (in a schema of its own: an enum, a
domain with a check, functions, a sequence, a table whose defaults, index and check call them,
a trigger, a partitioned table, views over views), so that every deparse function the collector
calls meets objects dropped under it, then drops the set created ``ALIVE`` loops before, piece
by piece (starting at a piece that changes from loop to loop) and then at once.
"""

from __future__ import annotations

import threading

import psycopg

# Object sets alive at once: each loop creates one and drops the oldest.
ALIVE = 3


def create_set(i: int) -> list[str]:
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


def drop_set(i: int) -> list[str]:
    s = f"churn_{i}"
    pieces = [f"DROP VIEW IF EXISTS {s}.vv", f"DROP INDEX IF EXISTS {s}.t_expr", f"DROP TRIGGER IF EXISTS t_touch ON {s}.t",
              f"DROP FUNCTION IF EXISTS {s}.one(int) CASCADE", f"DROP TABLE IF EXISTS {s}.p",
              f"DROP TABLE IF EXISTS {s}.t CASCADE", f"DROP TYPE IF EXISTS {s}.mood CASCADE",
              f"DROP DOMAIN IF EXISTS {s}.positive CASCADE"]
    shift = i % len(pieces)
    return pieces[shift:] + pieces[:shift] + [f"DROP SCHEMA {s} CASCADE"]


class CatalogChurn(threading.Thread):
    """``with CatalogChurn(dsn) as churn: ...``: the DDL loop runs, in a session of its own (each
    statement committed at once), until the block ends; then ``churn.loops`` and ``churn.errors``."""

    def __init__(self, dsn: str):
        super().__init__(daemon=True)
        self.dsn, self.loops, self.errors, self.deadlocks = dsn, 0, [], 0
        self._done = threading.Event()

    def __enter__(self) -> CatalogChurn:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                conn.execute("SET client_min_messages = warning")  # no notice per IF EXISTS skipped
                while not self._done.is_set():
                    i = self.loops
                    for statement in create_set(i) + (drop_set(i - ALIVE) if i >= ALIVE else []):
                        self._execute(conn, statement)
                    self.loops += 1
        except Exception as e:  # the caller checks churn.errors
            self.errors.append(e)

    def _execute(self, conn: psycopg.Connection, statement: str, attempts: int = 20) -> None:
        """Run ``statement``; again, as a migration tool would, when the server cancelled it to end
        a deadlock with the collector (a DROP ... CASCADE locks views and tables in another order)."""
        for attempt in range(1, attempts + 1):
            try:
                conn.execute(statement)
                return
            except psycopg.errors.DeadlockDetected:
                self.deadlocks += 1
                if attempt == attempts:
                    raise
