"""The report's usage view and column profiles: in the terminal (top five of each list) and on the
page, rendered in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kada_collectors.extractors.report import build_report, open_run
from kada_collectors.lib.contract import EXTRACT_COLUMNS
from kada_collectors.lib.validate import validate_folder
from fix_runs import write_run
from test_report import (ARTIFACTS, HOST, ORDERS, SALES, SMALL_RUN, cells, chromium, click,  # noqa: F401
                         kada_collector, open_page)

WINDOW = ("2026-01-01 00:00:00", "2026-01-02 00:00:00")
# Seven tables: the top five of each list, and what is past them.
TABLES = {f"{SALES}.t{n}": (n * 100, (7 - n) * 10) for n in range(1, 8)}  # id: (rows read, rows written)
IDLE = f"{SALES}.idle"
UNCHANGED = f"{SALES}.t1"


def usage_row(kind, object_id, counters):
    return [kind, object_id, HOST, "dwh", *WINDOW, WINDOW[0], "SNAPSHOT", json.dumps(counters), "{}"]


def profile_row(kind, object_id, parent, **values):
    row = dict.fromkeys(EXTRACT_COLUMNS["profile"], "")
    row.update(OBJECT_TYPE=kind, OBJECT_ID=object_id, PARENT_ID=parent, HOST=HOST, DATABASE_NAME="dwh")
    row.update({k.upper(): v for k, v in values.items()})
    return [row[c] for c in EXTRACT_COLUMNS["profile"]]


USAGE = [
    *(usage_row("TABLE", t, {"seq_scan": 1, "seq_tup_read": read, "idx_scan": 0, "idx_tup_fetch": 0,
                             "n_tup_ins": written, "n_tup_upd": 0, "n_tup_del": 0}) for t, (read, written) in TABLES.items()),
    usage_row("TABLE", IDLE, {"seq_scan": 0, "seq_tup_read": 0, "n_tup_ins": 0}),
    usage_row("INDEX", f"{SALES}.orders_pkey", {"idx_scan": 0, "idx_tup_read": 0}),
    usage_row("INDEX", f"{SALES}.t1_pkey", {"idx_scan": 9}),
    usage_row("FUNCTION", f"{SALES}.refresh()", {"calls": 42, "total_time": 1.5, "self_time": 1.0}),
    usage_row("FUNCTION", f"{SALES}.unused()", {"calls": 0, "total_time": 0, "self_time": 0}),
]
PROFILE = [
    profile_row("TABLE", ORDERS, SALES, row_estimate="1000", last_analyzed="2026-01-01 12:00:00", columns_included="Y"),
    # Not analysed in the window: its columns are in an earlier file.
    profile_row("TABLE", UNCHANGED, SALES, row_estimate="700", last_analyzed="2025-12-01 08:00:00",
                columns_included="N"),
    profile_row("COLUMN", f"{ORDERS}.id", ORDERS, null_fraction="0", distinct_values="1000",
                distinct_is_estimated="Y", distinct_fraction="1", avg_width="8", correlation="1"),
    profile_row("COLUMN", f"{ORDERS}.amount", ORDERS, null_fraction="0.25", distinct_values="17",
                distinct_is_estimated="N", avg_width="6", correlation="-0.1"),
]


@pytest.fixture
def statistics_run(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    write_run(folder, {"dwh": {**SMALL_RUN, "usage": USAGE, "profile": PROFILE}}, host=HOST)
    assert validate_folder(folder).ok
    return folder


def test_model_ranks_usage_and_groups_profiles(statistics_run):
    data = build_report(open_run(statistics_run))
    usage, profile = data["usage"], data["profile"]
    assert [r[0] for r in usage["read"]["rows"]] == [f"{SALES}.t{n}" for n in range(7, 0, -1)]
    assert [r[0] for r in usage["written"]["rows"]] == [f"{SALES}.t{n}" for n in range(1, 7)]  # t7 wrote nothing
    assert usage["untouched_tables"] == {"total": 1, "rows": [IDLE]}
    assert usage["unscanned_indexes"] == {"total": 1, "rows": [f"{SALES}.orders_pkey"]}
    assert usage["functions"]["rows"] == [[f"{SALES}.refresh()", 42, 1.5]]
    assert profile["tables"][ORDERS]["rows"] == "1000" and profile["columns"] == 2
    assert profile["tables"][ORDERS]["columns"][1] == ["amount", "0.25", "17", False, "6", "-0.1"]
    assert (profile["tables"][ORDERS]["included"], profile["tables"][UNCHANGED]["included"]) == (True, False)


def test_terminal_prints_the_top_five_of_each(statistics_run):
    result = kada_collector("report", statistics_run)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("  most read tables (rows read): 7")
    assert lines[start + 1:start + 6] == [f"    {SALES}.t{n}  {n * 100:,}" for n in range(7, 2, -1)]
    assert lines[start + 6] == "  most written tables (rows written): 6"
    assert f"    {SALES}.refresh()  42 calls" in lines
    assert "  tables not touched: 1" in lines and f"    {IDLE}" in lines
    assert "  indexes not scanned: 1" in lines and f"    {SALES}.orders_pkey" in lines
    assert ("profile: 2 tables, 1 with column statistics (2 columns), 1 not analysed in the window (their columns "
            "are in earlier files)") in lines


def test_page_shows_usage_and_a_tables_profile(chromium, statistics_run, tmp_path):  # noqa: F811
    result = kada_collector("report", statistics_run, "-o", tmp_path / "stats.html")
    assert result.returncode == 0, result.stderr
    page = open_page(chromium, tmp_path / "stats.html")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(ARTIFACTS / "usage-report.png")
    assert [r[0] for r in cells(page, "#usage-read tbody tr")][:2] == [f"{SALES}.t7", f"{SALES}.t6"]
    assert cells(page, "#usage-functions tbody tr") == [[f"{SALES}.refresh()", "42", "1.5"]]
    assert cells(page, "#usage-untouched tbody tr") == [[IDLE]]
    assert cells(page, "#usage-unscanned tbody tr") == [[f"{SALES}.orders_pkey"]]
    # The objects table links the table to its profile.
    page.evaluate(f"location.hash = 'profile=' + encodeURIComponent({json.dumps(ORDERS)})")
    page.wait_for("document.querySelector('#profile-caption') !== null")
    assert page.evaluate("document.querySelector('#profile-caption').textContent").startswith(f"{ORDERS}: about 1,000 rows")
    assert cells(page, "#profile-columns tbody tr") == [["id", "0", "1,000 (est.)", "8", "1"],
                                                         ["amount", "0.25", "17", "6", "-0.1"]]
    assert page.evaluate("[...document.querySelectorAll('#objects-table a')].some(a => a.textContent === 'profile')")
    # A table not analysed in the window: its columns were in an earlier file, and the page says so.
    page.evaluate(f"location.hash = 'profile=' + encodeURIComponent({json.dumps(UNCHANGED)})")
    page.wait_for("document.querySelector('#profile-none') !== null")
    assert "did not change in this run's window" in page.evaluate("document.querySelector('#profile-none').textContent")
    assert page.errors() == []


def test_page_without_the_extracts_says_so(chromium, tmp_path):  # noqa: F811
    folder = tmp_path / "run"
    folder.mkdir()
    write_run(folder, {"dwh": SMALL_RUN}, host=HOST)
    result = kada_collector("report", folder, "-o", tmp_path / "plain.html")
    assert result.returncode == 0, result.stderr
    assert "usage: none" in kada_collector("report", folder).stdout
    page = open_page(chromium, tmp_path / "plain.html")
    assert "No usage in this run" in page.evaluate("document.querySelector('#usage-absent').textContent")
    assert page.evaluate("document.querySelector('#profile-absent') !== null")
    assert page.errors() == []
