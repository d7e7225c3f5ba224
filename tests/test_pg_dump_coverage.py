"""benchmarks/pg_dump_coverage.py: every kind in pg_dump's table of contents of the every_kind_*.sql
database is in the metadata extract with the same count, or documented as carried elsewhere."""

import json
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import make_conninfo

from conftest import SHOP
from kada_collectors.extractors.postgres.pg_dump_kinds import (ELSEWHERE, MATCHED, compare, extract_counts, toc_counts,
                                                            toc_entry)

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "pg_dump_coverage.py"


def test_every_toc_kind_is_in_the_extract_or_documented_elsewhere(pg_server, tmp_path):
    # As after an earlier run: the script gives its existing role a fresh password.
    pg_server.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kada_coverage_ro') THEN "
                      "CREATE ROLE kada_coverage_ro NOLOGIN; END IF; END $$")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--dsn", make_conninfo(host=pg_server.host, port=pg_server.port, user=pg_server.superuser),
         "--pg-bin", str(pg_server.client("pg_dump").parent), "--results-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=pg_server.client_env())  # the password in PGPASSWORD
    assert result.returncode == 0, result.stdout + result.stderr
    assert pg_server.password not in result.stdout + result.stderr
    (path,) = tmp_path.glob("*-pg_dump_coverage.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["server"].startswith(str(pg_server.version))
    for kind in report["kinds"]:
        if kind["status"] == "elsewhere":
            assert kind["kind"] in ELSEWHERE and kind["extract"] is None
        else:
            assert kind["kind"] in MATCHED and kind["status"] == "equal", kind
            assert kind["pg_dump"] == kind["extract"] > 0
    present = {k["kind"] for k in report["kinds"]}
    assert {"COLLATION", "OPERATOR CLASS", "TEXT SEARCH PARSER", "PROCEDURAL LANGUAGE", "TRANSFORM", "COMMENT"} <= present
    assert report["summary"]["differ"] == report["summary"]["unknown"] == []
    assert "COMMENT" in result.stdout and "TOC kinds accounted for" in result.stdout


def test_toc_lines_and_metadata_rows_are_counted_per_kind():
    listing = """;
; Archive created at 2026-12-03 12:00:00 UTC
12; 2615 2200 SCHEMA - public pg_database_owner
13; 2615 16385 SCHEMA - sales owner
300; 0 0 COMMENT - EXTENSION isn
236; 0 0 TABLE ATTACH sales orders_2026 owner
237; 1259 16390 TABLE sales orders owner
240; 1259 16400 TABLE DATA sales orders owner
241; 2606 16401 CONSTRAINT sales orders orders_pkey owner
242; 2606 16402 FK CONSTRAINT sales lines lines_order_fkey owner
243; 1259 16403 INDEX sales orders_day owner
250; 3602 16410 TEXT SEARCH CONFIGURATION sales docs owner
251; 1255 16411 NEW KIND sales thing owner
"""
    assert toc_entry("250; 3602 16410 TEXT SEARCH CONFIGURATION sales docs owner") == ("TEXT SEARCH CONFIGURATION", "docs")
    assert toc_counts(listing) == {"SCHEMA": 1, "COMMENT": 1, "TABLE ATTACH": 1, "TABLE": 1, "TABLE DATA": 1, "CONSTRAINT": 1,
                                   "FK CONSTRAINT": 1, "INDEX": 1, "TEXT SEARCH CONFIGURATION": 1, "NEW": 1}

    def row(kind, name, **properties):
        return {"OBJECT_TYPE": kind, "OBJECT_NAME": name, "PROPERTIES": json.dumps(properties) if properties else ""}

    rows = [row("SCHEMA", "public"), row("SCHEMA", "sales"), row("EXTENSION", "plpgsql"), row("PARTITIONED_TABLE", "orders"),
            row("TABLE", "orders_2026", partition_of="x"), row("CONSTRAINT", "orders_pkey", constraint_type="PRIMARY KEY"),
            row("CONSTRAINT", "ck", constraint_type="CHECK"), row("INDEX", "orders_pkey", constraint="orders_pkey"),
            row("INDEX", "orders_day", method="btree"), row("COLUMN", "orders"), row("LANGUAGE", "plkinds")]
    assert extract_counts(rows) == {"SCHEMA": 1, "TABLE": 2, "CONSTRAINT": 1, "INDEX": 1, "PROCEDURAL LANGUAGE": 1}


def test_the_sample_database_has_every_toc_kind_of_its_dump_in_the_extract(shop, shop_extract, tmp_path):
    """The demo's database (tables, partitions, views, materialized views, sequences, indexes, foreign
    keys, triggers, domains, aggregates, procedures, a foreign table...): its dump's kinds, counted."""
    dump = tmp_path / "shop.dump"
    subprocess.run([str(shop.client("pg_dump")), "--schema-only", "--format", "custom", "--file", str(dump),
                    "--dbname", shop.dsn(SHOP)], check=True, capture_output=True, env=shop.client_env())
    listing = subprocess.run([str(shop.client("pg_restore")), "--list", str(dump)], check=True, capture_output=True,
                             text=True).stdout
    kinds = compare(toc_counts(listing), extract_counts(shop_extract.metadata()))
    assert [k for k in kinds if k["status"] in ("differs", "unknown")] == []
    assert {"TABLE", "VIEW", "MATERIALIZED VIEW", "SEQUENCE", "INDEX", "FK CONSTRAINT", "TRIGGER", "DOMAIN",
            "AGGREGATE", "PROCEDURE", "FOREIGN TABLE"} <= {k["kind"] for k in kinds if k["status"] == "equal"}
