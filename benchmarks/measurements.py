"""What the benchmark measures: the COPY limit, a real extraction, the statements it ran, and
the sessions and locks it held on the server."""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from psycopg import IsolationLevel

from kada_collectors.extractors.postgres.checks import UNKNOWN_KINDS_SQL
from kada_collectors.extractors.postgres.statements import BY_NAME, NAMED_STATEMENTS
from kada_collectors.lib.hwm import BEGINNING_OF_TIME, now_hwm

EXTRACT_ONCE = Path(__file__).with_name("extract_once.py")
PASSWORD_ENV = "KADA_BENCHMARK_PASSWORD"


# -- (a) the physical limit ----------------------------------------------------------------------

def copy_limit_pass(extractor, dsn, host):
    """The server's time to produce every statement's rows, once, with nothing done to them.

    Mirrors the extractor's snapshot: one REPEATABLE READ, READ ONLY transaction, each statement
    (each batch of a batched one, as the extractor batches it) in a savepoint rolled back
    afterwards, rows sent as COPY text to a client that only counts the bytes. The batch keys
    query and the unknown-kinds check are part of the work and are timed too.
    """
    values = (host, BEGINNING_OF_TIME, now_hwm())
    entries = []
    with psycopg.connect(dsn, application_name="kada-benchmark") as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            for name in (s.name for s in extractor._wanted(NAMED_STATEMENTS)):  # those the run's settings run
                # The extractor's own (private) batching and rendering, so that the limit runs
                # exactly the SQL a run does, user replacements included.
                started = time.monotonic()
                batches = extractor._batches(conn, BY_NAME[name], values)  # runs the batch keys query
                if batches[0][3] is not None:  # in batches: the batch keys query ran
                    entries.append(_entry(f"{name} (batch keys)", time.monotonic() - started))
                entry = _entry(name, 0.0, executions=0, rows=0)
                for batch_values in batches:
                    rows, nbytes, seconds = _copy(conn, extractor._statements.render(name, batch_values, conn))
                    entry["executions"] += 1
                    entry["rows"] += rows
                    entry["bytes"] += nbytes
                    entry["seconds"] += seconds
                    entry["longest_seconds"] = max(entry["longest_seconds"], seconds)
                entries.append(entry)
            started = time.monotonic()
            conn.execute(UNKNOWN_KINDS_SQL).fetchall()
            entries.append(_entry("unknown kinds check", time.monotonic() - started))
    for entry in entries:
        entry["seconds"] = round(entry["seconds"], 4)
        entry["longest_seconds"] = round(entry["longest_seconds"], 4)
    return {"seconds": round(sum(e["seconds"] for e in entries), 3), "statements": entries}


def _entry(name, seconds, executions=1, rows=None):
    """One line of the COPY limit; ``rows`` is None for helper queries whose rows are not output."""
    return {"name": name, "executions": executions, "rows": rows, "bytes": 0, "seconds": seconds,
            "longest_seconds": seconds}


def _copy(conn, query):
    started = time.monotonic()
    nbytes = 0
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        with cur.copy(f"COPY ({query}) TO STDOUT") as copy:
            for block in copy:
                nbytes += len(block)
        rows = cur.rowcount
    return rows, nbytes, time.monotonic() - started


# -- (b, c, d) a real extraction -----------------------------------------------------------------

def write_results(results_dir, name, report):
    """Write ``report`` as JSON to ``results_dir``/``name``, say where, and return the path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / name
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {path}")
    return path


def run_extraction(config, password=None, profile_path=None, windows=None, before=None):
    """Run ``Extractor(**config).run()`` in a child process; its wall time, peak RSS and output.

    With ``windows`` (a list of (start_hwm, end_hwm)), one process per window, in order, sharing
    one snapshot file, as scheduled runs do: the measures of each run are returned, in a list.
    ``before`` maps a window's index to what to do to the catalog before that run.
    """
    if windows is not None:
        runs = []
        with tempfile.TemporaryDirectory(prefix="kada-benchmark-snapshots-") as shared:
            snapshots = os.path.join(shared, "snapshots.sqlite")
            for index, window in enumerate(windows):
                if before and index in before:
                    before[index]()
                runs.append(_run_once({**config, "window": list(window), "snapshot_path": snapshots}, password))
        return runs
    return _run_once(config, password, profile_path)


def _run_once(config, password=None, profile_path=None):
    with tempfile.TemporaryDirectory(prefix="kada-benchmark-") as work:
        config = {"snapshot_path": os.path.join(work, "snapshots.sqlite"), **config,
                  "output_path": os.path.join(work, "output")}
        env = dict(os.environ)
        if password is not None:
            config["password_env"] = PASSWORD_ENV
            env[PASSWORD_ENV] = password
        config_path, result_path, log_path = (os.path.join(work, n) for n in ("config.json", "result.json", "log"))
        with open(config_path, "w", encoding="utf-8") as f:
            json.dump(config, f)
        command = [sys.executable, str(EXTRACT_ONCE), config_path, result_path]
        if profile_path:
            command.append(str(profile_path))
        started = time.monotonic()
        with open(log_path, "wb") as log:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            # wait4 gives this child's own resource usage (getrusage(RUSAGE_CHILDREN) would mix children).
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        if child.returncode != 0:
            raise RuntimeError(f"the extraction failed (exit {child.returncode}):\n{Path(log_path).read_text()[-3000:]}")
        result = json.loads(Path(result_path).read_text(encoding="utf-8"))
        snapshot_bytes = os.path.getsize(config["snapshot_path"])
    manifest = result["manifest"]
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    peak_rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {
        "wall_seconds": round(wall, 3),
        "run_seconds": result["run_seconds"],
        "import_seconds": result["import_seconds"],
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(peak_rss / 2**20, 1),
        "bytes": sum(f["bytes"] for f in manifest["files"]),
        "rows": sum(f["rows"] for f in manifest["files"]),
        "files": {f["extract"]: {"rows": f["rows"], "bytes": f["bytes"]} for f in manifest["files"]},
        "snapshot_bytes": snapshot_bytes,  # the snapshot file after the run
        "sessions": [d.get("sessions") for d in manifest["databases"]],  # how many read each database
        # Measured inside the process (extract_once.py): per named statement, and the change events.
        "statements": result["statements"],
        "change_events": result["change_events"],
    }


# -- the server-side cost: sessions and locks held at once ----------------------------------------

# How many sessions the collector has in the watched database (others may use the same server),
# every lock they and the parallel workers of their queries hold (relations, their own
# transaction ids...), those on relations (what fills the server's shared lock table), and the
# parallel workers, in one sample. A parallel worker carries its leader's application_name.
_HELD = """
    SELECT count(DISTINCT a.pid) FILTER (WHERE a.backend_type = 'client backend'),
           count(l.pid) FILTER (WHERE l.granted),
           count(l.pid) FILTER (WHERE l.granted AND l.locktype = 'relation'),
           count(DISTINCT a.pid) FILTER (WHERE a.backend_type = 'parallel worker')
    FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid
    WHERE a.application_name LIKE 'kada-collector/%' AND a.datname = current_database()
