"""Log entries and the statements they make: what both readers of the server log (``logs.py``
for files, ``cloudwatch.py`` for CloudWatch Logs) share.

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

Stderr
    ``StderrParser`` groups stderr lines (a prefix, then the message; continuation lines) into
    entries, one line at a time.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from kada_collectors.lib.errors import CollectorError

from .log_prefix import SECONDARY, LinePrefix, TimeResolver

SOURCE_LOG_FILE = "log_file"
SOURCE_CLOUDWATCH = "cloudwatch"
# Lines reach the log a little out of time order (each process stamps its line before the logger
# writes it); files and pages are read this much beyond the window, then filtered exactly.
SLACK = timedelta(minutes=5)
# Sessions whose statement waits for its duration or error line.
MAX_PENDING = 10_000

_ERROR_SEVERITIES = frozenset({"ERROR", "FATAL", "PANIC"})
_DURATION = re.compile(r"duration: (\d+(?:\.\d+)?) ms(?:  (.*))?\Z", re.S)
_STATEMENT = re.compile(r"(?:statement|execute [^\n]*?): (.*)\Z", re.S)
_VERBOSE_SQLSTATE = re.compile(r"([0-9A-Z]{5}): ")
_STATEMENT_STARTS = ("statement: ", "duration: ", "execute ")


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
class Entry:
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


class Assembler:
    """Turns a time-ordered stream of entries into statements (see "Pairing" above)."""

    def __init__(self, start: datetime, end: datetime, source: str):
        self.start, self.end, self.source = start, end, source
        self._pending: OrderedDict[object, LogStatement] = OrderedDict()

    def add(self, entry: Entry, key: object) -> list[LogStatement]:
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

    def _statement(self, entry: Entry, text: str, milliseconds: float | None, code: str | None) -> LogStatement:
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

    def feed(self, line: str, fallback_time: datetime | None = None) -> Entry | None:
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
        new = _Message(fields, severity, self.line_time(fields, fallback_time))
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

    def finish(self) -> Entry | None:
        """The last entry (call at the end of the input)."""
        current, self._current = self._current, None
        return self._entry(current)

    def key(self, entry: Entry) -> str | None:
        return entry.session if self._session_field else None

    def _same_session(self, fields, other) -> bool:
        return self._session_field is None or fields.get(self._session_field) == other.get(self._session_field)

    def line_time(self, fields: dict[str, str], fallback_time: datetime | None) -> datetime:
        """The time a line's prefix fields give (else ``fallback_time``, e.g. a CloudWatch event's)."""
        if fields.get("time_n"):
            return TimeResolver.parse_epoch(fields["time_n"])
        text = fields.get("time_m") or fields.get("time_t")
        if text:
            return self.resolver.parse(text)
        if fallback_time is None:
            raise ValueError("the line has no time")
        return fallback_time

    def _entry(self, message: _Message | None) -> Entry | None:
        if message is None:
            return None
        fields = message.fields
        return Entry(
            time=message.time, severity=message.severity,
            message="\n".join(message.message_lines) if message.message_lines is not None else None,
            query="\n".join(message.query_lines) if message.query_lines is not None else None,
            user=_name(fields.get("user")), database=_name(fields.get("database")),
            application=fields.get("application"), session=fields.get("session") or fields.get("pid"),
            sqlstate=fields.get("sqlstate"))


def _name(value: str | None) -> str | None:
    """A user or database name; PostgreSQL writes [unknown] before authentication."""
    return None if value in (None, "", "[unknown]") else value


def log_entry(time: datetime, severity: str, message: str | None, query: str | None, user: str | None,
              database: str | None, application: str | None, session: str | None, sqlstate: str | None) -> Entry:
    """An entry from a csvlog or jsonlog record's fields (empty fields are None)."""
    if severity != "LOG" or not message or not message.startswith(_STATEMENT_STARTS):
        message = None
    return Entry(time=time, severity=severity, message=message,
                 query=(query or None) if severity in _ERROR_SEVERITIES else None,
                 user=_name(user), database=_name(database), application=application or None,
                 session=session or None, sqlstate=sqlstate or None)


def check_window(start: datetime, end: datetime) -> None:
    """A window's ends must be aware: log times are compared in UTC."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware datetimes")
