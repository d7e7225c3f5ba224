"""Writes the query log cases (this folder) again from the logs real servers write.

Run it on purpose, not with the suite (its name is not ``test_*.py``):

    ./scripts/test tests/querylog_cases/capture.py

It starts the servers of test_query_logs.py (six majors, each logging the same workload in
another way) and, for each server and log format, writes the lines of that format (every file,
oldest first, gzipped ones unpacked) as one input file, and a case file saying how to read it and
what reading it gives. CloudWatch's input is the events moto's CloudWatch Logs server returns
for the pg15 stderr log, loaded as RDS exports it. What a case expects is what reading the
server's own log folder gives (test_query_logs.py checks it against the workload), or moto's
events, and the case must give the same before it is written. The servers' random password, in
the harness's CREATE ROLE, is replaced by ``PASSWORD_STAND_IN``.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kada_collectors.extractors.postgres.querylog import cloudwatch as reader
from kada_collectors.extractors.postgres.querylog.logs import LogReadError
from test_query_logs import (  # noqa: F401 - servers and cloudwatch: the fixtures this uses
    CONFIGS, FULL_FORMATS, GROUP, REGION, SECRET, Logged, _by_phase, _server, cloudwatch, servers,
)
from test_querylog_cases import CASES, as_json, error_text, run_case, write_case

PASSWORD_STAND_IN = "kada-test-password"
_SUFFIXES = {"stderr": ".log", "csvlog": ".csv", "jsonlog": ".json"}
_ABOUT = {
    "pg18": "log_min_duration_statement = 0; log_timezone Asia/Kolkata (IST, ambiguous without log_timezone)",
    "pg17": "log_min_duration_statement = 0; UTC",
    "pg16": "a prefix of every escape; log_statement = all, log_duration = on, log_error_verbosity = verbose; "
            "Asia/Dubai (+04)",
    "pg15": "RDS's prefix; log_statement = all and log_min_duration_statement = 0; America/New_York (EST/EDT)",
    "pg14": "RDS's prefix; log_statement = all and log_min_duration_statement = 0; America/New_York (EST/EDT)",
    "pg13": "log_min_duration_statement = 0; UTC",
}


def _log_bytes(logged: Logged, log_format: str) -> bytes:
    """The server's files of ``log_format`` one after another, oldest first (their names hold the
    time they were opened)."""
    wanted = _SUFFIXES[log_format]
    files = sorted(p for p in logged.log_dir.iterdir() if p.name.removesuffix(".gz").endswith(wanted))
    return b"".join(gzip.open(p).read() if p.name.endswith(".gz") else p.read_bytes() for p in files)


def _windows(statements: list, zone: str | None) -> list[dict]:
    """Every statement; phase two alone (its ends on statements, as test_window_is_exact); and, for
    an ambiguous zone, every statement without log_timezone (an error)."""
    phases = _by_phase(statements)
    wide = {"start": phases[1][0].time - timedelta(minutes=10), "end": phases[3][-1].time + timedelta(minutes=10)}
    windows = [wide, {"start": phases[2][0].time, "end": phases[3][0].time}]
    if zone is not None:
        windows = [{**w, "log_timezone": zone} for w in windows] + [{**wide, "log_timezone": None}]
    return windows


def _expected(read, window: dict, password: str) -> dict:
    """``window`` with the statements ``read`` gives (the password replaced), or its error."""
    outcome = {**window, "start": window["start"].isoformat(), "end": window["end"].isoformat()}
    try:
        outcome["statements"] = [as_json(replace(s, text=s.text.replace(password, PASSWORD_STAND_IN)))
                                 for s in read(window)]
    except LogReadError as exc:
        outcome["error"] = error_text(exc)
    return outcome


def _write(name: str, spec: dict, folder: Path) -> None:
    write_case(name, spec)
    assert run_case(CASES / f"{name}.case.json", folder) == spec["reads"], name


def _file_case(logged: Logged, name: str, log_format: str, folder: Path) -> None:
    password, case, zone = logged.logging.server.password, f"{name}-{log_format}", CONFIGS[name]["zone"]
    data = _log_bytes(logged, log_format)
    assert SECRET.encode() in data, "the bind parameters are logged, for the parsers to leave out"
    (CASES / f"{case}{_SUFFIXES[log_format]}").write_bytes(data.replace(password.encode(), PASSWORD_STAND_IN.encode()))
    ambiguous = zone if name == "pg18" else None
    ours = logged.ours(logged.read(log_format, log_timezone=ambiguous))

    def read(window: dict) -> list:
        return logged.read(log_format, window["start"], window["end"], log_timezone=window.get("log_timezone"))

    _write(case, {"about": f"{name} {log_format}: {_ABOUT[name]}", "input": f"{case}{_SUFFIXES[log_format]}",
                  "format": log_format, "line_prefix": CONFIGS[name]["prefix"] if log_format == "stderr" else None,
                  "reads": [_expected(read, w, password) for w in _windows(ours, ambiguous)]}, folder)


def _cloudwatch_case(logged: Logged, url: str, folder: Path) -> None:
    password, now = logged.logging.server.password, datetime.now(timezone.utc)
    events = list(reader._events(GROUP, REGION, url, (0, reader._milliseconds(now + timedelta(hours=1))), None))
    for event in events:
        event["message"] = event["message"].replace(password, PASSWORD_STAND_IN)
    (CASES / "pg15-cloudwatch.events.json").write_text(
        "[\n" + ",\n".join(json.dumps(event, ensure_ascii=False) for event in events) + "\n]\n")
    ours = logged.ours(list(reader.read_cloudwatch(GROUP, REGION, url, None, now - timedelta(hours=6), now)))

    def read(window: dict) -> list:
        return list(reader.read_cloudwatch(GROUP, REGION, url, None, window["start"], window["end"], page_size=7))

    _write("pg15-cloudwatch", {
        "about": "pg15 stderr (RDS's prefix) as RDS exports it to CloudWatch Logs: one event per message for half "
                 "the messages, one per line for the other half; the events as moto's FilterLogEvents returns them",
        "input": "pg15-cloudwatch.events.json", "format": "cloudwatch", "line_prefix": None,
        "reads": [_expected(read, w, password) for w in _windows(ours, None)]}, folder)


def test_capture(servers, cloudwatch, tmp_path: Path) -> None:  # noqa: F811 - the imported fixtures
    for name, log_format in FULL_FORMATS + [("pg16", "stderr")]:
        _file_case(_server(servers, name), name, log_format, tmp_path)
    _cloudwatch_case(_server(servers, "pg15"), cloudwatch.url, tmp_path)
    assert len(list(CASES.glob("*.case.json"))) == len(FULL_FORMATS) + 2
