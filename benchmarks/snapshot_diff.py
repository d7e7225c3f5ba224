#!/usr/bin/env python
"""The snapshot store on its own: the next window's diff, the writing per object and its memory,
at two catalog sizes.

    python benchmarks/snapshot_diff.py [--sizes 520000 2600000] [--repeat 5]
    python benchmarks/snapshot_diff.py --compare old_snapshots.py   # another snapshots.py beside the installed one

No server: it drives the store (kada_collectors.lib.snapshots) with synthetic objects shaped
like a catalog's (per table, the table, ten columns, an index and a constraint; ids as the
snapshot keeps them, ``."schema_12"."table_345"."col_6"`` quoted as the file has them; a payload
of one 8-digit checksum per compared field). Per size, in a child process of its own (whose peak
RSS is the writing's), it writes four snapshots as scheduled runs would: a first one (which
chooses the next ones' buckets), the baseline, the next window with nothing changed (the objects
in another order, as a server returns them) and one with 100 tables altered, 5 created and 5
dropped. A second child (its peak RSS, the diff's) then diffs the baseline against each, the
median of ``--repeat`` times (ten times as many for the unchanged one, which takes microseconds). Printed: each figure and its scale-5/scale-1 ratio; written to
benchmarks/results/<date>-snapshot_diff.json.

``--compare FILE`` measures another version of the store's module as well (e.g. one taken from
an earlier commit with ``git show``), size by size after the installed one, so drift on the
machine affects both alike.
"""

import argparse
import datetime
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from measurements import write_results

RESULTS_DIR = Path(__file__).parent / "results"
KEY = ("metadata", "benchmark.localhost", "catalog")
HWMS = ("2026-01-01 00:00:00", "2026-01-02 00:00:00", "2026-01-03 00:00:00", "2026-01-04 00:00:00")
PER_TABLE = [b"TABLE"] + [b"COLUMN"] * 10 + [b"INDEX", b"CONSTRAINT"]
FIELDS = 10  # compared fields (events.COMPARED): one checksum each
BATCH = 5000  # objects given to the writer at a time, as events.py does
ALTERED, CREATED, DROPPED = 100, 5, 5


