"""run(): the window, failing databases, overrides, compression, and files never half-written."""

import gzip
import json
import threading
import time

import psycopg
import pytest

from collect import load_manifest, run_extract
from conftest import LOW_PRIVILEGE_USER, SHOP
from kada_collectors.lib.errors import ExtractError, HWMError
from kada_collectors.lib.runlock import OUTPUT_LOCK_NAME
from kada_collectors.lib.validate import validate_folder
from watch import RELATION_LOCKS_SQL, PeakCount

SEED_ROLES_OFF = """SELECT DISTINCT 'USER' AS "OBJECT_TYPE", '' AS "OBJECT_ID", '' AS "USER", '' AS "ROLE" where 1 = 2"""


def visible_files(folder):
    """What a run left in ``folder``, but for the run lock's file (which stays, see runlock.py)."""
    return sorted(p.name for p in folder.iterdir() if p.name != OUTPUT_LOCK_NAME)


def test_file_names_carry_the_end_of_the_window(shop, tmp_path):
    run_extract(shop, ["postgres"], tmp_path, window=("2026-01-01 00:00:00", "2026-02-03 04:05:06"))
    assert visible_files(tmp_path) == [
        "postgres_events_20260203040506.csv", "postgres_linkages_20260203040506.csv",
        "postgres_manifest_20260203040506.json",
        "postgres_metadata_20260203040506.csv",
        "postgres_privileges_20260203040506.csv", "postgres_roles_20260203040506.csv"]
    manifest = load_manifest(tmp_path)
    assert manifest["window"] == {"start_hwm": "2026-01-01 00:00:00", "end_hwm": "2026-02-03 04:05:06"}
    assert manifest["status"] == "succeeded" and manifest["settings"]["password"] == "[REDACTED]"
    assert shop.password not in (tmp_path / "postgres_manifest_20260203040506.json").read_text()


@pytest.mark.parametrize("window, expected", [
    (("2026-02-01 00:00:00", "2026-01-01 00:00:00"), "is after end_hwm"),
    (("2026/01/01", "2026-02-01 00:00:00"), "start_hwm '2026/01/01' is not formatted"),
    (("2026-01-01 00:00:00", "tomorrow"), "end_hwm 'tomorrow' is not formatted"),
])
def test_a_malformed_window_is_refused_before_any_file(shop, tmp_path, window, expected):
    with pytest.raises(HWMError, match=expected):
        run_extract(shop, ["postgres"], tmp_path, window=window)
    assert visible_files(tmp_path) == []


@pytest.mark.parametrize("problem, expected", [("missing", "does not exist"), ("no CONNECT", "GRANT CONNECT")])
def test_a_failing_database_does_not_stop_the_others(shop, tmp_path, problem, expected):
    bad = "no_such_db"
    if problem == "no CONNECT":
        bad = "locked_out"
        shop.execute(f"DROP DATABASE IF EXISTS {bad}")
        shop.execute(f"CREATE DATABASE {bad}")
        shop.execute(f"REVOKE CONNECT ON DATABASE {bad} FROM PUBLIC")
    with pytest.raises(ExtractError) as caught:
        run_extract(shop, [bad, SHOP], tmp_path, user=LOW_PRIVILEGE_USER)
    assert "1 of 2 database(s) failed" in str(caught.value) and "Do not publish the HWM" in str(caught.value)
    manifest = load_manifest(tmp_path)
    assert manifest["status"] == "failed"
    failed, ok = manifest["databases"]
    assert failed["status"] == "failed" and expected in failed["error"]
    assert ok["status"] == "succeeded" and ok["rows"]["metadata"] > 0
    assert validate_folder(tmp_path).ok, validate_folder(tmp_path).problems


def test_seed_roles_override_yields_a_header_only_file(shop, tmp_path):
    extract = run_extract(shop, ["postgres"], tmp_path, prepare=lambda e: e.overwrite_sql("ROLES_SQL", SEED_ROLES_OFF))
    assert extract.rows("roles") == []
    roles_file = next(f for f in extract.manifest["files"] if f["extract"] == "roles")
    assert roles_file["rows"] == 0
    assert (tmp_path / roles_file["name"]).read_text() == '"OBJECT_TYPE"|"OBJECT_ID"|"USER"|"ROLE"\n'


def test_an_override_may_end_with_a_line_comment(shop, tmp_path):
    commented = SEED_ROLES_OFF.rstrip().rstrip(";") + "  -- the roles are kept elsewhere;\n"
    extract = run_extract(shop, ["postgres"], tmp_path, prepare=lambda e: e.overwrite_sql("ROLES_SQL", commented))
    assert extract.manifest["status"] == "succeeded" and extract.rows("roles") == []


