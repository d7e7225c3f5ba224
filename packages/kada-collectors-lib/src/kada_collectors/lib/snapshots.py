"""The snapshot store: what a source looked like at each HWM, to tell what changed since.

PostgreSQL keeps no DDL timestamps and pg_stat_statements only cumulative counters, so change
events and query counts of a window come from comparing this run's state with the one saved at
the window's start. A snapshot is saved per (kind, host, database, HWM); a run saves the one at
its end, marked complete only when what it describes succeeded, and a repeated window compares
against the same start snapshot, so it gives the same answer. Snapshots are one SQLite file, kept
small: per object, its identity and a small binary payload (for the catalog, a 4-byte checksum of
each compared field, never the values).

Each snapshot is a table of its own: objects are appended as they come (in whatever order the
source sends them, which would make a keyed table rebalance its tree at every insert), the table
is indexed by identity the first time it is compared, and pruning drops whole tables.

Pruning keeps the snapshots from the oldest start any coming run may use (the window's start) on,
plus ``keep_older`` before it.
"""

import os
import sqlite3
import threading

from .errors import CollectorError

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    host TEXT NOT NULL,
    database TEXT NOT NULL,
    hwm TEXT NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS snapshots_key ON snapshots (kind, host, database, hwm);
"""
# Bumped when the layout changes. Snapshots are only a baseline: a file of another layout is
# rebuilt (the next run then reports from no baseline) rather than misread.
LAYOUT_VERSION = 2


def changed_fields(old, new, names):
    """The ``names`` whose checksums differ between payloads ``old`` and ``new``: one checksum per
    name, all of the same width."""
    width = len(new) // len(names)
    return [name for i, name in enumerate(names) if old[width * i:width * (i + 1)] != new[width * i:width * (i + 1)]]


def _objects(snapshot):
    """The table of a snapshot's objects (``snapshot`` is the integer id the store gave it)."""
    return f"objects_{int(snapshot)}"


class SnapshotStore:
    def __init__(self, path):
        self.path = os.fspath(path)
        folder = os.path.dirname(self.path) or "."
        try:
            os.makedirs(folder, exist_ok=True)
            # One connection shared by the threads that extract databases side by side, each call
            # under the lock.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._lock = threading.RLock()
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            if version != LAYOUT_VERSION:
                tables = [name for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                for table in tables:
                    self._db.execute(f'DROP TABLE "{table}"')
                self._db.execute(f"PRAGMA user_version = {LAYOUT_VERSION}")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise CollectorError(f"cannot open the snapshot store {self.path}: {e}. Set 'snapshot_path' to a "
                                 "writable file, or fix the folder's permissions") from None

    def close(self):
        self._db.close()

    def find(self, kind, host, database, hwm):
        """The id of the complete snapshot at ``hwm``, or None."""
        with self._lock:
            row = self._db.execute("SELECT max(id) FROM snapshots WHERE kind = ? AND host = ? AND database = ? "
                                   "AND hwm = ? AND complete = 1", (kind, host, database, hwm)).fetchone()
        return row[0]

    def begin(self, kind, host, database, hwm):
        """A new, incomplete snapshot; complete() it once its database succeeded."""
        with self._transaction():
            snapshot = self._db.execute("INSERT INTO snapshots (kind, host, database, hwm) VALUES (?, ?, ?, ?)",
                                        (kind, host, database, hwm)).lastrowid
            self._db.execute(f"CREATE TABLE {_objects(snapshot)} (object_type, object_id, payload)")
        return SnapshotWriter(self, snapshot)

    def complete(self, writer, kind, host, database, hwm):
        """Mark ``writer``'s snapshot complete, replacing any earlier one at the same HWM."""
        with self._transaction():
            older = [r[0] for r in self._db.execute(
                "SELECT id FROM snapshots WHERE kind = ? AND host = ? AND database = ? AND hwm = ? AND id <> ?",
                (kind, host, database, hwm, writer.snapshot))]
            self._delete(older)
            self._db.execute("UPDATE snapshots SET complete = 1 WHERE id = ?", (writer.snapshot,))

    def discard(self, writer):
        with self._transaction():
            self._delete([writer.snapshot])

    def objects(self, snapshot):
        """(object_type, object_id, payload) of every object of ``snapshot``."""
        with self._lock:
            return self._db.execute(f"SELECT object_type, object_id, payload FROM {_objects(snapshot)}").fetchall()

    def diff(self, old, new):
        """Yield (event, object_type, object_id, old payload, new payload) from snapshot ``old`` to
        ``new``, ordered by identity. Holds the store until the caller has read it all."""
        old, new = _objects(old), _objects(new)
        with self._lock:
            for table in (old, new):  # indexed when first compared (a first run never is)
                self._db.execute(f"CREATE INDEX IF NOT EXISTS {table}_key ON {table} (object_type, object_id)")
            yield from self._db.execute(
                "SELECT CASE WHEN o.object_id IS NULL THEN 'CREATED' ELSE 'ALTERED' END, n.object_type, n.object_id, "
                f"o.payload, n.payload FROM {new} n LEFT JOIN {old} o "
                "ON o.object_type = n.object_type AND o.object_id = n.object_id "
                "WHERE o.object_id IS NULL OR o.payload <> n.payload "
                "ORDER BY n.object_type, n.object_id")
            yield from self._db.execute(
                f"SELECT 'DROPPED', o.object_type, o.object_id, o.payload, NULL FROM {old} o "
                f"WHERE NOT EXISTS (SELECT 1 FROM {new} n "
                "WHERE n.object_type = o.object_type AND n.object_id = o.object_id) "
                "ORDER BY o.object_type, o.object_id")

    def prune(self, kind, host, database, oldest_needed, keep_older):
        """Delete incomplete snapshots and complete ones older than ``oldest_needed`` beyond
        the ``keep_older`` most recent of those."""
        rows = self._db.execute("SELECT id, hwm, complete FROM snapshots WHERE kind = ? AND host = ? AND database = ? "
                                "ORDER BY hwm DESC, id DESC", (kind, host, database)).fetchall()
        older = [i for i, hwm, complete in rows if complete and hwm < oldest_needed]
        doomed = [i for i, _, complete in rows if not complete] + older[keep_older:]
        with self._transaction():
            self._delete(doomed)

    def _delete(self, ids):
        for snapshot in ids:
            self._db.execute(f"DROP TABLE IF EXISTS {_objects(snapshot)}")
            self._db.execute("DELETE FROM snapshots WHERE id = ?", (snapshot,))

    def _transaction(self):
        return _Transaction(self._db, self._lock)


class SnapshotWriter:
    """Appends objects to one snapshot."""

    def __init__(self, store, snapshot):
        self._store, self.snapshot = store, snapshot

    def extend(self, objects):
        """Append ``objects``: (object_type, object_id, payload) triples, a batch of them at a time."""
        with self._store._transaction():
            self._store._db.executemany(f"INSERT INTO {_objects(self.snapshot)} VALUES (?, ?, ?)", objects)


class _Transaction:
    def __init__(self, db, lock):
        self._db, self._lock = db, lock

    def __enter__(self):
        self._lock.acquire()
        self._db.execute("BEGIN")

    def __exit__(self, kind, value, traceback):
        try:
            self._db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self._lock.release()


__all__ = ["SnapshotStore", "changed_fields"]
