"""Statements from PostgreSQL's own server logs: log files (csvlog, jsonlog, stderr) and AWS
CloudWatch Logs (``read_cloudwatch``, in ``cloudwatch.py``).

What is a statement
    ``LOG`` entries written by ``log_statement`` (``statement: ...``, ``execute <name>: ...``) and
    by ``log_min_duration_statement`` (``duration: X ms  statement: ...``, ``duration: X ms  execute
    <name>: ...``), and ``ERROR``/``FATAL``/``PANIC`` entries that carry the statement that failed
    (csvlog/jsonlog: the query field; stderr: the ``STATEMENT:`` line that follows). The text is
    exactly as logged (stderr's continuation tabs removed): masking is the caller's job. Parse and
    bind durations, ``DETAIL`` lines (``parameters: $1 = ...``, bind values), ``CONTEXT`` lines
    (``... with parameters``) and every other message are dropped; their text never reaches a
    statement. A stderr error's SQLSTATE comes from ``%e`` in the prefix, or from the message
    itself with ``log_error_verbosity = verbose``. Messages must be in English (``lc_messages``
    ``C`` or ``en_*``; RDS's are).

Pairing, per session (csvlog/jsonlog ``session_id``; stderr ``%c``, else ``%p``)
    With ``log_statement`` a statement is logged before it runs, and its duration (``log_duration``
    or ``log_min_duration_statement``) later in a line of its own (``duration: X ms``): that
    duration is given to the session's statement. When the statement fails, the error that follows
    (same session, same text) completes it with its SQLSTATE instead of making a second statement.
    A session's statement is held back until one of those lines, its next statement or the end of
    the input; at most ``MAX_PENDING`` sessions are held, the oldest is released first, so memory
    stays bounded. Without a session in the prefix nothing is paired (plain durations are dropped).

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
import re
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from kada_collectors.lib.errors import CollectorError

from .log_prefix import SECONDARY, AmbiguousTimeZone, LinePrefix, TimeResolver

log = logging.getLogger(__name__)

LOG_FORMATS = ("csvlog", "jsonlog", "stderr")
SOURCE_LOG_FILE = "log_file"
SOURCE_CLOUDWATCH = "cloudwatch"
# Lines reach the log a little out of time order (each process stamps its line before the logger
# writes it); files and pages are read this much beyond the window, then filtered exactly.
SLACK = timedelta(minutes=5)
# Sessions whose statement waits for its duration or error line.
MAX_PENDING = 10_000
# Lines (stderr) or records (csv/json) looked at to find a file's first log time.
PROBE_LINES = 1000

_ERROR_SEVERITIES = frozenset({"ERROR", "FATAL", "PANIC"})
_DURATION = re.compile(r"duration: (\d+(?:\.\d+)?) ms(?:  (.*))?\Z", re.S)
_STATEMENT = re.compile(r"(?:statement|execute [^\n]*?): (.*)\Z", re.S)
_VERBOSE_SQLSTATE = re.compile(r"([0-9A-Z]{5}): ")
_STATEMENT_STARTS = ("statement: ", "duration: ", "execute ")
_CSV_EXTENSIONS = (".csv", ".csv.gz")
_JSON_EXTENSIONS = (".json", ".json.gz")
# csvlog columns (PostgreSQL 9.0 and later; newer versions append columns after these).
_CSV_TIME, _CSV_USER, _CSV_DATABASE, _CSV_PID, _CSV_SESSION = 0, 1, 2, 3, 5
_CSV_SEVERITY, _CSV_SQLSTATE, _CSV_MESSAGE, _CSV_QUERY, _CSV_APPLICATION = 11, 12, 13, 19, 22


class LogReadError(CollectorError):
    """Server logs could not be read: the message names the file or group and the fix."""


@dataclass(frozen=True)
class LogStatement:
    """One statement found in the server log."""

    time: datetime  # UTC, timezone-aware: when the statement's line was logged
    user: str | None
    database: str | None
    application: str | None
    session: str | None  # csvlog/jsonlog session_id; stderr %c, else %p
    duration_ms: float | None
    text: str  # exactly as logged: not masked
    error_code: str | None  # SQLSTATE of a failed statement (stderr: only with %e in the prefix)
    source: str  # "log_file" or "cloudwatch"


@dataclass
class _Entry:
    """One log message, reduced to what statements need."""

    time: datetime
    severity: str
    message: str | None  # LOG messages that may be statements; None otherwise
    query: str | None  # the statement an error reports
    user: str | None
    database: str | None
    application: str | None
    session: str | None
    sqlstate: str | None


# -- from entries to statements ---------------------------------------------------------------


class _Assembler:
    """Turns a time-ordered stream of entries into statements (see "Pairing" above)."""

    def __init__(self, start: datetime, end: datetime, source: str):
        self.start, self.end, self.source = start, end, source
        self._pending: OrderedDict[object, LogStatement] = OrderedDict()

    def add(self, entry: _Entry, key: object) -> list[LogStatement]:
        out: list[LogStatement] = []
        if entry.severity == "LOG" and entry.message is not None:
            duration = _DURATION.match(entry.message)
            rest = entry.message
            milliseconds = None
            if duration:
                milliseconds, rest = float(duration.group(1)), duration.group(2)
                if rest is None:  # "duration: X ms": the session's statement took X ms
                    held = self._pending.pop(key, None) if key is not None else None
                    if held is not None:
                        self._emit(replace(held, duration_ms=milliseconds), out)
                    return out
            statement = _STATEMENT.match(rest)
            if statement is None:  # parse, bind, anything else
                return out
            found = self._statement(entry, statement.group(1), milliseconds, None)
            self._release(key, out)
            if milliseconds is not None or key is None:
                self._emit(found, out)
            else:
                self._pending[key] = found
                if len(self._pending) > MAX_PENDING:
                    self._emit(self._pending.popitem(last=False)[1], out)
        elif entry.severity in _ERROR_SEVERITIES and entry.query:
            held = self._pending.pop(key, None) if key is not None else None
            code = entry.sqlstate if entry.sqlstate and entry.sqlstate != "00000" else None
            if held is not None and held.text == entry.query and held.duration_ms is None:
                self._emit(replace(held, error_code=code), out)
            else:
                if held is not None:
                    self._emit(held, out)
                self._emit(self._statement(entry, entry.query, None, code), out)
        return out

    def finish(self) -> list[LogStatement]:
        out: list[LogStatement] = []
        while self._pending:
            self._emit(self._pending.popitem(last=False)[1], out)
        return out

    def _release(self, key: object, out: list[LogStatement]) -> None:
        if key is not None:
            held = self._pending.pop(key, None)
            if held is not None:
                self._emit(held, out)

    def _statement(self, entry: _Entry, text: str, milliseconds: float | None, code: str | None) -> LogStatement:
        return LogStatement(time=entry.time, user=entry.user, database=entry.database, application=entry.application,
                            session=entry.session, duration_ms=milliseconds, text=text, error_code=code,
                            source=self.source)

    def _emit(self, statement: LogStatement, out: list[LogStatement]) -> None:
        if self.start <= statement.time < self.end:
            out.append(statement)


# -- stderr ------------------------------------------------------------------------------------


class _Message:
    __slots__ = ("fields", "severity", "time", "message_lines", "query_lines", "collecting")

    def __init__(self, fields, severity, time):
        self.fields, self.severity, self.time = fields, severity, time
        self.message_lines: list[str] | None = None
        self.query_lines: list[str] | None = None
        self.collecting: list[str] | None = None


class StderrParser:
    """Groups stderr log lines into entries, fed one line at a time (so that CloudWatch can keep
    one parser per log stream). A line starting with a tab continues the line before it; a
    ``DETAIL``/``STATEMENT``/... line of the same process belongs to the message before it.

    ``lenient``: a line matching no prefix continues the current entry (CloudWatch events may
    come without the tab); otherwise such a line (not written by PostgreSQL) is ignored."""

    def __init__(self, prefix: LinePrefix, resolver: TimeResolver, lenient: bool = False):
        self.prefix, self.resolver, self.lenient = prefix, resolver, lenient
        self._current: _Message | None = None
        self._session_field = "session" if "session" in prefix.fields else ("pid" if "pid" in prefix.fields else None)

    def feed(self, line: str, fallback_time: datetime | None = None) -> _Entry | None:
        """Add a line (without its newline); returns the entry it completes, if any."""
        current = self._current
        if line.startswith("\t"):
            if current is not None and current.collecting is not None:
                current.collecting.append(line[1:])
            return None
        found = self.prefix.match(line)
        if found is None:
            if self.lenient and current is not None and current.collecting is not None:
                current.collecting.append(line)
            return None
        fields, severity, message = found
        if severity in SECONDARY:
            if current is not None and self._same_session(fields, current.fields):
                if severity == "STATEMENT" and current.severity in _ERROR_SEVERITIES:
                    current.query_lines = [message]
                    current.collecting = current.query_lines
                else:
                    current.collecting = None
                return None
            # a DETAIL or STATEMENT whose message is not here (the window or file starts after it)
            self._current = None
            return self._entry(current)
        completed = self._entry(current)
        new = _Message(fields, severity, self._time(fields, fallback_time))
        verbose = _VERBOSE_SQLSTATE.match(message)  # log_error_verbosity = verbose: "LOG:  00000: statement: ..."
        if verbose:
            message = message[verbose.end():]
            if not fields.get("sqlstate"):
                fields["sqlstate"] = verbose.group(1)
        if severity == "LOG" and message.startswith(_STATEMENT_STARTS):
            new.message_lines = [message]
            new.collecting = new.message_lines
        self._current = new
        return completed

    def finish(self) -> _Entry | None:
        """The last entry (call at the end of the input)."""
        current, self._current = self._current, None
        return self._entry(current)

    def key(self, entry: _Entry) -> str | None:
        return entry.session if self._session_field else None

    def _same_session(self, fields, other) -> bool:
        return self._session_field is None or fields.get(self._session_field) == other.get(self._session_field)

    def _time(self, fields, fallback_time: datetime | None) -> datetime:
        if fields.get("time_n"):
            return TimeResolver.parse_epoch(fields["time_n"])
        text = fields.get("time_m") or fields.get("time_t")
        if text:
            return self.resolver.parse(text)
        if fallback_time is None:
            raise ValueError("the line has no time")
        return fallback_time

    def _entry(self, message: _Message | None) -> _Entry | None:
        if message is None:
            return None
        fields = message.fields
        return _Entry(
            time=message.time, severity=message.severity,
            message="\n".join(message.message_lines) if message.message_lines is not None else None,
            query="\n".join(message.query_lines) if message.query_lines is not None else None,
            user=_name(fields.get("user")), database=_name(fields.get("database")),
            application=fields.get("application"), session=fields.get("session") or fields.get("pid"),
            sqlstate=fields.get("sqlstate"))


def _name(value: str | None) -> str | None:
    """A user or database name; PostgreSQL writes [unknown] before authentication."""
    return None if value in (None, "", "[unknown]") else value


def _stderr_entries(lines: Iterable[str], parser: StderrParser) -> Iterator[_Entry]:
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


def _csv_entries(lines: Iterable[str], resolver: TimeResolver) -> Iterator[_Entry]:
    for row in _csv_rows(lines):
        if len(row) <= _CSV_APPLICATION:
            continue
        try:
            time = resolver.parse(row[_CSV_TIME])
        except ValueError as exc:
            if isinstance(exc, AmbiguousTimeZone):
                raise
            continue
        yield _log_entry(time, row[_CSV_SEVERITY], row[_CSV_MESSAGE], row[_CSV_QUERY],
                         row[_CSV_USER], row[_CSV_DATABASE], row[_CSV_APPLICATION], row[_CSV_SESSION] or row[_CSV_PID],
                         row[_CSV_SQLSTATE])


def _json_entries(lines: Iterable[str], resolver: TimeResolver) -> Iterator[_Entry]:
    for line in lines:
        try:
            record = json.loads(line)
            time = resolver.parse(record["timestamp"])
        except AmbiguousTimeZone:
            raise
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        pid = record.get("pid")
        yield _log_entry(time, record.get("error_severity", ""), record.get("message"), record.get("statement"),
                         record.get("user"), record.get("dbname"), record.get("application_name"),
                         record.get("session_id") or (str(pid) if pid is not None else None), record.get("state_code"))


def _log_entry(time, severity, message, query, user, database, application, session, sqlstate) -> _Entry:
    if severity != "LOG" or not message or not message.startswith(_STATEMENT_STARTS):
        message = None
    return _Entry(time=time, severity=severity, message=message,
                  query=(query or None) if severity in _ERROR_SEVERITIES else None,
                  user=_name(user), database=_name(database), application=application or None,
                  session=session or None, sqlstate=sqlstate or None)


# -- files -------------------------------------------------------------------------------------


def read_log_files(path, log_format: str, line_prefix: str | None, start: datetime, end: datetime, *,
                   log_timezone: str | None = None) -> Iterator[LogStatement]:
    """Statements logged in ``[start, end)`` in the server log files at ``path`` (a folder or a file).

    ``log_format``: ``csvlog``, ``jsonlog`` (PostgreSQL 15+) or ``stderr``; ``line_prefix``: the
    server's ``log_line_prefix`` (stderr only; it must hold a time, ``%m``, ``%t`` or ``%n``);
    ``log_timezone``: the server's ``log_timezone``, needed only when its abbreviation is ambiguous.
    Raises ``LogReadError`` (when iterated) for an unreadable folder or file, a folder without
    log files of that format, or logs that do not match the format or prefix."""
    _check_window(start, end)
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


def _check_window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware datetimes")


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
    assembler = _Assembler(start, end, SOURCE_LOG_FILE)
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


def _session_key(entry: _Entry) -> str | None:
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
                    return StderrParser(prefix, resolver)._time(found[0], None)
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


from .cloudwatch import read_cloudwatch  # noqa: E402  (re-exported: both readers live here)

__all__ = ["LOG_FORMATS", "LogReadError", "LogStatement", "read_cloudwatch", "read_log_files"]
