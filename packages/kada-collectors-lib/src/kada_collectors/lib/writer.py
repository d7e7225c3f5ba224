"""Write extract files by the contract, never leaving a half-written file in sight.

An ``ExtractFile`` is one run's file for one extract. Rows arrive per database through a
``Part`` (a hidden temp file); a database that succeeds has its part appended to the file, a
database that fails has its part thrown away, so the file never holds half a database. With
gzip each part is its own gzip member; concatenated members are a valid gzip stream. The file is
renamed into place only on ``commit()``.
"""

import contextlib
import csv
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

from .files import atomic_write, discard
from .contract import DELIMITER, EXTRACT_NAME, MANIFEST_NAME, RECORD_END, extract_file_name

GZIP_LEVEL = 6
# The hidden temporary files a run makes: ``.<file>.tmp`` (an extract file or the manifest being
# written) and ``.<file>.<label>.part`` (one database's rows, or the query log's).
_TEMPORARY = re.compile(r"^\.(?P<name>.+?)\.(?:tmp|[A-Za-z0-9_-]+\.part)$")


def format_value(value):
    """Render one value as the contract says: Y/N, UTC times, compact JSON, empty for NULL."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds" if value.microsecond else "seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)
    return str(value)


def _csv_writer(text_stream):
    return csv.writer(text_stream, delimiter=DELIMITER, quoting=csv.QUOTE_ALL, lineterminator=RECORD_END)


def csv_fields(texts):
    """``texts`` as the contract's CSV fields, UTF-8, without the record end: the fixed pieces of
    records assembled from bytes the server already rendered."""
    buffer = io.StringIO()
    _csv_writer(buffer).writerow(texts)
    return buffer.getvalue()[:-len(RECORD_END)].encode("utf-8")


def csv_values(record):
    """The values of one record in the contract's CSV (UTF-8 bytes, as the server sends a row)."""
    return next(csv.reader((bytes(record).decode("utf-8"),), delimiter=DELIMITER))


class _CompressingSink(io.RawIOBase):
    """A binary stream that gzips what it is given on a thread of its own: zlib releases the GIL,
    so compressing overlaps with reading and rendering rows instead of adding to them. At most one
    chunk is in flight, so memory stays bounded."""

    CHUNK = 1 << 20

    def __init__(self, raw):
        super().__init__()
        # Level 6 (zlib's default): files ~7% larger than level 9, compressed about 5x faster.
        self._gzip = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="", compresslevel=GZIP_LEVEL)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kada-gzip")
        self._buffer = bytearray()
        self._in_flight = None

    def writable(self):
        return True

    def write(self, data):
        self._buffer += data
        if len(self._buffer) >= self.CHUNK:
            self._hand_over()
        return len(data)

    def _hand_over(self):
        chunk = bytes(self._buffer)
        self._buffer.clear()
        if self._in_flight is not None:
            self._in_flight.result()
        self._in_flight = self._worker.submit(self._gzip.write, chunk)

    def finish(self):
        """Compress what is left and write the gzip member's trailer (``raw`` stays open)."""
        try:
            if self._buffer:
                self._hand_over()
            if self._in_flight is not None:
                self._in_flight.result()
        finally:
            self._worker.shutdown()
        self._gzip.close()

    def abandon(self):
        # Later writes fail (no new work is accepted): a writer in another thread stops.
        self._worker.shutdown(wait=False, cancel_futures=True)


class _Encoder:
    """A CSV writer over a binary file, gzip-compressed or not. ``write_csv`` takes records already
    in the contract's CSV form (the server's COPY output); ``csv`` writes records of texts. Both go
    to the same buffered stream, so they never need flushing in between."""

    def __init__(self, raw, compress):
        self._sink = _CompressingSink(raw) if compress else raw
        self.write_csv = self._sink.write
        self.csv = _csv_writer(_Utf8Writer(self._sink.write))

    def close(self):
        if isinstance(self._sink, _CompressingSink):
            self._sink.finish()

    def abandon(self):
        """Stop compressing without writing what is left (the file is being thrown away)."""
        if isinstance(self._sink, _CompressingSink):
            self._sink.abandon()


class _Utf8Writer:
    """What ``csv.writer`` writes to: each record's text, encoded into a binary stream."""

    def __init__(self, write_bytes):
        self._write_bytes = write_bytes

    def write(self, text):
        return self._write_bytes(text.encode("utf-8"))


