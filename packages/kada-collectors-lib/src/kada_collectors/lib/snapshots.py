"""The snapshot store: what a source looked like at each HWM, to tell what changed since.

PostgreSQL keeps no DDL timestamps and pg_stat_statements only cumulative counters, so change
events and query counts of a window come from comparing this run's state with the one saved at
the window's start. A snapshot is saved per (kind, host, database, HWM); a run saves the one at
its end, marked complete only when what it describes succeeded, and a repeated window compares
against the same start snapshot, so it gives the same answer. Snapshots are one SQLite file, kept
small: per object, its identity and a small payload (for the catalog, a 4-byte checksum of each
compared field, never the values).

A snapshot is stored as lines of text (``"type"|"id"|"payload"``, CSV-quoted; ``snapshot_codec``
is the one codec of that layout), spread over ``BUCKETS`` buckets by a hash of the id and written
to SQLite a chunk of lines at a time: a row
per object would cost more than everything else the collector does with it. Two snapshots are
compared bucket by bucket, so memory holds one bucket's objects at a time, and a bucket whose
digest did not change is skipped without being parsed. The digest is the number of its lines and
the sum of their CRC-32s: it does not depend on the order the objects came in, which a server
does not keep from one run to the next (a large catalog table is read from wherever another scan
of it is, with synchronized sequential scans).

Pruning keeps the snapshots from the oldest start any coming run may use (the window's start) on,
plus ``keep_older`` before it.
"""

import contextlib
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Optional, Union

