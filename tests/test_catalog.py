"""The metadata, roles and privileges extracts against every PostgreSQL version of the harness."""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg import sql

from collect import HOST, run_extract
from conftest import LOW_PRIVILEGE_USER, SHOP
from kada_collectors.extractors.postgres.extractor import _rendered
from kada_collectors.lib.redact import redact_credentials

USER_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_'"
NOT_EXTENSION_MEMBER = ("NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_class'::regclass "
                        "AND e.objid = c.oid AND e.deptype = 'e')")


def test_every_object_kind(shop_extract, shop):
    kinds = {r["OBJECT_TYPE"] for r in shop_extract.metadata()}
    expected = {"DATABASE", "SCHEMA", "EXTENSION", "TABLE", "PARTITIONED_TABLE", "VIEW", "MATERIALIZED_VIEW",
                "COLUMN", "FUNCTION", "PROCEDURE", "AGGREGATE", "SEQUENCE", "TYPE", "DOMAIN", "INDEX",
                "CONSTRAINT", "TRIGGER"}
    if shop.execute("SELECT FROM pg_available_extensions WHERE name = 'postgres_fdw'"):
        expected.add("FOREIGN_TABLE")
    assert expected <= kinds, f"missing kinds: {expected - kinds}"


def test_ids_unique_and_rows_well_formed(shop_extract):
    rows = shop_extract.metadata()
    keys = [(r["OBJECT_TYPE"], r["OBJECT_ID"]) for r in rows]
    assert len(keys) == len(set(keys))
    for r in rows:
        assert r["HOST"] == HOST and r["DATABASE_NAME"] == SHOP
        assert r["OBJECT_ID"].startswith(f'"{HOST}".{SHOP}')
        if r["PROPERTIES"]:
            assert isinstance(json.loads(r["PROPERTIES"]), dict)


