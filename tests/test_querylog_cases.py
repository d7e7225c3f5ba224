"""The log parsers against captured log lines, without a server: each case in querylog_cases/ is
an input real servers wrote (stderr with several log_line_prefix, csvlog, jsonlog, CloudWatch
events) and the statements reading it must give, window by window (querylog_cases/README.md).

The file cases go through ``read_log_files`` (log_prefix.py, entries.py, logs.py); CloudWatch's
through ``read_cloudwatch`` (cloudwatch.py), its events given back as FilterLogEvents returned them.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import pytest

from kada_collectors.extractors.postgres.querylog import cloudwatch
from kada_collectors.extractors.postgres.querylog.entries import LogReadError, LogStatement
from kada_collectors.extractors.postgres.querylog.logs import read_log_files

CASES = Path(__file__).parent / "querylog_cases"
# What a read's error says that depends on the machine: the file it names first (where the case
# was read from) and its asides (e.g. the zones this machine's time zone database lists).
_MACHINE_DEPENDENT = re.compile(r"^/\S*: | \([^)]*\)")


def as_json(statement: LogStatement) -> dict:
    """A statement as a case file holds it (the time in ISO 8601, UTC)."""
    return {**asdict(statement), "time": statement.time.isoformat()}


def error_text(error: Exception) -> str:
    """A read's error as a case holds it: the message without what depends on the machine."""
    return _MACHINE_DEPENDENT.sub("", str(error))


def write_case(name: str, spec: dict) -> None:
    """``querylog_cases/<name>.case.json``, indented so that a changed field shows as one line in a diff."""
    text = json.dumps(spec, indent=1, ensure_ascii=False)
    (CASES / f"{name}.case.json").write_text(text + "\n")


def _replay(path: Path):
    """FilterLogEvents as moto's server answered it when the case was captured: the events of the
    window (widened by SLACK, as the reader asks), in their order."""
    events = json.loads(path.read_text())

    def filter_log_events(group, region, endpoint_url, window, page_size) -> Iterator[dict]:
        return (event for event in events if window[0] <= event["timestamp"] <= window[1])

    return filter_log_events


def _statements(spec: dict, read: dict, folder: Path) -> list[LogStatement]:
    start, end = datetime.fromisoformat(read["start"]), datetime.fromisoformat(read["end"])
    if spec["format"] == "cloudwatch":
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cloudwatch, "_events", _replay(CASES / spec["input"]))
            return list(cloudwatch.read_cloudwatch("/aws/rds/instance/case/postgresql", "eu-west-1", None,
                                                   spec["line_prefix"], start, end))
    # A copy: its time of change is now, inside any window (older files are not opened).
    path = Path(shutil.copy(CASES / spec["input"], folder))
    return list(read_log_files(path, spec["format"], spec["line_prefix"], start, end,
                               log_timezone=read.get("log_timezone")))


def run_case(path: Path, folder: Path) -> list[dict]:
    """The case's reads with the statements (or the error) the parsers give now."""
    spec = json.loads(path.read_text())
    done = []
    for read in spec["reads"]:
        outcome = {key: value for key, value in read.items() if key not in ("statements", "error")}
        try:
            outcome["statements"] = [as_json(s) for s in _statements(spec, read, folder)]
        except LogReadError as exc:
            outcome["error"] = error_text(exc)
        done.append(outcome)
    return done


@pytest.mark.parametrize("path", sorted(CASES.glob("*.case.json")), ids=lambda p: p.name.removesuffix(".case.json"))
def test_case(path: Path, tmp_path: Path) -> None:
    expected = json.loads(path.read_text())["reads"]
    assert expected and any(read.get("statements") for read in expected), "a case reads something"
    assert run_case(path, tmp_path) == expected
