#!/usr/bin/env python
"""Many small databases on one server: the collector's wall time by max_connections.

    python benchmarks/many_databases.py [--databases 100] [--connections 1 2 4] [--dsn "..."]

Builds (or reuses) N small databases, kada_many_000 ... (each 20 tables of 10 columns, 4 views),
cloned from one template, then runs one full extraction per max_connections value, in this
process, while a watcher counts the collector's sessions on the server (pg_stat_activity, every
5 ms). Prints the wall times as ratios to the sequential run and the most sessions seen, and
writes them to benchmarks/results/<date>-many<N>.json.
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
    parser.add_argument("--dsn", help="an existing server (a role with CREATEDB) instead of the embedded one")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="the embedded server's data folder")
    args = parser.parse_args(argv)
    if args.dsn and not conninfo_to_dict(args.dsn).get("dbname"):
        parser.error("--dsn needs a dbname (a maintenance database such as postgres)")
    return args


if __name__ == "__main__":
    main()
