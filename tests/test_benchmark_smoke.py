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


@pytest.mark.slow  # about 13 s on 2 cores
def test_benchmark_measures_a_tiny_catalog(pg18, tmp_path):
    # The password goes through the environment, as a user would pass it, not on the command line.
    dsn = pg18.dsn(user=pg18.superuser)  # without a password
    env = {**os.environ, "PGPASSWORD": pg18.password}
    result = subprocess.run(
        [sys.executable, str(BENCHMARK), "--scale", "0.002", "--dsn", dsn, "--jobs", "1", "--results-dir", str(tmp_path)],
        check=False, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "targets:" in result.stdout and pg18.password not in result.stdout

    (path,) = tmp_path.glob("*-scale0.002.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert {"date", "command", "machine", "collector", "targets", "scales", "comparison", "verdict"} <= report.keys()
    assert "<dsn>" in report["command"] and report["machine"]["server"].startswith("18")
    (run,) = report["scales"]
    assert run["catalog"]["tables"] == 40 and run["catalog"]["views"] > 0 and run["catalog"]["foreign_keys"] > 0

    copy = run["copy_limit"]
    assert copy["seconds"] > 0
    named = {s["name"] for s in copy["statements"]}
    # Every statement the run's settings run (metadata only: not profile's nor usage's).
    extractor = Extractor(host="h", server="h", username="u", databases=["d"], output_path="/tmp")
    assert {s.name for s in extractor._wanted(NAMED_STATEMENTS)} <= named
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
    assert len(report["verdict"]) == 3 and all(isinstance(v["met"], bool) for v in report["verdict"].values())


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
    assert "verdict:" in result.stdout and pg18.password not in result.stdout
    (path,) = tmp_path.glob("*-statistics-scale0.002.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    # Every column of the copy has statistics, so the profile has a row per column and table.
    assert report["planted"]["columns"] > report["planted"]["tables"] > 0
    assert report["extracts"]["profile"]["rows"] >= report["planted"]["columns"] + report["planted"]["tables"]
    assert report["extracts"]["usage"]["rows"] > report["planted"]["tables"]
    base, both = report["best"]["base"]["next"], report["best"]["with"]["next"]
    assert "profile" not in base["files"] and {"profile", "usage"} <= both["files"].keys()
    assert {f"{name}_{measure}_{window}" for name in ("profile", "usage", "with") for measure in ("best", "median", "work")
            for window in ("first", "next")} == report["added"].keys()