def test_an_override_with_other_columns_fails_naming_both_lists(shop, tmp_path):
    bad = 'SELECT rolname AS "USER", rolname AS "ROLE" FROM pg_roles'
    with pytest.raises(ExtractError) as caught:
        run_extract(shop, ["postgres"], tmp_path, prepare=lambda e: e.overwrite_sql("ROLES_SQL", bad))
    message = str(caught.value)
    assert "expected: OBJECT_TYPE, OBJECT_ID, USER, ROLE" in message and "received: USER, ROLE" in message
    assert visible_files(tmp_path) == [], "nothing half-written is left"


def test_an_override_the_server_cannot_parse_fails_naming_the_statement(shop, tmp_path):
    with pytest.raises(ExtractError) as caught:
        run_extract(shop, ["postgres"], tmp_path, prepare=lambda e: e.overwrite_sql("ROLES_SQL", SEED_ROLES_OFF.replace(
            "SELECT", "SELEC", 1)))
    message = str(caught.value)
    assert "ROLES_SQL" in message and "syntax error" in message


def test_compress_writes_gzip_of_the_same_text(shop, tmp_path):
    window = (None, "2026-01-01 00:00:00")
    plain = run_extract(shop, [SHOP, "postgres"], tmp_path / "plain", window=window)
    packed = run_extract(shop, [SHOP, "postgres"], tmp_path / "packed", window=window, compress=True)
    assert all(f["name"].endswith(".csv.gz") for f in packed.manifest["files"])
    gzip.decompress((tmp_path / "packed" / packed.manifest["files"][0]["name"]).read_bytes())  # a real gzip stream

    def comparable(rows):  # a database's size on disk moves between two runs
        return [{**r, "SIZE_BYTES": ""} if r.get("OBJECT_TYPE") == "DATABASE" else r for r in rows]

    for extract in ("metadata", "linkages", "privileges", "roles"):  # not events: each folder has its own history
        assert comparable(packed.rows(extract)) == comparable(plain.rows(extract)), extract
    assert validate_folder(tmp_path / "packed").ok, validate_folder(tmp_path / "packed").problems


