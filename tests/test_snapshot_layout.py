"""The snapshot's byte layout (a server record: checksums, then OBJECT_TYPE, OBJECT_ID; a stored
line: type, id, checksums) has one codec: what a run stores and the events it writes stay byte for
byte what the layout's first version made (``tests/snapshots/``, written by that version from
these same records). The store's own storage changed since (runs sealed into groups of buckets,
digests in an array): the reference's chunks are read back a bucket at a time, as the diff does."""

import zlib
from array import array
from pathlib import Path

from kada_collectors.extractors.postgres.events import COMPARED, ChangeEvents
from kada_collectors.lib.contract import EXTRACT_COLUMNS
from kada_collectors.lib.snapshots import SnapshotStore
from kada_collectors.lib.writer import ExtractFile, csv_fields

EXPECTED = Path(__file__).parent / "snapshots" / "metadata_layout_3.txt"
HOST, DB = 'Host "A".example', "Dwh.Ünïcode"
WINDOWS = ("2026-01-01 00:00:00", "2026-01-02 00:00:00", "2026-01-03 00:00:00")
# Awkward ids as the catalog writes them (quote_ident's quoting), with and without the database's prefix.
PREFIX = '"Host ""A"".example"."Dwh.Ünïcode".'
NAMES = ['public.t', '"Sales.EU"."my""t"', 'public."Ünï"', 's."odd ""name""\nwith a line"', 'public.v', '']


def records(run: int) -> list[bytes]:
    """What the server sends for the metadata of ``run``: per object, its checksums, then the record."""
    out = []
    for i, name in enumerate(NAMES * 3):
        object_type = ("VIEW" if name.endswith(".v") else "TABLE") if i < len(NAMES) else "COLUMN"
        object_id = (PREFIX + name if name else '"Host ""A"".example".other') + (".c%d" % i if i >= len(NAMES) else "")
        if run == 1 and i == 2:
            continue  # dropped
        values = {c: "" for c in EXTRACT_COLUMNS["metadata"]}
        values.update(OBJECT_TYPE=object_type, OBJECT_ID=object_id)
        if object_type == "VIEW":  # printed differently by the second run, the same parse tree
            values["DEFINITION"] = " SELECT a\n   FROM t;" if run == 0 else "select a from t"
        altered = {(0, 3), (7, 1), (7, 5)} if run == 1 else set()
        checksums = "".join("%08x" % zlib.crc32(b"%d %d %d" % (i, f, (i, f) in altered)) for f in range(len(COMPARED)))
        out.append(csv_fields([checksums, *values.values()]) + b"\n")
    if run == 1:
        out.append(csv_fields(["0" * 8 * len(COMPARED), *(["COLUMN", PREFIX + "public.t.new"] + [""] * (len(EXTRACT_COLUMNS["metadata"]) - 2))]) + b"\n")
    return out


def run(store: SnapshotStore, folder: Path, number: int) -> tuple[bytes, bytes]:
    """The snapshot's chunks and the events file of one run over ``records(number)``."""
    out = ExtractFile(folder, "postgres", "events", "20260102", EXTRACT_COLUMNS["events"], False)
    part = out.part("db")
    changes = ChangeEvents(store, HOST, DB, WINDOWS[number:number + 2], part)
    sent = records(number)
    assert list(changes.watch(sent)) == [r.split(b"|", 1)[1] for r in sent], "each record without its checksums"
    changes.write()
    changes.complete()
    part.close()
    events = Path(part.path).read_bytes()
    part.discard()
    out.discard()
    # Per bucket holding anything: its number, objects, CRC-32 sum, then its lines. Through the
    # store's own connection: it holds the file exclusively while open.
    snapshot = changes.writer.snapshot
    buckets = store.buckets(snapshot)
    (blob,), = store._db.execute("SELECT digest FROM digests WHERE snapshot = ?", (snapshot,))
    digest = array("Q", blob)
    chunks = b"".join(b"%d %d %d\n" % (bucket, digest[2 * bucket], digest[2 * bucket + 1])
                      + store._bucket(snapshot, bucket, buckets) for bucket in range(buckets) if digest[2 * bucket])
    return chunks, events


def layout(tmp_path: Path) -> bytes:
    store = SnapshotStore(tmp_path / "snapshots.sqlite")
    try:
        return b"".join(b"".join(run(store, tmp_path, number)) for number in (0, 1))
    finally:
        store.close()


def test_snapshots_and_events_keep_their_bytes(tmp_path):
    assert layout(tmp_path) == EXPECTED.read_bytes()
