"""Runs to test what reads them (validate, push, report), a pytest plugin of conftest.py.

``a_run`` is a run the collector made (module scope: one extraction per module; a module may
define its own ``a_run`` to have another database extracted), ``run_folder`` a copy of it that a
test may change. ``write_run`` writes a run from rows given by hand, with the collector's own
writer and manifest model, for the defects and corners a real extraction does not make.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from collect import run_extract
from kada_collectors.lib.contract import EXTRACT_COLUMNS, manifest_file_name
from kada_collectors.lib.manifest import Manifest, ManifestFile
from kada_collectors.lib.writer import ExtractFile
from servers import PgServer

STAMP = "20260102000000"
WINDOW = ("2026-01-01 00:00:00", "2026-01-02 00:00:00")
# The columns of a table with one column of each common type, made many times for a large run.
_WIDE_TABLE = "(a int, b text, c date, d numeric, e boolean, f jsonb, g text, h bigint)"


def create_tables(server: PgServer, database: str, count: int) -> None:
    """Database ``database`` with tables t1 to t``count``, each of eight columns: its metadata file
    grows by about 2.5 KB a table."""
    server.create_database(database)
    server.execute(f"DO $$ BEGIN FOR i IN 1..{count} LOOP EXECUTE format('CREATE TABLE t%s {_WIDE_TABLE}', i); "
                   "END LOOP; END $$", database)


@pytest.fixture(scope="module")
def a_run(pg18: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One succeeded run of pg18's postgres database over ``WINDOW`` (copy it before changing it:
    ``run_folder``)."""
    output = tmp_path_factory.mktemp("pg18-run")
    run_extract(pg18, ["postgres"], output, window=WINDOW)
    return output


@pytest.fixture
def run_folder(a_run: Path, tmp_path: Path) -> Path:
    """A copy of ``a_run`` of the test's own."""
    folder = tmp_path / "out"
    shutil.copytree(a_run, folder)
    return folder


def write_run(folder: Path, databases: dict[str, dict[str, list[list]]], *, stamp: str = STAMP,
              compress: bool = False, host: str = "h", failed: dict[str, str] | None = None,
              warnings: tuple[str, ...] = ()) -> dict:
    """A run written as the collector writes one: for each extract, one part per database of
    ``databases`` (name -> extract -> rows); ``failed``: databases that failed (name -> error).
    Returns the manifest written (its name: ``manifest_file_name("postgres", stamp)``)."""
    extracts = list(dict.fromkeys(e for rows in databases.values() for e in rows))
    files = []
    for extract in extracts:
        extract_file = ExtractFile(str(folder), "postgres", extract, stamp, EXTRACT_COLUMNS[extract], compress)
        for database, rows in databases.items():
            part = extract_file.part(database)
            for row in rows.get(extract, ()):
                part.write(row)
            extract_file.append(part)
        files.append(ManifestFile(**extract_file.commit().manifest_entry()))
    end = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[8:10]}:{stamp[10:12]}:{stamp[12:]}"
    entries = [{"name": name, "status": "succeeded", "server_version": "16.2", "seconds": 0.1,
                "rows": {e: len(r) for e, r in rows.items()}, "warnings": [], "error": None}
               for name, rows in databases.items()]
    entries += [{"name": name, "status": "failed", "server_version": None, "seconds": 0.1, "rows": {},
                 "warnings": [], "error": error} for name, error in (failed or {}).items()]
    return Manifest(
        collector={"name": "kada-collectors-extractors", "version": "3.0.0", "source": "postgres"}, host=host,
        window={"start_hwm": "2026-01-01 00:00:00", "end_hwm": end}, status="failed" if failed else "succeeded",
        databases=entries, database_selection={"requested": [d["name"] for d in entries]}, standby=False,
        files=files, warnings=list(warnings), query_log=None,
        settings={"port": 5432, "mask": True, "compress": compress, "meta_only": False},
        timings={"started_at": end, "finished_at": end, "seconds": 1.0},
    ).write(str(folder / manifest_file_name("postgres", stamp)))
