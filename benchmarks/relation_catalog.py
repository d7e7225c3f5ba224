#!/usr/bin/env python
"""The relation catalog lineage keeps while definitions are parsed: its memory, load time and lookups.

    python benchmarks/relation_catalog.py --dsn "postgresql://user@host/postgres" --databases kada_bench_1 kada_bench_5

For each database (read only: nothing is written to the server) it loads, one after the other,
the catalog as shipped (names packed per schema into hash buckets, rows streamed through COPY)
and, for comparison, the dict of dicts it replaced (every row fetched first), and prints for
each: the relations, the memory held once loaded and the peak while loading (tracemalloc, over
the load alone; and the process's resident memory, in a process of its own per load, which
counts libpq's copy of a result set fetched whole), the load time (best of --rounds, without
tracemalloc) and the time per lookup of a sample of the database's names, qualified and
unqualified with a search_path whose first schemas miss.
The same relations all in one schema (as a schema-per-tenant database puts them in public) are
loaded and looked up as well: a schema's size must not slow its lookups.
Results go to benchmarks/results/<date>-relation-catalog.json.
"""

import argparse
import datetime
import multiprocessing
import random
import sys
import time
import tracemalloc
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

sys.path.insert(0, str(Path(__file__).parent))
from catalog_benchmark import _collector_source, _load, _machine, _server_version, _shown_argv  # noqa: E402
from kada_collectors.extractors.postgres.lineage.names import (RELATION_TYPES, RELATIONS_SQL,  # noqa: E402
                                                               SYSTEM_SCHEMAS, Relation, RelationCatalog)
from kada_collectors.extractors.postgres.ids import child_id  # noqa: E402
from measurements import write_results  # noqa: E402

RESULTS_DIR = Path(__file__).parent / "results"
HOST = "benchmark.postgres.localhost"
# The same relations, all in one schema: each name prefixed with its schema's.
ONE_SCHEMA_SQL = f"""
SELECT 'public' AS nspname, nspname || '.' || relname AS relname, relkind, extname FROM ({RELATIONS_SQL}) r
"""


class DictCatalog:
    """The catalog as it was, for comparison: {schema: {name: relkind or (relkind, extension)}},
    from a result set fetched whole."""

    def __init__(self, schemas, database_id):
        self._schemas, self._database_id = schemas, database_id

    @classmethod
    def load(cls, conn, query=RELATIONS_SQL):
        schemas = {}
        for schema, name, kind, extension in conn.execute(query):
            schemas.setdefault(schema, {})[name] = kind if extension is None else (kind, extension)
        return cls(schemas, "database")

    def lookup(self, schema, name, search_path=()):
        if schema is not None:
            return self._relation(schema, name)
        for candidate in search_path:
            if candidate not in SYSTEM_SCHEMAS:
                found = self._relation(candidate, name)
                if found:
                    return found
        return None

    def _relation(self, schema, name):
        entry = self._schemas.get(schema, {}).get(name)
        if entry is None:
            return None
        kind, extension = (entry, None) if isinstance(entry, str) else entry
        return Relation(RELATION_TYPES[kind], child_id(self._database_id, schema, name), extension, schema, name)


def packed_load(conn, query=RELATIONS_SQL):
    """The shipped catalog, of ``query``'s rows (RelationCatalog.load's, for the one-schema variant)."""
    with conn.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
        copy.set_types(["text", "text", "text", "text"])
        return RelationCatalog.packed(copy.rows(), "database", "public")


VARIANTS = {"packed": packed_load, "dict": DictCatalog.load}
RATIOS = ("held_bytes", "peak_bytes", "rss_peak_mb", "load_seconds", "lookup_us_qualified", "lookup_us_unqualified")


def measure_database(dsn, lookups, rounds):
    """Both catalogs of ``dsn``'s database, as its schemas are and with all its relations in one."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        result = {}
        for layout, query in (("as is", RELATIONS_SQL), ("one schema", ONE_SCHEMA_SQL)):
            sample = _sample(conn, query, lookups)
            relations, schemas = conn.execute(f"SELECT count(*), count(DISTINCT nspname) FROM ({query}) r").fetchone()
            if not relations:
                raise SystemExit(f"database {conn.info.dbname!r} holds no user relation: nothing to measure")
            result[layout] = {"relations": relations, "schemas": schemas}
            for name, load in VARIANTS.items():
                result[layout][name] = {**_measure(conn, load, query, sample, rounds, relations),
                                        **_rss_growth(dsn, name, query)}
    return result


def _sample(conn, query, size):
    """``size`` relations of the database (a fixed seed: the same sample for both catalogs)."""
    rows = [(schema, name) for schema, name, _, _ in conn.execute(query)]
    return random.Random(1).sample(rows, min(size, len(rows)))


def _measure(conn, load, query, sample, rounds, relations):
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    catalog = load(conn, query)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del catalog
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        catalog = load(conn, query)
        seconds.append(time.perf_counter() - started)
    return {"held_bytes": held - before, "peak_bytes": peak - before,
            "held_mb": round((held - before) / 1e6, 2), "peak_mb": round((peak - before) / 1e6, 2),
            "held_bytes_per_relation": round((held - before) / max(relations, 1), 1),
            "load_seconds": round(min(seconds), 3), **_lookups(catalog, sample, rounds), "sampled": len(sample)}


def _rss_growth(dsn, variant, query):
    """The process's resident memory grown by one load, in a process of its own: what tracemalloc
    misses, libpq's copy of a result set fetched whole, is counted too (Linux; {} elsewhere)."""
    if not Path("/proc/self/status").exists():
        return {}
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        before, peak, after = pool.apply(_load_in_child, (dsn, variant, query))
    return {"rss_peak_mb": round((peak - before) / 1e6, 1), "rss_held_mb": round((after - before) / 1e6, 1)}


