#!/usr/bin/env python
"""Many small databases on one server: the collector's wall time by max_connections.

    python benchmarks/many_databases.py [--databases 100] [--connections 1 2 4] [--dsn "..."]
    python benchmarks/many_databases.py --journal-rounds 3   # the snapshot store's log against a rollback journal

Builds (or reuses) N small databases, kada_many_000 ... (each 20 tables of 10 columns, 4 views),
cloned from one template, then runs one full extraction per max_connections value, in this
process, while a watcher counts the collector's sessions on the server (pg_stat_activity, every
5 ms). Prints the wall times as ratios to the sequential run and the most sessions seen, and
writes them to benchmarks/results/<date>-many<N>.json.

With --journal-rounds N it measures instead one-session runs alternating, N times, the snapshot
store as shipped (a write-ahead log synced at its checkpoint) and the same store switched back to
SQLite's rollback journal synced at every commit, and prints both series.
"""

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

sys.path.insert(0, str(Path(__file__).parent))
from kada_collectors.extractors.postgres import Extractor  # noqa: E402
from kada_collectors.lib import snapshots  # noqa: E402
from local_server import DEFAULT_DATA_DIR, LocalServer, extractor_connection  # noqa: E402
from measurements import ServerWatch  # noqa: E402

TEMPLATE = "kada_many_template"
RESULTS_DIR = Path(__file__).parent / "results"


def main(argv=None):
    args = _parse_args(argv)
    server = None if args.dsn else LocalServer(args.data_dir)
    admin_dsn = args.dsn or server.admin_dsn
    try:
        names = ensure_databases(admin_dsn, args.databases)
        if args.journal_rounds:
            compare_journals(admin_dsn, names, args.journal_rounds)
            return
        runs = {}
        for connections in args.connections:
            runs[connections] = measure(admin_dsn, names, connections)
            print(f"max_connections={connections}: {runs[connections]['seconds']:.2f}s, "
                  f"most sessions seen {runs[connections]['most_sessions']}", flush=True)
    finally:
        if server:
            server.stop()
    baseline = runs[min(runs)]["seconds"]
    result = {"date": datetime.date.today().isoformat(), "databases": len(names),
              "runs": {str(k): {**v, "over_sequential": round(v["seconds"] / baseline, 3)} for k, v in runs.items()}}
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{result['date']}-many{len(names)}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    for connections, run in result["runs"].items():
        print(f"  {connections} connection(s): {run['over_sequential']:.2f}x the sequential time, "
              f"at most {run['most_sessions']} session(s)")
    print(f"results written to {path}")


def ensure_databases(admin_dsn, count):
    names = [f"kada_many_{i:03d}" for i in range(count)]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'kada\\_many\\_%'")}
        if TEMPLATE not in existing:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
            with psycopg.connect(make_conninfo(admin_dsn, dbname=TEMPLATE), autocommit=True) as template:
                template.execute("DO $$ BEGIN FOR i IN 1..20 LOOP EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, "
                                 "a text, b int, c numeric, d date, e jsonb, f text, g int, h bool, k text)', i); END LOOP; "
                                 "FOR i IN 1..4 LOOP EXECUTE format('CREATE VIEW v%s AS SELECT id, a FROM t%s', i, i); "
                                 "END LOOP; END $$")
        for name in names:
            if name not in existing:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                             sql.Identifier(TEMPLATE)))
    return names


def compare_journals(admin_dsn, names, rounds):
    """One-session runs, alternating the store as shipped and with a rollback journal."""
    shipped = snapshots.SnapshotStore.__init__

    def rollback_journal(store, path):
        shipped(store, path)
        for pragma in ("journal_mode = DELETE", "locking_mode = NORMAL", "synchronous = FULL"):
            store._db.execute(f"PRAGMA {pragma}")

    measure(admin_dsn, names, 1)  # the first run after the databases are made is slower: not counted
    seconds = {"write-ahead log": [], "rollback journal": []}
    try:
        for _ in range(rounds):
            for variant, init in (("rollback journal", rollback_journal), ("write-ahead log", shipped)):
                snapshots.SnapshotStore.__init__ = init
                seconds[variant].append(measure(admin_dsn, names, 1)["seconds"])
                print(f"{variant}: {seconds[variant][-1]:.2f}s", flush=True)
    finally:
        snapshots.SnapshotStore.__init__ = shipped
    for variant, values in seconds.items():
        print(f"  {variant}: {', '.join(f'{v:.1f}' for v in sorted(values))} s")


def measure(admin_dsn, names, connections):
    settings, password = extractor_connection(admin_dsn)
    with tempfile.TemporaryDirectory() as output:
        extractor = Extractor(host="many.postgres.localhost", **settings, password=password, databases=names,
                              output_path=output, snapshot_path=f"{output}/.snapshots.sqlite",
                              max_connections=connections)
        # Sessions only: sampling pg_locks as well would slow the runs being timed.
        with ServerWatch(admin_dsn, locks=False) as watcher:
            started = time.perf_counter()
            extractor.run()
            seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "most_sessions": watcher.most_sessions}


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", type=int, default=100)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--journal-rounds", type=int, default=0,
                        help="instead: this many one-session runs of each snapshot journal, alternating")
    parser.add_argument("--dsn", help="an existing server (a role with CREATEDB) instead of the embedded one")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="the embedded server's data folder")
    args = parser.parse_args(argv)
    if args.dsn and not conninfo_to_dict(args.dsn).get("dbname"):
        parser.error("--dsn needs a dbname (a maintenance database such as postgres)")
    return args


if __name__ == "__main__":
    main()