def load_store(path):
    """The store's module: the installed one, or the file at ``path`` as a module of the same package."""
    if not path:
        from kada_collectors.lib import snapshots
        return snapshots
    spec = importlib.util.spec_from_file_location("kada_collectors.lib.snapshots_compared", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _object(index, version=b""):
    table, part = divmod(index, len(PER_TABLE))
    name = b'.""schema_%d"".""table_%d""' % (table // 1000, table)
    kind = PER_TABLE[part]
    if kind == b"COLUMN":
        name += b'.""col_%d""' % part
    elif kind != b"TABLE":
        name += b'.""%s_%d""' % (kind.lower(), table)
    return kind, name, b"%08x" % zlib.crc32(name + version) * FIELDS


def objects(size, changed=False):
    """Batches of the catalog's objects; the next windows' start a third of the way in (another
    order); ``changed``: 100 tables' comments altered, 5 tables created, 5 dropped (with their objects)."""
    tables = size // len(PER_TABLE)
    altered = {t * (tables // ALTERED) for t in range(ALTERED)} if changed else set()
    dropped = {t * (tables // DROPPED) + 1 for t in range(DROPPED)} if changed else set()
    start = tables // 3 if changed is not None else 0
    batch = []
    for step in range(tables + (CREATED if changed else 0)):
        table = (start + step) % tables if step < tables else step
        if table in dropped:
            continue
        for part in range(len(PER_TABLE)):
            batch.append(_object(table * len(PER_TABLE) + part, b"comment" if table in altered and part == 0 else b""))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    yield batch


def write_child(module_path, store_path, size):
    """Write the four snapshots; the seconds each took (their adds, flush and completion)."""
    store = load_store(module_path).SnapshotStore(store_path)
    seconds = []
    for hwm, changed in zip(HWMS, (None, None, False, True)):
        writer, took = store.begin(*KEY, hwm), 0.0
        for batch in objects(size, changed):
            started = time.perf_counter()
            writer.add(batch)
            took += time.perf_counter() - started
        started = time.perf_counter()
        store.complete(writer, *KEY, hwm)
        seconds.append(took + time.perf_counter() - started)
        if hwm == HWMS[1]:
            store.prune(*KEY, HWMS[1], 0)  # the first one only chose the buckets: keep the file to three
    store.close()
    return {"write_seconds": seconds, "file_bytes": os.path.getsize(store_path)}


def diff_child(module_path, store_path, repeat):
    """The median seconds of the baseline's diff with the unchanged and the changed window, and their events."""
    store = load_store(module_path).SnapshotStore(store_path)
    baseline, same, changed = (store.find(*KEY, hwm) for hwm in HWMS[1:])
    out = {}
    for name, other in (("unchanged", same), ("changed", changed)):
        times, events = [], None
        for _ in range(repeat * (10 if name == "unchanged" else 1)):  # microseconds: more of them
            started = time.perf_counter()
            events = list(store.diff(baseline, other))
            times.append(time.perf_counter() - started)
        kinds = {}
        for event in events:
            kinds[event[0]] = kinds.get(event[0], 0) + 1
        out[name] = {"median_seconds": statistics.median(times), "seconds": times, "events": kinds}
    store.close()
    return out


def child(args):
    """Run one child step and its peak RSS (MB)."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the benchmark's step {args[0]} failed")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    result["wall_seconds"] = round(time.monotonic() - started, 2)
    return result


def measure(module_path, size, repeat):
    with tempfile.TemporaryDirectory(prefix="kada-benchmark-snapshot-diff-") as work:
        store_path = os.path.join(work, "snapshots.sqlite")
        written = child(["write", module_path or "", store_path, str(size)])
        diffed = child(["diff", module_path or "", store_path, str(repeat)])
    writes = written["write_seconds"]
    return {"objects": size, "write_us_per_object": round(statistics.median(writes) / size * 1e6, 3),
            "write_seconds": [round(s, 3) for s in writes], "write_peak_rss_mb": written["peak_rss_mb"],
            "file_bytes_per_object": round(written["file_bytes"] / (3 * size), 1),
            "diff_unchanged_ms": round(diffed["unchanged"]["median_seconds"] * 1000, 3),
            "diff_changed_ms": round(diffed["changed"]["median_seconds"] * 1000, 3),
            "events_changed": diffed["changed"]["events"], "events_unchanged": diffed["unchanged"]["events"],
            "diff_peak_rss_mb": diffed["peak_rss_mb"]}


RATIOS = ("write_us_per_object", "write_peak_rss_mb", "diff_unchanged_ms", "diff_changed_ms", "diff_peak_rss_mb")


def report(name, figures):
    print(f"\n{name}")
    for figure in figures:
        print(f"  {figure['objects']:>9,} objects: diff unchanged {figure['diff_unchanged_ms']:9.3f} ms, changed "
              f"{figure['diff_changed_ms']:9.3f} ms {figure['events_changed']}; writing {figure['write_us_per_object']:.3f}"
              f" us/object, peak RSS {figure['write_peak_rss_mb']} MB (diff {figure['diff_peak_rss_mb']} MB); "
              f"file {figure['file_bytes_per_object']} B/object")
    ratios = {key: round(figures[-1][key] / figures[0][key], 2) if figures[0][key] else None for key in RATIOS}
    print("  largest/smallest: " + ", ".join(f"{key} {value}x" for key, value in ratios.items()))
    return ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[520_000, 2_600_000])
    parser.add_argument("--repeat", type=int, default=5, help="diffs timed per figure (the median is kept)")
    parser.add_argument("--compare", help="another snapshots.py to measure beside the installed one")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    load = {"before": list(os.getloadavg())}
    stores = {"installed": None, **({"compared": os.path.abspath(args.compare)} if args.compare else {})}
    figures = {name: [] for name in stores}
    for size in args.sizes:
        for name, path in stores.items():
            figures[name].append(measure(path, size, args.repeat))
    load["after"] = list(os.getloadavg())
    result = {"date": datetime.date.today().isoformat(), "command": " ".join(sys.argv), "cpus": os.cpu_count(),
              "load": load, "stores": {name: {"module": path or "installed", "sizes": figures[name],
                                              "ratios_largest_over_smallest": report(name, figures[name])}
                                       for name, path in stores.items()}}
    print(f"\nload average before {load['before']}, after {load['after']}")
    write_results(args.results_dir, f"{result['date']}-snapshot_diff.json", result)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("write", "diff"):
        step, module_path, store_path, number = sys.argv[1:5]
        do = write_child if step == "write" else diff_child
        print(json.dumps(do(module_path or None, store_path, int(number))))
    else:
        main()
