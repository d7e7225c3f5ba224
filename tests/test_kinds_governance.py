"""Row security policies, rules, publications, subscriptions, foreign-data wrappers, foreign servers,
user mappings, event triggers, extended statistics and window functions in the metadata extract:
as many as pg_dump --schema-only lists, with what a catalog user needs, and no secret."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from psycopg import IsolationLevel

from collect import HOST, Extract, extractor_config, read_extract, run_extract
from conftest import LOW_PRIVILEGE_USER, database_once
from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.postgres.pg_dump_kinds import compare, extract_counts, toc_counts
from kada_collectors.extractors.report import build_report, open_run
from kada_collectors.extractors.report.model import Kinds, Objects
from kada_collectors.extractors.report.text import summary_lines
from kada_collectors.extractors.postgres.session import connect
from kada_collectors.extractors.postgres.statements import BY_NAME
from kada_collectors.lib.contract import EXTRACT_COLUMNS
from kada_collectors.lib.validate import validate_folder
from kada_collectors.lib.writer import ExtractFile
from servers import PgServer

FIXTURE = Path(__file__).parent / "sql" / "every_kind_governance.sql"
DB = "governance"
# The TOC kinds the fixture holds, and how many of each (pg_dump's count is checked against these too).
GOVERNANCE_TOC_KINDS = {"POLICY": 3, "RULE": 3, "STATISTICS": 2, "PUBLICATION": 4, "SUBSCRIPTION": 1,
                        "FOREIGN DATA WRAPPER": 1, "SERVER": 2, "USER MAPPING": 2, "EVENT TRIGGER": 2,
                        "FUNCTION": 2}
SECRETS = ("SubscriptionSecret-7f3a", "MappingSecret-c4d2", "ServerSecret-91be", "MappingToken-55aa")


def governance_db(server: PgServer) -> PgServer:
    """``server`` with the fixture loaded into database ``governance`` (once per server)."""
    return database_once(server, DB, FIXTURE)


@pytest.fixture(scope="session")
def governance(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[PgServer, Extract]:
    """The fixture database and the collector's run over it as the low-privilege role."""
    server = governance_db(pg_server)
    output = tmp_path_factory.mktemp(f"governance-{server.name}")
    return server, run_extract(server, [DB], output, user=LOW_PRIVILEGE_USER, password=server.password)


def by_name(extract: Extract, kind: str) -> dict[str, dict]:
    return {r["OBJECT_NAME"]: r for r in extract.metadata(kind)}


def properties(row: dict) -> dict:
    return json.loads(row["PROPERTIES"] or "{}")


def toc_listing(server: PgServer, tmp_path: Path) -> str:
    dump = tmp_path / "governance.dump"
    env = server.client_env()
    subprocess.run([str(server.client("pg_dump")), "--schema-only", "--format", "custom", "--file", str(dump), DB],
                   env=env, check=True, capture_output=True)
    return subprocess.run([str(server.client("pg_restore")), "--list", str(dump)], env=env, check=True,
                          capture_output=True, text=True).stdout


def test_counts_per_kind_equal_pg_dump(governance, tmp_path):
    server, extract = governance
    toc = toc_counts(toc_listing(server, tmp_path))
    comparison = compare(toc, extract_counts(extract.metadata()))
    wrong = [c for c in comparison if c["status"] in ("differs", "unknown")]
    assert wrong == [], f"{server.name}: {wrong}"
    counted = {c["kind"]: (c["pg_dump"], c["extract"]) for c in comparison}
    assert {kind: counted.get(kind) for kind in GOVERNANCE_TOC_KINDS} == \
        {kind: (n, n) for kind, n in GOVERNANCE_TOC_KINDS.items()}
    assert extract.manifest["status"] == "succeeded"
    report = validate_folder(extract.output)  # ids unique, rows as the contract has them
    assert report.ok, report.problems


