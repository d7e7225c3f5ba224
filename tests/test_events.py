"""Change events: each run's metadata against the snapshot saved at its window's start."""

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from collect import HOST, extractor_config, run_extract
from kada_collectors.extractors.postgres.events import ChangeEvents
from kada_collectors.lib.contract import EXTRACT_COLUMNS
from kada_collectors.lib.errors import ExtractError
from kada_collectors.lib.snapshots import SnapshotStore
from kada_collectors.lib.writer import ExtractFile, csv_fields

DB = "evolving"
WINDOWS = ["1970-01-01 00:00:00", "2026-01-01 00:00:00", "2026-01-02 00:00:00", "2026-01-03 00:00:00",
           "2026-01-04 00:00:00", "2026-01-05 00:00:00", "2026-01-06 00:00:00", "2026-01-07 00:00:00"]


def events_of(extract):
    return {(e["EVENT_TYPE"], e["OBJECT_TYPE"], e["OBJECT_ID"].removeprefix(f'"{HOST}".{DB}.'),
             tuple(json.loads(e["DETAIL"] or "{}").get("changed", ()))) for e in extract.rows("events")}


@pytest.fixture
def evolving(pg_server):
    pg_server.create_database(DB)
    pg_server.execute("CREATE TABLE t (a int, b text); CREATE VIEW v AS SELECT a FROM t; "
                      "COMMENT ON TABLE t IS 'old'; "
                      "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", DB)
    yield pg_server
    pg_server.drop_database(DB)


def window(i):
    return WINDOWS[i], WINDOWS[i + 1]


def test_first_run_reports_every_object_created(shop_extract):
    events = shop_extract.rows("events")
    assert {(e["OBJECT_TYPE"], e["OBJECT_ID"]) for e in events} == \
        {(m["OBJECT_TYPE"], m["OBJECT_ID"]) for m in shop_extract.metadata()}
    assert all(e["EVENT_TYPE"] == "CREATED" and e["DETAIL"] == "" for e in events)
    assert any("no change-event snapshot" in w and "every object is reported as created" in w
               for w in shop_extract.manifest["warnings"])
    assert {e["EVENT_TIME"] for e in events} == {shop_extract.manifest["window"]["end_hwm"]}


def test_created_altered_dropped_between_runs_and_repeatable(evolving, tmp_path):
    run_extract(evolving, [DB], tmp_path, window=window(0))
    evolving.execute("ALTER TABLE t ALTER COLUMN b TYPE varchar(10); COMMENT ON TABLE t IS 'new'; "
                     "CREATE TABLE u (x int); DROP VIEW v; "
                     "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 2'", DB)
    expected = {
        ("ALTERED", "COLUMN", "public.t.b", ("DATA_TYPE",)),
        ("ALTERED", "TABLE", "public.t", ("DESCRIPTION",)),
        ("CREATED", "TABLE", "public.u", ()),
        ("CREATED", "COLUMN", "public.u.x", ()),
        ("DROPPED", "VIEW", "public.v", ()),
        ("DROPPED", "COLUMN", "public.v.a", ()),
        ("ALTERED", "FUNCTION", "public.f()", ("DEFINITION",)),
    }
    second = run_extract(evolving, [DB], tmp_path, window=window(1))
    assert events_of(second) == expected
    assert {e["DATABASE_NAME"] for e in second.rows("events")} == {DB} and second.rows("events")[0]["HOST"] == HOST
    again = run_extract(evolving, [DB], tmp_path, window=window(1))
    assert events_of(again) == expected, "the same window gives the same events"
    quiet = run_extract(evolving, [DB], tmp_path, window=window(2))
    assert events_of(quiet) == set()


def test_a_lost_snapshot_file_is_a_warning_naming_it(evolving, tmp_path, caplog):
    run_extract(evolving, [DB], tmp_path, window=window(0))
    diffed = run_extract(evolving, [DB], tmp_path, window=window(1))
    assert [d["change_events"] for d in diffed.manifest["databases"]] == ["diffed"]
    snapshots = extractor_config(evolving, [DB], tmp_path)["snapshot_path"]
    Path(snapshots).unlink()
    with caplog.at_level(logging.INFO):
        lost = run_extract(evolving, [DB], tmp_path, window=window(2))
    assert [d["change_events"] for d in lost.manifest["databases"]] == ["all created"]
    (said,) = [r for r in caplog.records if "no change-event snapshot" in r.getMessage()]
    assert said.levelno == logging.WARNING, "not a first run: someone should know"
    assert said.getMessage() == (f"1 database(s) had no change-event snapshot at {WINDOWS[2]} (a first run, or the "
                                 f"snapshot file {snapshots} was moved or deleted): every object is reported as "
                                 f"created ('{DB}')")


def test_a_failed_run_saves_no_snapshot(evolving, tmp_path):
    run_extract(evolving, [DB], tmp_path, window=window(0))
    evolving.execute("CREATE TABLE later (x int)", DB)
    failing = lambda e: e.overwrite_sql("TRIGGERS_SQL", e.get_sql("TRIGGERS_SQL").replace("WHERE NOT tg.tgisinternal",
                                                                                     "WHERE 1/0 = 1"))
    with pytest.raises(ExtractError):
        run_extract(evolving, [DB], tmp_path, window=window(1), prepare=failing)
    # The HWM did not move: the next run covers the window again, against the same baseline.
    retried = run_extract(evolving, [DB], tmp_path, window=(WINDOWS[1], WINDOWS[2]))
    assert ("CREATED", "TABLE", "public.later", ()) in events_of(retried)


def test_old_snapshots_are_pruned(evolving, tmp_path):
    for i in range(len(WINDOWS) - 1):
        run_extract(evolving, [DB], tmp_path, window=window(i))
    path = extractor_config(evolving, [DB], tmp_path)["snapshot_path"]
    with sqlite3.connect(path) as db:
        kept = [hwm for (hwm,) in db.execute("SELECT hwm FROM snapshots WHERE complete = 1 ORDER BY hwm")]
        assert db.execute("SELECT count(*) FROM snapshots WHERE complete = 0").fetchone()[0] == 0
    # From the last window's start on, plus three older ones.
    assert kept == WINDOWS[-5:]


def test_views_are_compared_by_their_parse_tree(tmp_path):
    """A major upgrade may print a view differently (PostgreSQL 16 dropped table prefixes): only a
    change to its parse tree is an alteration."""
    def record(definition):
        values = {c: "" for c in EXTRACT_COLUMNS["metadata"]}
        values.update(OBJECT_TYPE="VIEW", OBJECT_ID="h.db.public.v", DEFINITION=definition)
        # What the server sends: the checksums (here the same for every field), then the record.
        return csv_fields(["0" * 80, *values.values()]) + b"\n"

    def events(window, definition):
        out = ExtractFile(tmp_path, "postgres", "events", window[1].replace("-", "")[:8], EXTRACT_COLUMNS["events"], False)
        part = out.part("db")
        changes = ChangeEvents(store, HOST, DB, window, part)
        list(changes.watch([record(definition)]))
        changes.write()
        changes.complete()
        part.close()
        with open(part.path, encoding="utf-8") as f:
            found = [line.split("|")[1] for line in f][1:]  # after the header
        part.discard()
        out.discard()
        return found

    store = SnapshotStore(tmp_path / "snapshots.sqlite")
    assert events(window(0), " SELECT a\n   FROM t;") == ['"CREATED"']
    assert events(window(1), "select a from t") == [], "printed differently, same parse tree"
    assert events(window(2), "SELECT b FROM t") == ['"ALTERED"']
    store.close()
