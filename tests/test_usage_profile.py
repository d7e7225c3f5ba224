"""The usage and profile extracts, from the server's own statistics, against real servers.

Usage: known work between two windows (sequential scans of one table, index scans of another,
inserts into a third, calls of a function) gives exactly those deltas in the second window; a
pg_stat_reset() between windows is reported, never subtracted. Profile: ANALYZE'd tables with
known distributions give the expected null fractions and distinct counts, and a distinctive
string stored in a table reaches no file the collector writes.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from collect import HOST, Extract, extractor_config, run_extract
from conftest import LOW_PRIVILEGE_USER, create_low_privilege_role
from test_doctor import cli, lines_of, write_config
from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.postgres.usage import expand_columns
from kada_collectors.lib.errors import ConfigError, ExtractError
from kada_collectors.lib.hwm import HWM_FORMAT, now_hwm
from kada_collectors.lib.validate import validate_folder

PLANTED = "ZQXV-planted-4e1d"
SEQ_SCANS, INDEX_SCANS, INSERTS, CALLS = 3, 4, 5, 2
SCANNED_ROWS = 100

LAB = f"""
CREATE SCHEMA lab;
CREATE TABLE lab.scanned (id int, note text) WITH (autovacuum_enabled = off);
INSERT INTO lab.scanned SELECT i, 'n' || i FROM generate_series(1, {SCANNED_ROWS}) i;
CREATE TABLE lab.keyed (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = off);
INSERT INTO lab.keyed SELECT i, i * 2 FROM generate_series(1, 1000) i;
CREATE TABLE lab.inserted (id int) WITH (autovacuum_enabled = off);
CREATE TABLE lab.untouched (id int PRIMARY KEY) WITH (autovacuum_enabled = off);
CREATE FUNCTION lab.bump(n int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN n + 1; END $$;
CREATE TABLE lab.dist (id int, half_null int, ten int, uniq int, secret text) WITH (autovacuum_enabled = off);
INSERT INTO lab.dist SELECT i, CASE WHEN i % 2 = 1 THEN i END, i % 10, i, '{PLANTED}-' || (i % 3)
FROM generate_series(1, 1000) i;
ANALYZE lab.dist;
"""


def _lab(server, name: str, track_functions: str = "pl") -> str:
    server.create_database(name)
    server.execute(f"ALTER DATABASE {name} SET track_functions = '{track_functions}'")
    server.execute(LAB, name)
    create_low_privilege_role(server)
    server.execute(f"GRANT USAGE ON SCHEMA lab TO {LOW_PRIVILEGE_USER}; GRANT SELECT ON lab.dist TO {LOW_PRIVILEGE_USER}",
                   name)
    # On 13 and 14 the statistics collector learns of the ANALYZE a moment later.
    _poll(lambda: _counter(server, name, "SELECT 1 FROM pg_stat_user_tables WHERE relname = 'dist' "
                                         "AND last_analyze IS NOT NULL"))
    return name


def _poll(shown) -> None:
    """Wait until ``shown()`` is true: the server's statistics arrive a moment after the work."""
    deadline = time.monotonic() + 15
    while not shown():
        assert time.monotonic() < deadline, "the server's statistics did not show the work"
        time.sleep(0.1)


def _counter(server, dbname: str, query: str) -> int:
    """A statistics value as a fresh session sees it."""
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        row = conn.execute(query).fetchone()
        return (row[0] if row else 0) or 0


SEQ_SCANS_SEEN = "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'scanned'"


def _wait_until(server, dbname: str, shown) -> None:
    """Poll until ``shown(seq_scan of lab.scanned)``: on 13 and 14 the statistics collector takes
    its time, and on 15+ another session's flush may too."""
    _poll(lambda: shown(_counter(server, dbname, SEQ_SCANS_SEEN)))


def _work(server, dbname: str, seq_scans: int = SEQ_SCANS, index_scans: int = INDEX_SCANS, inserts: int = INSERTS,
          calls: int = CALLS) -> None:
    """Known work in ``dbname``, then wait (polling) until the server's statistics show it."""
    before = _counter(server, dbname, SEQ_SCANS_SEEN)
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
        for _ in range(seq_scans):
            conn.execute("SELECT count(*) FROM lab.scanned").fetchone()
        for i in range(index_scans):
            conn.execute("SELECT v FROM lab.keyed WHERE id = %s", (i + 1,)).fetchone()
        for i in range(inserts):
            conn.execute("INSERT INTO lab.inserted VALUES (%s)", (i,))
        for i in range(calls):
            conn.execute("SELECT lab.bump(%s)", (i,)).fetchone()
        if server.version >= 15:  # cumulative statistics are flushed lazily
            conn.execute("SELECT pg_stat_force_next_flush()")
    _wait_until(server, dbname, lambda seq_scan: seq_scan >= before + seq_scans)


def _next_hwm(previous: str) -> str:
    """Now as an HWM, once it is past ``previous`` (HWMs have whole seconds)."""
    while (hwm := now_hwm()) <= previous:
        time.sleep(0.1)
    return hwm


def _usage(extract: Extract, dbname: str) -> dict[str, dict]:
    rows = {r["OBJECT_ID"]: r for r in extract.rows("usage")}
    for row in rows.values():
        row["COUNTERS"], row["STATE"] = json.loads(row["COUNTERS"]), json.loads(row["STATE"])
    return rows


def _id(dbname: str, name: str) -> str:
    return f'"{HOST}".{dbname}.lab.{name}'


def test_known_work_gives_exactly_its_deltas(pg_server, tmp_path):
    dbname = _lab(pg_server, "usage_lab")
    output = tmp_path / "out"
    user = {"user": LOW_PRIVILEGE_USER, "meta_only": False}
    first_end = now_hwm()
    first = run_extract(pg_server, [dbname], output, window=(None, first_end), **user)
    rows = _usage(first, dbname)
    assert {r["BASELINE"] for r in rows.values()} == {"FIRST_RUN"}
    assert any("usage has no snapshot" in w for w in first.manifest["warnings"])

    _work(pg_server, dbname)
    second_end = _next_hwm(first_end)
    second = run_extract(pg_server, [dbname], output, window=(first_end, second_end), **user)
    rows = _usage(second, dbname)
    scanned, keyed, inserted = rows[_id(dbname, "scanned")], rows[_id(dbname, "keyed")], rows[_id(dbname, "inserted")]
    assert {r["BASELINE"] for r in rows.values()} == {"SNAPSHOT"}, [r for r in rows.values() if r["BASELINE"] != "SNAPSHOT"]
    assert {r["COUNTS_SINCE"] for r in rows.values()} == {first_end}
    assert (scanned["OBJECT_TYPE"], scanned["WINDOW_START"], scanned["WINDOW_END"]) == ("TABLE", first_end, second_end)
    assert scanned["COUNTERS"]["seq_scan"] == SEQ_SCANS
    assert scanned["COUNTERS"]["seq_tup_read"] == SEQ_SCANS * SCANNED_ROWS
    assert scanned["STATE"]["n_live_tup"] == SCANNED_ROWS
    assert keyed["COUNTERS"]["idx_scan"] == INDEX_SCANS and "seq_scan" not in keyed["COUNTERS"]  # not zero: left out
    assert rows[_id(dbname, "keyed_pkey")]["COUNTERS"]["idx_scan"] == INDEX_SCANS
    assert rows[_id(dbname, "keyed_pkey")]["OBJECT_TYPE"] == "INDEX"
    assert inserted["COUNTERS"]["n_tup_ins"] == INSERTS
    # Nothing touched: every counter left out, the state as it stands.
    assert rows[_id(dbname, "untouched")]["COUNTERS"] == {} == rows[_id(dbname, "untouched_pkey")]["COUNTERS"]
    assert rows[_id(dbname, "untouched")]["STATE"]["n_live_tup"] == 0
    function = rows[_id(dbname, "bump(integer)")]
    assert (function["OBJECT_TYPE"], function["COUNTERS"]["calls"]) == ("FUNCTION", CALLS)
    assert rows[f'"{HOST}".{dbname}']["OBJECT_TYPE"] == "DATABASE"
    # Usage names the objects as metadata does.
    metadata = {(r["OBJECT_TYPE"], r["OBJECT_ID"]) for r in second.metadata()}
    assert {(r["OBJECT_TYPE"], r["OBJECT_ID"]) for r in rows.values()} <= metadata
    assert validate_folder(str(output)).ok


def test_a_reset_between_windows_is_reported_not_subtracted(pg_server, tmp_path):
    dbname = _lab(pg_server, "usage_reset_lab", track_functions="none")
    output = tmp_path / "out"
    _work(pg_server, dbname)  # counted before the first window: a subtraction would go negative
    first_end = now_hwm()
    run_extract(pg_server, [dbname], output, window=(None, first_end), meta_only=False)
    pg_server.execute("SELECT pg_stat_reset()", dbname)
    _wait_until(pg_server, dbname, lambda seq_scan: seq_scan == 0)
    _work(pg_server, dbname, seq_scans=2)
    second_end = _next_hwm(first_end)
    second = run_extract(pg_server, [dbname], output, window=(first_end, second_end), meta_only=False)
    rows = _usage(second, dbname)
    scanned = rows[_id(dbname, "scanned")]
    assert {r["BASELINE"] for r in rows.values()} == {"RESET"}
    assert scanned["COUNTERS"]["seq_scan"] == 2
    assert first_end <= scanned["COUNTS_SINCE"][:19] <= second_end
    assert all(v >= 0 for r in rows.values() for v in r["COUNTERS"].values())
    warnings = "\n".join(second.manifest["warnings"])
    assert "were reset in the window" in warnings
    assert "track_functions is off" in warnings
    assert not [r for r in rows.values() if r["OBJECT_TYPE"] == "FUNCTION"]


def test_one_table_reset_is_that_tables_alone(pg_server, tmp_path):
    dbname = _lab(pg_server, "usage_one_reset_lab")
    output = tmp_path / "out"
    _work(pg_server, dbname)
    first_end = now_hwm()
    run_extract(pg_server, [dbname], output, window=(None, first_end), meta_only=False)
    pg_server.execute("SELECT pg_stat_reset_single_table_counters('lab.scanned'::regclass)", dbname)
    _wait_until(pg_server, dbname, lambda seq_scan: seq_scan == 0)
    _work(pg_server, dbname, seq_scans=1)
    second = run_extract(pg_server, [dbname], output, window=(first_end, _next_hwm(first_end)), meta_only=False)
    rows = _usage(second, dbname)
    scanned, keyed = rows[_id(dbname, "scanned")], rows[_id(dbname, "keyed")]
    # Counted since its reset: the one scan, not the rows inserted before it.
    assert (scanned["BASELINE"], scanned["COUNTERS"].get("seq_scan"), "n_tup_ins" in scanned["COUNTERS"]) == \
        ("RESET", 1, False)
    assert (keyed["BASELINE"], keyed["COUNTERS"]["idx_scan"]) == ("SNAPSHOT", INDEX_SCANS)
    assert {r["BASELINE"] for k, r in rows.items() if k != _id(dbname, "scanned")} == {"SNAPSHOT"}
    assert not any("were reset in the window" in w for w in second.manifest["warnings"])


def test_profile_from_the_planners_statistics(pg_server, tmp_path):
    dbname = _lab(pg_server, "profile_lab")
    output = tmp_path / "out"
    extract = run_extract(pg_server, [dbname], output, user=LOW_PRIVILEGE_USER, profile=True)
    rows = {r["OBJECT_ID"]: r for r in extract.rows("profile")}
    table = rows[_id(dbname, "dist")]
    assert (table["OBJECT_TYPE"], table["ROW_ESTIMATE"]) == ("TABLE", "1000")
    assert table["LAST_ANALYZED"] and table["NULL_FRACTION"] == ""

    def column(name):
        return rows[_id(dbname, f"dist.{name}")]
    assert column("half_null")["NULL_FRACTION"] == "0.5"
    assert (column("half_null")["DISTINCT_VALUES"], column("half_null")["DISTINCT_IS_ESTIMATED"]) == ("500", "Y")
    assert column("half_null")["DISTINCT_FRACTION"] == "0.5"
    assert (column("ten")["DISTINCT_VALUES"], column("ten")["DISTINCT_IS_ESTIMATED"]) == ("10", "N")
    assert column("ten")["NULL_FRACTION"] == "0" and column("ten")["DISTINCT_FRACTION"] == ""
    assert (column("uniq")["DISTINCT_VALUES"], column("uniq")["DISTINCT_IS_ESTIMATED"]) == ("1000", "Y")
    assert float(column("uniq")["CORRELATION"]) == 1.0 and column("uniq")["AVG_WIDTH"] == "4"
    assert column("uniq")["PARENT_ID"] == _id(dbname, "dist") and column("uniq")["OBJECT_TYPE"] == "COLUMN"
    # pg_stats shows only the columns the role may SELECT: lab.scanned's are hidden from it.
    assert _id(dbname, "scanned") in rows and not [i for i in rows if i.startswith(_id(dbname, "scanned."))]
    assert validate_folder(str(output)).ok


def _profile(extract: Extract, dbname: str) -> "tuple[dict[str, str], set[str]]":
    """({lab table: COLUMNS_INCLUDED}, the lab tables whose columns the file has)."""
    rows = extract.rows("profile")
    lab = _id(dbname, "")
    tables = {r["OBJECT_ID"][len(lab):]: r["COLUMNS_INCLUDED"] for r in rows
              if r["OBJECT_TYPE"] == "TABLE" and r["OBJECT_ID"].startswith(lab)}
    profiled = {r["PARENT_ID"][len(lab):] for r in rows if r["OBJECT_TYPE"] == "COLUMN" and r["PARENT_ID"].startswith(lab)}
    return tables, profiled


def _hwm_in(minutes: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).strftime(HWM_FORMAT)


def test_profile_sends_the_columns_of_tables_analysed_in_the_window(pg_server, tmp_path):
    """A column's statistics change only when its table is analysed: a window sends the columns of
    the tables analysed in it (or whose last analyse the server forgot), every table's row, and
    says on each which it is."""
    dbname = _lab(pg_server, "profile_window_lab")
    # Another schema's table of the same name (schema-per-tenant databases repeat them), analysed
    # before the windows below: its columns are in the first window's file only.
    pg_server.execute("CREATE SCHEMA other; CREATE TABLE other.keyed AS SELECT * FROM lab.keyed; ANALYZE other.keyed",
                      dbname)
    other_keyed = f'"{HOST}".{dbname}.other.keyed'
    output = tmp_path / "out"
    first = run_extract(pg_server, [dbname], output, window=(None, now_hwm()), meta_only=False)
    tables, profiled = _profile(first, dbname)
    assert tables["dist"] == "Y" and profiled == {"dist"}  # a first window: every table analysed since
    assert {r["PARENT_ID"] for r in first.rows("profile") if r["OBJECT_TYPE"] == "COLUMN"} >= {other_keyed}

    # A window that starts after the last ANALYZE (a minute is left for clocks that differ): the
    # tables' rows, no columns.
    later = run_extract(pg_server, [dbname], output, window=(_hwm_in(2), _hwm_in(3)), meta_only=False)
    tables, profiled = _profile(later, dbname)
    assert set(tables) == {"scanned", "keyed", "inserted", "untouched", "dist"}
    assert set(tables.values()) == {"N"} and profiled == set()
    assert validate_folder(str(output)).ok

    # Analysed in the window: its columns again, and only its. The window starts a minute after
    # the second that lab.keyed was analysed in, past lab.dist's analyse.
    time.sleep(2)
    pg_server.execute("ANALYZE lab.keyed", dbname)
    _poll(lambda: _counter(pg_server, dbname, "SELECT 1 FROM pg_stat_user_tables WHERE relname = 'keyed' "
                                              "AND last_analyze IS NOT NULL"))
    (keyed_at, dist_at), = pg_server.execute(
        "SELECT max(last_analyze) FILTER (WHERE relname = 'keyed'), max(last_analyze) FILTER (WHERE relname = 'dist') "
        "FROM pg_stat_user_tables", dbname)
    start = keyed_at.replace(microsecond=0) + timedelta(minutes=1)
    assert dist_at < keyed_at.replace(microsecond=0)
    analysed = run_extract(pg_server, [dbname], output, window=(start.astimezone(timezone.utc).strftime(HWM_FORMAT),
                                                                _hwm_in(3)), meta_only=False)
    tables, profiled = _profile(analysed, dbname)
    assert (tables["keyed"], tables["dist"], profiled) == ("Y", "N", {"keyed"})
    assert not [r for r in analysed.rows("profile") if r["PARENT_ID"] == other_keyed]  # same name, not analysed

    # The server forgot when the tables were analysed (a statistics reset; a crash or a failover
    # alike): those with statistics are sent, whatever the window.
    pg_server.execute("SELECT pg_stat_reset()", dbname)
    _poll(lambda: not _counter(pg_server, dbname, "SELECT 1 FROM pg_stat_user_tables WHERE relname = 'dist' "
                                                  "AND last_analyze IS NOT NULL"))
    forgotten = run_extract(pg_server, [dbname], output, window=(_hwm_in(2), _hwm_in(3)), meta_only=False)
    tables, profiled = _profile(forgotten, dbname)
    assert (tables["dist"], tables["keyed"], tables["scanned"]) == ("Y", "Y", "N") and profiled == {"dist", "keyed"}


def test_a_planted_string_reaches_no_file(pg_server, tmp_path):
    dbname = _lab(pg_server, "planted_lab")
    output = tmp_path / "out"
    assert pg_server.execute(f"SELECT count(*) FROM pg_stats WHERE tablename = 'dist' AND "
                             f"most_common_vals::text LIKE '%{PLANTED}%'", dbname)[0][0] == 1
    extract = run_extract(pg_server, [dbname], output, meta_only=False)  # the superuser: every column's statistics
    assert {f["extract"] for f in extract.manifest["files"]} >= {"profile", "usage"}
    assert any(r["OBJECT_ID"] == _id(dbname, "dist.secret") for r in extract.rows("profile"))
    written = [p for p in [*output.rglob("*"), *output.parent.glob(".*snapshots*")] if p.is_file()]
    assert written and not [p for p in written if PLANTED.encode() in p.read_bytes()]


def test_the_views_columns_are_sorted_by_the_server_it_runs_on(pg_server):
    text = "SELECT {usage_columns(s pg_stat_all_tables, io pg_statio_all_tables, 'x' AS note)} FROM pg_stat_all_tables s " \
           "JOIN pg_statio_all_tables io USING (relid) WHERE s.relname = 'pg_class'"
    with psycopg.connect(pg_server.dsn()) as conn:
        counters, state = conn.execute(expand_columns(text, conn)).fetchone()
        with pytest.raises(ExtractError, match="'alias view' or 'expression AS name'.*'pg_stat_all_tables'"):
            expand_columns("SELECT {usage_columns(pg_stat_all_tables)}", conn)
    # Counters: numbers that only grow, those that moved (zeros left out); the rest is the state.
    assert all(type(value) in (int, float) and value > 0 for value in counters.values())
    assert {"n_live_tup", "last_autovacuum", "note"} <= state.keys() and state["note"] == "x"
    assert not {"relid", "schemaname", "relname"} & (state.keys() | counters.keys())
    assert not {"n_live_tup", "n_dead_tup", "last_autovacuum", "note"} & counters.keys()


def test_the_switches(pg18, tmp_path):
    dbname = _lab(pg18, "switch_lab")
    only_meta = run_extract(pg18, [dbname], tmp_path / "a")
    assert not {"profile", "usage"} & {f["extract"] for f in only_meta.manifest["files"]}
    assert (only_meta.manifest["settings"]["profile"], only_meta.manifest["settings"]["usage"]) == (False, False)
    no_usage = run_extract(pg18, [dbname], tmp_path / "b", meta_only=False, usage=False)
    files = {f["extract"] for f in no_usage.manifest["files"]}
    assert "profile" in files and "usage" not in files


def test_a_bad_switch_is_named():
    config = {"host": "h", "server": "127.0.0.1", "username": "u", "databases": ["d"], "output_path": "/tmp/out",
              "profile": "yes", "usage": 1}
    with pytest.raises(ConfigError) as caught:
        Extractor(**config)
    text = "\n".join(caught.value.problems)
    assert "'profile' must be true or false" in text and "'usage' must be true or false" in text


def test_doctor_says_what_the_profile_and_usage_will_hold(pg18, tmp_path):
    dbname = _lab(pg18, "doctor_stats_lab")
    config = extractor_config(pg18, [dbname], tmp_path / "out", user=LOW_PRIVILEGE_USER, meta_only=False)
    doctor = cli("doctor", "--config", str(write_config(tmp_path, config)))
    checks = lines_of(doctor.stdout)
    # Of lab's five tables, the role may SELECT lab.dist alone.
    assert checks[f"profile {dbname}"] == ("WARN", "pg_stats shows the columns of 1 of 5 table(s): only those the "
                                                   "user may SELECT; the others' profile holds their row estimate alone")
    assert "GRANT pg_read_all_data" in doctor.stdout
    assert checks[f"usage {dbname}"] == ("PASS", "statistics views readable; track_functions = pl")
