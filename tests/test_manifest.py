"""The manifest model: what a run writes is what the readers read back, in the contract's key order."""

import json
import shutil

from kada_collectors.lib import manifest
from kada_collectors.lib.manifest import Manifest, ManifestFile

SECRET = "Hunter2-secret"
STAMP = "20260102000000"
FILE = ManifestFile("roles", f"postgres_roles_{STAMP}.csv", 3, 120, "ab" * 32)


def a_manifest(query_log=None, error=None) -> Manifest:
    return Manifest(
        collector={"name": "kada-collectors-extractors", "version": "3.0.0", "source": "postgres"},
        host="h", window={"start_hwm": "2026-01-01 00:00:00", "end_hwm": "2026-01-02 00:00:00"},
        status="failed" if error else "succeeded",
        databases=[{"name": "dwh", "status": "failed" if error else "succeeded", "error": error}],
        database_selection={"requested": ["dwh"]}, standby=False, files=[FILE], warnings=[], query_log=query_log,
        settings={"port": 5432}, timings={"started_at": "2026-01-02 00:00:01", "finished_at": "2026-01-02 00:00:02",
                                          "seconds": 1.0})


def test_written_in_the_contract_key_order_and_read_back_clean(tmp_path):
    path = tmp_path / f"postgres_manifest_{STAMP}.json"
    written = a_manifest(query_log=[{"source": "pg_stat_statements", "status": "succeeded", "rows": 1,
                                     "error": None}]).write(str(path))
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk == written
    assert list(on_disk) == ["contract_version", "collector", "host", "window", "status", "databases",
                             "database_selection", "standby", "files", "warnings", "query_log", "settings", "timings"]
    found = manifest.read(str(path))
    assert (found.problems, found.files, found.error) == ([], [FILE], None)
    assert found.size == path.stat().st_size and len(found.sha256) == 64


def test_no_query_log_key_without_a_query_log_and_errors_redacted(tmp_path):
    path = tmp_path / f"postgres_manifest_{STAMP}.json"
    a_manifest(error=f"connection to server failed: password={SECRET} rejected").write(str(path))
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text and "query_log" not in json.loads(text)
    found = manifest.read(str(path))
    assert found.problems == [] and found.failed_databases() == ["dwh"]


def test_a_misnamed_manifest_is_a_problem_not_a_crash(tmp_path):
    good = tmp_path / f"postgres_manifest_{STAMP}.json"
    a_manifest().write(str(good))
    misnamed = tmp_path / "latest.json"
    shutil.copy(good, misnamed)
    found = manifest.read(str(misnamed))
    assert len(found.problems) == 1 and "is not named <source>_manifest_<YYYYMMDDHHMMSS>.json" in found.problems[0]
    assert found.files == [FILE]


def test_newest_by_stamp_and_source(tmp_path):
    assert manifest.newest(str(tmp_path)) is None
    for name in ("postgres_manifest_20260101000000.json", "postgres_manifest_20260103000000.json",
                 "other_manifest_20260105000000.json", "postgres_metadata_20260109000000.csv"):
        (tmp_path / name).write_text("{}")
    assert manifest.newest(str(tmp_path), "postgres") == "postgres_manifest_20260103000000.json"
    assert manifest.newest(str(tmp_path)) == "other_manifest_20260105000000.json"
