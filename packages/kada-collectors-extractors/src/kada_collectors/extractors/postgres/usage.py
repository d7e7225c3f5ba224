"""Usage: what was read and written in the window, from the server's cumulative statistics.

The statistics views (pg_stat_database, pg_stat_all_tables, pg_statio_all_tables,
pg_stat_all_indexes, pg_statio_all_indexes, pg_stat_user_functions) hold counters since the
statistics were last reset, not events with times. As the query log does with
pg_stat_statements (querylog/pgss.py), each run keeps a snapshot of the counters at its end HWM
in the snapshot store, beside the change-event snapshots, and a window's usage is the counters
now minus those kept at its start, object by object.

Counters never go negative. A reset is detected and reported instead of subtracted:
- the whole database (``pg_stat_reset()``, a crash, a failover to another server): the
  database's own counters went backwards, and its ``stats_reset`` or the server's start time
  moved; every object then counts from that moment (``RESET``);
- one object (``pg_stat_reset_single_*_counters``): one of its counters went backwards, or its own
  ``stats_reset`` moved where the major has one; it counts from the reset (``RESET``).
A first run (no snapshot at the window's start) reports the counters since the last reset
(``FIRST_RUN``). Values that are not cumulative (live and dead rows, the last vacuum, analyse or
scan) are reported as they stand at the window's end, in ``STATE``.
"""

import json
import re
from datetime import datetime, timezone
from typing import Optional


from kada_collectors.lib.writer import format_value

KIND = "usage"
SNAPSHOT, FIRST_RUN, RESET = "SNAPSHOT", "FIRST_RUN", "RESET"
# Numbers the views keep that are not cumulative: they go down without any reset.
GAUGES = frozenset({"numbackends", "n_live_tup", "n_dead_tup", "n_mod_since_analyze", "n_ins_since_vacuum"})
# The database row's values the collector adds (USAGE_SQL), and the server's reset moment.
POSTMASTER_START, TRACK_FUNCTIONS, STATS_RESET = "postmaster_start_time", "track_functions", "stats_reset"
FUNCTION_TYPES = ("FUNCTION", "PROCEDURE", "AGGREGATE")
_MOMENT = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?([+-]\d\d)(?::?(\d\d))?(?::\d\d)?$")


def split(values: dict) -> "tuple[dict, dict]":
    """(cumulative counters, state) of one object's view columns: the counters are its numbers
    that only grow until a reset; the state its gauges and moments, times in UTC as the contract
    writes them."""
    counters, state = {}, {}
    for name, value in values.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name not in GAUGES:
            counters[name] = value
        elif isinstance(value, str):
            state[name] = utc(value)
        else:
            state[name] = value
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
        and keep the counters as this window's end snapshot."""
        rows = [(t, i, values if isinstance(values, dict) else json.loads(values))
                for t, i, values in conn.execute(query).fetchall()]
        baseline = self._baseline()
        now = {(t, i): values for t, i, values in rows}
        database = next(((t, i) for t, i, _ in rows if t == "DATABASE"), None)
        whole = _database_reset(baseline, now, database)
        for object_type, object_id, values in rows:
            counters, state = split(values)
            mark, since, counts = self._delta(baseline, whole, now, database, (object_type, object_id), counters)
            part.write((object_type, object_id, self.host, self.dbname, self.start_hwm, self.end_hwm, since, mark,
                        counts, state))
        self._writer = self.store.begin(KIND, self.host, self.dbname, self.end_hwm)
        self._writer.add_text([(t, i, json.dumps(values, sort_keys=True).encode("utf-8")) for t, i, values in rows])
        self._warn(baseline, whole, now, database)

    def _baseline(self) -> "Optional[dict]":
        """{(type, id): view values} of the snapshot at the window's start, None without one."""
        found = self.store.find(KIND, self.host, self.dbname, self.start_hwm)
        if found is None:
            return None
        return {(t, i): json.loads(payload) for t, i, payload in self.store.objects(found)}

    def _delta(self, baseline, whole, now, database, key, counters):
        """(mark, counts since, counts) of one object."""
        db_state = split(now.get(database, {}))[1]
        if baseline is None:
            return FIRST_RUN, db_state.get(STATS_RESET), counters
        if whole is not None:
            return RESET, whole, counters
        before = baseline.get(key)
        if before is None:  # new in the window (or first counted in it, a function's first call)
            return SNAPSHOT, self.start_hwm, counters
        old_counters, old_state = split(before)
        own_reset = split(now[key])[1].get(STATS_RESET)
        if any(value < old_counters.get(name, 0) for name, value in counters.items()) or \
                own_reset != old_state.get(STATS_RESET):
            moved = db_state.get(STATS_RESET) if db_state.get(STATS_RESET) != split(baseline.get(database, {}))[1].get(
                STATS_RESET) else None
            return RESET, own_reset or moved, counters
        return SNAPSHOT, self.start_hwm, {name: _minus(value, old_counters.get(name, 0))
                                          for name, value in counters.items()}

    def _warn(self, baseline, whole, now, database):
        """Manifest warnings: a first run, a reset, functions not counted."""
        state = split(now.get(database, {}))[1]
        if baseline is None:
            self.warnings.append(f"database {self.dbname!r}: usage has no snapshot at {self.start_hwm} (a first run): "
                                 "the counters are reported since the statistics were last reset ("
                                 f"{state.get(STATS_RESET) or 'never'}), marked FIRST_RUN")
        elif whole is not None:
            self.warnings.append(f"database {self.dbname!r}: the statistics were reset in the window (at {whole}): "
                                 "usage counts from then, marked RESET")
        if state.get(TRACK_FUNCTIONS) == "none":
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


def _database_reset(baseline, now, database) -> "Optional[str]":
    """When the whole database's statistics were reset since the baseline (its own counters went
    back: pg_stat_reset(), a crash, another server after a failover): the moment they count from,
    '' when the server does not say; None when they were not."""
    if baseline is None or database is None or database not in baseline:
        return None
    counters, state = split(now[database])
    old_counters, old_state = split(baseline[database])
    if not any(value < old_counters.get(name, 0) for name, value in counters.items()):
        return None
    moments = [state[name] for name in (STATS_RESET, POSTMASTER_START)
               if state.get(name) and state.get(name) != old_state.get(name)]
    return max(moments) if moments else ""


def _minus(value, old):
    """A counter's growth; times (floats) rounded to the microsecond the server keeps."""
    return round(value - old, 3) if isinstance(value, float) or isinstance(old, float) else value - old
