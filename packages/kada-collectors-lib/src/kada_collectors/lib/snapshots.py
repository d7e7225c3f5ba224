"""The snapshot store: what a source looked like at each HWM, to tell what changed since.

PostgreSQL keeps no DDL timestamps and pg_stat_statements only cumulative counters, so change
events and query counts of a window come from comparing this run's state with the one saved at
the window's start. A snapshot is saved per (kind, host, database, HWM); a run saves the one at
its end, marked complete only when what it describes succeeded, and a repeated window compares
against the same start snapshot, so it gives the same answer. Snapshots are one SQLite file, kept
small: per object, its identity and a small payload (for the catalog, a 4-byte checksum of each
compared field, never the values).

A snapshot is stored as lines of text (``"type"|"id"|"payload"``, CSV-quoted; ``snapshot_codec``
is the one codec of that layout), spread over buckets by the CRC-32 of the id. The number of
buckets is a power of two chosen per snapshot from the object count of the one before it (about
``OBJECTS_PER_BUCKET`` each, at least ``MIN_BUCKETS``), so a bucket holds about as many objects
whatever the catalog's size. A bucket's digest is the number of its lines and the sum of their
CRC-32s: it does not depend on the order the objects came in, which a server does not keep from
one run to the next (a large catalog table is read from wherever another scan of it is, with
synchronized sequential scans).

A writer holds at most ``PENDING`` lines, then hands them over as one run (its lines sorted by
bucket, and the byte offset where each bucket starts) to an unnamed temporary file beside the
store's. Sealing the snapshot, once its writers are done, merges the runs a group of buckets
(about ``GROUP`` lines) at a time into SQLite, a row per bucket (its lines as the runs had
them, in order; one table, keyed so that a snapshot's rows follow each other), and stores its
digest (one array, in a table of its own) and a hash of it in the snapshot's row. A row per
object would cost more than everything else the collector does with it; a row per bucket is a
few thousand for millions of objects, and reading one reads only what it holds. The diff compares
the two hashes (equal: nothing changed), then the two digests, and reads only the rows of the
buckets whose digest changed; in such a bucket it compares the raw lines as sets (an unchanged
object's line is the same bytes) and parses only those that differ. Its time grows with what
changed, not with the catalog. Two snapshots with different numbers of buckets compare on the
smaller: the buckets of the finer one fold onto bucket ``crc % small`` (``(crc % big) % small``);
events come out in the order of ``MIN_BUCKETS`` buckets, then by identity, whatever the
snapshots' numbers.

Pruning keeps the snapshots from the oldest start any coming run may use (the window's start) on,
plus ``keep_older`` before it.
"""

import contextlib
import errno
import hashlib
import os
import sqlite3
import tempfile
import threading
import zlib
from array import array
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import accumulate, repeat
from operator import add, sub
from types import TracebackType
from typing import BinaryIO, Optional, Union

from .errors import CollectorError
from .snapshot_codec import changed_fields, encode_line, field, parse_lines, unfield

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    host TEXT NOT NULL,
    database TEXT NOT NULL,
    hwm TEXT NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0,
    buckets INTEGER NOT NULL,
    objects INTEGER,
    summary BLOB
);
CREATE INDEX IF NOT EXISTS snapshots_key ON snapshots (kind, host, database, hwm);
CREATE TABLE IF NOT EXISTS buckets (key INTEGER PRIMARY KEY, lines BLOB NOT NULL);
-- Apart from the snapshots' rows: tens of kilobytes each, which a look-up by summary need not read.
CREATE TABLE IF NOT EXISTS digests (snapshot INTEGER PRIMARY KEY, digest BLOB NOT NULL);
"""
# Bumped when the layout changes. Snapshots are only a baseline: a file of another layout is
# rebuilt (the next run then reports from no baseline) rather than misread.
LAYOUT_VERSION = 4
# What a changed bucket costs the diff: its lines, read and compared as bytes.
OBJECTS_PER_BUCKET = 1024
# Buckets of a snapshot with nothing before it, and the fewest of any: events come out in this
# many buckets' order.
MIN_BUCKETS = 256
# Objects a writer holds before it writes them as a run (about 4 MB). seal() joins a piece per
# run and bucket: with twice as many held, half the pieces, but 6 MB more at the peak, for no
# time measured beyond the noise.
PENDING = 20_000
# Lines seal() merges at a time.
GROUP = 20_000
# A digest: per bucket, its number of lines and the sum of their CRC-32s (unsigned 64-bit).
_DIGEST = "Q"
# Byte offsets of the buckets in a run's lines.
_OFFSET = "I"
_LINE_END = b'"\n'
_BUCKET_BITS = 24
PAGE_SIZE = 65536


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` is SQLite's "database or disk is full" (SQLITE_FULL)."""
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF == 13
    return isinstance(error, sqlite3.Error) and "disk is full" in str(error)


