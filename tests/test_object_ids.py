"""An object's id has one definition for SQL (ids.sql_object_id, written into the shipped
statements by their {object_id(...)} macros) and one for Python (ids.object_id): on a real server,
for objects with awkward names, the two make the same id for each kind, and so do the extract's."""

import pytest
from psycopg import sql

from collect import run_extract
from kada_collectors.extractors.postgres.ids import child_id, expand_object_ids, object_id
from kada_collectors.extractors.postgres.statements import SQL_DIR

DB = 'Dwh.Ünï "Q" Sales'
HOST = 'Host.Ünï "A"'
S = '"Sales.EU ""Q"" Ünï"'  # the schema, as written in SQL
OBJECTS = f'''
CREATE SCHEMA {S};
CREATE TABLE {S}."Order.Lines ""v2"" ü" ("Line No" serial CONSTRAINT "pk.""Line"" Ü" PRIMARY KEY, "select" text,
                                        "Unit.Price" numeric, U&"new\\000Aline" text);
CREATE INDEX "idx.""Lines"" é" ON {S}."Order.Lines ""v2"" ü" ("select");
CREATE TYPE {S}."Mood.""Q""" AS ENUM ('a');
CREATE VIEW {S}."View.Of ""Lines""" AS SELECT "select" FROM {S}."Order.Lines ""v2"" ü";
CREATE FUNCTION {S}."Calc.""Total"" é"(integer) RETURNS integer LANGUAGE sql AS 'SELECT $1';
CREATE FUNCTION {S}."Calc.""Total"" é"(text, {S}."Mood.""Q""") RETURNS text LANGUAGE sql AS 'SELECT $1';
CREATE FUNCTION {S}."Trig.Fn"() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER "Trg.""Q"" ü" BEFORE INSERT ON {S}."Order.Lines ""v2"" ü" FOR EACH ROW EXECUTE FUNCTION {S}."Trig.Fn"();
CREATE TABLE public."select" (id integer);
CREATE TABLE public.plain_name ("Id" integer);
'''
_USER = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
# kind: (macro, SQL expressions of the names after the host's, FROM ..., what follows the names in the id)
KINDS = {
    "role": ("server_object_id", ["r.rolname"], "pg_roles r", None),
    "database": ("server_object_id", ["d.datname"], "pg_database d WHERE d.datname = current_database()", None),
    "schema": ("object_id", ["n.nspname"], f"pg_namespace n WHERE {_USER}", None),
    "relation": ("object_id", ["n.nspname", "c.relname"],
                 f"pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_USER}", None),
    "column": ("object_id", ["n.nspname", "c.relname", "a.attname"],
               "pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
               f"WHERE a.attnum > 0 AND NOT a.attisdropped AND {_USER}", None),
    "constraint": ("object_id", ["n.nspname", "c.relname", "con.conname"],
                   "pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
                   f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_USER}", None),
    "trigger": ("object_id", ["n.nspname", "c.relname", "t.tgname"],
                "pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                f"WHERE {_USER}", None),
    "type": ("object_id", ["n.nspname", "t.typname"],
             f"pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {_USER}", None),
    "function": ("object_id", ["n.nspname", "p.proname"],
                 f"pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {_USER}",
                 "'(' || oidvectortypes(p.proargtypes) || ')'"),
}


@pytest.fixture
def awkward(pg_server):
    pg_server.create_database(DB)
    pg_server.execute(OBJECTS, DB)
    yield pg_server
    pg_server.drop_database(DB)


def sql_and_python_ids(server, kind):
    """[(the id the SQL definition makes, the id the Python one makes)] of every object of ``kind``."""
    macro, names, source, tail = KINDS[kind]
    in_database = ["current_database()"] if macro == "object_id" else []
    text = (f"SELECT {{{macro}({', '.join(names)})}}{' || ' + tail if tail else ''}, "
            f"ARRAY[{', '.join(in_database + names)}]::text[], {tail or 'NULL'} FROM {source}")
    rows = server.execute(sql.SQL(expand_object_ids(text)).format(sql.Literal(HOST)), DB)
    return [(made, object_id(HOST, *parts) + (rest or "")) for made, parts, rest in rows]


@pytest.mark.parametrize("kind", KINDS)
def test_sql_and_python_make_the_same_id(awkward, kind):
    pairs = sql_and_python_ids(awkward, kind)
    assert pairs and [made for made, _ in pairs] == [expected for _, expected in pairs]
    awkward_name = {"role": "", "database": '"Dwh.Ünï ""Q"" Sales"'}.get(kind, S)  # the roles are named plainly
    assert any(made.startswith('"Host.Ünï ""A""".') and awkward_name in made for made, _ in pairs)


def expected_id(row):
    """The id of a metadata row, made in Python from the names the row carries."""
    host, database, schema, name, column = (row[c] for c in ("HOST", "DATABASE_NAME", "SCHEMA_NAME", "OBJECT_NAME",
                                                              "COLUMN_NAME"))
    kind = row["OBJECT_TYPE"]
    if kind == "DATABASE":
        return object_id(host, database)
    if kind in ("SCHEMA", "EXTENSION"):
        return object_id(host, database, name)
    if kind == "COLUMN":
        return object_id(host, database, schema, name, column)
    if kind in ("CONSTRAINT", "TRIGGER"):
        return child_id(row["PARENT_ID"], name)
    if kind in ("FUNCTION", "PROCEDURE"):
        return object_id(host, database, schema, name) + row["OBJECT_ID"][row["OBJECT_ID"].rindex("("):]
    return object_id(host, database, schema, name)


def test_the_extract_ids_are_the_python_ids(awkward, tmp_path):
    extract = run_extract(awkward, [DB], tmp_path / "out", host=HOST)
    rows = list(extract.rows("metadata"))
    assert {r["OBJECT_TYPE"] for r in rows} >= {"DATABASE", "SCHEMA", "TABLE", "VIEW", "COLUMN", "CONSTRAINT", "INDEX",
                                                "SEQUENCE", "TYPE", "FUNCTION", "TRIGGER"}
    assert [r["OBJECT_ID"] for r in rows] == [expected_id(r) for r in rows]
    columns = {r["OBJECT_ID"] for r in rows if r["OBJECT_TYPE"] == "COLUMN"}
    parents = {r["PARENT_ID"] for r in rows if r["OBJECT_TYPE"] == "COLUMN"}
    assert parents <= {r["OBJECT_ID"] for r in rows} and len(columns) > 5


def test_no_statement_spells_an_id_out():
    """Every shipped statement writes an id with the macros, so ids.py stays their one definition."""
    spelled = [path.name for path in SQL_DIR.glob("*.sql")
               if "quote_ident(current_database())" in path.read_text(encoding="utf-8")]
    assert spelled == []
