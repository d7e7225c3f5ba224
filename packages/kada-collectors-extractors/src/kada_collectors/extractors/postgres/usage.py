"""Usage: what was read and written in the window, from the server's cumulative statistics.

The statistics views (pg_stat_database, pg_stat_all_tables, pg_statio_all_tables,
pg_stat_all_indexes, pg_statio_all_indexes, pg_stat_user_functions) hold counters since the
statistics were last reset, not events with times. As the query log does with
pg_stat_statements (querylog/pgss.py), each run keeps a snapshot of the counters at its end HWM
in the snapshot store, beside the change-event snapshots, and a window's usage is the counters
now minus those kept at its start, object by object.

Counters never go negative. A reset is detected and reported instead of subtracted:
- the whole database (``pg_stat_reset()``, a crash, a failover to another server): the
  database's own counters went backwards; every object then counts from its new ``stats_reset``
  or the server's later start, whichever moved (``RESET``);
- one object (``pg_stat_reset_single_*_counters``): one of its counters went backwards, or its own
  ``stats_reset`` moved where the major has one; it counts from the reset (``RESET``).
A first run (no snapshot at the window's start) reports the counters since the last reset
(``FIRST_RUN``). Values that are not cumulative (live and dead rows, the last vacuum, analyse or
scan) are reported as they stand at the window's end, in ``STATE``.
"""

import contextlib
import os
import re
import tempfile
from datetime import datetime, timezone
from typing import Optional

import orjson
from psycopg import sql

from kada_collectors.lib.snapshots import bucket_of
from kada_collectors.lib.writer import format_value

KIND = "usage"
SNAPSHOT, FIRST_RUN, RESET = "SNAPSHOT", "FIRST_RUN", "RESET"
DATABASE = "DATABASE"
# Numbers the views keep that are not cumulative: they go down without any reset.
GAUGES = frozenset({"numbackends", "n_live_tup", "n_dead_tup", "n_mod_since_analyze", "n_ins_since_vacuum"})
# The views' columns that name the object (USAGE_SQL gives it its metadata id).
IDENTITY = frozenset({"datid", "datname", "relid", "indexrelid", "schemaname", "relname", "indexrelname", "funcid",
                      "funcname"})
NOT_COUNTERS = GAUGES | IDENTITY
# The database row's values the collector adds (USAGE_SQL), and the server's reset moment.
POSTMASTER_START, TRACK_FUNCTIONS, STATS_RESET = "postmaster_start_time", "track_functions", "stats_reset"
RESET_MOMENTS = (STATS_RESET, POSTMASTER_START)
HANDED_OVER = 2000  # snapshot lines handed over at a time
# The rows are joined with the start snapshot a share at a time (a power of two, at most the
# store's fewest buckets): memory holds a sixteenth of the snapshot's payloads.
PARTS = 16
_MOMENT = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?([+-]\d\d)(?::?(\d\d))?(?::\d\d)?$")


def split(*rows: "Optional[dict]") -> "tuple[dict, dict]":
    """(cumulative counters, state) of one object's view ``rows`` (those of a view joined on the
    right may be None), without the columns that name the object: the counters are its numbers
    that only grow until a reset; the state its gauges and moments, times in UTC as the contract
    writes them. Run once per object per run: kept to plain operations."""
    counters, state = {}, {}
    for row in rows:
        if row:  # comprehensions: twice as fast as one loop over the columns
            counters.update({name: value for name, value in row.items()
                             if (type(value) is int or type(value) is float) and name not in NOT_COUNTERS})
            state.update({name: utc(value) if type(value) is str else value for name, value in row.items()
                          if name not in counters and name not in IDENTITY})
    return counters, state


def utc(text: str) -> str:
    """A moment as JSON has it (ISO 8601 with an offset) in UTC as the contract writes times;
    any other text as it is."""
    match = _MOMENT.match(text)
    if not match:
        return text
    day, clock, fraction, hours, minutes = match.groups()
    offset = f"{hours}:{minutes or '00'}"
    moment = datetime.fromisoformat(f"{day}T{clock}.{(fraction or '').ljust(6, '0')}{offset}")
    return format_value(moment.astimezone(timezone.utc))