def test_policies_and_row_security(governance):
    server, extract = governance
    policies = by_name(extract, "POLICY")
    reads = policies["holder_reads"]
    assert reads["OBJECT_ID"] == f'"{HOST}".{DB}.gov.accounts.holder_reads'
    assert reads["PARENT_ID"] == f'"{HOST}".{DB}.gov.accounts' and reads["SCHEMA_NAME"] == "gov"
    assert reads["OWNER"] == "gov_owner" and reads["DESCRIPTION"] == "Holders see their own accounts"
    assert properties(reads) == {"command": "SELECT", "type": "PERMISSIVE", "roles": ["gov_owner", "gov_reader"],
                                 "using": "(holder = CURRENT_USER)"}
    assert reads["DEFINITION"] == ("CREATE POLICY holder_reads ON gov.accounts AS PERMISSIVE FOR SELECT "
                                   "TO gov_owner, gov_reader USING ((holder = CURRENT_USER))")
    overdraft = properties(policies["no_overdraft"])
    assert (overdraft["type"], overdraft["command"], overdraft["roles"]) == ("RESTRICTIVE", "UPDATE", ["PUBLIC"])
    assert "balance >=" in overdraft["with_check"] and "closed" in overdraft["using"]
    assert "using" not in properties(policies["authors_write"])
    tables = by_name(extract, "TABLE")
    assert properties(tables["accounts"])["has_rls"] is True and properties(tables["accounts"])["rls_forced"] is True
    assert properties(tables["notes"])["has_rls"] is True and "rls_forced" not in properties(tables["notes"])
    assert properties(tables["audit_log"])["has_rls"] is False


def test_rules_statistics_and_window_functions(governance):
    server, extract = governance
    rules = by_name(extract, "RULE")
    assert set(rules) == {"audit_delete", "notes_frozen", "open_accounts_insert"}  # no _RETURN, no extension's
    audit = rules["audit_delete"]
    assert audit["PARENT_ID"] == f'"{HOST}".{DB}.gov.accounts' and audit["DESCRIPTION"] == "Deletions leave a trace"
    assert properties(audit) == {"event": "DELETE", "instead": False, "enabled": "ORIGIN"}
    assert "INSERT INTO gov.audit_log" in audit["DEFINITION"]
    assert properties(rules["notes_frozen"])["instead"] is True
    assert rules["open_accounts_insert"]["PARENT_ID"].endswith(".gov.open_accounts")
    statistics = by_name(extract, "STATISTICS")
    holder = statistics["accounts_holder_region"]
    assert holder["OBJECT_ID"] == f'"{HOST}".{DB}.gov.accounts_holder_region' and holder["OWNER"] == "gov_owner"
    assert holder["PARENT_ID"] == f'"{HOST}".{DB}.gov.accounts' and holder["DESCRIPTION"] == "Holders cluster by region"
    assert properties(holder) == {"kinds": ["ndistinct", "dependencies"], "columns": ["holder", "region"],
                                  "keys": "holder, region"}
    notes = properties(statistics["notes_author_length"])
    if server.version >= 14:
        assert notes["keys"] == "author, length(body)" and notes["columns"] == ["author"]
        assert "expressions" in notes["kinds"]
    else:
        assert notes["columns"] == ["author", "body"]
    functions = by_name(extract, "FUNCTION")
    rank = functions["account_rank"]
    assert properties(rank)["window"] is True and rank["OWNER"] == "gov_owner"
    assert "window" not in properties(functions["note_ddl"])
    assert not extract.metadata("WINDOW_FUNCTION")
    grants = {r["OBJECT_TYPE"] for r in extract.rows("privileges") if r["OBJECT_ID"] == rank["OBJECT_ID"]}
    assert grants == {"FUNCTION"}, "privileges name the kind metadata has"


