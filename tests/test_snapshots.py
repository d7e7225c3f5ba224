"""The snapshot store on its own: objects kept by bucket and compared bucket by bucket."""

import random
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from kada_collectors.lib import snapshots
from kada_collectors.lib.snapshots import SnapshotStore

KEY = ("metadata", "h", "db")


def saved(store, hwm, objects):
    writer = store.begin(*KEY, hwm)
    writer.add(objects)
    store.complete(writer, *KEY, hwm)
    return writer.snapshot


def catalog(n):
    """Objects as the catalog stores them: CSV field content (quotes doubled), hex payloads."""
    return [(b"COLUMN", _field('.s.t%d."odd ""name""\nwith a line".c' % i), b"%08x" % (i * 7919)) for i in range(n)]


def _field(text):
    return text.replace('"', '""').encode("utf-8")


def test_order_does_not_matter_and_every_change_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "PENDING", 1000)  # several runs, merged in several groups
    monkeypatch.setattr(snapshots, "GROUP", 1000)
    store = SnapshotStore(tmp_path / "s.sqlite")
    before = catalog(5000)
    old = saved(store, "2026-01-01 00:00:00", before)
    shuffled = before[:]
    random.Random(7).shuffle(shuffled)
    same = saved(store, "2026-01-02 00:00:00", shuffled)
    assert list(store.diff(old, same)) == [], "the same objects in another order are no change"

    after = shuffled[:]
    dropped = after.pop(10)
    altered = after[20]
    after[20] = (altered[0], altered[1], b"ffffffff")
    view = _field('.s."new ""view"""')
    after.append((b"VIEW", view, b"00000001"))
    new = saved(store, "2026-01-03 00:00:00", after)
    assert sorted(store.diff(old, new)) == sorted([
        ("DROPPED", *dropped[:2], dropped[2], None),
        ("ALTERED", *altered[:2], altered[2], b"ffffffff"),
        ("CREATED", b"VIEW", view, None, b"00000001"),
    ])
    store.close()


def test_text_objects_come_back_as_they_were_given(tmp_path):
    store = SnapshotStore(tmp_path / "s.sqlite")
    objects = [("STATEMENT", 'db|user|"quoted"|1', bytes(range(40))), ("INFO", "INFO", b"")]
    writer = store.begin("pgss", "h", "", "2026-01-01 00:00:00")
    writer.add_text(objects)
    store.complete(writer, "pgss", "h", "", "2026-01-01 00:00:00")
    assert sorted(store.objects(writer.snapshot)) == sorted(objects)
    store.close()


def test_a_file_of_another_layout_is_rebuilt(tmp_path):
    path = tmp_path / "s.sqlite"
    store = SnapshotStore(path)
    saved(store, "2026-01-01 00:00:00", catalog(3))
    store._db.execute("PRAGMA user_version = 1")
    store.close()
    store = SnapshotStore(path)
    assert store.find(*KEY, "2026-01-01 00:00:00") is None
    store.close()

    # One of the layout before, in pages of 4 KB and a write-ahead log.
    old = sqlite3.connect(tmp_path / "old.sqlite", isolation_level=None)
    old.execute("PRAGMA journal_mode = WAL")
    old.executescript("PRAGMA user_version = 3; CREATE TABLE snapshots (id INTEGER PRIMARY KEY, kind TEXT); "
                      "CREATE TABLE chunks_1 (bucket INTEGER, lines BLOB); INSERT INTO chunks_1 VALUES (1, x'00');")
    assert old.execute("PRAGMA page_size").fetchone()[0] == 4096
    old.close()
    store = SnapshotStore(tmp_path / "old.sqlite")
    assert store._db.execute("PRAGMA page_size").fetchone()[0] == snapshots.PAGE_SIZE
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.find(*KEY, "2026-01-01 00:00:00") is None
    assert list(store.diff(saved(store, "2026-01-01 00:00:00", catalog(3)), saved(store, "2026-01-02 00:00:00", []))) != []
    store.close()


def test_a_closed_store_is_one_file_and_a_killed_one_keeps_what_it_completed(tmp_path):
    """Commits go to a write-ahead log synced at the checkpoint as the store closes: closed, the
    store is its file alone; a process that dies without closing leaves its log, and the next
    store to open the file finds the completed snapshot in it."""
    path = tmp_path / "s.sqlite"
    store = SnapshotStore(path)
    saved(store, "2026-01-01 00:00:00", catalog(3))
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"]

    script = ("import os, sys; sys.path[:0] = [sys.argv[2]]; from test_snapshots import SnapshotStore, saved, "
              "catalog; store = SnapshotStore(sys.argv[1]); saved(store, '2026-01-02 00:00:00', catalog(5)); "
              "os._exit(0)")
    subprocess.run([sys.executable, "-c", script, str(path), str(Path(__file__).parent)], check=True, timeout=60)
    assert (tmp_path / "s.sqlite-wal").exists(), "the killed process left its log"
    store = SnapshotStore(path)
    snapshot = store.find(*KEY, "2026-01-02 00:00:00")
    assert snapshot is not None and len(list(store.objects(snapshot))) == 5
    store.close()