class WindowUsage:
    """One database's usage of a window: read, written as deltas, and kept for the next window."""

    def __init__(self, store, host: str, dbname: str, window: "tuple[str, str]"):
        self.store, self.host, self.dbname = store, host, dbname
        self.start_hwm, self.end_hwm = window
        self._writer = None
        self.warnings: "list[str]" = []

    def read(self, conn, query: str, part) -> None:
        """Run ``query`` (USAGE_SQL, rendered) on ``conn``, write the window's rows into ``part``
        and keep the counters as this window's end snapshot. Memory stays flat whatever the
        catalog: the rows stream through COPY into ``PARTS`` temporary files beside the part, by
        the bucket of their id, and each file is then joined with the same share of the start
        snapshot, one at a time (the database's own row first: it tells whether all was reset)."""
        found = self.store.find(KIND, self.host, self.dbname, self.start_hwm)
        self._writer = self.store.begin(KIND, self.host, self.dbname, self.end_hwm)
        with contextlib.ExitStack() as stack:
            spills = [stack.enter_context(tempfile.TemporaryFile(dir=os.path.dirname(part.path), prefix=".kada-usage-"))
                      for _ in range(PARTS)]
            database = self._spill(conn, query, spills)
            # The database's row, with the share of the start snapshot its id is in.
            start = self._share(found, bucket_of(database[0][1], PARTS) if database else 0)
            context = self._context(start, database)
            kept = [self._write(part, start, context, *database)] if database else []
            for share, spill in enumerate(spills):
                baseline = self._share(found, share)
                spill.seek(0)
                for line in spill:
                    key, values = line.split(b"\t", 1)
                    object_type, object_id = orjson.loads(key)
                    kept.append(self._write(part, baseline, context, (object_type, object_id),
                                            split(*orjson.loads(values))))
                    if len(kept) >= HANDED_OVER:
                        self._writer.add_text(kept)
                        kept = []
        self._writer.add_text(kept)
        self._warn(found is None, context[0], context[1])

    def _spill(self, conn, query: str, spills) -> "Optional[tuple]":
        """Stream ``query``'s rows into ``spills`` by the bucket of their ids; return the
        database's own row, parsed, or None. COPY, as the other statements are read: the server's
        log shows only the tagged statement (a server-side cursor's FETCH would carry no tag)."""
        database = None
        with conn.cursor() as cursor, cursor.copy(sql.SQL("COPY ({}) TO STDOUT").format(sql.SQL(query))) as copy:
            copy.set_types(["text", "text", "text"])
            for object_type, object_id, values in copy.rows():
                if object_type == DATABASE:
                    database = ((object_type, object_id), split(*orjson.loads(values)))
                else:  # a line each: the key (JSON, no tab in it), a tab, the JSON as the server wrote it;
                    # a line end in JSON is only ever whitespace (one in a string is escaped)
                    spills[bucket_of(object_id, PARTS)].write(b"%b\t%b\n" % (
                        orjson.dumps((object_type, object_id)), values.replace("\n", " ").encode("utf-8")))
        return database

    def _share(self, found: "Optional[int]", share: int) -> "Optional[dict]":
        """{(type, id): payload} of the start snapshot's objects in bucket ``share`` of ``PARTS``;
        None without a start snapshot. Each payload is parsed when its object's row comes."""
        if found is None:
            return None
        return {(t, i): payload for t, i, payload in self.store.part(found, share, PARTS)}

    def _context(self, baseline, database) -> tuple:
        """(whole-database reset moment or None, the database's state now and in the baseline)."""
        key, (counters, state) = database if database else (None, ({}, {}))
        before = _parsed(baseline.get(key)) if baseline is not None and key in baseline else None
        then = before or ({}, {})
        return _database_reset(before is not None, (counters, state), then), state, then[1]

    def _write(self, part, baseline, context, key, values):
        """Write one object's row; return its line for the snapshot: its non-zero counters and the
        moments a reset is told by (never the gauges)."""
        counters, state = values
        kept = {name: value for name, value in counters.items() if value}
        kept.update((name, state[name]) for name in RESET_MOMENTS if name in state)
        line = orjson.dumps(kept)
        if context[0] is None and baseline is not None and baseline.get(key) == line:
            # Nothing counted since the baseline, nor reset: most objects of a window. Zeros (0 or
            # 0.0, as the counter is) without parsing the baseline's counters.
            mark, since, counts = SNAPSHOT, self.start_hwm, {name: value - value for name, value in counters.items()}
        else:
            mark, since, counts = self._delta(baseline, *context, key, counters, state)
        part.write_text((*key, self.host, self.dbname, self.start_hwm, self.end_hwm, since or "", mark, _json(counts),
                         _json(state)))
        return (*key, line)

    def _delta(self, baseline, whole, db_state, old_db_state, key, counters, state):
        """(mark, counts since, counts) of one object."""
        if baseline is None:
            return FIRST_RUN, db_state.get(STATS_RESET), counters
        if whole is not None:
            return RESET, whole, counters
        before = baseline.get(key)
        if before is None:  # new in the window (or first counted in it, a function's first call)
            return SNAPSHOT, self.start_hwm, counters
        old_counters, old_state = _parsed(before)
        # The database's own stats_reset also moves when one object is reset (13 and 14): its
        # counters going back is what tells (_database_reset).
        own_reset = state.get(STATS_RESET) if key[0] != DATABASE else None
        moved = own_reset != (old_state.get(STATS_RESET) if key[0] != DATABASE else None)
        if moved or _went_back(counters, old_counters):
            db_reset = db_state.get(STATS_RESET)
            return RESET, own_reset or (db_reset if db_reset != old_db_state.get(STATS_RESET) else None), counters
        # Times (floats) rounded to the microsecond the server keeps; inline: once per counter.
        return SNAPSHOT, self.start_hwm, {name: value - old_counters.get(name, 0) if type(value) is int
                                          else round(value - old_counters.get(name, 0), 3)
                                          for name, value in counters.items()}

    def _warn(self, first_run, whole, db_state):
        """Manifest warnings: a first run, a reset, functions not counted."""
        if first_run:
            self.warnings.append(f"database {self.dbname!r}: usage has no snapshot at {self.start_hwm} (a first run): "
                                 "the counters are reported since the statistics were last reset ("
                                 f"{db_state.get(STATS_RESET) or 'never'}), marked FIRST_RUN")
        elif whole is not None:
            self.warnings.append(f"database {self.dbname!r}: the statistics were reset in the window (at {whole}): "
                                 "usage counts from then, marked RESET")
        if db_state.get(TRACK_FUNCTIONS) == "none":
            self.warnings.append(f"database {self.dbname!r}: track_functions is off: usage has no functions; set "
                                 "track_functions = 'pl' (or 'all') to count their calls (RDS: the parameter group)")

    def complete(self) -> None:
        """Keep this window's snapshot: the next window starts from it."""
        if self._writer is not None:
            self.store.complete(self._writer, KIND, self.host, self.dbname, self.end_hwm)

    def discard(self) -> None:
        if self._writer is not None:
            self.store.discard(self._writer)
            self._writer = None

    @staticmethod
    def prune(store, host: str, dbname: str, oldest_needed: str, keep_older: int) -> None:
        store.prune(KIND, host, dbname, oldest_needed, keep_older)


def _database_reset(diffed: bool, now: tuple, then: tuple) -> "Optional[str]":
    """When the whole database's statistics were reset since the baseline (its own counters went
    back: pg_stat_reset(), a crash, another server after a failover): the moment they count from,
    '' when the server does not say; None when they were not. ``now`` and ``then``: the database
    row's (counters, state) now and in the baseline (``diffed``: there is one)."""
    if not diffed or not _went_back(now[0], then[0]):
        return None
    moments = [now[1][name] for name in RESET_MOMENTS
               if now[1].get(name) and now[1].get(name) != then[1].get(name)]
    return max(moments) if moments else ""


def _went_back(counters: dict, old: dict) -> bool:
    """Whether any counter is below its value in ``old``: a reset, the only way one goes down."""
    return any(value < old.get(name, 0) for name, value in counters.items())


def _json(values: dict) -> str:
    """A JSON object as the contract writes one (compact, UTF-8), in the server's key order (sorting
    them again cost a fifth of the usage extract's time). orjson: three per object, and the
    standard library's took a third of the extract's time."""
    return orjson.dumps(values).decode("utf-8")


def _parsed(payload: bytes) -> "tuple[dict, dict]":
    return split(orjson.loads(payload))