"""
# Sessions only, in every database (a run over many databases).
_SESSIONS = ("SELECT count(*), 0, 0, 0 FROM pg_stat_activity WHERE application_name LIKE 'kada-collector/%' "
             "AND backend_type = 'client backend'")


class ServerWatch(threading.Thread):
    """Samples the collector's sessions on the server every ``interval`` seconds, from a session of
    its own, while the collector runs: the most sessions seen at once and, with ``locks``, the most
    locks they held at once in ``dsn``'s database (pg_locks; a sample of it briefly takes the lock
    manager's own locks, so runs whose time is measured are not watched)."""

    def __init__(self, dsn, interval=0.005, locks=True):
        super().__init__(daemon=True)
        self.dsn, self.interval, self.locks = dsn, interval, locks
        self.most_sessions = self.most_locks = self.most_relation_locks = self.most_parallel_workers = 0
        self.samples = 0
        self._done = threading.Event()

    def run(self):
        query = _HELD if self.locks else _SESSIONS
        with psycopg.connect(self.dsn, autocommit=True, application_name="kada-benchmark-watch") as conn:
            while not self._done.is_set():
                sessions, locks, relation_locks, workers = conn.execute(query).fetchone()
                self.most_sessions, self.most_locks = max(self.most_sessions, sessions), max(self.most_locks, locks)
                self.most_relation_locks = max(self.most_relation_locks, relation_locks)
                self.most_parallel_workers = max(self.most_parallel_workers, workers)
                self.samples += 1
                self._done.wait(self.interval)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self.join()

    def measures(self):
        locks = {"most_locks": self.most_locks, "most_relation_locks": self.most_relation_locks,
                 "most_parallel_workers": self.most_parallel_workers} if self.locks else {}
        return {"most_sessions": self.most_sessions, **locks, "samples": self.samples,
                "interval_seconds": self.interval}


# -- (e) the statements an extraction ran, from pg_stat_statements -------------------------------

def reset_statement_stats(dsn):
    """Empty pg_stat_statements for this database only; False when it is not there (not installed,
    not preloaded, or no right to reset)."""
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database WHERE datname = current_database()")
        return True
    except psycopg.Error:
        return False


# A named statement's COPY, as the extractor tags it (statements.tagged). Its columns are read
# with the protocol's Describe, which runs nothing for pg_stat_statements to count.
_NAMED_COPY = re.compile(r"^COPY\b.*/\* kada-collector (\w+_SQL) \*/", re.DOTALL)


def statement_stats(dsn):
    """Per named statement: executions and server time of its COPY, from pg_stat_statements."""
    query = """
        SELECT query, calls, total_exec_time FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query NOT LIKE '%pg_stat_statements%'
    """
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows = conn.execute(query).fetchall()
    except psycopg.Error:
        return None
    named, other_ms = {}, 0.0
    for text, calls, total_ms in rows:
        match = _NAMED_COPY.match(text.strip())
        if not match:  # session setup, savepoints, the batch keys query, the unknown-kinds check
            other_ms += total_ms
            continue
        entry = named.setdefault(match.group(1), {"executions": 0, "server_seconds": 0.0})
        entry["executions"] += calls
        entry["server_seconds"] += total_ms / 1000
    for entry in named.values():
        entry["server_seconds"] = round(entry["server_seconds"], 4)
    return {
        "named_statements": len(named),
        "executions": sum(e["executions"] for e in named.values()),
        "round_trips": sum(calls for _, calls, _ in rows),
        "server_seconds": round(sum(e["server_seconds"] for e in named.values()) + other_ms / 1000, 3),
        "per_statement": dict(sorted(named.items())),
    }
