"""Lineage parsed from definitions, against hand-written truth (lineage/truth.json), on every
PostgreSQL version of the harness."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import psycopg
import pytest

from collect import HOST, read_extract, run_extract
from kada_collectors.extractors.postgres.lineage.names import RelationCatalog
from kada_collectors.extractors.postgres.lineage.views import AmbiguousJoinColumn, view_column_lineage
from kada_collectors.lib.validate import validate_folder
from system_views import parse_system_views

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


def applies(case, server):
    """Whether a truth case exists on ``server`` (postgres_fdw, the major it needs)."""
    return (has_fdw(server) or not case.get("fdw")) and server.version >= case.get("min_version", 0)


def parsed(extract):
    return [r for r in extract.rows("linkages") if r["EVIDENCE"] == "PARSED_DEFINITION"]


def test_view_columns_match_the_truth(lineage_extract, pg_server):
    ids = Ids(pg_server)
    expected = {(ids(*source), ids(*case["target"]))
                for case in TRUTH["view_columns"] if applies(case, pg_server)
                for source in case["sources"]}
    found = {(r["SOURCE_ID"], r["TARGET_ID"]) for r in parsed(lineage_extract) if r["TARGET_TYPE"] == "COLUMN"}
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
    assert (f"function {ids.routine('lin', 'broken', '')}: definition not parsed (PostgreSQL's grammar rejects "
            'it: syntax error at or near "SELEC"') in warnings
    assert lineage_extract.manifest["status"] == "succeeded"


def test_a_routine_naming_only_missing_relations_says_so(lineage_extract, pg_server):
    routine = Ids(pg_server).routine("lin", "scratch_total", "")
    assert (f"function {routine}: no reads or writes known, as every relation it names is missing (relation "
            "scratch not found (temporary, or created at run time?))") in lineage_extract.manifest["warnings"]


def test_every_definition_but_the_broken_one_is_parsed(lineage_extract, pg_server):
    """Recursive CTEs, XMLTABLE, JSON_TABLE, FULL JOIN ... USING, OUT parameters and refcursors
    included: the one body the grammar rejects is the only one left."""
    not_parsed = [w for w in lineage_extract.manifest["warnings"] if "definition not parsed" in w]
    assert [w.split(":")[0] for w in not_parsed] == [f"function {Ids(pg_server).routine('lin', 'broken', '')}"]


def test_whole_row_reference_is_an_edge_from_the_relation(lineage_extract, pg_server):
    ids = Ids(pg_server)
    (edge,) = [r for r in parsed(lineage_extract) if r["TARGET_ID"] == ids("lin", "v_whole_row", "doc")]
    assert (edge["SOURCE_TYPE"], edge["SOURCE_ID"]) == ("TABLE", ids("lin", "customers"))
    assert json.loads(edge["DETAIL"]) == {"transform": "expression"}


def test_every_extract_is_a_set(lineage_extract, pg_server):
    """A view with DO INSTEAD rules (lin.v_ruled) has each edge once, and no file repeats a row;
    the validator agrees."""
    for entry in lineage_extract.manifest["files"]:
        rows = collections.Counter(tuple(r.values()) for r in read_extract(lineage_extract.output / entry["name"]))
        assert [row for row, n in rows.items() if n > 1] == [], entry["extract"]
    ids = Ids(pg_server)
    reads = [r for r in lineage_extract.rows("linkages")
             if r["TARGET_ID"] == ids("lin", "v_ruled") and r["LINK_TYPE"] == "LINEAGE"]  # not its rules' edges
    assert sorted(r["SOURCE_ID"] for r in reads) == sorted([ids("lin", "orders"), ids("lin", "orders", "id"),
                                                             ids("lin", "orders", "amount")])
    assert validate_folder(lineage_extract.output).problems == []


def test_a_join_alias_is_resolved_with_the_columns_of_what_it_joins(lineage_extract, pg_server):
    """The relation catalog keeps no columns: a join's alias naming a column of one of two tables
    is ambiguous until their columns are looked up (after the views have streamed by), and the
    lookup is of those tables alone. The extract's edges for it are in the truth."""
    with psycopg.connect(pg_server.dsn(DATABASE), autocommit=True) as conn:
        conn.execute("SET search_path = ''")  # as the collector reads definitions
        (definition,) = conn.execute("SELECT pg_get_viewdef('lin.v_join_alias'::regclass)").fetchone()
        catalog = RelationCatalog.load(conn, HOST)
        with pytest.raises(AmbiguousJoinColumn, match="column email of a join: more than one of its relations could "
                                                     r"hold it \(their columns were not looked up\)") as raised:
            view_column_lineage(definition, catalog)
        known = RelationCatalog.columns(conn, raised.value.relations)
    assert set(known) == {("lin", "customers"), ("lin", "orders")}
    assert known["lin", "customers"] == {"id", "first_name", "last_name", "email", "country", "created_at"}
    with pytest.raises(AmbiguousJoinColumn, match="column name of a join") as raised:  # k, the next alias
        view_column_lineage(definition, catalog, known)
    assert {(r.schema, r.name) for r in raised.value.relations} == {("lin", "employees"), ("lin", "order_archive")}
    assert not [w for w in lineage_extract.manifest["warnings"] if "v_join_alias" in w]


def test_postgresql_own_views_are_all_parsed(pg_server):
    """A real schema no one here wrote: every view of information_schema and pg_catalog. Most read
    one system relation with columns left unqualified by the deparse."""
    count, failures = parse_system_views(pg_server.dsn("postgres"))
    assert count > 100
    assert failures == []


def test_catalog_edges_stay_beside_parsed_ones(lineage_extract, pg_server):
    ids = Ids(pg_server)
    catalog = {(r["LINK_TYPE"], r["SOURCE_ID"], r["TARGET_ID"]) for r in lineage_extract.rows("linkages")
               if r["EVIDENCE"] == "CATALOG"}
    view = ids("lin", "v_overloads")
    assert ("CALLS", view, ids.routine("lin", "fmt", "integer")) in catalog
    assert ("CALLS", view, ids.routine("lin", "fmt", "text")) in catalog
    assert ("LINEAGE", ids("lin", "orders", "status"), ids("lin", "v_totals")) in catalog, "a WHERE column is a read"
