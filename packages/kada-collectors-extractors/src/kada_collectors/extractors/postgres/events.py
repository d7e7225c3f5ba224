"""Change events: this run's metadata compared with the snapshot saved at the window's start.

The server checksums the compared fields of every metadata row (``CHECKSUMS``, 4 bytes per
field in hex, sent ahead of the row in the same COPY); ``watch`` takes that column off as the rows
stream to the file and keeps, per object, its identity and those checksums in the snapshot store. After
the database's statements, the store diffs the two snapshots (only the buckets that changed) into
CREATED, ALTERED (naming the fields that changed) and DROPPED events; on a first run, with nothing
to diff against, every object is written CREATED as it streams by. Planner estimates and sizes
are not compared: they move without anyone altering anything. View definitions are compared by
the fingerprint of their parse tree, so a major upgrade that only changes how the server prints a
view (PostgreSQL 16 dropped table prefixes) is not an alteration.

Identities are kept as the file has them (CSV-quoted), so events are assembled from the server's
bytes without quoting anything again.
"""

import contextlib
import sqlite3
import zlib

from pglast.parser import ParseError, fingerprint
from psycopg import sql

from kada_collectors.lib.contract import EXTRACT_COLUMNS
from kada_collectors.lib.snapshot_codec import changed_fields, split_record, with_checksum
from kada_collectors.lib.writer import csv_fields, csv_values, format_value

from . import ids

KIND = "metadata"
COMPARED = ("PARENT_ID", "ORDINAL_POSITION", "DATA_TYPE", "IS_NULLABLE", "DEFAULT_VALUE", "OWNER", "DESCRIPTION",
            "DEFINITION", "LANGUAGE", "PROPERTIES")
PARSED_DEFINITIONS = (b"VIEW", b"MATERIALIZED_VIEW")
_DEFINITION_AT = EXTRACT_COLUMNS["metadata"].index("DEFINITION")
BATCH = 5000  # objects handed to the snapshot at a time
EVIDENCE = "SNAPSHOT_DIFF"

# Over the fields as rendered for the file (text), 4 bytes each (the layout: lib/snapshot_codec.py). hashtext() is the server's own text hash (the
# one behind hash indexes), in every supported version, executable by any role; "C" so that no
# collation takes part.
CHECKSUMS = sql.SQL("encode({}, 'hex')").format(sql.SQL(" || ").join(
    sql.SQL('int4send(hashtext(q.{} COLLATE "C"))').format(sql.Identifier(name)) for name in COMPARED))


class ChangeEvents:
    def __init__(self, store, host, dbname, window, part):
        self.store, self.host, self.dbname, self.part = store, host, dbname, part
        self.start_hwm, self.end_hwm = window
        self.baseline = store.find(KIND, host, dbname, self.start_hwm)
        self.writer = store.begin(KIND, host, dbname, self.end_hwm)
        self._writers = []  # those of the database's other sessions (see session_writer)
        self._head = {event: csv_fields((self.end_hwm, event)) + b'|"' for event in ("CREATED", "ALTERED", "DROPPED")}
        self._tail = self._tail_with("")
        # The ids of the database's objects all start with host.database. (quoted as the file has
        # them): the snapshot keeps them without it, from the dot on.
        self._prefix = csv_fields((ids.object_id(host, dbname) + ".",))[1:-1]

    def session_writer(self):
        """A writer of this snapshot for another session of the database (a writer is one thread's)."""
        writer = self.store.writer(self.writer.snapshot)
        self._writers.append(writer)
        return writer

    def watcher(self, part, writer):
        """What watches rows as ``watch`` does, through ``writer``, a first run's CREATED rows into ``part``."""
        return _Watcher(self, part, writer)

    def watch(self, records):
        """Yield each metadata record of ``records`` (COPY rows: ``CHECKSUMS``, then the record)
        without its checksums, and add these to the snapshot."""
        return self._watch(records, self.part, self.writer)

    def _watch(self, records, part, writer):
        # Once per metadata row: kept to plain operations on bytes.
        first_run, batch = self.baseline is None, []
        created, separator, tail, count = self._head["CREATED"], b'"|"', self._tail, 0
        prefix, cut = self._prefix, len(self._prefix) - 1
        for count, record in enumerate(records, 1):
            record = bytes(record)
            checksums, object_type, object_id, start = split_record(record)
            if object_type in PARSED_DEFINITIONS:
                checksums = _with_view_fingerprint(checksums, record[start:])
            batch.append((object_type, object_id[cut:] if object_id.startswith(prefix) else object_id, checksums))
            if first_run:
                part.write_csv(b"".join((created, object_type, separator, object_id, tail)))
            if len(batch) == BATCH:
                writer.add(batch)
                batch.clear()
            yield record[start:]
        writer.add(batch)
        if first_run:
            part.rows += count

    @property
    def diffed(self):
        """Whether the events come from comparing with the snapshot at the window's start; without
        one (a first run, or a snapshot file moved or deleted) every object is reported CREATED."""
        return self.baseline is not None

    def write(self):
        """Write the window's events (a first run's are written already); return warnings for the manifest."""
        for writer in self._writers:
            writer.flush()
        self.writer.flush()
        # Part of writing the snapshot, not of the diff: its runs merged, its digest stored.
        self.store.seal(self.writer.snapshot)
        if self.baseline is None:
            return []
        for event, object_type, object_id, old, new in self.store.diff(self.baseline, self.writer.snapshot):
            detail = format_value({"changed": changed_fields(old, new, COMPARED)}) if event == "ALTERED" else ""
            if object_id.startswith(b"."):
                object_id = self._prefix[:-1] + object_id
            tail = self._tail_with(detail) if detail else self._tail
            self.part.write_csv(b"".join((self._head[event], object_type, b'"|"', object_id, tail)))
            self.part.rows += 1
        return []

    def _tail_with(self, detail):
        """The fields after OBJECT_ID, with the record end."""
        return b'"|' + csv_fields((self.host, self.dbname, "", EVIDENCE, detail)) + b"\n"

    @staticmethod
    def prune(store, host, dbname, oldest_needed, keep_older):
        store.prune(KIND, host, dbname, oldest_needed, keep_older)

    def complete(self):
        for writer in self._writers:
            writer.flush()
        self.store.complete(self.writer, KIND, self.host, self.dbname, self.end_hwm)

    def discard(self):
        for writer in self._writers:
            with contextlib.suppress(OSError, sqlite3.Error):
                writer.close()  # the snapshot is dropped whatever its last batch did
        self.store.discard(self.writer)


class _Watcher:
    """ChangeEvents.watch through another writer, into another part (see ChangeEvents.watcher)."""

    def __init__(self, events, part, writer):
        self._events, self.part, self.writer = events, part, writer

    def watch(self, records):
        return self._events._watch(records, self.part, self.writer)


def _with_view_fingerprint(checksums, record):
    """``checksums`` with the definition's taken from its parse tree's fingerprint."""
    definition = csv_values(record)[_DEFINITION_AT]
    if not definition:
        return checksums
    try:
        definition = fingerprint(definition)
    except ParseError:
        pass
    checksum = b"%08x" % zlib.crc32(definition.encode("utf-8"))
    return with_checksum(checksums, COMPARED, "DEFINITION", checksum)