def test_replication_objects(governance):
    server, extract = governance
    publications = {name: properties(row) for name, row in by_name(extract, "PUBLICATION").items()}
    assert publications["everything"]["all_tables"] is True and "tables" not in publications["everything"]
    changes = publications["account_changes"]
    assert changes["operations"] == ["insert", "update"] and changes["all_tables"] is False
    assert [t["table"] for t in changes["tables"]] == [f'"{HOST}".{DB}.gov.accounts', f'"{HOST}".{DB}.gov.audit_log']
    assert by_name(extract, "PUBLICATION")["account_changes"]["OWNER"] == "gov_owner"
    if server.version >= 15:
        assert publications["gov_schema"]["schemas"] == [f'"{HOST}".{DB}.gov'] and "tables" not in publications["gov_schema"]
        assert publications["recent_notes"]["tables"] == [
            {"table": f'"{HOST}".{DB}.public.notes', "columns": ["id", "body"], "row_filter": "(id > 10)"}]
    subscription = by_name(extract, "SUBSCRIPTION")["from_ledger"]
    assert subscription["DESCRIPTION"] == "Ledger rows from the accounting cluster"
    assert subscription["OWNER"] == ("gov_owner" if server.version >= 16 else server.superuser)
    facts = properties(subscription)
    assert facts["publications"] == ["ledger_all", "ledger_audit"] and facts["enabled"] is False
    assert "connection" not in facts  # subconninfo is the superuser's alone


def test_foreign_data_and_event_triggers(governance):
    server, extract = governance
    assert set(by_name(extract, "FOREIGN_DATA_WRAPPER")) == {"gov_fdw"}  # postgres_fdw's is its extension's
    servers = by_name(extract, "FOREIGN_SERVER")
    assert set(servers) == {"ledger_db", "gov_files"}
    assert properties(servers["ledger_db"]) == {"foreign_data_wrapper": "postgres_fdw", "type": "postgresql",
                                                "version": "16",
                                                "options": ["dbname=ledger", "host=203.0.113.9", "port=5432"]}
    assert servers["ledger_db"]["OWNER"] == "gov_owner" and servers["ledger_db"]["DESCRIPTION"] == "The accounting cluster"
    assert properties(servers["gov_files"])["options"] == ["api_key=[REDACTED]", "root=/srv/gov"]
    mappings = {r["OBJECT_ID"]: r for r in extract.metadata("USER_MAPPING")}
    assert set(mappings) == {f'"{HOST}".{DB}.ledger_db.gov_owner', f'"{HOST}".{DB}.gov_files.public'}
    public = mappings[f'"{HOST}".{DB}.gov_files.public']
    assert public["PARENT_ID"] == f'"{HOST}".{DB}.gov_files'
    assert properties(public) == {"server": f'"{HOST}".{DB}.gov_files', "user": "PUBLIC"}  # options hidden from the role
    triggers = by_name(extract, "EVENT_TRIGGER")
    assert set(triggers) == {"gov_ddl_watch", "gov_drop_watch"}
    assert properties(triggers["gov_ddl_watch"]) == {"event": "ddl_command_end", "tags": ["CREATE TABLE", "DROP TABLE"],
                                                     "function": f'"{HOST}".{DB}.gov.note_ddl()', "enabled": "ORIGIN"}
    assert properties(triggers["gov_drop_watch"])["enabled"] == "DISABLED"
    assert triggers["gov_ddl_watch"]["DESCRIPTION"] == "Watches tables come and go"


def test_secrets_in_options_never_leave(pg18, tmp_path):
    """As the superuser, who may read every option: passwords dropped, other secrets redacted."""
    server = governance_db(pg18)
    extract = run_extract(server, [DB], tmp_path / "out")
    subscription = properties(by_name(extract, "SUBSCRIPTION")["from_ledger"])
    assert subscription["connection"] == "host=198.51.100.7 port=5432 dbname=ledger user=replicator password=[REDACTED]"
    mappings = {r["OBJECT_NAME"]: properties(r) for r in extract.metadata("USER_MAPPING")}
    assert mappings["gov_owner"]["options"] == ["user=ledger_reader"]  # the password option is left out
    assert mappings["public"]["options"] == ["token=[REDACTED]", "user=anonymous"]
    for path in (tmp_path / "out").iterdir():
        text = path.read_text(encoding="utf-8")
        assert not any(secret in text for secret in SECRETS), path.name


