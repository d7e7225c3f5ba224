#!/usr/bin/env python
"""What the profile and usage extracts add to a run on the synthetic reference catalog.

    python benchmarks/statistics_cost.py --scale 0.1

It starts its own PostgreSQL 18 (as catalog_benchmark.py does; --dsn for another server, 18 or
later), builds (or reuses) the reference catalog of that scale, and copies it into a database of
its own where every column of every table has planner statistics: the catalog's tables are
empty, so ANALYZE would give none, and PostgreSQL 18's pg_restore_relation_stats() and
pg_restore_attribute_stats() set them without data. pg_stats then has a row per column, the most
the profile can cost. It then runs, alternating so that drift on the machine affects both alike:

  base:     metadata only (meta_only true, profile and usage off);
  profile:  the same with "profile": true;
  usage:    the same with "usage": true;
  with:     the same with both;

each as two scheduled runs sharing a snapshot file (a first run, then the next window, whose
usage is diffed against the first run's snapshot), and reports the best and the median of each,
the added time as a ratio of the base (target: under 15% together), and the two extracts' rows
and bytes.

The tables are analysed (their last analyse time set; being empty, they keep the statistics
planted after) before the first window ends, and --analysed of them (10% by default: a day's
autovacuum on a busy database) again in the next window: a window's profile sends the columns
of the tables analysed in it, every table's row, so the next window's profile costs what a
scheduled run's does. The first window sends every column.
Results go to benchmarks/results/ as JSON.
"""

import argparse
import datetime
import os
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from local_server import DEFAULT_DATA_DIR, benchmark_server, extractor_connection
from measurements import reset_statement_stats, run_extraction, statement_stats, write_results
from synthetic_catalog import CatalogShape, ensure_catalog

RESULTS_DIR = Path(__file__).parent / "results"
HOST = "benchmark.postgres.localhost"
FIRST_START = "1970-01-01 00:00:00"
# What PROFILE_SQL allows for clocks that differ: tables analysed this long before a window's start are in it.
CLOCK_MARGIN = datetime.timedelta(minutes=1)
TARGET = 0.15  # what profile and usage may add together, as a fraction of the base run
# Statistics set on every column of the copy (numbers only: no value of any data).
PLANTED_STATISTICS = """
WITH t AS (
    SELECT c.oid, n.nspname::text AS schemaname, c.relname::text AS relname, c.relkind
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
)
SELECT (SELECT count(pg_restore_relation_stats('schemaname', schemaname, 'relname', relname,
                                               'relpages', 10::integer, 'reltuples', 1000::real)) FROM t),
       (SELECT count(pg_restore_attribute_stats('schemaname', t.schemaname, 'relname', t.relname,
                                                'attname', a.attname::text, 'inherited', t.relkind = 'p',
                                                'null_frac', 0.1::real, 'avg_width', 8::integer,
                                                'n_distinct', -0.5::real, 'correlation', 0.5::real))
        FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped)
"""


def main(argv=None):
    args = _parse_args(argv)
    with benchmark_server(args.dsn, args.data_dir) as (admin_dsn, dsn_for):
        report = measure(args, admin_dsn, dsn_for)
    _print(report)
    write_results(args.results_dir, f"{report['date']}-statistics-scale{args.scale:g}.json", report)
    return 0


def measure(args, admin_dsn, dsn_for):
    shape = CatalogShape.for_scale(args.scale)
    ensure_catalog(admin_dsn, dsn_for, shape, args.jobs, log=lambda m: print(m, flush=True))
    database = shape.database + "_statistics"
    planted = _copy_with_statistics(admin_dsn, dsn_for, shape.database, database)
    windows, planted["analysed_in_next_window"] = _windows(dsn_for(database), args.analysed)
    connection, password = extractor_connection(dsn_for(database))
    base = {"host": HOST, **connection, "databases": [database], "output_path": tempfile.gettempdir(),
            "statement_timeout_seconds": 3600, "meta_only": True}
    configs = {"base": base, "profile": {**base, "profile": True}, "usage": {**base, "usage": True},
               "with": {**base, "profile": True, "usage": True}}
    runs = {name: [] for name in configs}
    for attempt in range(args.repeat):
        print(f"run {attempt + 1} of {args.repeat}: {', '.join(configs)} ...", flush=True)
        for name, config in configs.items():
            runs[name].append(_scheduled(config, password, dsn_for(database), windows))
    best = {name: {window: min((r[w] for r in done), key=lambda r: r["run_seconds"])
                   for w, window in enumerate(("first", "next"))} for name, done in runs.items()}
    median = {name: {window: statistics.median(r[w]["run_seconds"] for r in done)
                     for w, window in enumerate(("first", "next"))} for name, done in runs.items()}
    # The work, which a loaded machine stretches less than the wall time: the collector's CPU time
    # plus the server's time in its statements.
    work = {name: {window: statistics.median(r[w]["cpu_seconds"] + (r[w]["server_seconds"] or 0) for r in done)
                   for w, window in enumerate(("first", "next"))} for name, done in runs.items()}
    added = {f"{name}_{measure}_{window}": round(seconds[name][window] / seconds["base"][window] - 1, 3)
             for measure, seconds in (("best", {n: {w: r["run_seconds"] for w, r in b.items()} for n, b in best.items()}),
                                      ("median", median), ("work", work))
             for name in ("profile", "usage", "with") for window in ("first", "next")}
    return {
        "benchmark": "statistics_cost",
        "date": datetime.date.today().isoformat(),
        "command": f"python benchmarks/statistics_cost.py --scale {args.scale:g} --repeat {args.repeat} "
                   f"--analysed {args.analysed:g}",
        "scale": args.scale, "database": database, "shape": shape.totals(), "planted": planted,
        "target_added": TARGET, "best": best, "median_seconds": median, "median_work_seconds": work,
        "added": added,
        "extracts": {window: {extract: best["with"][window]["files"].get(extract) for extract in ("profile", "usage")}
                     for window in ("first", "next")},
        "runs": {name: [[{k: r[k] for k in ("run_seconds", "cpu_seconds", "server_seconds")} for r in pair]
                        for pair in done] for name, done in runs.items()},
        # The target is a scheduled run's: the next window. A first run sends every column once.
        "verdict": "pass" if added["with_median_next"] < TARGET else "fail",
        "first_run_within_target": added["with_median_first"] < TARGET,
    }


