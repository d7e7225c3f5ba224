"""Read replicas and Aurora readers: extraction from a real hot standby, recorded as such, and a real
recovery conflict (the standby cancels the collector's statement) retried with a fresh snapshot."""

import logging
import re
import threading
import time

import pytest

from collect import run_extract
from conftest import SAMPLE_SCHEMA
from servers import PgServer
from standby_servers import Standby

DB = "replica_shop"


@pytest.fixture(scope="module")
def primary(own_pg18: PgServer) -> PgServer:
    own_pg18.create_database(DB)
    own_pg18.run_sql_file(SAMPLE_SCHEMA, DB)
    own_pg18.execute("CREATE TABLE churn (id int)", DB)
    return own_pg18


@pytest.fixture(scope="module")
def standby(primary):
    # Cancel at once any standby query that holds back the replay (no waiting, no feedback).
    replica = Standby(primary, {"max_standby_streaming_delay": "0", "hot_standby_feedback": "off"})
    try:
        replica.wait_for_replay()
        yield replica
    finally:
        replica.stop()


def test_extraction_from_a_standby_is_recorded_as_such(primary, standby, tmp_path):
    assert standby.server.execute("SELECT pg_is_in_recovery()") == [(True,)]
    from_standby = run_extract(standby.server, [DB], tmp_path / "standby")
    assert from_standby.manifest["status"] == "succeeded", from_standby.manifest
    assert from_standby.manifest["standby"] is True
    assert from_standby.manifest["databases"][0]["standby"] is True
    from_primary = run_extract(primary, [DB], tmp_path / "primary")
    assert from_primary.manifest["standby"] is False
    # The standby holds the same catalog: the same objects, with the same identities.
    ids = {(r["OBJECT_TYPE"], r["OBJECT_ID"]) for r in from_standby.metadata() if r["OBJECT_TYPE"] != "DATABASE"}
    assert ids == {(r["OBJECT_TYPE"], r["OBJECT_ID"]) for r in from_primary.metadata()
                   if r["OBJECT_TYPE"] != "DATABASE"}
    assert len(ids) > 50


def test_a_recovery_conflict_is_retried_with_a_fresh_snapshot(primary, standby, tmp_path, caplog):
    """While the collector's snapshot is open on the standby, the primary removes rows that snapshot
    could still see (DELETE, VACUUM): replaying that, the standby cancels the collector's statement
    (SQLSTATE 40001). The database is extracted again with a new snapshot, and succeeds."""
    primary.execute("INSERT INTO churn SELECT generate_series(1, 1000)", DB)
    standby.wait_for_replay()
    attempts = []

    def pause_in_schemas(extractor):
        statement = extractor.get_sql("SCHEMAS_SQL").strip().rstrip(";")
        # Sleeps once per attempt inside the snapshot: the moment for the primary to vacuum.
        extractor.overwrite_sql("SCHEMAS_SQL", f"WITH pause AS MATERIALIZED (SELECT pg_sleep(2)) "
                                               f"SELECT s.* FROM ({statement}) s, pause")

    def conflict():
        # Wait for the collector's first snapshot to be sleeping on the standby, then clean up under it.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = standby.server.execute(
                f"SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = '{DB}'")
            if rows[0][0]:
                attempts.append(time.monotonic())
                primary.execute("DELETE FROM churn", DB)
                primary.execute("VACUUM churn", DB)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=conflict)
    thread.start()
    try:
        with caplog.at_level(logging.WARNING):
            extract = run_extract(standby.server, [DB], tmp_path / "conflict", prepare=pause_in_schemas)
    finally:
        thread.join()
    assert attempts, "the collector's statement was never seen on the standby"
    retried = [r.getMessage() for r in caplog.records if "retrying with a fresh snapshot" in r.getMessage()]
    assert len(retried) == 1, [r.getMessage() for r in caplog.records]
    # Every session sharing the snapshot is cancelled: any of them may be the one named.
    assert re.search(r"the standby (cancelled|ended the session while) [A-Z_]+_SQL", retried[0]) \
        and retried[0].endswith("per statement")
    assert extract.manifest["status"] == "succeeded", extract.manifest
    assert extract.manifest["standby"] is True
    assert any("one snapshot per statement" in w for w in extract.manifest["warnings"])
    assert len(extract.metadata("TABLE")) > 5


def test_recovery_conflicts_are_retried_a_bounded_number_of_times(primary, standby, tmp_path):
    """A conflict at every attempt: the database fails after RECOVERY_CONFLICT_ATTEMPTS, saying what to do."""
    from kada_collectors.extractors.postgres.extractor import RECOVERY_CONFLICT_ATTEMPTS
    from kada_collectors.lib.errors import ExtractError
    seen, stop = [], threading.Event()

    def pause_in_schemas(extractor):
        statement = extractor.get_sql("SCHEMAS_SQL").strip().rstrip(";")
        extractor.overwrite_sql("SCHEMAS_SQL", f"WITH pause AS MATERIALIZED (SELECT pg_sleep(2)) "
                                               f"SELECT s.* FROM ({statement}) s, pause")

    def conflicts():
        while not stop.is_set():
            pids = standby.server.execute(
                f"SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = '{DB}'")
            for (pid,) in pids:
                if pid not in seen:
                    seen.append(pid)
                    primary.execute("INSERT INTO churn SELECT generate_series(1, 100)", DB)
                    primary.execute("DELETE FROM churn", DB)
                    primary.execute("VACUUM churn", DB)
            time.sleep(0.05)

    thread = threading.Thread(target=conflicts)
    thread.start()
    try:
        with pytest.raises(ExtractError) as caught:
            run_extract(standby.server, [DB], tmp_path / "conflicts", prepare=pause_in_schemas)
    finally:
        stop.set()
        thread.join()
    assert len(seen) == RECOVERY_CONFLICT_ATTEMPTS
    message = str(caught.value)
    assert "the standby cancelled SCHEMAS_SQL" in message and "hot_standby_feedback" in message