def test_a_lock_held_by_ddl_fails_the_database_after_lock_timeout(shop, tmp_path):
    """pg_get_viewdef waits behind an ACCESS EXCLUSIVE lock; the collector gives up cleanly."""
    with psycopg.connect(shop.dsn(SHOP)) as blocker:
        blocker.execute("LOCK TABLE sales.customers IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(ExtractError, match="lock_timeout_seconds=1"):
            run_extract(shop, [SHOP], tmp_path, lock_timeout_seconds=1)
        blocker.rollback()
    manifest = load_manifest(tmp_path)
    assert manifest["databases"][0]["status"] == "failed"
    assert manifest["files"][0]["rows"] == 0


def test_no_lock_outlives_its_statement(shop, tmp_path):
    """After the views are deparsed, DDL on the tables they read is not blocked by the collector."""
    shop.execute("DROP DATABASE IF EXISTS slowly")
    shop.execute("CREATE DATABASE slowly")
    shop.execute("CREATE TABLE t (a int); CREATE VIEW v AS SELECT a FROM t", "slowly")
    # The columns statement sleeps, so the run is still inside its snapshot after VIEWS_SQL.
    slow_columns = lambda e: e.overwrite_sql("COLUMNS_SQL", e.get_sql("COLUMNS_SQL").replace(
        "WHERE a.attnum > 0", "WHERE a.attnum > 0 AND pg_sleep(0.5) IS NOT NULL AND c.relname = 'v'"))
    errors = []

    def alter_while_running():
        time.sleep(0.3)
        try:
            with psycopg.connect(shop.dsn("slowly"), autocommit=True) as conn:
                conn.execute("SET lock_timeout = '200ms'")
                conn.execute("ALTER TABLE t ADD COLUMN b int")
        except psycopg.Error as e:
            errors.append(e)

    ddl = threading.Thread(target=alter_while_running)
    ddl.start()
    run_extract(shop, ["slowly"], tmp_path, prepare=slow_columns)
    ddl.join()
    assert errors == []


def test_a_database_dropped_mid_run_is_reported(shop, tmp_path):
    shop.execute("DROP DATABASE IF EXISTS doomed")
    shop.execute("CREATE DATABASE doomed")
    slow = lambda e: e.overwrite_sql("SCHEMAS_SQL", e.get_sql("SCHEMAS_SQL").replace(
        "WHERE n.nspname", "WHERE pg_sleep(2) IS NOT NULL AND n.nspname"))
    dropper = threading.Timer(0.7, lambda: shop.execute("DROP DATABASE doomed WITH (FORCE)"))
    dropper.start()
    with pytest.raises(ExtractError, match="doomed"):
        run_extract(shop, ["doomed", "postgres"], tmp_path, prepare=slow)
    dropper.join()
    manifest = load_manifest(tmp_path)
    doomed, other = manifest["databases"]
    assert doomed["status"] == "failed" and other["status"] == "succeeded"
    assert "lost the connection" in doomed["error"] or "does not exist" in doomed["error"]


def test_statement_timeout_is_reported(shop, tmp_path):
    slow = lambda e: e.overwrite_sql("SCHEMAS_SQL", e.get_sql("SCHEMAS_SQL").replace(
        "WHERE n.nspname", "WHERE pg_sleep(3) IS NOT NULL AND n.nspname"))
    with pytest.raises(ExtractError, match="statement_timeout_seconds=1"):
        run_extract(shop, ["postgres"], tmp_path, statement_timeout_seconds=1, prepare=slow)


def test_sessions_are_read_only_and_tagged(shop, tmp_path):
    def spy(extractor):
        extractor.overwrite_sql("SCHEMAS_SQL", extractor.get_sql("SCHEMAS_SQL").replace(
            "FROM pg_namespace n", "FROM (SELECT current_setting('transaction_read_only') AS ro, "
            "current_setting('application_name') AS app, current_setting('transaction_isolation') AS iso, "
            "current_setting('lock_timeout') AS lt) s CROSS JOIN pg_namespace n").replace(
            "NULL AS \"PROPERTIES\"", "jsonb_build_object('ro', s.ro, 'app', s.app, 'iso', s.iso, 'lt', s.lt) AS \"PROPERTIES\""))
    extract = run_extract(shop, ["postgres"], tmp_path, prepare=spy, lock_timeout_seconds=3)
    seen = json.loads(extract.metadata("SCHEMA")[0]["PROPERTIES"])
    assert seen["ro"] == "on" and seen["iso"] == "repeatable read" and seen["lt"] == "3s"
    assert seen["app"].startswith("kada-collector/")


def test_objects_of_an_unknown_kind_are_reported_not_fatal(pg18, tmp_path):
    """A newer server's object kind (simulated by relabelling a table) becomes a manifest warning."""
    pg18.execute("DROP DATABASE IF EXISTS future")
    pg18.execute("CREATE DATABASE future")
    pg18.execute("CREATE TABLE graph_like (id int); CREATE TABLE plain (id int); "
                 "UPDATE pg_class SET relkind = 'g' WHERE relname = 'graph_like'", "future")
    try:
        extract = run_extract(pg18, ["future"], tmp_path)
    finally:
        pg18.execute("DROP DATABASE future")
    (warning,) = [w for w in extract.manifest["warnings"] if "unknown relkind" in w]
    assert "1 object(s) of unknown relkind 'g'" in warning and "'future'" in warning
    assert warning in extract.manifest["databases"][0]["warnings"]
    assert {r["OBJECT_NAME"] for r in extract.metadata("TABLE")} == {"plain"}


def test_views_are_deparsed_in_batches_holding_few_locks(pg18, tmp_path):
    """pg_get_viewdef's locks pile up until the savepoint ends; batches keep them few. Another
    session watches the collector's locks in pg_locks while each view is deparsed slowly."""
    pg18.execute("DROP DATABASE IF EXISTS many_views")
    pg18.execute("CREATE DATABASE many_views")
    pg18.execute("DO $$ BEGIN FOR i IN 1..450 LOOP "
                 "EXECUTE format('CREATE TABLE t%s (a int); CREATE VIEW v%s AS SELECT a FROM t%s', i, i, i); "
                 "END LOOP; END $$", "many_views")

    def most_locks(*change):
        def slowly(extractor):
            text = extractor.get_sql("VIEWS_SQL").replace("WHERE c.oid", "WHERE pg_sleep(0.001) IS NOT NULL AND c.oid")
            extractor.overwrite_sql("VIEWS_SQL", text.replace(*change) if change else text)
        with PeakCount(pg18, RELATION_LOCKS_SQL) as watch:
            extract = run_extract(pg18, ["many_views"], tmp_path / str(bool(change)), prepare=slowly)
        views = extract.metadata("VIEW")
        assert len(views) == 450 and all(v["DEFINITION"] for v in views)
        return watch.most

    batched = most_locks()
    assert batched < 300, batched
    # The same statement without the batch placeholder runs in one piece: every lock at once.
    assert most_locks("c.oid = ANY ({3}::oid[])", "true") > 450
    pg18.execute("DROP DATABASE many_views")
