"""Parsing a stderr log line's prefix (``log_line_prefix``) and a log time's zone.

``LinePrefix(prefix)`` turns the server's ``log_line_prefix`` into one regular expression for a
whole line start: the prefix, then a severity (``LOG``, ``ERROR``, ``DETAIL``, ``STATEMENT``...)
and two spaces. Every escape PostgreSQL documents is understood (``%a %u %d %r %h %b %p %P %t %m
%n %i %e %c %l %s %v %x %q %Q %%``), with optional padding (``%-10u``); an unknown escape prints
nothing, as in PostgreSQL. Text after ``%q`` is absent from lines of processes without a session
(checkpointer, autovacuum...), so it is optional. AWS RDS and Aurora use ``%t:%r:%u@%d:[%p]:``.

Log times (``%t``, ``%m``, ``%s``, and the csvlog and jsonlog timestamps) are written in the
server's ``log_timezone`` with that zone's abbreviation (``UTC``, ``CET``, ``EDT``, ``+04``).
``TimeResolver`` turns them into UTC:

1. ``UTC``, ``GMT``, ``Z`` (and their aliases) and numeric abbreviations (``+04``, ``-0330``) are exact.
2. With ``log_timezone`` (an IANA name, what ``SHOW log_timezone`` says) the local time is read
   in that zone; the abbreviation picks the side of a daylight-saving fold (``EDT`` or ``EST``).
3. Otherwise the abbreviation is looked up in the IANA database: it is used when every zone
   writing it at that time agrees on one UTC offset (``CET``, ``EST``, ``JST`` do); an ambiguous
   one (``IST`` is India's, Ireland's and Israel's) raises ``AmbiguousTimeZone``, whose message
   asks for ``log_timezone``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache

SEVERITIES = ("DEBUG", "LOG", "INFO", "NOTICE", "WARNING", "ERROR", "FATAL", "PANIC")
# Lines that belong to the message before them (same process): never a message of their own.
SECONDARY = ("DETAIL", "HINT", "QUERY", "CONTEXT", "LOCATION", "STATEMENT", "BACKTRACE")

_ZERO = timedelta(0)
_UTC_NAMES = frozenset({"UTC", "GMT", "UCT", "Z", "ZULU", "UNIVERSAL", "GREENWICH", "UT"})
_NUMERIC_ZONE = re.compile(r"([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?\Z")

_TIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
_ZONE = r" [A-Za-z0-9+\-]+"
_ANY = r"[^\n]*?"
# The pattern of each escape's value. Names: the LogStatement fields an escape feeds.
_ESCAPES = {
    "a": ("application", _ANY),
    "u": ("user", _ANY),
    "d": ("database", _ANY),
    "r": ("remote", _ANY),  # host(port), [local], or nothing
    "h": ("host", _ANY),
    "b": ("backend_type", _ANY),
    "p": ("pid", r"\d+"),
    "P": ("leader_pid", r"\d*"),
    "t": ("time_t", _TIME + _ZONE),
    "m": ("time_m", _TIME + r"\.\d{3}" + _ZONE),
    "n": ("time_n", r"\d+\.\d{3}"),
    "i": ("command_tag", _ANY),
    "e": ("sqlstate", r"[0-9A-Z]{5}"),
    "c": ("session", r"[0-9a-f]+\.[0-9a-f]+"),
    "l": ("line_number", r"\d+"),
    "s": ("session_start", _TIME + _ZONE),
    "v": ("vxid", r"(?:-?\d+/\d+)?"),
    "x": ("xid", r"\d+"),
    "Q": ("query_id", r"-?\d+"),
}
_ESCAPE = re.compile(r"%(-?\d+)?(.)?", re.S)


class AmbiguousTimeZone(ValueError):
    """A log time's zone abbreviation does not say which UTC offset it means."""