def plain(n, payload=b"%08x"):
    """Objects with ids as most are, quoted names but no line end in them (the diff's fast path)."""
    return [(b"COLUMN", _field('."s_%d"."t_%d"."c_%d"' % (i % 7, i % 301, i)), payload % (i * 7919)) for i in range(n)]


def changed(objects):
    """``objects`` with one dropped, one altered, one created; and those three events."""
    after = objects[:]
    dropped = after.pop(3)
    altered = after[40]
    after[40] = (altered[0], altered[1], b"ffffffff")
    after.append((b"TABLE", _field('."s_1"."new"'), b"00000001"))
    return after, sorted([("DROPPED", *dropped[:2], dropped[2], None), ("ALTERED", *altered[:2], altered[2], b"ffffffff"),
                          ("CREATED", b"TABLE", _field('."s_1"."new"'), None, b"00000001")])


def test_buckets_follow_the_catalog_and_snapshots_of_other_counts_compare(tmp_path, monkeypatch):
    """The number of buckets comes from the snapshot before; a diff across two numbers folds the
    finer one, and gives the events in the same order as between equal numbers."""
    monkeypatch.setattr(snapshots, "OBJECTS_PER_BUCKET", 4)
    monkeypatch.setattr(snapshots, "PENDING", 700)  # several runs, merged in several groups
    monkeypatch.setattr(snapshots, "GROUP", 700)
    store = SnapshotStore(tmp_path / "s.sqlite")
    before = plain(3000)
    first = saved(store, "2026-01-01 00:00:00", before)
    second = saved(store, "2026-01-02 00:00:00", list(reversed(before)))
    assert (store.buckets(first), store.buckets(second)) == (256, 1024)
    assert list(store.diff(first, second)) == [] and list(store.diff(second, first)) == []
    after, events = changed(before)
    third = saved(store, "2026-01-03 00:00:00", after)
    assert store.buckets(third) == 1024
    across, equal = list(store.diff(first, third)), list(store.diff(second, third))
    assert sorted(across) == events and across == equal
    assert list(store.diff(third, first)) == [(e, t, i, new, old) if e == "ALTERED" else
                                              ({"CREATED": "DROPPED", "DROPPED": "CREATED"}[e], t, i, new, old)
                                              for e, t, i, old, new in equal]
    store.close()


def test_a_snapshot_of_several_writers_and_runs_holds_each_object_once(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "PENDING", 500)
    monkeypatch.setattr(snapshots, "GROUP", 500)
    store = SnapshotStore(tmp_path / "s.sqlite")
    objects = plain(4000)
    one = saved(store, "2026-01-01 00:00:00", objects)
    writer = store.begin(*KEY, "2026-01-02 00:00:00")
    others = [store.writer(writer.snapshot) for _ in range(2)]
    def add(writer, objects):  # in batches, as a run adds them: a run every PENDING objects
        for start in range(0, len(objects), 100):
            writer.add(objects[start:start + 100])

    threads = [threading.Thread(target=add, args=(w, objects[i::3])) for i, w in enumerate([writer, *others])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.flush()
    store.complete(writer, *KEY, "2026-01-02 00:00:00")
    assert list(store.diff(one, writer.snapshot)) == []
    assert sorted(store.objects(writer.snapshot)) == sorted(store.objects(one)) == sorted(
        (t.decode(), i.decode().replace('""', '"'), bytes.fromhex(p.decode())) for t, i, p in objects)
    rows = store._db.execute("SELECT count(*) FROM buckets WHERE key >> 24 = ?", (writer.snapshot,)).fetchone()[0]
    assert rows > 3, "a row per bucket"
    store.close()


def test_the_number_of_buckets_keeps_them_to_a_size():
    per, least = snapshots.OBJECTS_PER_BUCKET, snapshots.MIN_BUCKETS
    assert snapshots.bucket_count(None) == snapshots.bucket_count(0) == snapshots.bucket_count(10) == least
    assert snapshots.bucket_count(least * per) == least
    assert snapshots.bucket_count(least * per + 1) == 2 * least
    for objects in (520_000, 2_600_000, 13_000_000):
        buckets = snapshots.bucket_count(objects)
        assert per / 2 < objects / buckets <= per, objects


def test_a_snapshot_read_in_shares_gives_each_object_once(tmp_path):
    """``part`` (what the usage extract joins its rows with, a share at a time): the shares of any
    count up to the fewest buckets hold every object once, each in the share ``bucket_of`` names."""
    store = SnapshotStore(tmp_path / "s.sqlite")
    given = {("TABLE", f'"s{n % 7}"."t ""{n}"""', f"payload {n}".encode()) for n in range(3000)}
    writer = store.begin("usage", "h", "db", "2026-01-01 00:00:00")
    writer.add_text(sorted(given))
    store.complete(writer, "usage", "h", "db", "2026-01-01 00:00:00")
    snapshot = store.find("usage", "h", "db", "2026-01-01 00:00:00")
    for parts in (1, 16, snapshots.MIN_BUCKETS):
        shares = [list(store.part(snapshot, share, parts)) for share in range(parts)]
        assert sorted(o for share in shares for o in share) == sorted(given)
        assert all(snapshots.bucket_of(object_id, parts) == share
                   for share, objects in enumerate(shares) for _, object_id, _ in objects)
    store.close()
