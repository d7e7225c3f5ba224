#!/usr/bin/env python
"""The collector while the catalog changes under it: runs that fail, and what they leave out.

    python benchmarks/safety_churn.py [--dsn "host=... user=postgres dbname=postgres"] [--runs 50]

Creates a database (kada_churn) and a login role that owns nothing (kada_churn_reader, with a
random password it never prints), starts a session running DDL in a loop (catalog_churn.py:
schemas, types, domains, functions, sequences, tables, partitions, indexes, triggers and views
created and dropped), and runs the collector that many times as that role, one window after
the other. Prints, as JSON: the runs that failed, the databases read again with a fresh
snapshot (the collector's last resort), the runs that left objects out and how many, the
outputs the validator refused, the DDL loops done meanwhile and the time per run. Without
--dsn it starts the benchmark's own PostgreSQL 18 (local_server.py). Drops both at the end.
"""

from __future__ import annotations

import logging
import re
import secrets
import statistics
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).parent))
from catalog_churn import ALIVE, CatalogChurn  # noqa: E402
from kada_collectors.extractors.postgres import Extractor  # noqa: E402
from kada_collectors.lib.errors import ExtractError  # noqa: E402
from kada_collectors.lib.validate import validate_folder  # noqa: E402
from local_server import extractor_connection  # noqa: E402
from safety import part_main  # noqa: E402

DATABASE, READER = "kada_churn", "kada_churn_reader"
RUNS = 50
LEFT_OUT = re.compile(r"(\d+) object\(s\) read by \w+ were dropped")
RETRIED = "retrying with a fresh snapshot"


def measure(admin_dsn: str, workdir: Path, runs: int = RUNS) -> dict:
    """``runs`` extractions as a low-privilege role while another session runs DDL in a loop."""
    password = secrets.token_urlsafe(24)
    _setup(admin_dsn, password)
    messages = _Messages()
    logging.getLogger("kada_collectors").addHandler(messages)
    try:
        config = _config(admin_dsn, password, Path(workdir))
        with CatalogChurn(make_conninfo(admin_dsn, dbname=DATABASE)) as churn:
            while churn.loops <= ALIVE and not churn.errors:
                time.sleep(0.01)
            failed, invalid, seconds, left_out_runs, window_start = 0, 0, [], 0, None
            loops_before, started_all = churn.loops, time.monotonic()
            for run in range(runs):
                output = Path(workdir) / f"run{run:03d}"
                started, before = time.monotonic(), len(messages.left_out)
                try:
                    manifest = Extractor(**{**config, "output_path": str(output)}).run(start_hwm=window_start)
                    window_start = manifest["window"]["end_hwm"]
                except ExtractError:
                    failed += 1
                seconds.append(time.monotonic() - started)
                invalid += not validate_folder(output).ok
                left_out_runs += len(messages.left_out) > before
            loops_per_second = (churn.loops - loops_before) / (time.monotonic() - started_all)
    finally:
        logging.getLogger("kada_collectors").removeHandler(messages)
        _teardown(admin_dsn)
    if churn.errors:
        raise RuntimeError(f"the DDL session failed: {churn.errors[0]}")
    return {"churn_runs": runs, "churn_failed_runs": failed, "churn_invalid_outputs": invalid,
            "churn_databases_read_again": messages.retried, "churn_runs_leaving_objects_out": left_out_runs,
            "churn_objects_left_out": sum(messages.left_out), "churn_ddl_loops": churn.loops,
            "churn_ddl_loops_per_second": round(loops_per_second, 1), "churn_ddl_deadlock_victims": churn.deadlocks,
            "churn_seconds_per_run_median": round(statistics.median(seconds), 3),
            "churn_seconds_per_run_max": round(max(seconds), 3)}


class _Messages(logging.Handler):
    """Counts the collector's warnings: objects left out, databases read again."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.left_out, self.retried = [], 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        match = LEFT_OUT.search(message)
        if match:
            self.left_out.append(int(match.group(1)))
        self.retried += RETRIED in message


def _config(admin_dsn: str, password: str, workdir: Path) -> dict:
    connection, _ = extractor_connection(admin_dsn)
    return {**connection, "username": READER, "password": password, "host": "churn.postgres.localhost",
            "databases": [DATABASE], "output_path": str(workdir), "snapshot_path": str(workdir / "snapshots.sqlite"),
            "meta_only": True}


def _setup(admin_dsn: str, password: str) -> None:
    _teardown(admin_dsn)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(READER), sql.Literal(password)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    with psycopg.connect(make_conninfo(admin_dsn, dbname=DATABASE), autocommit=True) as conn:
        conn.execute("CREATE TABLE steady (id int PRIMARY KEY, name text); "
                     "CREATE VIEW steady_names AS SELECT name FROM steady")


def _teardown(admin_dsn: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(READER)))


def main(argv=None) -> None:
    part_main(measure, __doc__.split("\n\n")[0], argv, runs=RUNS)


if __name__ == "__main__":
    main()
