"""Collations, casts, operators, operator classes and families, access methods, text search
configurations, dictionaries, parsers and templates, conversions, transforms and languages in the
metadata extract: as many as pg_dump --schema-only lists, read by a role that owns nothing.

The database holds every tests/sql/every_kind_*.sql (benchmarks/pg_dump_coverage.py loads the same).
"""

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from collect import HOST, run_extract
from conftest import LOW_PRIVILEGE_USER, database_once
from kada_collectors.extractors.postgres.pg_dump_kinds import MATCHES, extract_counts, toc_counts
from kada_collectors.extractors.report import build_report, open_run, render_html, summary_lines
from kada_collectors.lib.validate import validate_folder

DB = "every_kind"
FIXTURES = sorted((Path(__file__).parent / "sql").glob("every_kind_*.sql"))
KINDS = ("COLLATION", "CAST", "OPERATOR", "OPERATOR_CLASS", "OPERATOR_FAMILY", "ACCESS_METHOD",
         "TEXT_SEARCH_CONFIGURATION", "TEXT_SEARCH_DICTIONARY", "TEXT_SEARCH_PARSER", "TEXT_SEARCH_TEMPLATE",
         "CONVERSION", "TRANSFORM", "LANGUAGE")
TOC_KIND = {object_type: m.toc for m in MATCHES for object_type in m.object_types if object_type in KINDS}
PREFIX = f'"{HOST}".{DB}.'


@pytest.fixture(scope="session")
def every_kind(pg_server):
    """``pg_server`` with database ``every_kind`` made from every every_kind_*.sql."""
    return database_once(pg_server, DB, *FIXTURES)


@pytest.fixture(scope="session")
def every_kind_extract(every_kind, tmp_path_factory):
    """The collector's run over ``every_kind`` as the low-privilege role (once per server)."""
    cached = getattr(every_kind, "_every_kind_extract", None)
    if cached is None:
        output = tmp_path_factory.mktemp(f"every-kind-{every_kind.name}")
        cached = every_kind._every_kind_extract = run_extract(every_kind, [DB], output / "out", user=LOW_PRIVILEGE_USER)
    return cached


def rows_by_id(extract, kind):
    return {r["OBJECT_ID"].removeprefix(PREFIX): r for r in extract.metadata(kind)}


def properties(row):
    return json.loads(row["PROPERTIES"])


def test_as_many_of_each_kind_as_pg_dump_lists(every_kind, every_kind_extract, tmp_path):
    dump = tmp_path / "schema.dump"
    subprocess.run([str(every_kind.client("pg_dump")), "--schema-only", "--format", "custom", "--file", str(dump), DB],
                   env=every_kind.client_env(), check=True, capture_output=True)
    listing = subprocess.run([str(every_kind.client("pg_restore")), "--list", str(dump)],
                             check=True, capture_output=True, text=True).stdout
    in_dump, in_extract = toc_counts(listing), extract_counts(every_kind_extract.metadata())
    for kind in KINDS:
        toc = TOC_KIND[kind]
        assert in_dump[toc] > 0, f"the fixture holds no {toc}"
        assert in_extract[toc] == in_dump[toc], kind


def test_extension_members_and_built_in_objects_stay_out(every_kind, every_kind_extract):
    members = every_kind.execute(
        "SELECT count(*) FROM pg_depend WHERE deptype = 'e' AND classid = ANY ('{pg_cast, pg_operator, pg_opclass, "
        "pg_opfamily, pg_am, pg_ts_dict, pg_ts_template, pg_language}'::regclass[]::oid[])", DB)[0][0]
    assert members > 20  # isn's casts, operators and classes, bloom's method, unaccent's dictionary, plpgsql
    names = {(r["OBJECT_TYPE"], r["OBJECT_NAME"]) for r in every_kind_extract.metadata()}
    for left_out in [("ACCESS_METHOD", "bloom"), ("ACCESS_METHOD", "btree"), ("LANGUAGE", "plpgsql"),
                     ("LANGUAGE", "sql"), ("TEXT_SEARCH_DICTIONARY", "unaccent"), ("TEXT_SEARCH_TEMPLATE", "unaccent"),
                     ("OPERATOR_CLASS", "isbn_ops"), ("OPERATOR_FAMILY", "isn_ops"), ("TEXT_SEARCH_PARSER", "default"),
                     ("COLLATION", "C"), ("CONVERSION", "utf8_to_iso_8859_1")]:
        assert left_out not in names
    assert not [r for r in every_kind_extract.metadata() if r["OBJECT_TYPE"] in KINDS and r["SCHEMA_NAME"] == "pg_catalog"]
    assert not [r for r in every_kind_extract.metadata("CAST") if "isbn" in r["OBJECT_NAME"]]


