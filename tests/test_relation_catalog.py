"""The relation catalog lineage resolves names with: every relation of the database found as the
server names it, whatever its name, and nothing else, on every PostgreSQL version of the harness."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from kada_collectors.extractors.postgres.lineage.names import RELATION_TYPES, RELATIONS_SQL, RelationCatalog
from servers import PgServer

DATABASE = "relation_catalog"
# Enough for a schema's buckets to double a few times, and names that differ only in case, are prefixes
# of each other, lie outside the Basic Multilingual Plane, or hold the packing's separator.
AWKWARD = ["a", "A", "a b", "ab", "a\x01b", "\x01", "é", "zé", "Z", "日本", "😀", "t050x", 'q"uote', ".",
           "tab\there", "new\nline", "back\\slash"]  # escaped in COPY's text format
TABLES = [f"t{i:03d}" for i in range(100)] + AWKWARD
EXTENSIONS = ("pg_buffercache", "pg_stat_statements")  # contrib extensions that make a view


@pytest.fixture(scope="module")
def catalog_database(pg_server: PgServer) -> PgServer:
    pg_server.create_database(DATABASE)
    statements = [sql.SQL("CREATE SCHEMA tenant; CREATE SCHEMA other; CREATE SCHEMA empty")]
    statements += [sql.SQL("CREATE TABLE tenant.{} (id int)").format(sql.Identifier(name)) for name in TABLES]
    statements += [sql.SQL("CREATE VIEW tenant.{} AS SELECT 1 AS one").format(sql.Identifier(f"v_{name}"))
                   for name in AWKWARD]
    statements.append(sql.SQL(
        "CREATE MATERIALIZED VIEW tenant.m AS SELECT 1 AS one; CREATE TABLE tenant.p (id int) PARTITION BY RANGE (id);"
        "CREATE TABLE other.a (id int); CREATE TABLE other.only_other (id int); CREATE SEQUENCE tenant.not_a_relation"))
    available = {name for (name,) in pg_server.execute("SELECT name FROM pg_available_extensions")}
    statements += [sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(name)) for name in EXTENSIONS if name in available]
    pg_server.execute(sql.SQL("; ").join(statements), DATABASE)
    return pg_server


def _truth(conn: psycopg.Connection) -> list[tuple]:
    """(schema, name, relkind, extension) of every relation the catalog should hold, from the server."""
    return conn.execute(f"SELECT * FROM ({RELATIONS_SQL}) r").fetchall()


def test_every_relation_is_found_with_its_kind_and_extension(catalog_database):
    with psycopg.connect(catalog_database.dsn(DATABASE), autocommit=True) as conn:
        catalog = RelationCatalog.load(conn, "db.example")
        truth = _truth(conn)
    assert len(truth) == len(TABLES) + len(AWKWARD) + 4 + sum(1 for s, *_ in truth if s == "public")
    for schema, name, kind, extension in truth:
        found = catalog.lookup(schema, name)
        assert found is not None, (schema, name)
        assert (found.schema, found.name, found.object_type, found.extension) == \
               (schema, name, RELATION_TYPES[kind], extension)
        assert found.object_id.startswith('"db.example".relation_catalog.')
    if any(extension for *_, extension in truth):
        assert any(catalog.lookup(s, n).extension for s, n, _, e in truth if e)


def test_names_not_in_the_database_are_not_found(catalog_database):
    with psycopg.connect(catalog_database.dsn(DATABASE), autocommit=True) as conn:
        catalog = RelationCatalog.load(conn, "db.example")
        existing = {(schema, name) for schema, name, _, _ in _truth(conn)}
    near = {f"{name}{suffix}" for name in TABLES for suffix in ("", "_", "\x01", "\x01r", " ")}
    near |= {name[:-1] for name in TABLES} | {"", "\x00", "\x01r", "t", "t050\x01r", "b"}
    for schema in ("tenant", "other", "empty", "no_such_schema", "pg_catalog"):
        for name in near:
            assert (catalog.lookup(schema, name) is not None) == ((schema, name) in existing), (schema, name)
    assert catalog.lookup("tenant", "not_a_relation") is None  # a sequence
    assert catalog.lookup("pg_catalog", "pg_class") is None and catalog.lookup(None, "pg_class", ["pg_catalog"]) is None


def test_an_unqualified_name_is_the_first_on_the_search_path(catalog_database):
    with psycopg.connect(catalog_database.dsn(DATABASE), autocommit=True) as conn:
        catalog = RelationCatalog.load(conn, "db.example")
    assert catalog.default_search_path == '"$user", public'
    assert catalog.lookup(None, "a", ["pg_catalog", "other", "tenant"]).schema == "other"
    assert catalog.lookup(None, "a", ["tenant", "other"]).schema == "tenant"
    assert catalog.lookup(None, "a\x01b", ["empty", "other", "tenant"]).schema == "tenant"
    assert catalog.lookup(None, "😀", ["no_such_schema", "tenant"]).object_type == "TABLE"
    assert catalog.lookup(None, "v_😀", ["tenant"]).object_type == "VIEW"
    assert catalog.lookup(None, "m", ["tenant"]).object_type == "MATERIALIZED_VIEW"
    assert catalog.lookup(None, "p", ["tenant"]).object_type == "PARTITIONED_TABLE"
    assert catalog.lookup(None, "only_other", ["tenant", "empty"]) is None
    assert catalog.lookup(None, "only_other", []) is None
