"""The performance benchmark (benchmarks/catalog_benchmark.py) runs end to end at a tiny scale."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.postgres.statements import NAMED_STATEMENTS

BENCHMARK = Path(__file__).parents[1] / "benchmarks" / "catalog_benchmark.py"
STATISTICS_BENCHMARK = BENCHMARK.with_name("statistics_cost.py")


@pytest.mark.slow  # about 30 s on 2 cores
def test_benchmark_measures_two_tiny_catalogs(pg18, tmp_path):
    # The password goes through the environment, as a user would pass it, not on the command line.
    dsn = pg18.dsn(user=pg18.superuser)  # without a password
    env = {**os.environ, "PGPASSWORD": pg18.password}
    result = subprocess.run(
        [sys.executable, str(BENCHMARK), "--scale", "0.001", "0.002", "--changes", "5", "--dsn", dsn, "--jobs", "1",
         "--results-dir", str(tmp_path)],
        check=False, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "targets:" in result.stdout and "where the time goes" in result.stdout
    assert pg18.password not in result.stdout

    (path,) = tmp_path.glob("*-scale0.001_0.002.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert {"date", "started_utc", "command", "machine", "load", "collector", "targets", "scales", "comparison",
            "verdict"} <= report.keys()
    assert "<dsn>" in report["command"] and report["machine"]["server"].startswith("18")
    assert all(len(report["load"][when]) == 3 for when in ("before", "after"))
    small, run = report["scales"]
    assert small["catalog"]["tables"] == 20 and run["catalog"]["tables"] == 40
    assert run["catalog"]["views"] > 0 and run["catalog"]["foreign_keys"] > 0

    copy = run["copy_limit"]
    assert copy["seconds"] > 0
    named = {s["name"] for s in copy["statements"]}
    # Every statement the run's settings run (metadata only: not profile's nor usage's).
    extractor = Extractor(host="h", server="h", username="u", databases=["d"], output_path="/tmp")
    listed = {s.name for s in extractor._wanted(NAMED_STATEMENTS)}
    assert listed <= named
    assert not {"PROFILE_SQL", "USAGE_SQL"} & named

    plain, compressed = run["extraction"]["plain"], run["extraction"]["compressed"]
    for measured in (plain, compressed):
        assert 0 < measured["run_seconds"] <= measured["wall_seconds"]
        assert 10 < measured["peak_rss_mb"] < 1000
    assert plain["rows"] == compressed["rows"] > 0
    by_sessions = run["extraction"]["by_sessions"]
    assert {n: r["sessions"] for n, r in by_sessions.items()} == {"1": [1], "2": [2], "4": [4]}
    assert all(r["rows"] == plain["rows"] for r in by_sessions.values())
    assert all(run["ratios"][f"sessions_{n}_over_copy_limit"] > 0 for n in by_sessions)
    assert 0 < compressed["bytes"] < plain["bytes"]

    assert run["statements"]["executions_per_database"] >= run["statements"]["named_statements"] > 0
    assert run["statements"]["longest"]["seconds"] > 0
    assert all(value > 0 for value in run["ratios"].values())
    _assert_scale_measures(run, plain, listed)
    _assert_compared(report)


def _assert_scale_measures(run, plain, listed):
    """What the multi-tenant figures rest on: the next windows' events and diffs, the collector's
    sessions and locks on the server, time per object, and the collector's time per statement."""
    scheduled = run["extraction"]["scheduled"]
    assert scheduled["changes"] == 5
    unchanged, changed = scheduled["next"], scheduled["changed"]
    assert scheduled["first"]["files"]["events"]["rows"] == plain["files"]["metadata"]["rows"]  # all CREATED
    assert unchanged["files"]["events"]["rows"] == unchanged["change_events"]["diffed"] == 0
    assert changed["files"]["events"]["rows"] == changed["change_events"]["diffed"] == 5
    for steady in (unchanged, changed):  # nothing changed: the diff compares two hashes, under 0.1 ms
        assert 0 <= steady["change_events"]["diff_seconds"] <= steady["change_events"]["write_seconds"] < steady["run_seconds"]

    cost = run["server_cost"]
    assert cost["longest_statement"]["seconds"] > 0 and cost["samples"] > 0
    assert 1 <= cost["most_sessions"] <= 2  # the default max_connections
    assert cost["most_locks"] > cost["most_relation_locks"] > 0  # a session holds its own transaction's, too
    assert cost["most_parallel_workers"] >= 0  # the server's, not sessions: counted apart

    per_object = run["per_object"]
    assert per_object["metadata_rows"] == plain["files"]["metadata"]["rows"]
    assert per_object["run_microseconds_per_object"] * per_object["metadata_rows"] / 1e6 == \
        pytest.approx(plain["run_seconds"], rel=0.01)
    assert per_object["run_microseconds_per_pg_class_row"] > 0 and per_object["pg_class_rows"] > 0

    where = run["where_the_time_goes"]
    assert where["run"] == "1 session"
    statements = {s["name"]: s for s in where["statements"]}
    assert set(statements) <= listed and "COLUMNS_SQL" in statements
    assert all(0 <= s["collector_cpu_seconds"] and 0 < s["collector_seconds"] for s in statements.values())
    assert 0 < sum(s["collector_seconds"] for s in statements.values()) < where["run_seconds"]