def test_owner_comment_and_facts_of_each_kind(every_kind_extract):
    collations = rows_by_id(every_kind_extract, "COLLATION")
    german = collations["kinds_catalog.german"]
    assert (german["OWNER"], german["DESCRIPTION"], german["PARENT_ID"]) == (
        "kinds_owner", "German dictionary order", f"{PREFIX}kinds_catalog")
    facts = properties(german)  # the test servers are built with ICU
    assert facts["provider"] == "icu" and facts["deterministic"] is True
    assert "de-DE" in (facts.get("locale"), facts.get("lc_collate"))  # the locale's column moved in 15 and 17
    assert properties(collations["public.caseless"])["deterministic"] is False
    assert properties(collations["kinds_catalog.bytewise"])["provider"] == "libc"

    cast = rows_by_id(every_kind_extract, "CAST")["(kinds_catalog.mood AS integer)"]
    assert cast["PARENT_ID"] == PREFIX.rstrip(".") and cast["DESCRIPTION"] == "a mood's rank, saddest first"
    assert properties(cast) == {"source": "kinds_catalog.mood", "target": "integer", "context": "ASSIGNMENT",
                                "method": "FUNCTION", "function": "kinds_catalog.mood_rank(kinds_catalog.mood)"}
    methods = {properties(r)["method"] for r in every_kind_extract.metadata("CAST")}
    assert methods == {"FUNCTION", "INOUT", "BINARY"}

    operators = rows_by_id(every_kind_extract, "OPERATOR")
    equal = operators['kinds_catalog."==="(integer, integer)']
    assert equal["OWNER"] == "kinds_owner" and equal["DATA_TYPE"] == "boolean"
    facts = properties(equal)
    assert facts["commutator"] == "kinds_catalog.===(integer,integer)" and facts["negator"] == "kinds_catalog.!==(integer,integer)"
    assert facts["function"] == "int4eq(integer,integer)" and facts["restrict"].startswith("eqsel(")
    assert properties(operators['public."@@@"(NONE, integer)'])["kind"] == "prefix"

    opclass = rows_by_id(every_kind_extract, "OPERATOR_CLASS")["kinds_catalog.int4_reverse_ops USING btree"]
    assert opclass["DESCRIPTION"] == "sorts integers largest first"
    assert properties(opclass) == {"method": "btree", "type": "integer", "default": False,
                                   "family": "kinds_catalog.reverse_ops USING btree"}
    family = rows_by_id(every_kind_extract, "OPERATOR_FAMILY")["kinds_catalog.reverse_ops USING btree"]
    assert [o["operator"] for o in properties(family)["operators"]][0] == ">(integer,integer)"

    methods = rows_by_id(every_kind_extract, "ACCESS_METHOD")
    assert properties(methods["kinds_heap"]) == {"type": "TABLE", "handler": "heap_tableam_handler(internal)"}
    assert methods["kinds_heap"]["DESCRIPTION"] == "the heap, under another name" and methods["kinds_heap"]["OWNER"] == ""

    config = rows_by_id(every_kind_extract, "TEXT_SEARCH_CONFIGURATION")["kinds_catalog.docs"]
    assert properties(config)["mappings"]["asciiword"] == ["kinds_catalog.plain_dict", "public.english_stem"]
    dictionary = rows_by_id(every_kind_extract, "TEXT_SEARCH_DICTIONARY")["kinds_catalog.plain_dict"]
    assert properties(dictionary) == {"template": "kinds_catalog.plain", "options": "stopwords = 'english', accept = 'false'"}
    parser = rows_by_id(every_kind_extract, "TEXT_SEARCH_PARSER")["kinds_catalog.words"]
    assert properties(parser)["get_token"].startswith("prsd_nexttoken(") and parser["DESCRIPTION"]
    template = rows_by_id(every_kind_extract, "TEXT_SEARCH_TEMPLATE")["kinds_catalog.plain"]
    assert properties(template)["lexize"].startswith("dsimple_lexize(")

    conversion = rows_by_id(every_kind_extract, "CONVERSION")["kinds_catalog.latin1_to_utf8"]
    assert conversion["OWNER"] == "kinds_owner"
    assert {k: properties(conversion)[k] for k in ("source_encoding", "target_encoding", "default")} == {
        "source_encoding": "LATIN1", "target_encoding": "UTF8", "default": False}

    transform = rows_by_id(every_kind_extract, "TRANSFORM")["(FOR kinds_catalog.mood LANGUAGE plkinds)"]
    assert properties(transform)["to_sql"] == "kinds_catalog.mood_to_sql(internal)"
    language = rows_by_id(every_kind_extract, "LANGUAGE")["plkinds"]
    assert (language["OWNER"], language["DESCRIPTION"]) == ("kinds_owner", "PL/pgSQL under another name")
    assert properties(language)["handler"] == "plpgsql_call_handler()"