class LinePrefix:
    """The parser of one ``log_line_prefix``: ``match(line)`` gives the prefix's fields, the
    severity and the message text of a line that starts a log entry, or None."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.fields: set[str] = set()
        self._groups: dict[str, list[str]] = {}
        pieces, optional_from = [], None
        position = 0
        for escape in _ESCAPE.finditer(prefix):
            pieces.append(re.escape(prefix[position:escape.start()]))
            position = escape.end()
            padding, letter = escape.group(1), escape.group(2)
            if letter is None:  # a lone % at the very end prints nothing
                continue
            if letter == "%":
                pieces.append("%")
            elif letter == "q":
                if optional_from is None:
                    optional_from = len(pieces)
            elif letter in _ESCAPES:
                name, pattern = _ESCAPES[letter]
                group = f"{name}_{len(pieces)}"
                self._groups.setdefault(name, []).append(group)
                self.fields.add(name)
                if padding:  # PostgreSQL pads the value with spaces, left or right
                    pieces.append(rf" *(?P<{group}>{pattern}) *")
                else:
                    pieces.append(f"(?P<{group}>{pattern})")
            # any other escape prints nothing in PostgreSQL either
        pieces.append(re.escape(prefix[position:]))
        if optional_from is not None:
            pieces[optional_from:] = ["(?:" + "".join(pieces[optional_from:]) + ")?"]
        severity = "|".join(SEVERITIES + SECONDARY)
        self._regex = re.compile("".join(pieces) + rf"(?P<severity_>{severity}):  ")
        self.has_time = bool({"time_n", "time_m", "time_t"} & self.fields)

    def match(self, line: str) -> tuple[dict[str, str | None], str, str] | None:
        """``(fields, severity, message)`` of a line starting an entry, else None.

        ``fields`` maps each field name present in the prefix to its value (first occurrence;
        None when empty or absent after ``%q``)."""
        found = self._regex.match(line)
        if found is None:
            return None
        values = found.groupdict()
        fields: dict[str, str | None] = {}
        for name, groups in self._groups.items():
            value = values[groups[0]]
            fields[name] = value.strip() if value and value.strip() else None
        return fields, found.group("severity_"), line[found.end():]


class TimeResolver:
    """Turns PostgreSQL log times (``2026-01-02 03:04:05[.678] ZONE``) into aware UTC datetimes."""

    def __init__(self, log_timezone: str | None = None):
        self.log_timezone = log_timezone
        self._zone = None
        if log_timezone:
            try:
                from zoneinfo import ZoneInfo
                self._zone = ZoneInfo(log_timezone)
            except Exception as exc:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError
                raise ValueError(
                    f"log_timezone {log_timezone!r} is not a time zone known here ({type(exc).__name__}); "
                    "give the IANA name the server reports (SHOW log_timezone), e.g. 'Europe/Berlin', and "
                    "install the tzdata package if this system has no time zone database") from None
        self._offsets: dict[tuple[str, datetime], timedelta] = {}

    def parse(self, text: str) -> datetime:
        """UTC time of a log time with its zone abbreviation (``%t``, ``%m``, csv/json timestamps)."""
        local, _, abbreviation = text.rpartition(" ")
        naive = datetime.fromisoformat(local)
        key = (abbreviation, naive.replace(minute=0, second=0, microsecond=0))
        offset = self._offsets.get(key)
        if offset is None:
            offset = self._offset(abbreviation, naive)
            if len(self._offsets) > 4096:
                self._offsets.clear()
            self._offsets[key] = offset
        return (naive - offset).replace(tzinfo=timezone.utc)

    @staticmethod
    def parse_epoch(text: str) -> datetime:
        """UTC time of ``%n`` (seconds since the epoch, with milliseconds)."""
        seconds, _, millis = text.partition(".")
        return datetime.fromtimestamp(int(seconds), timezone.utc) + timedelta(milliseconds=int(millis or 0))

    def _offset(self, abbreviation: str, naive: datetime) -> timedelta:
        if abbreviation.upper() in _UTC_NAMES:
            return _ZERO
        numeric = _NUMERIC_ZONE.match(abbreviation)
        if numeric:
            sign, hours, minutes, seconds = numeric.groups()
            offset = timedelta(hours=int(hours), minutes=int(minutes or 0), seconds=int(seconds or 0))
            return -offset if sign == "-" else offset
        if self._zone is not None:
            offsets = {naive.replace(tzinfo=self._zone, fold=fold).utcoffset() for fold in (0, 1)
                       if naive.replace(tzinfo=self._zone, fold=fold).tzname() == abbreviation}
            if len(offsets) == 1:
                return offsets.pop()
        offsets = _abbreviation_offsets(abbreviation, naive)
        if len(offsets) == 1:
            return next(iter(offsets))
        if self._zone is not None and not offsets:  # an abbreviation only the server knows: trust the zone
            return naive.replace(tzinfo=self._zone).utcoffset()
        if self._zone is not None:
            meaning = ", ".join(f"{_format_offset(offset)} in {zone}" for offset, zone in sorted(offsets.items()))
            raise AmbiguousTimeZone(
                f"the log times' time zone abbreviation {abbreviation!r} is not one log_timezone "
                f"{self.log_timezone!r} uses (it means {meaning}): set log_timezone to the server's "
                "(SHOW log_timezone)")
        if offsets:
            meaning = ", ".join(f"{_format_offset(offset)} in {zone}" for offset, zone in sorted(offsets.items()))
            raise AmbiguousTimeZone(
                f"the log times' time zone abbreviation {abbreviation!r} is ambiguous (it means {meaning}): "
                "set log_timezone to the server's log_timezone (SHOW log_timezone)")
        raise AmbiguousTimeZone(
            f"the log times' time zone abbreviation {abbreviation!r} is not known here: set log_timezone to "
            "the server's log_timezone (SHOW log_timezone)")


@lru_cache(maxsize=256)
def _abbreviation_offsets(abbreviation: str, naive: datetime) -> dict[timedelta, str]:
    """UTC offsets of the zones that write ``abbreviation`` at local time ``naive`` (one example zone each)."""
    from zoneinfo import ZoneInfo, available_timezones

    found: dict[timedelta, str] = {}
    for name in sorted(available_timezones()):
        try:
            zone = ZoneInfo(name)
        except Exception:  # noqa: BLE001 - a broken zone file is not ours to report
            continue
        for fold in (0, 1):
            local = naive.replace(tzinfo=zone, fold=fold)
            if local.tzname() == abbreviation:
                found.setdefault(local.utcoffset(), name)
    return found


def _format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
