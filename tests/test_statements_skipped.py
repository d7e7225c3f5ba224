"""Statements of kinds a database holds none of are not run (NamedStatement.present)."""

import psycopg

from collect import run_extract

DB = "kinds_absent"
CALLS = ("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
         "WHERE d.datname = %s AND s.query LIKE %s")


def calls(server, name):
    with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
        return conn.execute(CALLS, (DB, f"%kada-collector {name} */%")).fetchone()[0]


def test_statements_of_absent_kinds_are_not_run_and_the_others_are(pg_server, tmp_path):
    pg_server.create_database(DB)
    try:
        pg_server.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; CREATE TABLE t (a int); "
                          "SELECT pg_stat_statements_reset()", DB)
        empty = run_extract(pg_server, [DB], tmp_path / "empty")
        skipped = {n: calls(pg_server, n) for n in ("EXTENSIBILITY_SQL", "POLICIES_RULES_STATISTICS_SQL",
                                                   "REPLICATION_FDW_EVENT_TRIGGERS_SQL", "OBJECT_LINKS_SQL")}
        assert skipped == dict.fromkeys(skipped, 0)
        assert calls(pg_server, "COLUMNS_SQL") == 1 and [r["OBJECT_NAME"] for r in empty.metadata("TABLE")] == ["t"]

        pg_server.execute("ALTER TABLE t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON t USING (a > 0)", DB)
        guarded = run_extract(pg_server, [DB], tmp_path / "guarded")
        assert calls(pg_server, "POLICIES_RULES_STATISTICS_SQL") == calls(pg_server, "OBJECT_LINKS_SQL") == 1
        assert calls(pg_server, "EXTENSIBILITY_SQL") == 0
        assert [r["OBJECT_NAME"] for r in guarded.metadata("POLICY")] == ["p"]
        assert any(r["LINK_TYPE"] == "GUARDS" for r in guarded.rows("linkages"))
    finally:
        pg_server.drop_database(DB)