def bucket_of(object_id: str, buckets: int) -> int:
    """The bucket of the object with id ``object_id`` among ``buckets`` (a power of two): that of
    ``SnapshotWriter.add``, which computes it inline."""
    return zlib.crc32(field(object_id)) % buckets


def _key(snapshot: int, bucket: int = 0) -> int:
    """The row of a bucket of a sealed snapshot: the snapshot's rows follow each other, so that a
    small snapshot shares its pages with others and a range of keys is one snapshot."""
    return snapshot << _BUCKET_BITS | bucket


def bucket_count(objects: Optional[int]) -> int:
    """The buckets of a snapshot after one of ``objects`` objects: the least power of two (at
    least ``MIN_BUCKETS``) that keeps them to ``OBJECTS_PER_BUCKET`` a bucket, so a bucket holds
    between half that and that many, whatever the catalog's size."""
    buckets = MIN_BUCKETS
    while objects and buckets * OBJECTS_PER_BUCKET < objects:
        buckets *= 2
    return buckets


def _summary(digest: "array[int]") -> bytes:
    """A hash of a whole digest: two snapshots alike in every bucket have the same."""
    return hashlib.blake2b(digest.tobytes(), digest_size=16).digest()


def _fold(digest: "array[int]", buckets: int) -> "array[int]":
    """``digest`` (interleaved counts and sums) folded onto ``buckets`` buckets (a divisor of its own)."""
    own = len(digest) // 2
    if own == buckets:
        return digest
    folded = array(_DIGEST, bytes(16 * buckets))
    for at in range(2 * buckets):
        folded[at] = sum(digest[at::2 * buckets])  # the same parity: counts with counts, sums with sums
    return folded


