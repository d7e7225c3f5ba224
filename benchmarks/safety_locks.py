#!/usr/bin/env python
"""Two runs never collide, and faults leave nothing behind: the figures for docs/operations.md.

    python benchmarks/safety_locks.py [--dsn "postgresql://..."] [--pairs 10]

On a database of its own (``kada_safety``: the demo's sample schema), as the command customers
schedule (``kada-postgres-extractor``, a real process each):

- pairs of runs started together on one config, each pair held mid-extraction by a lock on a table
  its views read: how many pairs had exactly one run and one refused, the refused run's exit code
  and seconds to exit, and the events the next run reported (none changed, so none is right);
- SIGTERM mid-run: exit code, seconds to exit, temporary files left;
- SIGKILL mid-run: temporary files left, how many the next run removed, its spurious events;
- a full output disk (a 2 MB tmpfs, when this process may mount one): exit code, the bytes the
  message reports, temporary files left;
- the cost of taking and releasing the run's locks.

Prints the figures as JSON. ``measure(admin_dsn, workdir)`` is the same for another script.
"""

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).parent))
from kada_collectors.extractors.demo import SAMPLE_SCHEMA  # noqa: E402
from kada_collectors.lib.runlock import run_lock  # noqa: E402
from local_server import extractor_connection  # noqa: E402
from safety import part_main  # noqa: E402

DATABASE = "kada_safety"
LOCKED_TABLE = "sales.customers"  # the sample's views read it: locked, a run waits mid-extraction
COMMAND = Path(sys.executable).parent / "kada-postgres-extractor"
TEMPORARY = re.compile(r"^\..*\.(tmp|part)$")
WAITING_SQL = ("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'kada-collector/%' "
               "AND wait_event_type = 'Lock'")


def measure(admin_dsn: str, workdir: Path, pairs: int = 10) -> dict:
    """The figures, as a flat dict of name -> number or short string."""
    _load_database(admin_dsn)
    figures = {}
    figures.update(_pairs(_Job(admin_dsn, Path(workdir) / "pairs"), pairs))
    figures.update(_sigterm(_Job(admin_dsn, Path(workdir) / "sigterm", lock_timeout=3)))
    figures.update(_sigkill(_Job(admin_dsn, Path(workdir) / "sigkill")))
    figures.update(_disk_full(_Job(admin_dsn, Path(workdir) / "diskfull")))
    figures.update(_lock_cost(Path(workdir) / "lockcost"))
    return figures


