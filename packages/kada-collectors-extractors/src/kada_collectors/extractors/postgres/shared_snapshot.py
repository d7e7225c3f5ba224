"""Several sessions reading one database through one snapshot, as ``pg_dump -j`` does.

The session that reads a database exports its snapshot (``pg_export_snapshot()``, the first
statement of its REPEATABLE READ, READ ONLY transaction); helper sessions adopt it (``SET
TRANSACTION SNAPSHOT``) and take the database's statements from one queue, so every statement
sees the same catalog whichever session runs it. The exporting transaction stays open until the
helpers are done (an exported snapshot can only be adopted while it is).

Sessions come out of ``max_connections`` (a ``SessionBudget``): every database gets one, and a
database takes helpers only from what no other database uses when it starts, so one large database
uses them all and many small ones still get one each (at most ``MAX_SESSIONS_PER_DATABASE``). Where a helper cannot connect or adopt the
snapshot (the server's or the role's connection limit, a pooler that does not keep a session's
transaction on one backend), the database is read by the sessions that could; where the snapshot
cannot be exported, by its own session alone. Either way the output is the same.
"""

import collections
import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import psycopg
from psycopg import IsolationLevel, sql

from .session import DatabaseUnavailable, connect
from .statements import NamedStatement, tagged

log = logging.getLogger(__name__)

# Past this, more sessions on one database gain nothing: its largest statement alone takes about
# a quarter of the time of all of them.
MAX_SESSIONS_PER_DATABASE = 4
CANCEL_INTERVAL = 0.05  # seconds between cancel requests to a session still running after a failure


class SessionBudget:
    """The helper sessions a run may open: those of ``max_connections`` that no database's own
    session uses (one per database thread), shared by the databases' threads."""

    def __init__(self, total: int):
        self._free, self._lock = total, threading.Lock()

    def take(self, wanted: int) -> int:
        """Take up to ``wanted`` sessions, without waiting; return how many were taken."""
        with self._lock:
            taken = max(0, min(wanted, self._free))
            self._free -= taken
        return taken

    def give_back(self, count: int) -> None:
        with self._lock:
            self._free += count


class NoSharedSnapshot(Exception):
    """The snapshot could not be exported: the database is read again by one session. Raised out of
    the exporting transaction, which the failed export aborted (nothing had been read in it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def open_helpers(settings: dict, password: Optional[str], dbname: str, count: int) -> "tuple[list, list[str]]":
    """Up to ``count`` helper sessions to ``dbname``, REPEATABLE READ and READ ONLY like the first,
    and the reasons some could not be opened."""
    helpers, problems = [], []
    for _ in range(count):
        try:
            conn = connect(settings, password, dbname)
        except DatabaseUnavailable as e:
            problems.append(str(e))
            break  # a connection limit refuses the next ones too
        conn.autocommit = False
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        helpers.append(conn)
    return helpers, problems


def share_snapshot(conn: psycopg.Connection, helpers: list) -> "tuple[list, list[str]]":
    """Export ``conn``'s snapshot (the first statement of its transaction) and have each helper
    adopt it; return the helpers that did, and why the others did not (those are closed).
    Raises ``NoSharedSnapshot`` when the export itself fails."""
    try:
        snapshot = conn.execute(tagged("SELECT pg_catalog.pg_export_snapshot()")).fetchone()[0]
    except psycopg.Error as e:
        for helper in helpers:
            helper.close()
        raise NoSharedSnapshot(f"the server did not export the snapshot: {e.diag.message_primary or e}") from None
    adopted, problems = [], []
    for helper in helpers:
        try:
            # The first statement of the helper's transaction (psycopg opens it with the isolation
            # level set above). A utility statement: the snapshot's name goes in as a literal.
            helper.execute(tagged(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot))
                                  .as_string(helper)))
        except psycopg.Error as e:
            problems.append(f"a helper session did not adopt the snapshot: {e.diag.message_primary or e}")
            helper.close()
        else:
            adopted.append(helper)
    return adopted, problems


@dataclass
class Lane:
    """One session reading a database."""

    conn: psycopg.Connection
    writer: Any  # its writer of the change-event snapshot (a writer is one thread's)
    current: Optional[str] = None  # the statement it runs, for error messages


class LaneFailed(Exception):
    """Statements failed in the sessions: (lane, error) of each, the first first."""

    def __init__(self, failures: "list[tuple[Lane, BaseException]]"):
        super().__init__(str(failures[0][1]))
        self.failures = failures


def run_lanes(lanes: "list[Lane]", statements: Sequence[NamedStatement], first_only: "set[str]",
              read: Callable[[Lane, NamedStatement], list]) -> list:
    """Run ``statements`` over the ``lanes``, each taking the next one from a common queue (those
    named in ``first_only`` only by the first lane, which takes them first if it has helpers);
    ``read(lane, statement)`` runs one and returns its warnings. The first failure stops the
    others (their current statement is cancelled); then ``LaneFailed`` is raised with every
    failure. Returns the warnings, in statement order."""
    # Over 60 lines for a reason: take, work and stop_the_others share one run's queue, lock,
    # failures and busy lanes; kept as closures here, all the locking reads in one place.
    queue, lock, failures, busy = collections.deque(statements), threading.Lock(), [], set()
    warnings = {}

    def take(lane_index):
        with lock:
            if failures:
                return None
            # With helpers, the first lane starts with its own statements, so that the others
            # have the rest to themselves; alone, it runs them all in order.
            mine = [s for s in queue if s.name in first_only] if lane_index == 0 and len(lanes) > 1 else []
            choices = mine or [s for s in queue if lane_index == 0 or s.name not in first_only]
            if not choices:
                return None
            queue.remove(choices[0])
            busy.add(lane_index)  # under the lock: a failure elsewhere then cancels what it runs
            return choices[0]

    def work(lane_index):
        lane = lanes[lane_index]
        while (statement := take(lane_index)) is not None:
            lane.current = statement.name
            try:
                warnings[statement.name] = read(lane, statement)
            except BaseException as e:
                with lock:
                    failures.append((lane, e))
                    busy.discard(lane_index)
                stop_the_others()
                return
            with lock:
                busy.discard(lane_index)
        if lane_index:  # a helper that is done holds nothing more: not idle in its transaction meanwhile
            with contextlib.suppress(psycopg.Error):
                lane.conn.rollback()

    def stop_the_others():
        # Until each has ended its statement: a cancel that reaches a session before its
        # statement does is lost.
        while True:
            with lock:
                running = [lanes[i] for i in busy]
            if not running:
                return
            for other in running:
                other.conn.cancel_safe()
            time.sleep(CANCEL_INTERVAL)

    if len(lanes) == 1:
        work(0)
    else:
        with ThreadPoolExecutor(max_workers=len(lanes) - 1, thread_name_prefix="kada-session") as pool:
            helpers = [pool.submit(work, i) for i in range(1, len(lanes))]
            work(0)
            for future in helpers:
                future.result()
    if failures:
        raise LaneFailed(failures)
    return [w for s in statements if s.name in warnings for w in warnings[s.name]]