@pytest.mark.parametrize("kinds, catalog_count", [
    (("TABLE", "PARTITIONED_TABLE", "FOREIGN_TABLE"),
     f"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
     f"WHERE c.relkind IN ('r', 'p', 'f') AND {USER_SCHEMAS} AND {NOT_EXTENSION_MEMBER}"),
    (("VIEW", "MATERIALIZED_VIEW"),
     f"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
     f"WHERE c.relkind IN ('v', 'm') AND {USER_SCHEMAS} AND {NOT_EXTENSION_MEMBER}"),
    (("COLUMN",),
     f"SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
     f"WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm') AND {USER_SCHEMAS} "
     f"AND {NOT_EXTENSION_MEMBER}"),
    (("INDEX",),
     f"SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
     f"WHERE {USER_SCHEMAS} AND {NOT_EXTENSION_MEMBER}"),
    (("CONSTRAINT",),
     f"SELECT count(*) FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
     f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE con.contype <> 'n' AND {USER_SCHEMAS} AND {NOT_EXTENSION_MEMBER}"),
    (("TRIGGER",),
     f"SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
     f"WHERE NOT t.tgisinternal AND {USER_SCHEMAS}"),
    (("SEQUENCE",),
     f"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
     f"WHERE c.relkind = 'S' AND {USER_SCHEMAS} AND {NOT_EXTENSION_MEMBER}"),
])
def test_every_catalog_object_is_listed(shop_extract, shop, kinds, catalog_count):
    (expected,) = shop.execute(catalog_count, SHOP)[0]
    listed = sum(1 for r in shop_extract.metadata() if r["OBJECT_TYPE"] in kinds)
    assert listed == expected


def test_partitions_name_parent_bound_and_key(shop_extract):
    tables = {**shop_extract.by_id("TABLE"), **shop_extract.by_id("PARTITIONED_TABLE")}
    payments = f'"{HOST}".{SHOP}.sales.payments'
    parent = json.loads(tables[payments]["PROPERTIES"])
    assert parent["partition_strategy"] == "range" and parent["partition_key"].startswith("RANGE")
    children = {i: json.loads(r["PROPERTIES"]) for i, r in tables.items()
                if json.loads(r["PROPERTIES"] or "{}").get("partition_of") == payments}
    assert len(children) >= 3
    assert any(p["partition_bound"] == "DEFAULT" for p in children.values())
    # A partition that is itself partitioned: the second level names it as parent.
    sub_parents = [i for i, p in children.items() if "partition_key" in p]
    assert sub_parents
    assert any(json.loads(r["PROPERTIES"] or "{}").get("partition_of") == sub_parents[0] for r in tables.values())


def test_definitions_sizes_and_estimates(shop_extract):
    rows = shop_extract.metadata()
    for r in rows:
        if r["OBJECT_TYPE"] in ("VIEW", "MATERIALIZED_VIEW", "INDEX", "CONSTRAINT", "TRIGGER", "FUNCTION", "PROCEDURE"):
            assert r["DEFINITION"].strip(), f"{r['OBJECT_TYPE']} {r['OBJECT_ID']} has no definition"
    orders = shop_extract.by_id("TABLE")[f'"{HOST}".{SHOP}.sales.orders']
    assert int(orders["ROW_COUNT"]) > 0 and int(orders["SIZE_BYTES"]) > 0
    assert orders["OWNER"] and orders["DESCRIPTION"]
    database = shop_extract.metadata("DATABASE")[0]
    assert database["DESCRIPTION"], "the database comment (pg_shdescription) is missing"
    procedure = next(r for r in rows if r["OBJECT_TYPE"] == "PROCEDURE")
    assert procedure["LANGUAGE"] == "plpgsql" and "CREATE OR REPLACE PROCEDURE" in procedure["DEFINITION"]


def test_overloads_have_distinct_ids(shop_extract):
    functions = shop_extract.metadata("FUNCTION")
    by_name = {}
    for r in functions:
        by_name.setdefault((r["SCHEMA_NAME"], r["OBJECT_NAME"]), []).append(r["OBJECT_ID"])
    overloaded = {k: v for k, v in by_name.items() if len(v) > 1}
    assert overloaded, "the sample schema has overloaded functions"
    for ids in overloaded.values():
        assert len(set(ids)) == len(ids) and all(i.endswith(")") for i in ids)


def test_columns_identity_generated_defaults(shop_extract):
    columns = shop_extract.metadata("COLUMN")
    properties = [json.loads(c["PROPERTIES"] or "{}") for c in columns]
    assert {"ALWAYS", "BY DEFAULT"} <= {p.get("identity") for p in properties}
    generated = [c for c, p in zip(columns, properties) if p.get("generated")]
    assert generated and all(c["DEFINITION"] and not c["DEFAULT_VALUE"] for c in generated)
    assert any(c["DEFAULT_VALUE"].startswith("nextval(") for c in columns)
    assert {"Y", "N"} == {c["IS_NULLABLE"] for c in columns}
    assert all(c["ORDINAL_POSITION"].isdigit() and c["DATA_TYPE"] for c in columns)


def test_credentials_in_definitions_are_redacted(shop_extract):
    for entry in shop_extract.manifest["files"]:
        text = (shop_extract.output / entry["name"]).read_text(encoding="utf-8")
        assert "Sup3rS3cret!" not in text
    function = next(r for r in shop_extract.metadata("FUNCTION") if r["OBJECT_NAME"] == "pull_orders_from_replica")
    assert "password=[REDACTED]" in function["DEFINITION"]


def test_awkward_names_survive_the_round_trip(shop_extract, shop):
    # The ids the contract promises, computed by the server's own quote_ident.
    expected = {
        (schema, table, column): oid
        for schema, table, column, oid in shop.execute(
            f"SELECT n.nspname, c.relname, a.attname, quote_ident('{HOST}') || '.' || quote_ident(current_database()) "
            "|| '.' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(a.attname) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.attnum > 0 AND NOT a.attisdropped "
            "AND c.relkind IN ('r', 'v') AND (n.nspname LIKE 'awk%' OR n.nspname !~ '^[a-z_]+$')", SHOP)
    }
    assert any("\n" in t for _, t, _ in expected) and any("|" in s for s, _, _ in expected)
    extracted = {(r["SCHEMA_NAME"], r["OBJECT_NAME"], r["COLUMN_NAME"]): r["OBJECT_ID"]
                 for r in shop_extract.metadata("COLUMN")}
    assert {key: extracted.get(key) for key in expected} == expected
    comments = dict(shop.execute(
        "SELECT c.relname, d.description FROM pg_description d JOIN pg_class c ON c.oid = d.objoid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE d.classoid = 'pg_class'::regclass AND d.objsubid = 0 "
        "AND n.nspname = 'awk' AND c.relkind = 'r'", SHOP))
    tables = {r["OBJECT_NAME"]: r["DESCRIPTION"] for r in shop_extract.metadata("TABLE") if r["SCHEMA_NAME"] == "awk"}
    assert comments and all(tables[name] == comment for name, comment in comments.items())


def test_low_privilege_role_sees_every_object(shop_extract, shop, tmp_path):
    with psycopg.connect(shop.dsn(SHOP, user=LOW_PRIVILEGE_USER, password=shop.password)) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM sales.customers")
    low = run_extract(shop, [SHOP], tmp_path, user=LOW_PRIVILEGE_USER, password=shop.password)
    for extract in ("metadata", "linkages", "privileges", "roles"):
        assert low.rows(extract) == shop_extract.rows(extract), extract


def test_roles_memberships(shop_extract):
    roles = shop_extract.rows("roles")
    assert list(roles[0]) == ["OBJECT_TYPE", "OBJECT_ID", "USER", "ROLE"]
    pairs = {(r["USER"], r["ROLE"]) for r in roles}
    assert ("kada_demo_alice", "kada_demo_analyst") in pairs
    alice = next(r for r in roles if r["USER"] == "kada_demo_alice")
    assert alice["OBJECT_TYPE"] == "USER" and alice["OBJECT_ID"] == f'"{HOST}".kada_demo_alice'
    group = next(r for r in roles if r["USER"] == "kada_demo_data_owner")
    assert group["OBJECT_TYPE"] == "ROLE"
    assert all(not r["USER"].startswith("pg_") for r in roles)
    assert len(pairs) == len(roles), "one row per membership"


def test_privileges(shop_extract, shop):
    privileges = shop_extract.rows("privileges")
    keyed = {(p["GRANTEE"], p["PRIVILEGE"], p["OBJECT_TYPE"], p["OBJECT_ID"]): p for p in privileges}
    employees = f'"{HOST}".{SHOP}.hr.employees'
    assert ("kada_demo_analyst", "SELECT", "COLUMN", f"{employees}.first_name") in keyed
    orders = f'"{HOST}".{SHOP}.sales.orders'
    assert keyed[("kada_demo_engineer", "SELECT", "TABLE", orders)]["IS_GRANTABLE"] == "Y"
    assert keyed[("kada_demo_bob", "SELECT", "TABLE", orders)]["GRANTOR"] == "kada_demo_engineer"
    assert any(p["GRANTEE"] == "PUBLIC" and p["PRIVILEGE"] == "EXECUTE" for p in privileges)
    assert any(p["OBJECT_TYPE"] == "DEFAULT_PRIVILEGES_TABLE" for p in privileges)
    if shop.version >= 17:
        assert any(p["PRIVILEGE"] == "MAINTAIN" for p in privileges)


CREDENTIAL_TEXTS = [
    "host=db port=5432 password=Sup3rS3cret! dbname=x",
    "dbname=x sslpassword='it''s secret' user=u",
    "SELECT dblink('host=h password=''p4ss word''', 'SELECT 1')",
    '["password=opt", "user=u"]',
    '{"options": ["sas_token=abc&sig=xyz"], "plain": "no credential"}',
    '{"url": "postgresql://alice:wonderland@db.example.com/app"}',
    "token: abc123 and secret = \"quoted value\"",
    "ACCESS_KEY=AKIAEXAMPLE SecretKey:xyz",
    "https://user:pw@host/path",
    '{"identity": "ALWAYS", "collation": "C"}',
    "nextval('public.s'::regclass)",
    "no credentials here",
]


@pytest.mark.parametrize("text", CREDENTIAL_TEXTS)
def test_the_server_redacts_as_the_collector_does(pg18, text):
    """The server renders redacted columns itself (with a cheap test that skips the regular
    expressions for text that cannot match): it must give what the collector's own function gives."""
    query = sql.SQL("SELECT {} FROM (SELECT {}::text AS v) q").format(
        _rendered(sql.Identifier("v"), 25, "prose"), sql.Literal(text))
    with psycopg.connect(pg18.dsn()) as conn:
        (rendered,) = conn.execute(query).fetchone()
    assert rendered == redact_credentials(text)