from .errors import CollectorError
from .snapshot_codec import changed_fields, encode_line, field, parse_lines, unfield

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
LAYOUT_VERSION = 3
# Half a million objects make buckets of about 2,000: what a comparison holds in memory.
BUCKETS = 256
# Objects held before their lines go to SQLite, one chunk per bucket.
PENDING = 20_000
def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` is SQLite's "database or disk is full" (SQLITE_FULL)."""
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF == 13
    return isinstance(error, sqlite3.Error) and "disk is full" in str(error)


def _chunks(snapshot: int) -> str:
    """The table of a snapshot's chunks (``snapshot`` is the integer id the store gave it)."""
    return f"chunks_{int(snapshot)}"


class SnapshotStore:
    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        self.path = os.fspath(path)
        folder = os.path.dirname(self.path) or "."
        try:
            os.makedirs(folder, exist_ok=True)
            # One connection shared by the threads that extract databases side by side, each call
            # under the lock.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._lock = threading.RLock()
            # A run commits a few times per database: with a rollback journal each commit syncs
            # the disk two or three times (7 ms on a VM's disk; 100 small databases spent 3 s in
            # it). A write-ahead log synced only at checkpoints commits in microseconds; the
            # checkpoint as the store closes (before any HWM moves) syncs the run's snapshots, and
            # a run killed before it finds its work in the log, or rolled back, when it opens again.
            # Exclusive: one run at a time holds the file (runlock.py), and so the log needs no
            # shared-memory index (a -shm file, which a full disk refuses with a bare I/O error).
            self._db.execute("PRAGMA locking_mode = EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
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

    def close(self) -> None:
        self._db.close()

    def find(self, kind: str, host: str, database: str, hwm: str) -> Optional[int]:
        """The id of the complete snapshot at ``hwm``, or None."""
        with self._lock:
            row = self._db.execute("SELECT max(id) FROM snapshots WHERE kind = ? AND host = ? AND database = ? "
                                   "AND hwm = ? AND complete = 1", (kind, host, database, hwm)).fetchone()
        return row[0]

    def begin(self, kind: str, host: str, database: str, hwm: str) -> "SnapshotWriter":
        """A new, incomplete snapshot; complete() it once its database succeeded."""
        with self._transaction():
            cursor = self._db.execute("INSERT INTO snapshots (kind, host, database, hwm) VALUES (?, ?, ?, ?)",
                                      (kind, host, database, hwm))
            snapshot: int = cursor.lastrowid  # type: ignore[assignment]  # an INSERT's row id: never None
            table = _chunks(snapshot)
            self._db.execute(f"CREATE TABLE {table} (bucket INTEGER NOT NULL, objects INTEGER NOT NULL, "
                             "digest INTEGER NOT NULL, lines BLOB NOT NULL)")
            self._db.execute(f"CREATE INDEX {table}_bucket ON {table} (bucket)")
        return SnapshotWriter(self, snapshot)

    def writer(self, snapshot: int) -> "SnapshotWriter":
        """Another writer of (incomplete) ``snapshot``: one for each thread adding objects to it."""
        return SnapshotWriter(self, snapshot)

    def complete(self, writer: "SnapshotWriter", kind: str, host: str, database: str, hwm: str) -> None:
        """Mark ``writer``'s snapshot complete, replacing any earlier one at the same HWM."""
        writer.flush()
        with self._transaction():
            older = [r[0] for r in self._db.execute(
                "SELECT id FROM snapshots WHERE kind = ? AND host = ? AND database = ? AND hwm = ? AND id <> ?",
                (kind, host, database, hwm, writer.snapshot))]
            self._delete(older)
            self._db.execute("UPDATE snapshots SET complete = 1 WHERE id = ?", (writer.snapshot,))

    def discard(self, writer: "SnapshotWriter") -> None:
        try:
            writer.close()
        except (OSError, sqlite3.Error):
            pass  # the snapshot is dropped whatever its last batch did
        try:
            with self._transaction():
                self._delete([writer.snapshot])
        except sqlite3.Error:
            pass  # a full disk: it stays incomplete, never used, and the next run's prune() drops it

    def objects(self, snapshot: int) -> Iterator[tuple[str, str, bytes]]:
        """(object_type, object_id, payload) of every object of ``snapshot``, as text (and the
        payload as bytes) in the order they were added to each bucket."""
        for bucket in range(BUCKETS):
            for object_type, object_id, payload in parse_lines(self._bucket(snapshot, bucket)):
                yield unfield(object_type), unfield(object_id), bytes.fromhex(payload.decode("ascii"))

    def diff(self, old: int, new: int) -> Iterator[tuple[str, bytes, bytes, Optional[bytes], Optional[bytes]]]:
        """Yield (event, object_type, object_id, old payload, new payload) from snapshot ``old`` to
        ``new``, as stored (bytes: type and id CSV-quoted, payloads in hex), a bucket at a time
        and by identity within each. Holds the store until the caller has read it all."""
        with self._lock:
            digests = self._digests(old), self._digests(new)
            for bucket in range(BUCKETS):
                if digests[0].get(bucket) == digests[1].get(bucket):
                    continue
                before = {(t, i): p for t, i, p in parse_lines(self._bucket(old, bucket))}
                after = {(t, i): p for t, i, p in parse_lines(self._bucket(new, bucket))}
                for key in sorted(before.keys() | after.keys()):
                    was, now = before.get(key), after.get(key)
                    if was is None:
                        yield ("CREATED", *key, None, now)
                    elif now is None:
                        yield ("DROPPED", *key, was, None)
                    elif was != now:
                        yield ("ALTERED", *key, was, now)

    def prune(self, kind: str, host: str, database: str, oldest_needed: str, keep_older: int) -> None:
        """Delete incomplete snapshots and complete ones older than ``oldest_needed`` beyond
        the ``keep_older`` most recent of those."""
        rows = self._db.execute("SELECT id, hwm, complete FROM snapshots WHERE kind = ? AND host = ? AND database = ? "
                                "ORDER BY hwm DESC, id DESC", (kind, host, database)).fetchall()
        older = [i for i, hwm, complete in rows if complete and hwm < oldest_needed]
        doomed = [i for i, _, complete in rows if not complete] + older[keep_older:]
        with self._transaction():
            self._delete(doomed)

    def _bucket(self, snapshot: int, bucket: int) -> bytes:
        """The lines of one bucket of ``snapshot``, in the order they were added."""
        with self._lock:
            return b"".join(lines for (lines,) in self._db.execute(
                f"SELECT lines FROM {_chunks(snapshot)} WHERE bucket = ? ORDER BY rowid", (bucket,)))

    def _digests(self, snapshot: int) -> dict[int, tuple[int, int]]:
        """{bucket: (objects, digest)} of ``snapshot``."""
        return {bucket: (objects, digest) for bucket, objects, digest in self._db.execute(
            f"SELECT bucket, sum(objects), sum(digest) FROM {_chunks(snapshot)} GROUP BY bucket")}

    def _delete(self, ids: Iterable[int]) -> None:
        for snapshot in ids:
            self._db.execute(f"DROP TABLE IF EXISTS {_chunks(snapshot)}")
            self._db.execute("DELETE FROM snapshots WHERE id = ?", (snapshot,))

    def _transaction(self) -> "_Transaction":
        return _Transaction(self._db, self._lock)


class SnapshotWriter:
    """Adds objects to one snapshot. Their lines are held by bucket, then written ``PENDING`` at a
    time on a thread of its own, one batch in flight at most: SQLite lets go of the GIL while it
    writes, so the writing overlaps with reading the next rows instead of holding up the server."""

    def __init__(self, store: SnapshotStore, snapshot: int) -> None:
        self._store, self.snapshot = store, snapshot
        self._buckets: list[list[bytes]] = [[] for _ in range(BUCKETS)]
        self._digests = [0] * BUCKETS
        self._pending = 0
        self._worker: Optional[ThreadPoolExecutor] = None
        self._in_flight: Optional[Future] = None

    def add(self, objects: list[tuple[bytes, bytes, bytes]]) -> None:
        """Add (object_type, object_id, payload) triples as stored: type and id as CSV field content
        (bytes, quotes doubled: as the contract's files have them), the payload in hex (ASCII bytes)."""
        buckets, digests, checksum = self._buckets, self._digests, zlib.crc32
        for object_type, object_id, payload in objects:
            line = encode_line(object_type, object_id, payload)
            bucket = checksum(object_id) % BUCKETS
            buckets[bucket].append(line)
            digests[bucket] += checksum(line)
        self._pending += len(objects)
        if self._pending >= PENDING:
            self._hand_over()

    def add_text(self, objects: Iterable[tuple[str, str, bytes]]) -> None:
        """Add (object_type, object_id, payload) triples of text, text and bytes."""
        self.add([(field(object_type), field(object_id), payload.hex().encode("ascii"))
                  for object_type, object_id, payload in objects])

    def flush(self) -> None:
        """Write every line added so far, and wait until it is written."""
        self._hand_over()
        self.close()

    def close(self) -> None:
        """Wait for the batch in flight (raising its error, if any) and stop the thread."""
        try:
            if self._in_flight is not None:
                self._in_flight.result()
        finally:
            self._in_flight = None
            if self._worker is not None:
                self._worker.shutdown()
                self._worker = None

    def _hand_over(self) -> None:
        """Give the lines held to the writing thread: one chunk per bucket, in one transaction."""
        chunks = [(bucket, len(lines), self._digests[bucket], b"".join(lines))
                  for bucket, lines in enumerate(self._buckets) if lines]
        self._buckets = [[] for _ in range(BUCKETS)]
        self._digests = [0] * BUCKETS
        self._pending = 0
        if not chunks:
            return
        if self._in_flight is not None:
            self._in_flight.result()
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kada-snapshot")
        self._in_flight = self._worker.submit(self._write, chunks)

    def _write(self, chunks: list[tuple[int, int, int, bytes]]) -> None:
        with self._store._transaction():
            self._store._db.executemany(f"INSERT INTO {_chunks(self.snapshot)} VALUES (?, ?, ?, ?)", chunks)


class _Transaction:
    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db, self._lock = db, lock

    def __enter__(self) -> None:
        self._lock.acquire()
        self._db.execute("BEGIN")

    def __exit__(self, kind: Optional[type[BaseException]], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        try:
            if kind is None:
                self._db.execute("COMMIT")
            elif self._db.in_transaction:  # SQLite rolls back by itself on some errors (a full disk)
                with contextlib.suppress(sqlite3.Error):  # the error that got here is the one to raise
                    self._db.execute("ROLLBACK")
        finally:
            self._lock.release()


__all__ = ["SnapshotStore", "changed_fields", "is_disk_full"]