def test_ids_unique_and_the_run_valid(every_kind_extract):
    ids = Counter((r["OBJECT_TYPE"], r["OBJECT_ID"]) for r in every_kind_extract.metadata())
    assert [key for key, n in ids.items() if n > 1] == []
    report = validate_folder(every_kind_extract.output)
    assert report.problems == []


def test_comments_are_redacted(every_kind_extract):
    caseless = rows_by_id(every_kind_extract, "COLLATION")["public.caseless"]
    assert "[REDACTED]" in caseless["DESCRIPTION"] and "hunter2" not in caseless["DESCRIPTION"]


def test_the_report_counts_each_kind(every_kind_extract):
    data = build_report(open_run(every_kind_extract.output))
    per_kind = Counter()
    for _, _, kind, n in data["counts"]:
        per_kind[data["kinds"][kind]] += n
    extracted = Counter(r["OBJECT_TYPE"] for r in every_kind_extract.metadata() if r["OBJECT_TYPE"] in KINDS)
    assert {kind: per_kind[kind] for kind in KINDS} == extracted
    summary = "\n".join(summary_lines(data))
    assert f"  text_search_configuration {extracted['TEXT_SEARCH_CONFIGURATION']:>11,}\n" in summary
    assert '"TEXT_SEARCH_CONFIGURATION"' in render_html(data)


EVENTS_DB = "kinds_events"
WINDOWS = ["1970-01-01 00:00:00", "2026-01-01 00:00:00", "2026-01-02 00:00:00"]


@pytest.fixture
def kinds_events(pg_server):
    pg_server.create_database(EVENTS_DB)
    pg_server.execute("CREATE COLLATION kept FROM \"C\"; CREATE COLLATION doomed FROM \"C\"; "
                      "CREATE TEXT SEARCH DICTIONARY plain (TEMPLATE = simple)", EVENTS_DB)
    yield pg_server
    pg_server.drop_database(EVENTS_DB)


def test_created_altered_dropped_between_runs(kinds_events, tmp_path):
    run_extract(kinds_events, [EVENTS_DB], tmp_path / "out", window=(WINDOWS[0], WINDOWS[1]), user=LOW_PRIVILEGE_USER)
    kinds_events.execute("CREATE COLLATION fresh FROM \"C\"; COMMENT ON COLLATION kept IS 'now commented'; "
                         "DROP COLLATION doomed; ALTER TEXT SEARCH DICTIONARY plain (StopWords = english)", EVENTS_DB)
    second = run_extract(kinds_events, [EVENTS_DB], tmp_path / "out", window=(WINDOWS[1], WINDOWS[2]),
                         user=LOW_PRIVILEGE_USER)
    events = {(e["EVENT_TYPE"], e["OBJECT_TYPE"], e["OBJECT_ID"].removeprefix(f'"{HOST}".{EVENTS_DB}.'),
               tuple(json.loads(e["DETAIL"] or "{}").get("changed", ()))) for e in second.rows("events")}
    assert events == {
        ("CREATED", "COLLATION", "public.fresh", ()),
        ("ALTERED", "COLLATION", "public.kept", ("DESCRIPTION",)),
        ("DROPPED", "COLLATION", "public.doomed", ()),
        ("ALTERED", "TEXT_SEARCH_DICTIONARY", "public.plain", ("PROPERTIES",)),
    }


def test_an_unchanged_database_has_no_events(every_kind, tmp_path):
    # Every fact in PROPERTIES comes out the same way run after run (aggregates are ordered).
    run_extract(every_kind, [DB], tmp_path / "out", window=(WINDOWS[0], WINDOWS[1]), user=LOW_PRIVILEGE_USER)
    second = run_extract(every_kind, [DB], tmp_path / "out", window=(WINDOWS[1], WINDOWS[2]), user=LOW_PRIVILEGE_USER)
    assert second.rows("events") == []
    assert len(second.metadata()) > 30