def _load_in_child(dsn, variant, query):
    """VmRSS before, VmHWM and VmRSS after loading (bytes), the peak reset first where Linux allows."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT 1")
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM
        except OSError:
            pass
        before = _status("VmRSS")
        catalog = VARIANTS[variant](conn, query)
        return before, _status("VmHWM"), _status("VmRSS") if catalog else 0


def _status(field):
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1]) * 1024


def _lookups(catalog, sample, rounds):
    """Microseconds per lookup: qualified, and unqualified with a search_path whose first two
    schemas miss (pg_catalog, skipped, and one that does not exist) before the name's own."""
    qualified, unqualified, missed = [], [], 0
    paths = {schema: ("pg_catalog", "no_such_schema", schema) for schema, _ in sample}
    for _ in range(rounds):
        started = time.perf_counter()
        missed += sum(catalog.lookup(schema, name) is None for schema, name in sample)
        qualified.append(time.perf_counter() - started)
        started = time.perf_counter()
        missed += sum(catalog.lookup(None, name, paths[schema]) is None for schema, name in sample)
        unqualified.append(time.perf_counter() - started)
    if missed:
        raise SystemExit(f"{type(catalog).__name__}: {missed} lookups of sampled names found nothing")
    return {"lookup_us_qualified": round(min(qualified) / len(sample) * 1e6, 2),
            "lookup_us_unqualified": round(min(unqualified) / len(sample) * 1e6, 2)}


def main(argv=None):
    args = _parse_args(argv)
    try:
        report = {"date": datetime.date.today().isoformat(), "command": _shown_argv(argv),
                  "machine": _machine(_server_version(args.dsn), own_server=False), "collector": _collector_source(),
                  "load": {"before": _load()}, "databases": {}}
        for database in args.databases:
            measured = measure_database(make_conninfo(args.dsn, dbname=database), args.lookups, args.rounds)
            for figures in measured.values():
                figures["packed_over_dict"] = {key: round(figures["packed"][key] / figures["dict"][key], 2)
                                               for key in RATIOS if figures["dict"].get(key)}
            report["databases"][database] = measured
            _print(database, measured)
    except psycopg.OperationalError as e:  # libpq's message names the server, never the password
        print(f"cannot read the server: {e}", file=sys.stderr)
        return 2
    report["load"]["after"] = _load()
    write_results(args.results_dir, f"{report['date']}-relation-catalog.json", report)
    return 0


def _print(database, measured):
    for layout, figures in measured.items():
        print(f"{database} ({layout}): {figures['relations']:,} relations in {figures['schemas']:,} schema(s)")
        for name in VARIANTS:
            f = figures[name]
            print(f"  {name:6}  held {f['held_mb']:6.2f} MB ({f['held_bytes_per_relation']:5.1f} B a relation), "
                  f"peak while loading {f['peak_mb']:6.2f} MB, load {f['load_seconds']:.3f} s, lookup "
                  f"{f['lookup_us_qualified']:.2f} µs qualified, {f['lookup_us_unqualified']:.2f} µs unqualified; "
                  f"RSS grown {f.get('rss_peak_mb', '?')} MB at the peak, {f.get('rss_held_mb', '?')} MB after",
                  flush=True)
        print(f"  packed over dict: {figures['packed_over_dict']}")


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", required=True, help="the server (libpq conninfo or URI); its databases are read only")
    parser.add_argument("--databases", nargs="+", required=True, help="the databases whose catalogs are loaded")
    parser.add_argument("--lookups", type=int, default=20000, help="names looked up (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="loads and lookups timed, the best kept (default: %(default)s)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                        help="where to write the JSON (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.lookups < 1 or args.rounds < 1:
        parser.error("--lookups and --rounds must be at least 1")
    try:
        conninfo_to_dict(args.dsn)
    except psycopg.ProgrammingError:  # not echoed: it may hold a password
        parser.error("--dsn is not a libpq connection string or URI (postgresql://user@host/postgres)")
    return args


if __name__ == "__main__":
    sys.exit(main())