def test_created_altered_dropped_policy_and_publication(pg18, tmp_path):
    db = "governance_events"
    pg18.create_database(db)
    windows = [f"2026-02-0{day} 00:00:00" for day in range(1, 6)]
    try:
        pg18.execute("CREATE TABLE t (a int)", db)

        def events(i: int) -> set[tuple]:
            extract = run_extract(pg18, [db], tmp_path, window=(windows[i], windows[i + 1]))
            return {(e["EVENT_TYPE"], e["OBJECT_TYPE"], e["OBJECT_ID"].removeprefix(f'"{HOST}".{db}.'),
                     tuple(json.loads(e["DETAIL"] or "{}").get("changed", ()))) for e in extract.rows("events")}

        events(0)
        pg18.execute("CREATE POLICY p ON t USING (a > 0); CREATE PUBLICATION pub FOR TABLE t", db)
        assert events(1) == {("CREATED", "POLICY", "public.t.p", ()), ("CREATED", "PUBLICATION", "pub", ())}
        pg18.execute("ALTER POLICY p ON t USING (a > 1); ALTER PUBLICATION pub SET (publish = 'insert')", db)
        assert events(2) == {("ALTERED", "POLICY", "public.t.p", ("DEFINITION", "PROPERTIES")),
                             ("ALTERED", "PUBLICATION", "pub", ("PROPERTIES",))}
        pg18.execute("DROP POLICY p ON t; DROP PUBLICATION pub", db)
        assert events(3) == {("DROPPED", "POLICY", "public.t.p", ()), ("DROPPED", "PUBLICATION", "pub", ())}
    finally:
        pg18.drop_database(db)


def test_report_shows_the_kinds_and_their_tree(pg18, tmp_path):
    server = governance_db(pg18)
    extract = run_extract(server, [DB], tmp_path / "out", user=LOW_PRIVILEGE_USER, password=server.password)
    text = "\n".join(summary_lines(build_report(open_run(tmp_path / "out"))))
    for kind in ("policy", "rule", "statistics", "publication", "subscription", "foreign_data_wrapper",
                 "foreign_server", "user_mapping", "event_trigger"):
        assert f"  {kind} " in text, kind
    objects = Objects(Kinds())
    for row in extract.metadata():
        objects.add_row(row)
    objects.order()
    server_id = f'"{HOST}".{DB}.gov_files'
    mapping = objects.place("USER_MAPPING", f"{server_id}.public")
    assert objects.parent[mapping] == objects.place("FOREIGN_SERVER", server_id)
    policy = objects.place("POLICY", f'"{HOST}".{DB}.gov.accounts.holder_reads')
    assert objects.parent[policy] == objects.place("TABLE", f'"{HOST}".{DB}.gov.accounts')


def test_read_in_batches_gives_the_same_rows(governance, tmp_path):
    """The database is read in batches of tables when an object vanished under a statement: the
    batches of POLICIES_RULES_STATISTICS_SQL cover every policy, rule and extended statistics once."""
    server, extract = governance
    extractor = Extractor(**extractor_config(server, [DB], tmp_path, user=LOW_PRIVILEGE_USER, password=server.password))
    part = ExtractFile(str(tmp_path), "postgres", "metadata", "20260101000000", EXTRACT_COLUMNS["metadata"],
                       False).part("batched")
    with connect(extractor._settings, extractor._password, DB) as conn:
        conn.autocommit, conn.isolation_level = False, IsolationLevel.REPEATABLE_READ
        warnings = extractor._read(conn, DB, BY_NAME["POLICIES_RULES_STATISTICS_SQL"],
                                   (HOST, "1970-01-01 00:00:00", "2026-01-01 00:00:00"), part, None, None,
                                   short=False, batched=True)
    part.close()
    batched = sorted((r["OBJECT_TYPE"], r["OBJECT_ID"]) for r in read_extract(Path(part.path)))
    whole = sorted((r["OBJECT_TYPE"], r["OBJECT_ID"]) for r in extract.metadata()
                   if r["OBJECT_TYPE"] in ("POLICY", "RULE", "STATISTICS"))
    assert warnings == [] and batched == whole and len(whole) == 8