def _windows(dsn, fraction):
    """The first window, ending after every table's last analyse with the clock margin, and the
    next, in which ``fraction`` of the tables are analysed again (their planted statistics kept,
    their row estimates set again); and how many tables that is. The windows may end a minute
    ahead of the clock (the collector warns of it): the windows are what matters, not when they
    are read, and waiting for them would add the margin to every measurement."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        (last,) = conn.execute("SELECT max(greatest(last_analyze, last_autoanalyze)) FROM pg_stat_all_tables").fetchone()
        first_end = max(_now(), last + CLOCK_MARGIN + datetime.timedelta(seconds=1)).replace(microsecond=0)
        while _now() < last + datetime.timedelta(seconds=1):  # analysed again: in the next window alone
            time.sleep(0.1)
        tables = conn.execute(
            "SELECT format('%I.%I', n.nspname, c.relname), n.nspname::text, c.relname::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY c.oid").fetchall()
        again = tables[::round(1 / fraction)] if fraction else []
        for name, schema, table in again:
            conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(name)))
            conn.execute("SELECT pg_restore_relation_stats('schemaname', %s::text, 'relname', %s::text, 'relpages', 10::integer, "
                         "'reltuples', 1000::real)", (schema, table))
    next_end = max(_now(), first_end) + datetime.timedelta(seconds=1)
    first_end, next_end = (moment.strftime("%Y-%m-%d %H:%M:%S") for moment in (first_end, next_end))
    return [(FIRST_START, first_end), (first_end, next_end)], len(again)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _scheduled(config, password, dsn, windows):
    """Two scheduled runs sharing a snapshot file (``windows``), each with its server time."""
    with tempfile.TemporaryDirectory(prefix="kada-benchmark-snapshots-") as shared:
        done = []
        for window in windows:
            counting = reset_statement_stats(dsn)
            run = run_extraction({**config, "window": list(window), "snapshot_path": os.path.join(shared, "s.sqlite")},
                                 password)
            run["server_seconds"] = (statement_stats(dsn) or {}).get("server_seconds") if counting else None
            done.append(run)
    return done


def _copy_with_statistics(admin_dsn, dsn_for, template, database):
    """``database``: a copy of ``template`` with statistics on every column (made once, reused)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            print(f"copying {template} into {database} ...", flush=True)
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(database),
                                                                        sql.Identifier(template)))
    with psycopg.connect(dsn_for(database), autocommit=True) as conn:
        if conn.info.server_version < 180000:
            raise SystemExit("planting statistics needs PostgreSQL 18 (pg_restore_attribute_stats)")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")  # the server time of each run
        if not exists:  # sets their last analyse time; empty, they keep the statistics planted next
            conn.execute("ANALYZE")
        tables, columns = conn.execute(PLANTED_STATISTICS).fetchone()
    return {"tables": tables, "columns": columns}


def _print(report):
    print(f"\nscale {report['scale']:g}: {report['shape']['tables']:,} tables, "
          f"{report['planted']['columns']:,} columns with statistics, "
          f"{report['planted']['analysed_in_next_window']:,} tables analysed in the next window")
    median, added = report["median_seconds"], report["added"]
    for window in ("first", "next"):
        print(f"  {window} run, median: {median['base'][window]:.3f} s metadata only; profile "
              f"+{added[f'profile_median_{window}']:.1%}, usage +{added[f'usage_median_{window}']:.1%}, both "
              f"+{added[f'with_median_{window}']:.1%} (best of each: +{added[f'with_best_{window}']:.1%}; target under "
              f"{report['target_added']:.0%}); work (collector CPU + server time): profile "
              f"+{added[f'profile_work_{window}']:.1%}, usage +{added[f'usage_work_{window}']:.1%}, both "
              f"+{added[f'with_work_{window}']:.1%}")
    for window, extracts in report["extracts"].items():
        for extract, entry in extracts.items():
            if entry:
                print(f"  {window} run's {extract}: {entry['rows']:,} rows, {entry['bytes']:,} bytes")
    print(f"verdict (a scheduled run: the next window): {report['verdict']}; the first run "
          f"{'within' if report['first_run_within_target'] else 'above'} the target")


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="the reference catalog's scale (default: %(default)s)")
    parser.add_argument("--dsn", help="use this server (PostgreSQL 18+, a role with CREATEDB) instead of starting one")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="the own server's data directory, kept between runs (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="sessions building the catalog (default: %(default)s)")
    parser.add_argument("--analysed", type=float, default=0.1,
                        help="the fraction of the tables analysed in the next window (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="measured pairs of runs per setting (default: %(default)s)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where to write the JSON (default: %(default)s)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(main())
