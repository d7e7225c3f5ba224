"""One extraction through the public API, run by the benchmark in a process of its own.

    python extract_once.py CONFIG.json RESULT.json [PROFILE.prof]

A process of its own so that its peak RSS is the extraction's alone. The password, if any, comes
from the environment (the config's ``password_env``), never from the command line. With a third
argument the run is profiled with cProfile and the stats saved there. The config may carry a
``"window": [start_hwm, end_hwm]`` for ``run()`` (taken out before the Extractor sees it).

The result also says where the run's time went, measured from the outside of the collector's code
(each measured method is wrapped, none is changed): per named statement, its wall time and the
CPU time of the thread that read it (all its batches, the parsing of its definitions included);
and the change events of a window: the time to write them all and, within it, the snapshot diff.
"""

import json
import sys
import threading
import time

started = time.monotonic()
# Imported after the clock starts: the import time is measured.
from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.postgres.events import ChangeEvents
from kada_collectors.lib.snapshots import SnapshotStore


def main(config_path, result_path, profile_path=None):
    imported = time.monotonic()
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    window = config.pop("window", [None, None])
    timings = _Timings()
    timings.install()
    extractor = Extractor(**config)
    run_started = time.monotonic()
    if profile_path:
        import cProfile
        profiler = cProfile.Profile()
        manifest = profiler.runcall(extractor.run, *window)
        profiler.dump_stats(profile_path)
    else:
        manifest = extractor.run(*window)
    finished = time.monotonic()
    result = {"import_seconds": round(imported - started, 3), "run_seconds": round(finished - run_started, 3),
              "manifest": manifest, **timings.report()}
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f)


class _Timings:
    """Wall and thread CPU time spent in the extractor's methods, summed over the run's threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self.statements = {}  # name: {"seconds", "cpu_seconds", "runs"}
        self.events = {"write_seconds": 0.0, "diff_seconds": 0.0, "diffed": 0}

    def install(self):
        read, write, diff = Extractor._read, ChangeEvents.write, SnapshotStore.diff
        timings = self

        def timed_read(extractor, conn, dbname, statement, *args, **kwargs):
            wall, cpu = time.monotonic(), time.thread_time()
            try:
                return read(extractor, conn, dbname, statement, *args, **kwargs)
            finally:
                timings._add_statement(statement.name, time.monotonic() - wall, time.thread_time() - cpu)

        def timed_write(events, *args, **kwargs):
            wall = time.monotonic()
            try:
                return write(events, *args, **kwargs)
            finally:
                timings._add_events("write_seconds", time.monotonic() - wall)

        def timed_diff(store, *args, **kwargs):
            # A generator: only the time spent inside it is the diff's (the caller writes each event).
            changes = diff(store, *args, **kwargs)
            while True:
                step = time.monotonic()
                change = next(changes, None)
                timings._add_events("diff_seconds", time.monotonic() - step, diffed=change is not None)
                if change is None:
                    return
                yield change

        Extractor._read, ChangeEvents.write, SnapshotStore.diff = timed_read, timed_write, timed_diff

    def _add_statement(self, name, seconds, cpu_seconds):
        with self._lock:
            entry = self.statements.setdefault(name, {"seconds": 0.0, "cpu_seconds": 0.0, "runs": 0})
            entry["seconds"] += seconds
            entry["cpu_seconds"] += cpu_seconds
            entry["runs"] += 1

    def _add_events(self, key, seconds, diffed=False):
        with self._lock:
            self.events[key] += seconds
            self.events["diffed"] += diffed

    def report(self):
        statements = {name: {**entry, "seconds": round(entry["seconds"], 4), "cpu_seconds": round(entry["cpu_seconds"], 4)}
                      for name, entry in sorted(self.statements.items())}
        events = {key: round(value, 4) if isinstance(value, float) else value for key, value in self.events.items()}
        return {"statements": statements, "change_events": events}


if __name__ == "__main__":
    main(*sys.argv[1:])
