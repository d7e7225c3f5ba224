"""pg_stat_statements: the window's share of cumulative counters.

The view holds counters since an entry was created (or the statistics were last reset), not
events with times. So each run saves a snapshot of the counters at its end HWM, and the window's
query log is the current counters minus those saved at the window's start, entry by entry, keyed
by (database, user, top level, query id). An entry whose counters went backwards, that is newer
than the snapshot (PostgreSQL 17's ``stats_since``), or that lived through a reset of all
statistics (``pg_stat_statements_info.stats_reset``, PostgreSQL 14+), counts from zero. Entries
evicted between two snapshots (``pg_stat_statements.max`` too small) are counted and reported.

The view is cluster-wide: it is read once per run, from the first configured database where the
extension exists, for the configured databases only. Columns are chosen by what the installed
version has (``total_exec_time`` since 1.8, ``toplevel`` 1.9, ``stats_since`` 1.11).
"""

import json
import re
import struct
from dataclasses import dataclass

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from ..statements import is_collector_statement, tagged

KIND = "pg_stat_statements"
CLUSTER = ""  # the snapshot's database key: the view is cluster-wide
_COUNTERS = struct.Struct("<qdqd")  # calls, total ms, rows, stats_since (epoch; 0 unknown)
INFO = "INFO"
# The collector's own user's transaction control, which no tag can mark.
_TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE|"
                                  r"SET|SHOW|DISCARD|DEALLOCATE|CLOSE|FETCH|DECLARE)\b", re.IGNORECASE)
HIDDEN_TEXT = "<insufficient privilege>"


@dataclass
class Entry:
    database: str
    user: str
    toplevel: bool
    queryid: int
    text: str
    calls: int
    total_ms: float
    rows: int
    stats_since: float  # epoch seconds, 0 when the version does not say

    @property
    def key(self):
        return json.dumps([self.database, self.user, self.toplevel, self.queryid])

    def payload(self):
        return _COUNTERS.pack(self.calls, self.total_ms, self.rows, self.stats_since)


@dataclass
class Delta:
    entry: Entry
    calls: int
    total_ms: float
    rows: int


class Unavailable(Exception):
    """pg_stat_statements cannot be read; the message says what is missing and how to fix it."""


def locate(conn):
    """The schema holding the view in this database, or None when the extension is not created."""
    row = conn.execute(tagged("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                              "WHERE e.extname = 'pg_stat_statements'")).fetchone()
    return row[0] if row else None


def read(conn, schema, databases):
    """(entries of the configured databases, stats_reset epoch or None, notes for the manifest)."""
    columns = {r[0] for r in conn.execute(tagged(
        "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = 'pg_stat_statements' "
        "AND a.attnum > 0 AND NOT a.attisdropped"), (schema,))}
    total = "total_exec_time" if "total_exec_time" in columns else "total_time"
    query = sql.SQL(tagged("SELECT d.datname, coalesce(r.rolname, s.userid::text), {toplevel}, s.queryid, "
                    "s.query, s.calls, s.{total}, s.rows, {since}, s.userid = (SELECT oid FROM pg_roles "
                    "WHERE rolname = current_user) FROM {view} s JOIN pg_database d ON d.oid = s.dbid "
                    "LEFT JOIN pg_roles r ON r.oid = s.userid WHERE d.datname = ANY(%s)")).format(
        toplevel=sql.SQL("s.toplevel" if "toplevel" in columns else "true"),
        total=sql.Identifier(total),
        since=sql.SQL("extract(epoch FROM s.stats_since)" if "stats_since" in columns else "0"),
        view=sql.Identifier(schema, "pg_stat_statements"))
    notes = []
    try:
        rows = conn.execute(query, (list(databases),)).fetchall()
    except pg_errors.ObjectNotInPrerequisiteState:
        raise Unavailable("pg_stat_statements is not loaded: add it to shared_preload_libraries (on RDS, the "
                          "parameter group) and restart the server") from None
    except pg_errors.InsufficientPrivilege as e:
        raise Unavailable(f"pg_stat_statements cannot be read: {e.diag.message_primary}") from None
    entries, hidden = [], 0
    for database, user, toplevel, queryid, text, calls, total_ms, row_count, since, own in rows:
        if text == HIDDEN_TEXT or text is None:
            hidden += 1
            continue
        if is_collector_statement(text) or (own and _TRANSACTION_CONTROL.match(text)):
            continue
        entries.append(Entry(database, user, bool(toplevel), queryid or 0, text, calls, total_ms or 0.0,
                             row_count or 0, float(since or 0)))
    if hidden:
        notes.append(f"pg_stat_statements: the text of {hidden} statement(s) of other users is hidden from this "
                     "user: GRANT pg_read_all_stats TO it (WITH INHERIT TRUE on PostgreSQL 16+)")
    return entries, _stats_reset(conn, schema), notes


def _stats_reset(conn, schema):
    try:
        with conn.transaction():
            row = conn.execute(sql.SQL(tagged("SELECT extract(epoch FROM stats_reset) FROM {}")).format(
                sql.Identifier(schema, "pg_stat_statements_info"))).fetchone()
    except psycopg.errors.UndefinedTable:
        return None  # before PostgreSQL 14
    return float(row[0]) if row and row[0] is not None else None


def deltas(entries, baseline, stats_reset, baseline_reset):
    """The window's counters, and the number of entries evicted since the baseline.

    ``baseline``: {key: payload} of the snapshot at the window's start (None: no snapshot, so every
    counter counts whole)."""
    reset_since = baseline is not None and stats_reset is not None and stats_reset != baseline_reset
    result, seen = [], set()
    for entry in entries:
        key = entry.key
        seen.add(key)
        previous = baseline.get(key) if baseline and not reset_since else None
        if previous is None:
            counts = (entry.calls, entry.total_ms, entry.rows)
        else:
            calls, total_ms, rows, since = _COUNTERS.unpack(previous)
            restarted = entry.calls < calls or (entry.stats_since and since and entry.stats_since > since)
            counts = ((entry.calls, entry.total_ms, entry.rows) if restarted
                      else (entry.calls - calls, entry.total_ms - total_ms, entry.rows - rows))
        if counts[0] > 0:
            result.append(Delta(entry, *counts))
    evicted = 0 if baseline is None or reset_since else sum(1 for key in baseline if key != INFO and key not in seen)
    return result, evicted


def info_payload(stats_reset):
    return struct.pack("<d", stats_reset if stats_reset is not None else -1.0)


def baseline_reset(payload):
    (value,) = struct.unpack("<d", payload)
    return None if value < 0 else value
