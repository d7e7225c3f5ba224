"""One database read by several sessions through one exported snapshot (shared_snapshot.py)."""

import logging
import psycopg
import pytest

from collect import extractor_config, load_manifest, run_extract
from conftest import LOW_PRIVILEGE_USER, SHOP
from kada_collectors.extractors.postgres.settings import validate_config
from kada_collectors.extractors.postgres.shared_snapshot import open_helpers, share_snapshot
from kada_collectors.lib.errors import ExtractError
from watch import PeakCount

EXTRACTS = ("metadata", "linkages", "privileges", "roles", "events")
WINDOW = (None, "2026-01-01 00:00:00")
# Move between two runs without anyone altering anything (autovacuum, statistics).
VOLATILE = ("ROW_COUNT", "SIZE_BYTES")
# The collector's sessions running a statement at this moment.
ACTIVE_SQL = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'kada-collector/%' AND state = 'active'"


def sleeping(name, seconds):
    """A ``prepare`` hook: statement ``name`` waits ``seconds`` once before its rows (an InitPlan)."""
    def prepare(extractor):
        text = extractor.get_sql(name)
        where = text.rindex("\nWHERE ")
        extractor.overwrite_sql(name, f"{text[:where]}\nWHERE (SELECT pg_sleep({seconds})) IS NOT NULL AND "
                                      f"{text[where + len(chr(10) + 'WHERE '):]}")
    return prepare


def stable(rows):
    return [{k: v for k, v in row.items() if k not in VOLATILE} for row in rows]


def both(*hooks):
    def prepare(extractor):
        for hook in hooks:
            hook(extractor)
    return prepare


def test_shared_snapshot_hides_what_committed_after_the_export(shop, tmp_path):
    """A helper that adopted the snapshot sees the catalog as the exporting session does, not as it is now."""
    database = "shared_snapshot"  # its own: a table made here would change the sample database's size
    shop.create_database(database)
    settings, password = validate_config(extractor_config(shop, [database], tmp_path))
    first, _ = open_helpers(settings, password, database, 1)
    helpers, problems = open_helpers(settings, password, database, 1)
    try:
        assert len(first) == len(helpers) == 1 and problems == []
        (conn,) = first
        adopted, refused = share_snapshot(conn, helpers)
        assert len(adopted) == 1 and refused == []
        shop.execute("CREATE TABLE public.created_after_export (id int)", database)
        seen = "SELECT count(*) FROM pg_catalog.pg_class WHERE relname = 'created_after_export'"
        assert conn.execute(seen).fetchone()[0] == 0
        assert adopted[0].execute(seen).fetchone()[0] == 0, "the helper reads the exported snapshot"
        with psycopg.connect(shop.dsn(database), autocommit=True) as fresh:
            assert fresh.execute(seen).fetchone()[0] == 1
    finally:
        for c in first + helpers:
            c.close()
        shop.drop_database(database)


def test_one_database_read_by_two_sessions_gives_what_one_session_gives(shop, tmp_path):
    one = run_extract(shop, [SHOP], tmp_path / "one", window=WINDOW, max_connections=1)
    # VIEWS_SQL is the first session's (it parses the views); the other takes the first statement
    # of the queue meanwhile: both wait a second at once if, and only if, two sessions read.
    with PeakCount(shop, ACTIVE_SQL) as active:
        two = run_extract(shop, [SHOP], tmp_path / "two", window=WINDOW, max_connections=2,
                          prepare=both(sleeping("VIEWS_SQL", 1), sleeping("DATABASES_SQL", 1)))
    assert [d["sessions"] for d in one.manifest["databases"]] == [1]
    assert [d["sessions"] for d in two.manifest["databases"]] == [2]
    assert active.most == 2, "two statements ran at once"
    for extract in EXTRACTS:
        rows_one, rows_two = stable(one.rows(extract)), stable(two.rows(extract))
        assert rows_two == rows_one, f"{extract}: the same rows, in the same order: {_first_difference(rows_one, rows_two)}"
        assert len(rows_one) == len({tuple(r.items()) for r in rows_one}), f"{extract}: no row twice"
    assert not [p for p in (tmp_path / "two").iterdir() if p.name.endswith((".part", ".tmp"))], "no temporary file left"


def test_never_more_sessions_than_max_connections(shop, tmp_path):
    with PeakCount(shop, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'kada-collector/%'") as seen:
        extract = run_extract(shop, [SHOP], tmp_path / "four", window=WINDOW, max_connections=4,
                              prepare=sleeping("VIEWS_SQL", 0.5))
    assert [d["sessions"] for d in extract.manifest["databases"]] == [4]
    assert 2 <= seen.most <= 4


def test_a_connection_limit_leaves_one_session_reading_it_all(shop, tmp_path, caplog):
    """The role may hold one session: the helper is refused, the database is read by one, and says so."""
    reference = run_extract(shop, [SHOP], tmp_path / "reference", window=WINDOW, user=LOW_PRIVILEGE_USER)
    shop.execute(f"ALTER ROLE {LOW_PRIVILEGE_USER} CONNECTION LIMIT 1")
    try:
        with caplog.at_level(logging.INFO, logger="kada_collectors.extractors.postgres.extractor"):
            limited = run_extract(shop, [SHOP], tmp_path / "limited", window=WINDOW, user=LOW_PRIVILEGE_USER)
    finally:
        shop.execute(f"ALTER ROLE {LOW_PRIVILEGE_USER} CONNECTION LIMIT -1")
    assert [d["sessions"] for d in reference.manifest["databases"]] == [2]
    assert [d["sessions"] for d in limited.manifest["databases"]] == [1]
    assert limited.manifest["status"] == "succeeded"
    assert "read by 1 session(s) of 2" in caplog.text and "too many connections" in caplog.text
    for extract in EXTRACTS:
        assert stable(limited.rows(extract)) == stable(reference.rows(extract)), extract


def test_a_statement_failing_in_a_helper_session_fails_the_database_and_stops_the_other(shop, tmp_path):
    def failing(extractor):
        text = extractor.get_sql("DATABASES_SQL")
        extractor.overwrite_sql("DATABASES_SQL", text.replace(
            "WHERE d.datname", "WHERE 1 / (length(d.datname) - length(d.datname)) = 1 AND d.datname"))

    output = tmp_path / "failed"
    with pytest.raises(ExtractError) as caught:
        run_extract(shop, [SHOP], output, window=WINDOW, max_connections=2,
                    prepare=both(failing, sleeping("VIEWS_SQL", 30)))
    assert "DATABASES_SQL failed: division by zero" in str(caught.value)
    (database,) = load_manifest(output)["databases"]
    assert database["status"] == "failed" and "DATABASES_SQL" in database["error"]
    # Its 30 seconds are not waited for: the first session's statement is cancelled.
    assert database["seconds"] < 30
    assert not any(p.name.endswith((".part", ".tmp")) for p in output.iterdir()), "nothing half-written left"


def _first_difference(rows_one, rows_two):
    for index, (a, b) in enumerate(zip(rows_one, rows_two)):
        if a != b:
            return index, {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)}
    return "lengths", len(rows_one), len(rows_two)
