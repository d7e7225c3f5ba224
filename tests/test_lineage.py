"""Lineage parsed from definitions, against hand-written truth (lineage/truth.json), on every
PostgreSQL version of the harness."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from collect import HOST, run_extract

CASES = Path(__file__).parent / "lineage" / "cases.sql"
TRUTH = json.loads((Path(__file__).parent / "lineage" / "truth.json").read_text(encoding="utf-8"))
DATABASE = "lineage"


@pytest.fixture(scope="session")
def lineage_extract(pg_server, tmp_path_factory):
    cached = getattr(pg_server, "_lineage_extract", None)
    if cached is None:
        pg_server.create_database(DATABASE)
        pg_server.run_sample_file(CASES, DATABASE)
        cached = run_extract(pg_server, [DATABASE], tmp_path_factory.mktemp(f"lineage-{pg_server.name}"))
        pg_server._lineage_extract = cached
    return cached


class Ids:
    """Object ids of truth names, quoted by the server's own quote_ident."""

    def __init__(self, server):
        names = {n for case in TRUTH["view_columns"] for n in [*case["target"], *(p for s in case["sources"] for p in s)]}
        names |= {n for case in TRUTH["routines"] for n in case["routine"][:2]}
        names |= {p for case in TRUTH["routines"] for rel in case["reads"] + case["writes"] for p in rel}
        with psycopg.connect(server.dsn(DATABASE)) as conn:
            self.quoted = dict(conn.execute("SELECT n, quote_ident(n) FROM unnest(%s::text[]) n", [sorted(names)]).fetchall())
        self.prefix = f'"{HOST}".{DATABASE}'

    def __call__(self, *parts):
        return ".".join([self.prefix, *(self.quoted[p] for p in parts)])

    def routine(self, schema, name, arguments):
        return f"{self(schema, name)}({arguments})"


def has_fdw(server):
    return bool(server.execute("SELECT FROM pg_available_extensions WHERE name = 'postgres_fdw'"))


def parsed(extract):
    return [r for r in extract.rows("linkages") if r["EVIDENCE"] == "PARSED_DEFINITION"]


def test_view_columns_match_the_truth(lineage_extract, pg_server):
    ids = Ids(pg_server)
    expected = {(ids(*source), ids(*case["target"]))
                for case in TRUTH["view_columns"] if has_fdw(pg_server) or not case.get("fdw")
                for source in case["sources"]}
    found = {(r["SOURCE_ID"], r["TARGET_ID"]) for r in parsed(lineage_extract)
             if r["SOURCE_TYPE"] == r["TARGET_TYPE"] == "COLUMN"}
    assert found - expected == set(), "edges the truth does not have (precision)"
    assert expected - found == set(), "edges of the truth not found (recall)"


def test_renames_are_direct_and_computations_are_expressions(lineage_extract, pg_server):
    ids = Ids(pg_server)
    transform = {(r["SOURCE_ID"], r["TARGET_ID"]): json.loads(r["DETAIL"])["transform"]
                 for r in parsed(lineage_extract) if r["TARGET_TYPE"] == "COLUMN"}
    assert transform[(ids("lin", "customers", "email"), ids("lin", "v_rename", "contact"))] == "direct"
    assert transform[(ids("lin", "customers", "first_name"), ids("lin", "v_computed", "full_name"))] == "expression"


def test_routines_reads_writes_and_flows_match_the_truth(lineage_extract, pg_server):
    ids = Ids(pg_server)
    edges = parsed(lineage_extract)
    for case in TRUTH["routines"]:
        routine = ids.routine(*case["routine"])
        reads = {r["SOURCE_ID"] for r in edges if r["TARGET_ID"] == routine}
        writes = {r["TARGET_ID"] for r in edges if r["SOURCE_ID"] == routine}
        flows = {(r["SOURCE_ID"], r["TARGET_ID"]) for r in edges if json.loads(r["DETAIL"]).get("via") == routine}
        assert reads == {ids(*rel) for rel in case["reads"]}, routine
        assert writes == {ids(*rel) for rel in case["writes"]}, routine
        assert flows == {(ids(*a), ids(*b)) for a, b in case["flows"]}, routine


def test_dynamic_sql_and_unparsable_bodies_are_reported(lineage_extract, pg_server):
    ids = Ids(pg_server)
    warnings = "\n".join(lineage_extract.manifest["warnings"])
    assert "1 function(s) run dynamic SQL (EXECUTE)" in warnings
    assert f"function {ids.routine('lin', 'broken', '')}: definition not parsed" in warnings
    assert lineage_extract.manifest["status"] == "succeeded"


def test_catalog_edges_stay_beside_parsed_ones(lineage_extract, pg_server):
    ids = Ids(pg_server)
    catalog = {(r["LINK_TYPE"], r["SOURCE_ID"], r["TARGET_ID"]) for r in lineage_extract.rows("linkages")
               if r["EVIDENCE"] == "CATALOG"}
    view = ids("lin", "v_overloads")
    assert ("CALLS", view, ids.routine("lin", "fmt", "integer")) in catalog
    assert ("CALLS", view, ids.routine("lin", "fmt", "text")) in catalog
    assert ("LINEAGE", ids("lin", "orders", "status"), ids("lin", "v_totals")) in catalog, "a WHERE column is a read"
