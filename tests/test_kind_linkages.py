"""Linkages of policies, rules, publications, subscriptions, foreign tables and foreign servers
(OBJECT_LINKS_SQL), as the low-privilege role and as the superuser, on every major."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collect import HOST, Extract, run_extract
from conftest import LOW_PRIVILEGE_USER, database_once
from kada_collectors.lib.validate import validate_folder
from servers import PgServer
from test_kinds_governance import FIXTURE
from test_kinds_governance import SECRETS as FIXTURE_SECRETS

DB = "kind_linkages"
PREFIX = f'"{HOST}".{DB}.'
EXTRA = Path(__file__).parent / "sql" / "kind_linkages.sql"
SOURCES = {"POLICY", "RULE", "PUBLICATION", "SUBSCRIPTION", "FOREIGN_SERVER"}
REMOTE = '"203.0.113.9".ledger.'
SECRETS = (*FIXTURE_SECRETS, "UriSecret-3e1f")


def linkages_db(server: PgServer) -> PgServer:
    """``server`` with the governance fixture and this file's additions in database ``kind_linkages``."""
    return database_once(server, DB, FIXTURE, EXTRA)


@pytest.fixture(scope="session")
def low_privilege(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[PgServer, Extract]:
    server = linkages_db(pg_server)
    output = tmp_path_factory.mktemp(f"kind-linkages-low-{server.name}")
    return server, run_extract(server, [DB], output, user=LOW_PRIVILEGE_USER, password=server.password)


@pytest.fixture(scope="session")
def superuser(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[PgServer, Extract]:
    server = linkages_db(pg_server)
    output = tmp_path_factory.mktemp(f"kind-linkages-super-{server.name}")
    return server, run_extract(server, [DB], output)


def short(object_id: str) -> str:
    return object_id.removeprefix(PREFIX)


def object_edges(extract: Extract) -> dict[tuple[str, str, str], tuple[str, dict]]:
    """This statement's edges: (LINK_TYPE, source, target) → (EVIDENCE, DETAIL), ids after the database."""
    edges = {}
    for row in extract.rows("linkages"):
        if row["SOURCE_TYPE"] in SOURCES or row["LINK_TYPE"] in ("FOREIGN_SERVER", "MAPS_TO"):
            key = (row["LINK_TYPE"], short(row["SOURCE_ID"]), short(row["TARGET_ID"]))
            assert key not in edges, f"edge twice: {key}"
            edges[key] = (row["EVIDENCE"], json.loads(row["DETAIL"] or "{}"))
    return edges


def expected_edges(version: int) -> dict[tuple[str, str, str], str]:
    """Every edge of the fixture, with its evidence, whoever reads it (but the subscription's)."""
    edges = {
        ("GUARDS", "gov.accounts.holder_reads", "gov.accounts"): "PG_POLICY",
        ("GUARDS", "gov.accounts.no_overdraft", "gov.accounts"): "PG_POLICY",
        ("GUARDS", "gov.accounts.open_regions", "gov.accounts"): "PG_POLICY",
        ("GUARDS", "public.notes.authors_write", "public.notes"): "PG_POLICY",
        ("READS", "gov.accounts.holder_reads", "gov.accounts"): "PG_DEPEND",
        ("READS", "gov.accounts.no_overdraft", "gov.accounts"): "PG_DEPEND",
        ("READS", "gov.accounts.open_regions", "gov.accounts"): "PG_DEPEND",
        ("READS", "gov.accounts.open_regions", "gov.regions"): "PG_DEPEND",
        ("READS", "public.notes.authors_write", "public.notes"): "PG_DEPEND",
        ("CALLS", "gov.accounts.open_regions", "gov.is_open(text)"): "PG_DEPEND",
        # Rules: what the action writes and reads; their own table only through OLD and NEW.
        ("WRITES", "gov.accounts.audit_delete", "gov.audit_log"): "RULE_ACTION",
        ("REFERENCES", "gov.accounts.audit_delete", "gov.accounts"): "PG_DEPEND",
        ("WRITES", "gov.accounts.record_closure", "gov.closures"): "RULE_ACTION",
        ("READS", "gov.accounts.record_closure", "gov.regions"): "RULE_ACTION",
        ("REFERENCES", "gov.accounts.record_closure", "gov.accounts"): "PG_DEPEND",
        ("REFERENCES", "public.notes.notes_frozen", "public.notes"): "PG_DEPEND",  # DO INSTEAD NOTHING
        ("WRITES", "gov.open_accounts.open_accounts_insert", "gov.accounts"): "RULE_ACTION",
        ("REFERENCES", "gov.open_accounts.open_accounts_insert", "gov.open_accounts"): "PG_DEPEND",
        ("PUBLISHES", "account_changes", "gov.accounts"): "PG_PUBLICATION_REL",
        ("PUBLISHES", "account_changes", "gov.audit_log"): "PG_PUBLICATION_REL",
        ("PUBLISHES", "recent_notes", "public.notes"): "PG_PUBLICATION_REL",
        ("FOREIGN_SERVER", "gov.ledger_entries", "ledger_db"): "PG_FOREIGN_TABLE",
        ("FOREIGN_SERVER", "public.ledger_accounts", "ledger_db"): "PG_FOREIGN_TABLE",
        ("FOREIGN_SERVER", "gov.files_index", "gov_files"): "PG_FOREIGN_TABLE",
        # The remote table: named by the options, else the foreign table's own schema and name.
        ("MAPS_TO", "gov.ledger_entries", REMOTE + "books.entries"): "FDW_OPTIONS",
        ("MAPS_TO", "public.ledger_accounts", REMOTE + "public.ledger_accounts"): "FDW_OPTIONS",
        ("FOREIGN_DATA_WRAPPER", "ledger_db", "postgres_fdw"): "PG_FOREIGN_SERVER",
        ("FOREIGN_DATA_WRAPPER", "gov_files", "gov_fdw"): "PG_FOREIGN_SERVER",
    }
    if version >= 15:  # a schema published whole, and its tables as the server resolves them
        edges[("PUBLISHES", "gov_schema", "gov")] = "PG_PUBLICATION_NAMESPACE"
        for table in ("accounts", "audit_log", "regions", "closures"):
            edges[("PUBLISHES", "gov_schema", f"gov.{table}")] = "PG_PUBLICATION_TABLES"
    else:
        edges[("PUBLISHES", "gov_schema", "gov.accounts")] = "PG_PUBLICATION_REL"
    return edges


def check_common(server: PgServer, extract: Extract) -> dict:
    """What holds for every reader: the edges, their endpoints, the validator, no secret."""
    edges = object_edges(extract)
    subscription = {key: edges.pop(key) for key in list(edges) if key[0] == "SUBSCRIBES_TO"}
    assert {key: evidence for key, (evidence, _) in edges.items()} == expected_edges(server.version)
    listed = {(r["OBJECT_TYPE"], r["OBJECT_ID"]) for r in extract.metadata()}
    for row in extract.rows("linkages"):
        detail = json.loads(row["DETAIL"] or "{}")
        assert (row["SOURCE_TYPE"], row["SOURCE_ID"]) in listed, row
        assert (row["TARGET_TYPE"], row["TARGET_ID"]) in listed or "extension" in detail \
            or row["TARGET_TYPE"].startswith("EXTERNAL_"), row
    assert edges[("FOREIGN_DATA_WRAPPER", "ledger_db", "postgres_fdw")][1] == {"extension": "postgres_fdw"}
    assert edges[("MAPS_TO", "gov.ledger_entries", REMOTE + "books.entries")][1] == {
        "server": PREFIX + "ledger_db", "port": "5432"}
    audit = edges[("WRITES", "gov.accounts.audit_delete", "gov.audit_log")][1]
    assert audit["operations"] == ["insert"]
    assert edges[("READS", "gov.accounts.record_closure", "gov.regions")][1]["operations"] == ["select"]
    assert "read or write" in edges[("REFERENCES", "gov.accounts.audit_delete", "gov.accounts")][1]["access"]
    assert edges[("READS", "gov.accounts.no_overdraft", "gov.accounts")][1]["columns"] == ["balance", "region"]
    assert extract.manifest["status"] == "succeeded"
    report = validate_folder(extract.output)  # every extract a set, rows as the contract has them
    assert report.ok, report.problems
    for path in extract.output.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not any(secret in text for secret in SECRETS), path.name
    return subscription


def test_edges_as_the_low_privilege_role(low_privilege):
    server, extract = low_privilege
    subscription = check_common(server, extract)
    # subconninfo is the superuser's alone: the publications are named without their publisher.
    assert {key: evidence for key, (evidence, _) in subscription.items()} == {
        ("SUBSCRIBES_TO", "from_ledger", "ledger_all"): "PG_SUBSCRIPTION",
        ("SUBSCRIBES_TO", "from_ledger", "ledger_audit"): "PG_SUBSCRIPTION",
        ("SUBSCRIBES_TO", "from_archive", "archive_all"): "PG_SUBSCRIPTION"}
    assert all("publisher" in detail for _, detail in subscription.values())


def test_edges_as_the_superuser(superuser):
    server, extract = superuser
    subscription = check_common(server, extract)
    publisher = '"198.51.100.7".ledger.'
    assert subscription == {
        ("SUBSCRIBES_TO", "from_ledger", publisher + "ledger_all"): ("SUBSCRIPTION_CONNINFO", {"port": "5432"}),
        ("SUBSCRIBES_TO", "from_ledger", publisher + "ledger_audit"): ("SUBSCRIPTION_CONNINFO", {"port": "5432"}),
        ("SUBSCRIBES_TO", "from_archive", '"192.0.2.44".archive.archive_all'):  # a URI
            ("SUBSCRIPTION_CONNINFO", {"port": "6543"})}