class _Job:
    """A customer's folder and config; runs are ``kada-postgres-extractor`` processes."""

    def __init__(self, admin_dsn, folder, lock_timeout=60):
        self.dsn, self.folder, self.output = make_conninfo(admin_dsn, dbname=DATABASE), folder, folder / "out"
        folder.mkdir(parents=True, exist_ok=True)
        settings, password = extractor_connection(admin_dsn)
        config = {"host": "safety.postgres.localhost", **settings, "databases": [DATABASE],
                  "output_path": str(self.output), "snapshot_path": str(folder / "snapshots.sqlite"),
                  "lock_timeout_seconds": lock_timeout, "meta_only": True, "compress": False}
        if password is not None:
            config["password"] = password
        self.config_path = folder / "config.json"
        self.config_path.write_text(json.dumps(config))

    def start(self):
        return subprocess.Popen([str(COMMAND), "--config", str(self.config_path)], cwd=self.folder,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def run(self):
        process = self.start()
        _, stderr = process.communicate(timeout=300)
        return process.returncode, stderr

    def temporaries(self):
        return [p for p in self.output.iterdir() if TEMPORARY.match(p.name)] if self.output.exists() else []

    def spurious_events(self):
        """Event rows of the newest run (nothing changed since the one before: each is spurious)."""
        manifest = json.loads(sorted(self.output.glob("postgres_manifest_*.json"))[-1].read_text())
        return next(f["rows"] for f in manifest["files"] if f["extract"] == "events")

    @contextmanager
    def blocked(self):
        with psycopg.connect(self.dsn) as conn:
            conn.execute(f"LOCK TABLE {LOCKED_TABLE} IN ACCESS EXCLUSIVE MODE")
            yield
            conn.rollback()

    def wait_mid_extraction(self, process, timeout=60.0):
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not (conn.execute(WAITING_SQL).fetchone()[0] and self.temporaries()):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the run did not reach its extraction: {process.communicate()[1][-500:]}")
                time.sleep(0.05)


def _pairs(job, count):
    _succeeded(job.run())
    clean, refusal_seconds, codes = 0, [], set()
    for _ in range(count):
        with job.blocked():
            started = time.monotonic()
            runs = [job.start(), job.start()]
            while all(r.poll() is None for r in runs):
                time.sleep(0.01)
            refusal_seconds.append(time.monotonic() - started)
            refused = next(r for r in runs if r.poll() is not None)
            holder = next(r for r in runs if r is not refused)
            named = f"PID {holder.pid} " in refused.communicate()[1]
            codes.add(refused.returncode)
        holder.communicate(timeout=300)
        clean += named and holder.returncode == 0 and not job.temporaries()
    _succeeded(job.run())
    return {"pairs_started_together": count, "pairs_one_ran_one_refused_naming_its_pid": clean,
            "refused_exit_code": ",".join(map(str, sorted(codes))),
            "refused_seconds_from_start_median": round(statistics.median(refusal_seconds), 2),
            "spurious_events_after_pairs": job.spurious_events()}


def _sigterm(job):
    _succeeded(job.run())
    with job.blocked():
        process = job.start()
        job.wait_mid_extraction(process)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=120)
        seconds = time.monotonic() - started
    return {"sigterm_exit_code": process.returncode, "sigterm_seconds_to_exit": round(seconds, 2),
            "sigterm_lock_timeout_seconds": 3, "sigterm_temporaries_left": len(job.temporaries())}


def _sigkill(job):
    _succeeded(job.run())
    with job.blocked():
        process = job.start()
        job.wait_mid_extraction(process)
        process.kill()
        process.communicate()
    left = len(job.temporaries())
    _, stderr = _succeeded(job.run())
    removed = re.search(r"removed (\d+) temporary file", stderr)
    return {"sigkill_temporaries_left": left, "sigkill_next_run_removed": int(removed[1]) if removed else 0,
            "sigkill_temporaries_after_next_run": len(job.temporaries()),
            "sigkill_spurious_events": job.spurious_events()}


def _disk_full(job):
    job.output.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(job.output)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        return {"disk_full": "not measured: mounting a tmpfs needs root"}
    try:
        stat = os.statvfs(job.output)
        (job.output / "ballast").write_bytes(b"\0" * max(stat.f_bavail * stat.f_frsize - 64 * 1024, 0))
        code, stderr = job.run()
        reported = re.search(r"had written ([\d,]+) bytes", stderr)
        return {"disk_full_exit_code": code, "disk_full_traceback": "Traceback" in stderr,
                "disk_full_reported_bytes": int(reported[1].replace(",", "")) if reported else "none",
                "disk_full_temporaries_left": len(job.temporaries())}
    finally:
        subprocess.run(["umount", "-l", str(job.output)], check=False)


def _lock_cost(folder, times=200):
    folder.mkdir(parents=True, exist_ok=True)
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        with run_lock(str(folder), str(folder / "snapshots.sqlite")):
            pass
        seconds.append(time.perf_counter() - started)
    return {"run_lock_take_and_release_ms_median": round(statistics.median(seconds) * 1000, 3)}


def _succeeded(result):
    code, stderr = result
    if code != 0:
        raise RuntimeError(f"a run that should succeed exited {code}: {stderr[-1000:]}")
    return result


def _load_database(admin_dsn):
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    with psycopg.connect(make_conninfo(admin_dsn, dbname=DATABASE), autocommit=True) as conn:
        conn.execute(SAMPLE_SCHEMA.read_text(encoding="utf-8"))


def main(argv=None) -> None:
    part_main(measure, __doc__.split("\n\n")[0], argv, pairs=10)


if __name__ == "__main__":
    main()