@dataclass
class WrittenFile:
    extract: str
    name: str
    path: str
    rows: int
    bytes: int
    sha256: str

    def manifest_entry(self):
        return {"extract": self.extract, "name": self.name, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


class Part:
    """Rows of one extract from one database, in a hidden temp file until appended or discarded.
    It starts with the file's header, so that the first part appended can become the file."""

    def __init__(self, extract_file, label, distinct=False):
        self._file = extract_file
        self.path = os.path.join(extract_file.folder, f".{extract_file.name}.{label}.part")
        self._raw = open(self.path, "wb")
        self._raw.write(extract_file.header)
        self._encoder = _Encoder(self._raw, extract_file.compress)
        # Appends bytes already in the contract's CSV form; the caller adds their records to
        # ``rows``. The encoder's own write: it is called once per record the server sends.
        self.write_csv = self._encoder.write_csv
        self.rows = 0
        # Every extract is a set. Records the server renders are distinct by their statement, and
        # parsed lineage by its definition; ``distinct`` parts (the query log's, whose log lines
        # may repeat) keep a digest of each record written (16 bytes, about 80 with the set's own).
        self._written, self.repeats = (set() if distinct else None), 0

    def write(self, values):
        self.write_text([format_value(v) for v in values])

    def write_text(self, texts):
        """Write a record of values already rendered by ``format_value``; in a ``distinct`` part,
        unless it holds it already (then it is counted in ``repeats``)."""
        if self._written is not None:
            digest = hashlib.blake2b(repr(texts).encode("utf-8"), digest_size=16).digest()
            if digest in self._written:
                self.repeats += 1
                return
            self._written.add(digest)
        self._encoder.csv.writerow(texts)
        self.rows += 1

    def close(self):
        if self._written is not None:
            self._written = set()  # memory: the part takes no more records
        if not self._raw.closed:
            self._encoder.close()
            self._raw.close()

    def discard(self):
        """Remove the part, whatever state it is in: also on a full disk (its unwritten buffer is
        dropped), and from another thread than the one writing it, which then fails at its next
        write instead of running on."""
        self._encoder.abandon()
        self._file.dropped(discard(self._raw, self.path))


class ExtractFile:
    """One extract's file for the run: header first, then parts appended as databases succeed."""

    def __init__(self, folder, source, extract, stamp, columns, compress):
        self.folder, self.extract, self.columns, self.compress = folder, extract, tuple(columns), compress
        self.name = extract_file_name(source, extract, stamp, compress)
        self.path = os.path.join(folder, self.name)
        self._tmp_path = os.path.join(folder, f".{self.name}.tmp")
        self.rows = 0
        header = io.BytesIO()
        encoder = _Encoder(header, compress)
        encoder.csv.writerow(self.columns)
        encoder.close()
        self.header = header.getvalue()
        self._raw = open(self._tmp_path, "wb")
        self._raw.write(self.header)
        self._appended = False
        # Parts not appended yet, so that discard() reaches those other threads are writing.
        self._parts, self._parts_lock, self._discarded = set(), threading.Lock(), False
        self._dropped_bytes, self._committed = 0, False

    def part(self, label, distinct=False):
        """A new part; ``distinct``: it writes a record made more than once only once (see Part)."""
        with self._parts_lock:
            if self._discarded:
                raise ValueError(f"{self.name} was discarded: the run is stopping")
            part = Part(self, label, distinct)
            self._parts.add(part)
        return part

    def append(self, part):
        """Move a finished part's rows into the file: the first part becomes the file (it starts with
        the header), the rows of the others are copied after it."""
        part.close()
        with self._parts_lock:
            self._parts.discard(part)
        if not self._appended:
            self._raw.close()
            # Not a rename over the header-only file: ext4 would write the part out at once
            # (auto_da_alloc), a cost commit's fsync pays anyway.
            os.unlink(self._tmp_path)
            os.rename(part.path, self._tmp_path)
            self._raw = open(self._tmp_path, "ab")
        else:
            with open(part.path, "rb") as f:
                f.seek(len(self.header))
                shutil.copyfileobj(f, self._raw, 1 << 20)
            os.unlink(part.path)
        self._appended = True
        self.rows += part.rows

    def commit(self):
        """fsync, then rename into place: readers see the whole file or none."""
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        sha256, size = sha256_of(self._tmp_path), os.path.getsize(self._tmp_path)
        os.replace(self._tmp_path, self.path)
        self._committed = True
        return WrittenFile(self.extract, self.name, self.path, self.rows, size, sha256)

    def discard(self):
        """Remove the file, committed or not, and its parts not appended yet (on a full disk too);
        a part another thread is writing makes that writer fail at its next write. Safe to repeat.
        Returns the bytes the file and every part it had discarded held: what the run wrote for it."""
        with self._parts_lock:
            self._discarded = True
            parts, self._parts = self._parts, set()
        for part in parts:
            part.discard()
        self.dropped(discard(self._raw, self.path if self._committed else self._tmp_path))
        return self._dropped_bytes

    def dropped(self, size):
        """Count ``size`` bytes the run wrote and threw away (a part, the file)."""
        with self._parts_lock:
            self._dropped_bytes += size


def remove_temporaries(folder, source):
    """Delete the hidden temporary files runs of ``source`` make in ``folder`` (those a killed run
    leaves), and nothing else; return how many and their bytes. Only for a caller that holds the
    folder's run lock (runlock.py): a live run's files would go too."""
    count = size = 0
    for entry in os.scandir(folder):
        match = _TEMPORARY.match(entry.name)
        name = match and (EXTRACT_NAME.match(match["name"]) or MANIFEST_NAME.match(match["name"]))
        if name and name["source"] == source and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                size += entry.stat(follow_symlinks=False).st_size
                os.unlink(entry.path)
                count += 1
    return count, size


def sha256_of(path):
    """The SHA-256 (hex) of a file, read in pieces."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def write_json_atomically(path: str, document: dict) -> str:
    """Write a JSON document whole or not at all (used for the manifest, written last)."""
    def dump(f) -> None:
        json.dump(document, f, ensure_ascii=False, indent=2, sort_keys=False, default=str)
        f.write("\n")
    return atomic_write(path, dump)


