"""Statements from PostgreSQL's own server log files (csvlog, jsonlog, stderr); those exported to
AWS CloudWatch Logs are read by ``cloudwatch.py``.

Entries become statements as ``entries.py`` says (what is a statement, pairing per session).

Times
    ``LogStatement.time`` (UTC) is the time of the line that gave the statement: ``log_statement``
    writes it when the statement starts, ``log_min_duration_statement`` when it ends; a statement
    completed by a later duration or error line keeps its own line's time. Log times are in
    the server's ``log_timezone``; see ``log_prefix.TimeResolver`` for how the zone abbreviation is
    read, and pass ``log_timezone`` (``SHOW log_timezone``) when it is ambiguous. Only statements
    with ``start <= time < end`` are yielded.

Files (``read_log_files``)
    ``path`` is one log file or a folder of them (not its sub-folders). In a folder the format picks
    the files: csvlog ``*.csv``, jsonlog ``*.json``, stderr every other file (PostgreSQL writes a
    ``.log`` file next to its ``.csv`` or ``.json`` ones); each may be gzipped (``*.gz``, detected by
    name); hidden files are ignored. Files are read in the order of their first log time (ties by
    name), which holds whatever ``log_filename`` is and across rotation and compression.
    A file last modified before ``start`` (less a margin of ``SLACK`` for lines written out of time
    order) is not opened, one whose first time is at or after ``end`` (plus the margin) is not read
    further, and a file's reading stops at its first entry past ``end`` plus the margin.
    Files are streamed line by line (memory holds one entry, plus the held statements); an
    incomplete last line or CSV record (the server is still writing it) is left for the next run,
    and so is the rest of a gzip file still being compressed. A file whose first lines are not in the
    expected format is skipped with a warning; when no file is, ``LogReadError`` says so.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import os
import zlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from .config import LOG_FORMATS
from .entries import (SLACK, SOURCE_LOG_FILE, Assembler, Entry, LogReadError, LogStatement, StderrParser,
                      check_window, log_entry)
from .log_prefix import AmbiguousTimeZone, LinePrefix, TimeResolver

log = logging.getLogger(__name__)

# Lines (stderr) or records (csv/json) looked at to find a file's first log time.
PROBE_LINES = 1000

_CSV_EXTENSIONS = (".csv", ".csv.gz")
_JSON_EXTENSIONS = (".json", ".json.gz")
# csvlog columns (PostgreSQL 9.0 and later; newer versions append columns after these).
_CSV_TIME, _CSV_USER, _CSV_DATABASE, _CSV_PID, _CSV_SESSION = 0, 1, 2, 3, 5
_CSV_SEVERITY, _CSV_SQLSTATE, _CSV_MESSAGE, _CSV_QUERY, _CSV_APPLICATION = 11, 12, 13, 19, 22


# -- stderr ------------------------------------------------------------------------------------


def _stderr_entries(lines: Iterable[str], parser: StderrParser) -> Iterator[Entry]:
    for line in lines:
        entry = parser.feed(line)
        if entry is not None:
            yield entry
    entry = parser.finish()
    if entry is not None:
        yield entry


# -- csvlog and jsonlog ------------------------------------------------------------------------


def _csv_rows(lines: Iterable[str]) -> Iterator[list[str]]:
    """CSV records of complete lines; a record cut short by the end of the file is dropped."""
    if csv.field_size_limit() < 1 << 30:  # statements can be far longer than csv's default 128 KiB
        csv.field_size_limit(1 << 30)
    buffer: list[str] = []
    quotes = 0
    for line in lines:
        buffer.append(line)
        quotes += line.count('"')
        if quotes % 2 == 0:
            text = buffer[0] if len(buffer) == 1 else "\n".join(buffer)
            buffer, quotes = [], 0
            try:
                row = next(csv.reader([text]), None)
            except csv.Error:
                continue
            if row is not None:
                yield row


def _csv_entries(lines: Iterable[str], resolver: TimeResolver) -> Iterator[Entry]:
    for row in _csv_rows(lines):
        if len(row) <= _CSV_APPLICATION:
            continue
        try:
            time = resolver.parse(row[_CSV_TIME])
        except ValueError as exc:
            if isinstance(exc, AmbiguousTimeZone):
                raise
            continue
        yield log_entry(time, row[_CSV_SEVERITY], row[_CSV_MESSAGE], row[_CSV_QUERY],
                         row[_CSV_USER], row[_CSV_DATABASE], row[_CSV_APPLICATION], row[_CSV_SESSION] or row[_CSV_PID],
                         row[_CSV_SQLSTATE])


def _json_entries(lines: Iterable[str], resolver: TimeResolver) -> Iterator[Entry]:
    for line in lines:
        try:
            record = json.loads(line)
            time = resolver.parse(record["timestamp"])
        except AmbiguousTimeZone:
            raise
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        pid = record.get("pid")
        yield log_entry(time, record.get("error_severity", ""), record.get("message"), record.get("statement"),
                         record.get("user"), record.get("dbname"), record.get("application_name"),
                         record.get("session_id") or (str(pid) if pid is not None else None), record.get("state_code"))


# -- files -------------------------------------------------------------------------------------


def read_log_files(path, log_format: str, line_prefix: str | None, start: datetime, end: datetime, *,
                   log_timezone: str | None = None) -> Iterator[LogStatement]:
    """Statements logged in ``[start, end)`` in the server log files at ``path`` (a folder or a file).

    ``log_format``: ``csvlog``, ``jsonlog`` (PostgreSQL 15+) or ``stderr``; ``line_prefix``: the
    server's ``log_line_prefix`` (stderr only; it must hold a time, ``%m``, ``%t`` or ``%n``);
    ``log_timezone``: the server's ``log_timezone``, needed only when its abbreviation is ambiguous.
    Raises ``LogReadError`` (when iterated) for an unreadable folder or file, a folder without
    log files of that format, or logs that do not match the format or prefix."""
    check_window(start, end)
    if log_format not in LOG_FORMATS:
        raise LogReadError(f"log format {log_format!r} is not one of {', '.join(LOG_FORMATS)}: "
                           "give the server's log_destination")
    prefix = None
    if log_format == "stderr":
        if line_prefix is None:
            raise LogReadError("reading stderr log files needs the server's log_line_prefix (SHOW log_line_prefix)")
        prefix = LinePrefix(line_prefix)
        if not prefix.has_time:
            raise LogReadError(
                f"log_line_prefix {line_prefix!r} writes no time, so log lines cannot be placed in the window: "
                "add %m (or %t) to the server's log_line_prefix, or use log_destination csvlog or jsonlog")
    try:
        resolver = TimeResolver(log_timezone)
    except ValueError as exc:
        raise LogReadError(str(exc)) from None
    return _read_files(Path(path), log_format, prefix, resolver, start, end)



def _read_files(root: Path, log_format: str, prefix: LinePrefix | None, resolver: TimeResolver,
                start: datetime, end: datetime) -> Iterator[LogStatement]:
    files = _log_files(root, log_format)
    ordered = []
    matched = False
    for file in files:
        try:
            if file.stat().st_mtime < (start - SLACK).timestamp():
                matched = True  # not looked at: older than the window
                continue
        except OSError as exc:
            raise _unreadable(file, exc) from None
        first = _first_time(file, log_format, prefix, resolver)
        if first is None:
            continue
        matched = True
        if first < end + SLACK:
            ordered.append((first, file.name, file))
    if files and not matched:
        what = f"stderr lines with log_line_prefix {prefix.prefix!r}" if prefix else log_format
        raise LogReadError(
            f"no file in {root} holds {what}: check log_destination and log_line_prefix against the "
            "server's (SHOW log_destination; SHOW log_line_prefix)")
    ordered.sort()
    assembler = Assembler(start, end, SOURCE_LOG_FILE)
    stop = end + SLACK
    for _, _, file in ordered:
        if prefix is not None:
            parser = StderrParser(prefix, resolver)
            entries = _stderr_entries(_lines(file), parser)
            key = parser.key
        else:
            reader = _csv_entries if log_format == "csvlog" else _json_entries
            entries = reader(_lines(file), resolver)
            key = _session_key
        try:
            for entry in entries:
                if entry.time >= stop:
                    break
                yield from assembler.add(entry, key(entry))
        except AmbiguousTimeZone as exc:
            raise LogReadError(f"{file}: {exc}") from None
        finally:
            entries.close()
    yield from assembler.finish()


def _session_key(entry: Entry) -> str | None:
    return entry.session


def _log_files(root: Path, log_format: str) -> list[Path]:
    try:
        if root.is_file():
            return [root]
        if not root.is_dir():
            raise LogReadError(f"the server log folder {root} does not exist: give the server's log_directory "
                               "(SHOW log_directory, relative to the data directory) or a copy of it")
        names = sorted(os.listdir(root))
    except PermissionError as exc:
        raise _unreadable(root, exc) from None
    wanted = {"csvlog": _CSV_EXTENSIONS, "jsonlog": _JSON_EXTENSIONS}.get(log_format)
    files = []
    for name in names:
        if name.startswith("."):
            continue
        is_csv, is_json = name.endswith(_CSV_EXTENSIONS), name.endswith(_JSON_EXTENSIONS)
        if (wanted is not None and name.endswith(wanted)) or (wanted is None and not is_csv and not is_json):
            if (root / name).is_file():
                files.append(root / name)
    if not files:
        kind = {"csvlog": "*.csv", "jsonlog": "*.json"}.get(log_format, "log")
        raise LogReadError(f"no {log_format} files ({kind}, or gzipped) in {root}: check that it is the server's "
                           "log_directory and that log_destination includes " + log_format)
    return files


def _first_time(file: Path, log_format: str, prefix: LinePrefix | None, resolver: TimeResolver) -> datetime | None:
    """The first log time in ``file``; None (with a warning when not empty) when none is found early on."""
    lines = _lines(file)
    try:
        if prefix is not None:
            for number, line in enumerate(lines):
                if number >= PROBE_LINES:
                    break
                found = prefix.match(line)
                if found is not None:
                    return StderrParser(prefix, resolver).line_time(found[0], None)
        else:
            reader = _csv_entries if log_format == "csvlog" else _json_entries
            entries = reader((line for number, line in enumerate(lines) if number < PROBE_LINES), resolver)
            for entry in entries:
                return entry.time
    except AmbiguousTimeZone as exc:
        raise LogReadError(f"{file}: {exc}") from None
    finally:
        lines.close()
    if _has_content(file):
        log.warning("skipping %s: its first lines are not %s log lines", file,
                    f"stderr with log_line_prefix {prefix.prefix!r}" if prefix else log_format)
    return None


def _has_content(file: Path) -> bool:
    try:
        return file.stat().st_size > 0
    except OSError:
        return False


def _lines(file: Path) -> Iterator[str]:
    """The complete lines of a plain or gzipped file, without their newline."""
    try:
        handle = gzip.open(file, "rb") if file.name.endswith(".gz") else open(file, "rb")
    except OSError as exc:
        raise _unreadable(file, exc) from None
    with handle:
        try:
            for raw in handle:
                if not raw.endswith(b"\n"):
                    return  # the server (or gzip) is still writing this line
                yield raw[:-1].decode("utf-8", "replace")
        except EOFError:
            return  # a gzip file being written: its end is not there yet
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise LogReadError(f"{file} is not a valid gzip file ({exc}): remove or repair it") from None
        except OSError as exc:
            raise _unreadable(file, exc) from None


def _unreadable(path: Path, exc: OSError) -> LogReadError:
    return LogReadError(
        f"cannot read the server log {path}: {exc.strerror or exc}; the collector's OS user needs read access "
        "to the log directory and its files (log_file_mode, or a group that may read them)")

__all__ = ["LOG_FORMATS", "LogReadError", "LogStatement", "read_log_files"]
