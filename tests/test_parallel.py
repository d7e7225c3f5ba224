"""Databases extracted side by side, never more sessions than max_connections, same files."""

import logging

import pytest

from collect import run_extract
from watch import SESSIONS_SQL, PeakCount

NAMES = [f"many_{i}" for i in range(6)]


def make_databases(server):
    for i, name in enumerate(NAMES):
        server.create_database(name)
        server.execute(f"CREATE TABLE t{i} (id int PRIMARY KEY, v text); CREATE VIEW v{i} AS SELECT v FROM t{i}", name)


def slow(extractor):  # each database takes a moment, so that their extractions overlap
    extractor.overwrite_sql("SCHEMAS_SQL", extractor.get_sql("SCHEMAS_SQL").replace(
        "WHERE n.nspname", "WHERE pg_sleep(0.2) IS NOT NULL AND n.nspname"))


@pytest.mark.slow  # about 20 s on 2 cores
def test_parallel_runs_match_sequential_and_respect_the_bound(pg18, tmp_path, caplog):
    make_databases(pg18)
    try:
        with caplog.at_level(logging.INFO, logger="kada_collectors.extractors.postgres.extractor"):
            sequential = run_extract(pg18, NAMES, tmp_path / "one", max_connections=1)
        with PeakCount(pg18, SESSIONS_SQL) as watch:
            parallel = run_extract(pg18, NAMES, tmp_path / "two", max_connections=2, prepare=slow)
    finally:
        for name in NAMES:
            pg18.drop_database(name)
    assert watch.most == 2, "two databases at a time, never more"
    # A first run: said once for all six databases, as information, not six warnings.
    (said,) = [r for r in caplog.records if "no change-event snapshot" in r.getMessage()]
    assert said.levelno == logging.INFO and said.getMessage().startswith("6 database(s) had no change-event snapshot")
    assert [d["change_events"] for d in sequential.manifest["databases"]] == ["all created"] * 6
    assert [d["name"] for d in parallel.manifest["databases"]] == NAMES
    for extract in ("metadata", "linkages", "privileges", "roles"):
        assert parallel.rows(extract) == sequential.rows(extract), extract
    roles = parallel.rows("roles")
    assert len(roles) == len({(r["USER"], r["ROLE"]) for r in roles}), "the server's roles once, not per database"
    assert sum("roles" in d["rows"] for d in parallel.manifest["databases"]) == 1