def _changed(old: "array[int]", new: "array[int]") -> list[int]:
    """The buckets whose digests differ (both of the same length): compared a block at a time as
    bytes, so that what did not change costs a memcmp."""
    old_bytes, new_bytes = old.tobytes(), new.tobytes()
    if old_bytes == new_bytes:
        return []
    block, changed = 1024, list[int]()
    for start in range(0, len(old_bytes), block):
        if old_bytes[start:start + block] != new_bytes[start:start + block]:
            at = start // old.itemsize
            changed.extend(bucket for bucket in range(at // 2, min(at + block // old.itemsize, len(old)) // 2)
                           if old[2 * bucket] != new[2 * bucket] or old[2 * bucket + 1] != new[2 * bucket + 1])
    return changed


def _merged(snapshot: int, runs: list[tuple[int, int, int]], first: int, end: int) -> list[tuple[int, bytes]]:
    """The rows of buckets ``first`` to ``end`` (excluded) from each run. Sliced and joined by map
    and zip: a bucket of each run is one step of C, not of Python."""
    per_run = []
    for spill, offsets_at, lines_at in runs:
        offsets = array(_OFFSET)
        size = offsets.itemsize
        offsets.frombytes(os.pread(spill, (end - first + 1) * size, offsets_at + first * size))
        piece, base = os.pread(spill, offsets[-1] - offsets[0], lines_at + offsets[0]), repeat(offsets[0])
        per_run.append(map(piece.__getitem__, map(slice, map(sub, offsets[:-1], base), map(sub, offsets[1:], base))))
    rows = zip(range(_key(snapshot, first), _key(snapshot, end)), map(b"".join, zip(*per_run)))
    return [row for row in rows if row[1]]


def _line_set(lines: bytes, objects: int) -> Optional[set[bytes]]:
    """The lines of a bucket as a set, split at each line end; None when an id holds a line end
    itself (more ends than objects), for which only the codec's parser is exact."""
    split = lines.split(_LINE_END)
    return set(split[:-1]) if len(split) - 1 == objects else None


def _decoded(lines: bytes) -> Iterator[tuple[str, str, bytes]]:
    """(object_type, object_id, payload) of stored ``lines``: text, text and the payload's bytes."""
    for object_type, object_id, payload in parse_lines(lines):
        yield unfield(object_type), unfield(object_id), bytes.fromhex(payload.decode("ascii"))


def _keyed(lines: Iterable[bytes]) -> dict[tuple[bytes, bytes], bytes]:
    joined = b"".join(line + _LINE_END for line in lines)
    return {(t, i): p for t, i, p in parse_lines(joined)}


def _events(before: dict[tuple[bytes, bytes], bytes], after: dict[tuple[bytes, bytes], bytes]
            ) -> Iterator[tuple[str, bytes, bytes, Optional[bytes], Optional[bytes]]]:
    for key in before.keys() | after.keys():
        was, now = before.get(key), after.get(key)
        if was is None:
            yield ("CREATED", *key, None, now)
        elif now is None:
            yield ("DROPPED", *key, was, None)
        elif was != now:
            yield ("ALTERED", *key, was, now)


def _bucket_events(old: bytes, new: bytes, old_objects: int, new_objects: int
                   ) -> Iterator[tuple[str, bytes, bytes, Optional[bytes], Optional[bytes]]]:
    """The events of one bucket from its lines before and after: only the lines that differ are parsed."""
    before, after = _line_set(old, old_objects), _line_set(new, new_objects)
    if before is None or after is None:
        return _events({(t, i): p for t, i, p in parse_lines(old)}, {(t, i): p for t, i, p in parse_lines(new)})
    return _events(_keyed(before - after), _keyed(after - before))


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
            # A bucket's row is tens of kilobytes: in large pages it takes a few, not dozens.
            self._db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            if version != LAYOUT_VERSION:
                self._rebuild()
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(SCHEMA)
            self._writers: dict[int, list[SnapshotWriter]] = {}  # of each snapshot not sealed yet
        except (OSError, sqlite3.Error) as e:
            raise CollectorError(f"cannot open the snapshot store {self.path}: {e}. Set 'snapshot_path' to a "
                                 "writable file, or fix the folder's permissions") from None

    def _rebuild(self) -> None:
        """An empty file of this layout in place of one of another (its pages of this size too)."""
        tables = [name for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            self._db.execute(f'DROP TABLE "{table}"')
        self._db.execute(f"PRAGMA user_version = {LAYOUT_VERSION}")
        if self._db.execute("PRAGMA page_size").fetchone()[0] != PAGE_SIZE:
            self._db.execute("PRAGMA journal_mode = DELETE")  # a log's pages cannot change size
            self._db.execute("VACUUM")

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
            last = self._db.execute("SELECT objects FROM snapshots WHERE kind = ? AND host = ? AND database = ? "
                                    "AND complete = 1 ORDER BY id DESC LIMIT 1", (kind, host, database)).fetchone()
            buckets = bucket_count(last[0] if last else None)
            cursor = self._db.execute("INSERT INTO snapshots (kind, host, database, hwm, buckets) VALUES (?, ?, ?, ?, ?)",
                                      (kind, host, database, hwm, buckets))
            snapshot: int = cursor.lastrowid  # type: ignore[assignment]  # an INSERT's row id: never None
        return self._writer(snapshot, buckets)

    def writer(self, snapshot: int) -> "SnapshotWriter":
        """Another writer of (incomplete) ``snapshot``: one for each thread adding objects to it."""
        return self._writer(snapshot, self.buckets(snapshot))

    def _writer(self, snapshot: int, buckets: int) -> "SnapshotWriter":
        writer = SnapshotWriter(self, snapshot, buckets, os.path.dirname(self.path) or ".")
        with self._lock:
            self._writers.setdefault(snapshot, []).append(writer)
        return writer

    def buckets(self, snapshot: int) -> int:
        """The number of buckets of ``snapshot``."""
        with self._lock:
            return int(self._db.execute("SELECT buckets FROM snapshots WHERE id = ?", (snapshot,)).fetchone()[0])

    def complete(self, writer: "SnapshotWriter", kind: str, host: str, database: str, hwm: str) -> None:
        """Mark ``writer``'s snapshot complete (sealed), replacing any earlier one at the same HWM."""
        writer.flush()
        self.seal(writer.snapshot)
        with self._transaction():
            older = [r[0] for r in self._db.execute(
                "SELECT id FROM snapshots WHERE kind = ? AND host = ? AND database = ? AND hwm = ? AND id <> ?",
                (kind, host, database, hwm, writer.snapshot))]
            self._delete(older)
            self._db.execute("UPDATE snapshots SET complete = 1 WHERE id = ?", (writer.snapshot,))

    def discard(self, writer: "SnapshotWriter") -> None:
        with self._lock:
            writers = self._writers.pop(writer.snapshot, [writer])
        for each in writers:
            each.drop()  # the snapshot is dropped whatever its last batch did
        try:
            with self._transaction():
                self._delete([writer.snapshot])
        except sqlite3.Error:
            pass  # a full disk: it stays incomplete, never used, and the next run's prune() drops it

    def seal(self, snapshot: int) -> None:
        """Merge the runs of ``snapshot``'s writers a bucket per row and store its digest, once
        every writer of it has flushed (nothing may be added after). Does nothing to a sealed one."""
        with self._lock:
            writers = self._writers.pop(snapshot, [])
        try:
            with self._transaction():
                (sealed, buckets), = self._db.execute("SELECT summary IS NOT NULL, buckets FROM snapshots WHERE id = ?",
                                                      (snapshot,))
                if sealed:
                    return
                digest = array(_DIGEST, bytes(16 * buckets))
                for writer in writers:
                    writer.close()
                    digest[0::2] = array(_DIGEST, map(add, digest[0::2], writer.counts))
                    digest[1::2] = array(_DIGEST, map(add, digest[1::2], writer.sums))
                self._merge(snapshot, digest[0::2], [run for writer in writers for run in writer.runs()])
                self._db.execute("UPDATE snapshots SET objects = ?, summary = ? WHERE id = ?",
                                 (sum(digest[0::2]), _summary(digest), snapshot))
                self._db.execute("INSERT INTO digests VALUES (?, ?)", (snapshot, digest.tobytes()))
        finally:
            for writer in writers:
                writer.drop()

    def _merge(self, snapshot: int, counts: "array[int]", runs: list[tuple[int, int, int]]) -> None:
        """The runs (file, offsets' position, lines' position) rewritten a bucket per row (each
        bucket's lines as the runs have them, in order), about ``GROUP`` lines at a time. SQLite
        writes a group on a thread of its own (letting go of the GIL) while the next is sliced. A
        snapshot left half sealed by an error is incomplete: discarded, or pruned by the next run."""
        first, held = 0, 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kada-snapshot-seal") as worker:
            in_flight: Optional[Future] = None
            for bucket, count in enumerate([*counts, GROUP + 1]):  # the last group ends at the sentinel
                if held and held + count > GROUP:
                    rows = _merged(snapshot, runs, first, bucket)
                    if in_flight is not None:
                        in_flight.result()
                    in_flight = worker.submit(self._insert, rows)
                    first, held = bucket, 0
                held += count
            if in_flight is not None:
                in_flight.result()

    def _insert(self, rows: list[tuple[int, bytes]]) -> None:
        """One group's rows, committed (within seal's transaction, which holds the store): the
        log's checkpoints then come as the groups do, here, not all at the end."""
        self._db.executemany("INSERT INTO buckets VALUES (?, ?)", rows)
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")

    def objects(self, snapshot: int) -> Iterator[tuple[str, str, bytes]]:
        """(object_type, object_id, payload) of every object of sealed ``snapshot``, as text (and
        the payload as bytes), a bucket after the other, each in the order its objects were added."""
        with self._lock:
            keys = [key for (key,) in self._db.execute("SELECT key FROM buckets WHERE key >= ? AND key < ? ORDER BY key",
                                                       (_key(snapshot), _key(snapshot + 1)))]
        for key in keys:
            with self._lock:
                (lines,) = self._db.execute("SELECT lines FROM buckets WHERE key = ?", (key,)).fetchone()
            yield from _decoded(lines)

    def part(self, snapshot: int, part: int, parts: int) -> Iterator[tuple[str, str, bytes]]:
        """(object_type, object_id, payload), as ``objects`` gives them, of the objects of sealed
        ``snapshot`` in bucket ``part`` of ``parts`` (a power of two up to ``MIN_BUCKETS``; see
        ``bucket_of``): a share of a snapshot read without holding the rest."""
        with self._lock:
            lines = self._bucket(snapshot, part, parts)
        yield from _decoded(lines)

    def diff(self, old: int, new: int) -> Iterator[tuple[str, bytes, bytes, Optional[bytes], Optional[bytes]]]:
        """Yield (event, object_type, object_id, old payload, new payload) from snapshot ``old`` to
        ``new``, as stored (bytes: type and id CSV-quoted, payloads in hex), in the order of
        ``MIN_BUCKETS`` buckets and by identity within each. Seals both first. Holds the store
        until the caller has read it all."""
        with self._lock:
            self.seal(old)
            self.seal(new)
            summaries = [self._db.execute("SELECT buckets, summary FROM snapshots WHERE id = ?", (snapshot,)).fetchone()
                         for snapshot in (old, new)]
            if summaries[0] == summaries[1]:
                return
            digests = [array(_DIGEST, self._db.execute("SELECT digest FROM digests WHERE snapshot = ?",
                                                       (snapshot,)).fetchone()[0]) for snapshot in (old, new)]
            buckets = min(len(digests[0]), len(digests[1])) // 2
            folded = _fold(digests[0], buckets), _fold(digests[1], buckets)
            units: dict[int, list[int]] = {}
            for bucket in _changed(*folded):
                units.setdefault(bucket % MIN_BUCKETS, []).append(bucket)
            for unit in sorted(units):
                events = [event for bucket in units[unit] for event in _bucket_events(
                    self._bucket(old, bucket, buckets), self._bucket(new, bucket, buckets),
                    folded[0][2 * bucket], folded[1][2 * bucket])]
                yield from sorted(events, key=lambda event: (event[1], event[2]))

    def prune(self, kind: str, host: str, database: str, oldest_needed: str, keep_older: int) -> None:
        """Delete incomplete snapshots and complete ones older than ``oldest_needed`` beyond
        the ``keep_older`` most recent of those."""
        rows = self._db.execute("SELECT id, hwm, complete FROM snapshots WHERE kind = ? AND host = ? AND database = ? "
                                "ORDER BY hwm DESC, id DESC", (kind, host, database)).fetchall()
        older = [i for i, hwm, complete in rows if complete and hwm < oldest_needed]
        doomed = [i for i, _, complete in rows if not complete] + older[keep_older:]
        with self._transaction():
            self._delete(doomed)

    def _bucket(self, snapshot: int, bucket: int, buckets: int) -> bytes:
        """The lines of bucket ``bucket`` of sealed ``snapshot`` counted in ``buckets`` buckets (a
        divisor of its own: then those of its buckets that fold onto it)."""
        return b"".join(lines for fine in range(bucket, self.buckets(snapshot), buckets)
                        for (lines,) in self._db.execute("SELECT lines FROM buckets WHERE key = ?", (_key(snapshot, fine),)))

    def _delete(self, ids: Iterable[int]) -> None:
        for snapshot in ids:
            self._db.execute("DELETE FROM buckets WHERE key >= ? AND key < ?", (_key(snapshot), _key(snapshot + 1)))
            self._db.execute("DELETE FROM digests WHERE snapshot = ?", (snapshot,))
            self._db.execute("DELETE FROM snapshots WHERE id = ?", (snapshot,))

    def _transaction(self) -> "_Transaction":
        return _Transaction(self._db, self._lock)


class SnapshotWriter:
    """Adds objects to one snapshot. Their lines are held by bucket, then written ``PENDING`` at a
    time (one run, sorted by bucket, and its offsets) to a temporary file beside the store's, on
    a thread of its own, one run in flight at most: the writing overlaps with reading the next
    rows instead of holding up the server. The store's ``seal`` merges the runs into SQLite. Its
    digest is summed as the lines come."""

    def __init__(self, store: SnapshotStore, snapshot: int, buckets: int, folder: str) -> None:
        self._store, self.snapshot, self._count, self._folder = store, snapshot, buckets, folder
        self._buckets: list[list[bytes]] = [[] for _ in range(buckets)]
        self.counts, self.sums = [0] * buckets, [0] * buckets
        self._pending = 0
        # Unnamed (O_TMPFILE where there is one): nothing is left behind by a run that dies.
        self._spill: Optional[BinaryIO] = None
        self._runs: list[tuple[int, int]] = []  # where each run's offsets and lines start in the file
        self._spilled = 0
        self._worker: Optional[ThreadPoolExecutor] = None
        self._in_flight: Optional[Future] = None

    def add(self, objects: list[tuple[bytes, bytes, bytes]]) -> None:
        """Add (object_type, object_id, payload) triples as stored: type and id as CSV field content
        (bytes, quotes doubled: as the contract's files have them), the payload in hex (ASCII bytes)."""
        buckets, sums, checksum, count = self._buckets, self.sums, zlib.crc32, self._count
        for object_type, object_id, payload in objects:
            line = encode_line(object_type, object_id, payload)
            bucket = checksum(object_id) % count
            buckets[bucket].append(line)
            sums[bucket] += checksum(line)
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
        """Wait for the run in flight (raising its error, if any) and stop the thread."""
        try:
            if self._in_flight is not None:
                self._in_flight.result()
        finally:
            self._in_flight = None
            if self._worker is not None:
                self._worker.shutdown()
                self._worker = None

    def runs(self) -> list[tuple[int, int, int]]:
        """(file descriptor, offsets' position, lines' position) of each run written."""
        return [(self._spill.fileno(), *run) for run in self._runs] if self._spill else []

    def drop(self) -> None:
        """Stop, and let go of the runs' file."""
        with contextlib.suppress(OSError, sqlite3.Error):
            self.close()
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    def _hand_over(self) -> None:
        """Give the lines held to the writing thread as one run: bucket after bucket, with offsets."""
        if not self._pending:
            return
        lines = list(map(b"".join, self._buckets))
        self.counts = list(map(add, self.counts, map(len, self._buckets)))
        offsets, run = array(_OFFSET, accumulate(map(len, lines), initial=0)).tobytes(), b"".join(lines)
        self._buckets = [[] for _ in range(self._count)]
        self._pending = 0
        if self._in_flight is not None:
            self._in_flight.result()
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kada-snapshot")
        self._runs.append((self._spilled, self._spilled + len(offsets)))
        self._spilled += len(offsets) + len(run)
        self._in_flight = self._worker.submit(self._write, offsets, run)

    def _write(self, offsets: bytes, lines: bytes) -> None:
        try:
            if self._spill is None:
                self._spill = tempfile.TemporaryFile(dir=self._folder, prefix=".kada-snapshot-", buffering=0)
            self._spill.write(offsets)
            self._spill.write(lines)
        except OSError as e:
            if e.errno == errno.ENOSPC:  # the snapshot's disk: said as SQLite says it (is_disk_full)
                raise sqlite3.OperationalError(f"database or disk is full (writing beside {self._store.path})") from None
            raise


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


__all__ = ["SnapshotStore", "bucket_of", "changed_fields", "is_disk_full"]