def _assert_compared(report):
    compared = report["comparison"]
    assert compared["scales"] == [0.001, 0.002] and compared["tables"] == 2.0
    for key in ("metadata_rows", "run_seconds_per_object", "copy_limit_seconds_per_object", "diff_seconds_unchanged",
                "diff_seconds_changed", "longest_statement_seconds", "most_locks", "peak_rss"):
        assert compared[key] > 0, key
    verdict = report["verdict"]
    assert len(verdict) == 10 and all(isinstance(v["met"], bool) for v in verdict.values())
    assert sum(name.startswith("next window with") for name in verdict) == 2
    assert any(name.startswith("run time per object linear") for name in verdict)


@pytest.mark.slow  # about 30 s on 2 cores
def test_lineage_benchmark_writes_its_page(pg18, tmp_path):
    """benchmarks/lineage_accuracy.py end to end at a tiny scale: the truth is met, PostgreSQL's own
    views are all parsed, and the page says so."""
    page = tmp_path / "lineage.md"
    env = {**os.environ, "PGPASSWORD": pg18.password}
    result = subprocess.run(
        [sys.executable, str(BENCHMARK.with_name("lineage_accuracy.py")), "--scale", "0.002", "--rounds", "1",
         "--dsn", pg18.dsn(user=pg18.superuser), "--output", str(page)],
        check=False, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    text = page.read_text(encoding="utf-8")
    assert "| the collector (definitions parsed with PostgreSQL's grammar) |" in text
    collector = next(line for line in text.splitlines() if line.startswith("| the collector"))
    assert collector.endswith("| 1.00 | 1.00 |"), collector
    assert "0 not parsed." in text and pg18.password not in text


@pytest.mark.slow  # about 30 s on 2 cores
def test_statistics_benchmark_measures_profile_and_usage(pg18, tmp_path):
    dsn = pg18.dsn(user=pg18.superuser)
    env = {**os.environ, "PGPASSWORD": pg18.password}
    result = subprocess.run(
        [sys.executable, str(STATISTICS_BENCHMARK), "--scale", "0.002", "--dsn", dsn, "--jobs", "1", "--repeat", "1",
         "--results-dir", str(tmp_path)], check=False, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verdict (a scheduled run" in result.stdout and pg18.password not in result.stdout
    (path,) = tmp_path.glob("*-statistics-scale0.002.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    # Every column of the copy has statistics: the first window's profile has a row per column and
    # table; the next one's, a row per table and the columns of those analysed in it alone.
    planted, extracts = report["planted"], report["extracts"]
    assert planted["columns"] > planted["tables"] > planted["analysed_in_next_window"] > 0
    assert extracts["first"]["profile"]["rows"] >= planted["columns"] + planted["tables"]
    assert planted["tables"] < extracts["next"]["profile"]["rows"] < extracts["first"]["profile"]["rows"] / 2
    assert extracts["next"]["usage"]["rows"] > planted["tables"]
    base, both = report["best"]["base"]["next"], report["best"]["with"]["next"]
    assert "profile" not in base["files"] and {"profile", "usage"} <= both["files"].keys()
    assert {f"{name}_{measure}_{window}" for name in ("profile", "usage", "with") for measure in ("best", "median", "work")
            for window in ("first", "next")} == report["added"].keys()


def test_relation_catalog_benchmark_compares_both_catalogs(pg18, tmp_path):
    """benchmarks/relation_catalog.py on a tiny database: both catalogs loaded and looked up, the
    packed one holding less, figures written as JSON, the password shown nowhere."""
    pg18.create_database("relation_catalog_smoke")
    pg18.execute("CREATE SCHEMA s1; CREATE SCHEMA s2; "
                 "DO $$ BEGIN FOR i IN 1..150 LOOP EXECUTE format('CREATE TABLE s%s.t%s (id int)', i % 2 + 1, i); "
                 "END LOOP; END $$; CREATE VIEW s1.v AS SELECT 1 AS one", "relation_catalog_smoke")
    env = {**os.environ, "PGPASSWORD": pg18.password}
    result = subprocess.run(
        [sys.executable, str(BENCHMARK.with_name("relation_catalog.py")), "--dsn", pg18.dsn(user=pg18.superuser),
         "--databases", "relation_catalog_smoke", "--lookups", "100", "--rounds", "1", "--results-dir", str(tmp_path)],
        check=False, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "packed over dict" in result.stdout and pg18.password not in result.stdout
    (path,) = tmp_path.glob("*-relation-catalog.json")
    text = path.read_text(encoding="utf-8")
    assert pg18.password not in text
    report = json.loads(text)
    assert "<dsn>" in report["command"] and report["machine"]["server"].startswith("18")
    as_is, one_schema = report["databases"]["relation_catalog_smoke"].values()
    assert (as_is["relations"], as_is["schemas"], one_schema["relations"], one_schema["schemas"]) == (151, 2, 151, 1)
    for figures in (as_is, one_schema):
        packed, plain = figures["packed"], figures["dict"]
        assert packed["sampled"] == plain["sampled"] == 100
        assert 0 < packed["held_bytes"] < plain["held_bytes"] and 0 < packed["peak_bytes"] < plain["peak_bytes"]
        assert all(f[key] > 0 for f in (packed, plain)
                   for key in ("load_seconds", "lookup_us_qualified", "lookup_us_unqualified"))
        assert figures["packed_over_dict"]["held_bytes"] < 1


def test_snapshot_diff_benchmark_measures_two_tiny_catalogs(tmp_path):
    """benchmarks/snapshot_diff.py at two tiny sizes, the installed store against a copy of it given
    as another module: the events it diffs are those it made, and every figure is there."""
    from kada_collectors.lib import snapshots
    result = subprocess.run(
        [sys.executable, str(BENCHMARK.with_name("snapshot_diff.py")), "--sizes", "3000", "6000", "--repeat", "2",
         "--compare", snapshots.__file__, "--results-dir", str(tmp_path)],
        check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "largest/smallest" in result.stdout
    (path,) = tmp_path.glob("*-snapshot_diff.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["stores"].keys() == {"installed", "compared"} and len(report["load"]["after"]) == 3
    for store in report["stores"].values():
        assert [size["objects"] for size in store["sizes"]] == [3000, 6000]
        for size in store["sizes"]:
            assert size["events_unchanged"] == {}
            assert size["events_changed"] == {"ALTERED": 100, "CREATED": 65, "DROPPED": 65}
            assert size["diff_changed_ms"] > size["diff_unchanged_ms"] > 0 and size["write_us_per_object"] > 0
            assert 10 < size["write_peak_rss_mb"] < 500 and 10 < size["diff_peak_rss_mb"] < 500
        assert all(store["ratios_largest_over_smallest"][key] > 0 for key in ("diff_changed_ms", "write_peak_rss_mb"))
