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

The server sorts each object's values into its counters that are not zero and its state, as the
contract writes them (``expand_columns``), so that most objects of a window, those nothing
touched, cost no parsing at all: their counters' text is the snapshot's line, byte for byte, and
their row is ``{}`` and the state as the server wrote it. Only the objects that moved are parsed.
"""

import contextlib
import os
import re
import tempfile
from typing import Optional

import orjson
from psycopg import sql

from kada_collectors.lib.errors import ExtractError
from kada_collectors.lib.snapshots import bucket_of

from .ids import split_arguments
from .statements import MOMENT_OIDS, contract_moment, describe, tagged

KIND = "usage"
SNAPSHOT, FIRST_RUN, RESET = "SNAPSHOT", "FIRST_RUN", "RESET"
DATABASE = "DATABASE"
# Numbers the views keep that are not cumulative: they go down without any reset.
GAUGES = frozenset({"numbackends", "n_live_tup", "n_dead_tup", "n_mod_since_analyze", "n_ins_since_vacuum"})
# The views' columns that name the object (USAGE_SQL gives it its metadata id).
IDENTITY = frozenset({"datid", "datname", "relid", "indexrelid", "schemaname", "relname", "indexrelname", "funcid",
                      "funcname"})
# The database row's values the collector adds (USAGE_SQL), and the server's reset moment.
POSTMASTER_START, TRACK_FUNCTIONS, STATS_RESET = "postmaster_start_time", "track_functions", "stats_reset"
RESET_MOMENTS = (STATS_RESET, POSTMASTER_START)
# An object's own reset moment in its STATE text, where the major keeps one per object.
_OWN_RESET = b'"stats_reset":"'
NOTHING = "{}"  # the counters of an object nothing touched in the window
HANDED_OVER = 2000  # snapshot lines handed over at a time
# The rows are joined with the start snapshot a share at a time (a power of two, at most the
# store's fewest buckets): memory holds a sixteenth of the snapshot's payloads.
PARTS = 16
# int2, int4, int8, float4, float8, numeric: the types of the views' counters.
NUMBER_OIDS = frozenset({21, 23, 20, 700, 701, 1700})
_COLUMNS_MACRO = re.compile(r"\{usage_columns\((.*?)\)\}", re.DOTALL)
_RELATION = re.compile(r"^(\w+)\s+([\w.]+)$")
_NAMED = re.compile(r"^(.*\S)\s+AS\s+(\w+)$", re.DOTALL | re.IGNORECASE)


def expand_columns(text: str, conn) -> str:
    """``text`` (USAGE_SQL) with each ``{usage_columns(s pg_stat_all_tables, io pg_statio_all_tables,
    expression AS name, ...)}`` written out for the server of ``conn``: its "COUNTERS" and
    "STATE" columns. The views' columns are the server's own (they differ by major), as it
    describes them: numbers that only grow are counters, kept when not zero; the gauges, times
    (in UTC, as the contract writes them), other values and the expressions given are the state;
    the columns that name the object are left out. A statement without the macro is unchanged."""
    def expand(match: "re.Match[str]") -> str:
        counters: "list[sql.Composable]" = []
        state: "list[sql.Composable]" = []
        taken = set(IDENTITY)  # a name twice (two views may share a column) would be a JSON key twice
        for argument in split_arguments(match.group(1)):
            relation, named = _RELATION.match(argument), _NAMED.match(argument)
            if relation:
                alias, view = relation.groups()
                columns = [(sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(name)), name, type_oid)
                           for name, type_oid in describe(conn, tagged(f"SELECT * FROM {view}"))]
            elif named:
                expression, name = named.groups()
                (_, type_oid), = describe(conn, tagged(f"SELECT {expression}"))
                columns = [(sql.SQL(expression), name, type_oid)]
            else:
                raise ExtractError(f"USAGE_SQL: {{usage_columns(...)}} takes 'alias view' or 'expression AS name', "
                                   f"separated by commas; got {argument!r}")
            for value, name, type_oid in columns:
                if name in taken:
                    continue
                taken.add(name)
                if type_oid in NUMBER_OIDS and name not in GAUGES and not named:
                    counters.append(sql.SQL("nullif({}, 0) AS {}").format(value, sql.Identifier(name)))
                else:
                    shown = contract_moment(value, type_oid) if type_oid in MOMENT_OIDS else value
                    state.append(sql.SQL("{} AS {}").format(shown, sql.Identifier(name)))
        # row_to_json of a row with named columns: compact JSON, as the contract writes it.
        return sql.SQL('(SELECT json_strip_nulls(row_to_json(c)) FROM (SELECT {}) c) AS "COUNTERS", '
                       '(SELECT row_to_json(s) FROM (SELECT {}) s) AS "STATE"').format(
            sql.SQL(", ").join(counters), sql.SQL(", ").join(state)).as_string(conn)
    return _COLUMNS_MACRO.sub(expand, text)


class WindowUsage:
    """One database's usage of a window: read, written as deltas, and kept for the next window."""

    def __init__(self, store, host: str, dbname: str, window: "tuple[str, str]"):
        self.store, self.host, self.dbname = store, host, dbname
        self.start_hwm, self.end_hwm = window
        self._writer = None
        self.warnings: "list[str]" = []

    def read(self, conn, query: str, part) -> None:
        """Run ``query`` (USAGE_SQL, rendered and expanded) on ``conn``, write the window's rows into
        ``part`` and keep the counters as this window's end snapshot. Memory stays flat whatever
        the catalog: the rows stream through COPY into ``PARTS`` temporary files beside the part,
        by the bucket of their id, and each file is then joined with the same share of the start
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
                    key, counters, state = line[:-1].split(b"\t")
                    kept.append(self._write(part, baseline, context, tuple(orjson.loads(key)), counters, state))
                    if len(kept) >= HANDED_OVER:
                        self._writer.add_text(kept)
                        kept = []
        self._writer.add_text(kept)
        self._warn(found is None, context[0], context[1])

    def _spill(self, conn, query: str, spills) -> "Optional[tuple]":
        """Stream ``query``'s rows into ``spills`` by the bucket of their ids; return the
        database's own row, or None. COPY, as the other statements are read: the server's log
        shows only the tagged statement (a server-side cursor's FETCH would carry no tag)."""
        database = None
        with conn.cursor() as cursor, cursor.copy(sql.SQL("COPY ({}) TO STDOUT").format(sql.SQL(query))) as copy:
            copy.set_types(["text", "text", "text", "text"])
            for object_type, object_id, counters, state in copy.rows():
                # JSON, as the server wrote it: a line end in JSON is only ever whitespace (one in a
                # string is escaped), and a statement of the user's may have some.
                counters = (counters or NOTHING).replace("\n", " ").encode("utf-8")
                state = (state or NOTHING).replace("\n", " ").encode("utf-8")
                if object_type == DATABASE:
                    database = ((object_type, object_id), counters, state)
                else:  # a line each: the key (JSON: no tab in it), the counters, the state
                    spills[bucket_of(object_id, PARTS)].write(
                        b"%b\t%b\t%b\n" % (orjson.dumps((object_type, object_id)), counters, state))
        return database

    def _share(self, found: "Optional[int]", share: int) -> "Optional[dict]":
        """{(type, id): snapshot line} of the start snapshot's objects in bucket ``share`` of
        ``PARTS``; None without a start snapshot."""
        if found is None:
            return None
        return {(t, i): payload for t, i, payload in self.store.part(found, share, PARTS)}

    def _context(self, baseline, database) -> tuple:
        """(whole-database reset moment or None, the database's state now, its reset moments in
        the baseline)."""
        if database is None:
            return None, {}, {}
        key, counters, state = database
        now = (orjson.loads(counters), orjson.loads(state))
        before = baseline.get(key) if baseline is not None else None
        then = _parsed(before) if before is not None else ({}, {})
        return _database_reset(before is not None, now, then), now[1], then[1]

    def _write(self, part, baseline, context, key, counters: bytes, state: bytes):
        """Write one object's row; return its line for the snapshot: its counters that are not zero
        (the server's text) and, where there are any, the moments a reset is told by."""
        line = counters if key[0] != DATABASE and _OWN_RESET not in state else _with_moments(counters, state)
        before = baseline.get(key) if baseline is not None else None
        if context[0] is None and before == line:
            # Nothing counted since the baseline, nor reset: most objects of a window, passed
            # through without parsing a thing.
            mark, since, counts = SNAPSHOT, self.start_hwm, NOTHING
        else:
            mark, since, counts = self._delta(baseline is not None, *context, key, before, counters, state)
        part.write_text((*key, self.host, self.dbname, self.start_hwm, self.end_hwm, since or "", mark, counts,
                         state.decode("utf-8")))
        return (*key, line)

    def _delta(self, diffed, whole, db_state, old_db_moments, key, before, counters, state):
        """(mark, counts since, counts as JSON) of one object."""
        if not diffed:
            return FIRST_RUN, db_state.get(STATS_RESET), counters.decode("utf-8")
        if whole is not None:
            return RESET, whole, counters.decode("utf-8")
        if before is None:  # new in the window (or first counted in it, a function's first call)
            return SNAPSHOT, self.start_hwm, counters.decode("utf-8")
        now, (old, old_moments) = orjson.loads(counters), _parsed(before)
        # The database's own stats_reset also moves when one object is reset (13 and 14): its
        # counters going back is what tells (_database_reset).
        own_reset = orjson.loads(state).get(STATS_RESET) if key[0] != DATABASE and _OWN_RESET in state else None
        moved = key[0] != DATABASE and own_reset != old_moments.get(STATS_RESET)
        if moved or _went_back(now, old):
            db_reset = db_state.get(STATS_RESET)
            return RESET, own_reset or (db_reset if db_reset != old_db_moments.get(STATS_RESET) else None), \
                counters.decode("utf-8")
        # Times (floats) rounded to the microsecond the server keeps; inline: once per counter.
        deltas = {name: value - old.get(name, 0) if type(value) is int else round(value - old.get(name, 0), 3)
                  for name, value in now.items()}
        return SNAPSHOT, self.start_hwm, _json({name: delta for name, delta in deltas.items() if delta})

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
    '' when the server does not say; None when they were not. ``now``: the database row's
    (counters, state); ``then``: its (counters, reset moments) in the baseline (``diffed``: there
    is one)."""
    if not diffed or not _went_back(now[0], then[0]):
        return None
    moments = [now[1][name] for name in RESET_MOMENTS
               if now[1].get(name) and now[1].get(name) != then[1].get(name)]
    return max(moments) if moments else ""


def _went_back(counters: dict, old: dict) -> bool:
    """Whether any counter is below its value in ``old``: a reset, the only way one goes down
    (both hold the counters that are not zero)."""
    return any(counters.get(name, 0) < value for name, value in old.items())


def _json(values: dict) -> str:
    """A JSON object as the contract writes one (compact, UTF-8), in the server's key order.
    orjson: the standard library's took a third of the extract's time."""
    return orjson.dumps(values).decode("utf-8")


def _with_moments(counters: bytes, state: bytes) -> bytes:
    """The snapshot line of an object whose reset is told by moments (the database; an object
    whose major keeps its own stats_reset): its counters and those moments."""
    kept, values = orjson.loads(counters), orjson.loads(state)
    kept.update((name, values[name]) for name in RESET_MOMENTS if name in values)
    return orjson.dumps(kept)


def _parsed(line: bytes) -> "tuple[dict, dict]":
    """(counters, reset moments) of a snapshot line."""
    values = orjson.loads(line)
    return ({name: value for name, value in values.items() if name not in RESET_MOMENTS},
            {name: values[name] for name in RESET_MOMENTS if name in values})
