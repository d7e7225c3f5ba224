#!/usr/bin/env python
"""How right, how complete, and how costly is the collector's lineage? Writes docs/lineage.md.

    python benchmarks/lineage_accuracy.py [--scale 0.1] [--dsn "..."] [--output docs/lineage.md]

1. Coverage: loads the suite's catalogs (tests/lineage/cases.sql; the sample database with the
   awkward names, as tests/conftest.py's ``shop``) into fresh databases, extracts each, and lists
   every definition not parsed with its reason, the rows repeated in any extract file, and what
   the validator says of the files.
2. Accuracy: loads tests/lineage/cases.sql (views and routines whose lineage is written down by
   hand in tests/lineage/truth.json) into a fresh database, extracts it, and scores the column-level
   edges against the truth (precision and recall), next to the best pg_depend alone can give:
   pg_depend knows which columns a view reads, not which output column each feeds, so its column
   lineage is "every column read feeds every output column".
3. Cost: on the benchmark's synthetic catalog (synthetic_catalog.py) at --scale, full runs in this
   process, alternating: as shipped; without the lineage parsed from definitions; without any
   linkages. The differences are what lineage adds.
"""

import argparse
import collections
import csv
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

from kada_collectors.extractors.postgres import Extractor, extractor as extractor_module  # noqa: E402
from kada_collectors.extractors.postgres.statements import NAMED_STATEMENTS  # noqa: E402
from kada_collectors.lib.contract import EXTRACT_COLUMNS  # noqa: E402
from kada_collectors.lib.validate import validate_folder  # noqa: E402
from local_server import DEFAULT_DATA_DIR, LocalServer, extractor_connection  # noqa: E402
from synthetic_catalog import CatalogShape, ensure_catalog  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from system_views import parse_system_views  # noqa: E402

CASES = ROOT / "tests" / "lineage" / "cases.sql"
TRUTH = json.loads((ROOT / "tests" / "lineage" / "truth.json").read_text(encoding="utf-8"))
HOST = "lineage.postgres.localhost"
CASES_DATABASE = "kada_lineage_cases"
SAMPLE = ROOT / "packages" / "kada-collectors-extractors" / "src" / "kada_collectors" / "extractors" / "demo"
# The suite's catalogs: a database each, what it is, and the files loaded into it.
SUITE_CATALOGS = {
    CASES_DATABASE: ("the lineage cases", [CASES]),
    "kada_lineage_sample": ("the sample database with awkward names (the suite's `shop`)",
                            [SAMPLE / "sample_schema.sql", ROOT / "tests" / "sql" / "awkward_names.sql"]),
}
NOT_PARSED = "definition not parsed"
NOTHING_KNOWN = "no reads or writes known"  # a routine naming only relations that do not exist
ROUNDS = 3  # of each variant of the cost, by default


def main(argv=None):
    args = _parse_args(argv)
    server = None
    if args.dsn:
        admin_dsn = args.dsn
    else:
        server = LocalServer(args.data_dir)
        admin_dsn = server.admin_dsn
    try:
        suite = {database: extract_catalog(admin_dsn, database, files) for database, (_, files) in SUITE_CATALOGS.items()}
        accuracy = measure_accuracy(suite[CASES_DATABASE])
        system_views = parse_system_views(admin_dsn)
        cost = measure_cost(admin_dsn, args.scale, args.rounds)
        with psycopg.connect(admin_dsn) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
    finally:
        if server:
            server.stop()
    document = render(suite, system_views, accuracy, cost, args, version)
    Path(args.output).write_text(document, encoding="utf-8")
    print(document)


# -- coverage: the suite's catalogs -----------------------------------------------------------

def extract_catalog(admin_dsn, database, files):
    """Load ``files`` into a fresh ``database``, extract it, and measure what came out: the
    definitions not parsed (with their reasons), each extract's rows and repeated rows, and the
    validator's problems. Keeps the linkage rows for the accuracy."""
    dsn = make_conninfo(admin_dsn, dbname=database)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for path in files:
            conn.execute(path.read_text(encoding="utf-8"))
        major = conn.info.server_version // 10000
    with tempfile.TemporaryDirectory() as output:
        manifest = _run(dsn, output)
        extracts = {entry["extract"]: _read(output, entry["name"]) for entry in manifest["files"]}
        problems = validate_folder(output).problems
    metadata = extracts["metadata"]
    definitions = collections.Counter(
        r["OBJECT_TYPE"] for r in metadata
        if r["DEFINITION"] and (r["OBJECT_TYPE"] in ("VIEW", "MATERIALIZED_VIEW")
                                or r["LANGUAGE"] in ("sql", "plpgsql")))
    repeated = {extract: _repeated(rows) for extract, rows in extracts.items()}
    return {"database": database, "files": [str(p.relative_to(ROOT)) for p in files], "major": major, "dsn": dsn,
            "definitions": dict(definitions), "not_parsed": [w for w in manifest["warnings"] if NOT_PARSED in w],
            "nothing_known": [w for w in manifest["warnings"] if NOTHING_KNOWN in w],
            "rows": {extract: len(rows) for extract, rows in extracts.items()}, "repeated": repeated,
            "problems": problems, "linkages": extracts["linkages"]}


def _repeated(rows):
    """How many of ``rows`` repeat an earlier one, field for field."""
    return sum(n - 1 for n in collections.Counter(tuple(r.values()) for r in rows).values())


def _read(output, name):
    with open(os.path.join(output, name), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="|"))


# -- accuracy ------------------------------------------------------------------------------------

def measure_accuracy(cases):
    """Score the parsed edges of the cases' extract against the truth, and pg_depend alone."""
    with psycopg.connect(cases["dsn"], autocommit=True) as conn:
        fdw = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgres_fdw'").fetchone() is not None
        names = {p for case in TRUTH["view_columns"] for part in [case["target"], *case["sources"]] for p in part}
        quoted = dict(conn.execute("SELECT n, quote_ident(n) FROM unnest(%s::text[]) n", [sorted(names)]).fetchall())
    prefix = f'"{HOST}".{CASES_DATABASE}'

    def object_id(*parts):
        return ".".join([prefix, *(quoted[p] for p in parts)])

    cases_made = [c for c in TRUTH["view_columns"]
                  if (fdw or not c.get("fdw")) and cases["major"] >= c.get("min_version", 0)]
    truth = {(object_id(*s), object_id(*c["target"])) for c in cases_made for s in c["sources"]}
    rows = cases["linkages"]
    # Column edges, and whole-row edges from a relation (row_to_json(t.*)).
    parsed = {(r["SOURCE_ID"], r["TARGET_ID"]) for r in rows
              if r["EVIDENCE"] == "PARSED_DEFINITION" and r["TARGET_TYPE"] == "COLUMN"}
    # pg_depend alone: every column a view reads, to every output column of that view.
    outputs = {}
    for case in cases_made:
        outputs.setdefault(object_id(*case["target"][:2]), set()).add(object_id(*case["target"]))
    reads = [(r["SOURCE_ID"], r["TARGET_ID"]) for r in rows
             if r["EVIDENCE"] == "CATALOG" and r["LINK_TYPE"] == "LINEAGE" and r["SOURCE_TYPE"] == "COLUMN"]
    depend = {(source, output) for source, view in reads for output in outputs.get(view, ())}
    return {"views": len(outputs), "output_columns": len(cases_made), "true_edges": len(truth),
            "parsed": _score(parsed, truth), "pg_depend": _score(depend, truth)}


def _score(found, truth):
    hits = len(found & truth)
    return {"edges": len(found), "correct": hits,
            "precision": hits / len(found) if found else 1.0, "recall": hits / len(truth) if truth else 1.0}


# -- cost ----------------------------------------------------------------------------------------

class _NoParsedLineage:
    """Stands in for DefinitionLineage: the run without lineage parsed from definitions."""

    def __init__(self, *args):
        self.on_view = self.on_routine = lambda row: None

    def release(self):
        pass

    def resolve_deferred(self, conn):
        pass

    def finish(self):
        return []


class _TimedLineage(extractor_module.DefinitionLineage):
    """DefinitionLineage timing its own work (loading the relation catalog, every parse): the
    cost read inside a run, where the difference of two runs drowns in a shared machine's noise."""

    seconds = 0.0

    def __init__(self, *args):
        self._timed(super().__init__, *args)

    def on_view(self, texts):
        self._timed(super().on_view, texts)

    def on_routine(self, texts):
        self._timed(super().on_routine, texts)

    def resolve_deferred(self, conn):
        self._timed(super().resolve_deferred, conn)

    @staticmethod
    def _timed(work, *args):
        started = time.perf_counter()
        try:
            work(*args)
        finally:
            _TimedLineage.seconds += time.perf_counter() - started


def measure_cost(admin_dsn, scale, rounds):
    shape = CatalogShape.for_scale(scale)
    ensure_catalog(admin_dsn, lambda db: make_conninfo(admin_dsn, dbname=db), shape, jobs=2)
    dsn = make_conninfo(admin_dsn, dbname=shape.database)
    variants = {"as shipped": {}, "without parsed lineage": {"parsed": False},
                "without any linkages": {"parsed": False, "linkages": False}}
    seconds = {name: [] for name in variants}
    rows, parsing = {}, []
    for _ in range(rounds):  # alternate, so drift on the machine falls on every variant alike
        for name, change in variants.items():
            with tempfile.TemporaryDirectory() as output:
                _TimedLineage.seconds = 0.0
                started = time.perf_counter()
                manifest = _run(dsn, output, **change)
                seconds[name].append(time.perf_counter() - started)
                if name == "as shipped":
                    parsing.append((seconds[name][-1], _TimedLineage.seconds))
                    not_parsed = sum(NOT_PARSED in w for w in manifest["warnings"])
                    nothing_known = sum(NOTHING_KNOWN in w for w in manifest["warnings"])
                    repeated = sum(_repeated(_read(output, f["name"])) for f in manifest["files"])
            rows[name] = next((f["rows"] for f in manifest["files"] if f["extract"] == "linkages"), 0)
    best = {name: min(values) for name, values in seconds.items()}
    return {"scale": scale, "database": shape.database, "rounds": rounds, "best_seconds": best, "linkage_rows": rows,
            "not_parsed": not_parsed, "nothing_known": nothing_known, "repeated": repeated, "parsing": min(parsing),
            "seconds": seconds}


def _run(dsn, output, parsed=True, linkages=True):
    connection, password = extractor_connection(dsn)
    extractor = Extractor(host=HOST, **connection, password=password, databases=[conninfo_to_dict(dsn)["dbname"]],
                          output_path=output, snapshot_path=os.path.join(output, ".snapshots.sqlite"))
    if not linkages:
        empty = ", ".join(f"NULL AS \"{c}\"" for c in EXTRACT_COLUMNS["linkages"])
        for statement in NAMED_STATEMENTS:
            if statement.extract == "linkages":
                extractor.overwrite_sql(statement.name, f"SELECT {empty} WHERE false")
    original = extractor_module.DefinitionLineage
    extractor_module.DefinitionLineage = _TimedLineage if parsed else _NoParsedLineage
    try:
        manifest = extractor.run()
    finally:
        extractor_module.DefinitionLineage = original
    manifest["output"] = output
    return manifest


# -- report --------------------------------------------------------------------------------------

# Not measured: what the extract says of objects on other servers (docs/contract.md).
BETWEEN_SERVERS = """## Lineage between servers

Two kinds of edge leave the database, each to an object named as the other server's own extract
would name it, were that server onboarded under the host name this one uses to reach it
([contract](contract.md#objects-outside-the-database)): a postgres_fdw foreign table `MAPS_TO`
its remote table (`EXTERNAL_TABLE`, `host.database.schema.table`, from the server's `host` and
`dbname` options and the table's `schema_name` and `table_name`, defaulting to its own), and a
subscription `SUBSCRIBES_TO` its publisher's publications (`EXTERNAL_PUBLICATION`,
`host.database.publication`, from the connection string, which only superusers may read; for
anyone else the publication's name alone). Joined on these ids, the extracts of two servers
chain a view over a foreign table to the remote table's own lineage. The port is in
`DETAIL.port`; no password is read.
"""


def render(suite, system_views, accuracy, cost, args, version):
    command = "python benchmarks/lineage_accuracy.py " + " ".join(argv_shown(args))
    return f"""# Lineage: how complete, how right, and what it costs

Produced by `{command.strip()}` on {datetime.date.today().isoformat()}
({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL {version}).
Run it again to refresh this page.

{_render_coverage(suite, system_views)}
{_render_accuracy(accuracy)}
{_render_cost(cost)}
{BETWEEN_SERVERS}"""


def _render_coverage(suite, system_views):
    rows = "\n".join(
        f"| {SUITE_CATALOGS[c['database']][0]} ({', '.join(f'`{f}`' for f in c['files'])}) | {c['definitions'].get('VIEW', 0) + c['definitions'].get('MATERIALIZED_VIEW', 0)} "
        f"| {c['definitions'].get('FUNCTION', 0) + c['definitions'].get('PROCEDURE', 0)} | {len(c['not_parsed'])} "
        f"| {len(c['nothing_known'])} "
        f"| {sum(c['rows'].values())} | {sum(c['repeated'].values())} | {len(c['problems'])} |"
        for c in suite.values())
    not_parsed = "\n".join(f"- {w}" for c in suite.values() for w in c["not_parsed"] + c["nothing_known"]) or "- none"
    count, failures = system_views
    system_failures = "".join(f"\n- {f}" for f in failures)
    return f"""## Definitions parsed, and every extract a set

The suite's catalogs, each loaded into a database of its own and extracted (views and
materialized views; SQL and PL/pgSQL functions and procedures: the definitions the collector
parses). A definition not parsed keeps its catalog edges and adds a manifest warning saying
what was not understood, as does a routine whose every named relation is missing (it has no
edge to say so in `DETAIL.unresolved`); a repeated row is a record that appears more than once in its extract
file (every extract is a set, and `kada-collector validate` rejects a repeat).

| catalog | views | routines | not parsed | routines naming no existing relation | rows, all extracts | repeated rows | validator problems |
|---|---:|---:|---:|---:|---:|---:|---:|
{rows}

Each of them, with the manifest's warning (the cases' `lin.broken()` is written broken on purpose,
created with `check_function_bodies` off, and `lin.scratch_total()` reads only a temporary table it
creates, each for its warning's own test):

{not_parsed}

A real schema no one here wrote: PostgreSQL's own views (`information_schema` and `pg_catalog`:
outer joins, CASE, subqueries, set-returning functions, UNION, views over views, most of them
naming the columns of one system relation unqualified). Of its {count} views, the parser
resolves {count - len(failures)}; {len(failures)} not parsed{":" if failures else "."}{system_failures}
(`tests/system_views.py`; the suite checks this on every major.)
"""


def _render_accuracy(accuracy):
    p, d = accuracy["parsed"], accuracy["pg_depend"]
    return f"""## Accuracy of column-level lineage

The truth is written by hand: `tests/lineage/truth.json` lists, for the {accuracy['views']} views of
`tests/lineage/cases.sql` (renamed and computed columns, joins with aggregates, chains of views, a CTE,
a `WITH RECURSIVE` whose recursive term reads its own columns, subqueries, UNION, window functions,
quoted and non-ASCII names, a materialized view, overloaded functions, CASE, LATERAL, `XMLTABLE`,
`JSON_TABLE` (PostgreSQL 17+), `FULL JOIN ... USING` with the merged column selected, `USING ... AS`
(14+), a whole row as a value, columns named through a join's alias, a view with `DO INSTEAD`
rules and, where postgres_fdw exists, a foreign table), the sources of each of their {accuracy['output_columns']} output columns:
{accuracy['true_edges']} edges. The test suite holds the collector to this truth on PostgreSQL 13, 14,
15, 16, 17 and 18 (each case where the major has its construct).

| column lineage from | edges | correct | precision | recall |
|---|---:|---:|---:|---:|
| the collector (definitions parsed with PostgreSQL's grammar) | {p['edges']} | {p['correct']} | {p['precision']:.2f} | {p['recall']:.2f} |
| pg_depend alone (every column a view reads feeds every output column) | {d['edges']} | {d['correct']} | {d['precision']:.2f} | {d['recall']:.2f} |

pg_depend knows which columns a view reads (its select list, WHERE and JOIN alike), not which output
column each one feeds: mapping every read to every output column finds the true sources among many
false ones. The collector keeps pg_depend's reads as edges of their own (evidence CATALOG, target the
view as a whole), beside the parsed column edges (evidence PARSED_DEFINITION).

What the parsed lineage says of the constructs above:

- `WITH RECURSIVE`: a column's sources are those of the non-recursive term and of everything the
  recursive term computes it from, its own columns included, worked out until they settle (a
  counter such as `depth + 1` has none).
- `XMLTABLE` and `JSON_TABLE`: each column comes from the document (and `PASSING`, `DEFAULT`
  expressions); an ordinality column from none. `NESTED` columns are columns of the table.
- `JOIN ... USING`: the merged column of a `FULL JOIN` comes from both sides (it coalesces them), of
  a `RIGHT JOIN` from the right side, of any other from the left.
- A whole row as a value (`row_to_json(c.*)`, `to_jsonb(c)`): one edge from the relation itself
  (`SOURCE_TYPE` `TABLE`, `VIEW`, ...) to the output column, `transform` `expression`, rather than an
  edge from each of its columns: the definition names the row, not its columns, and metadata lists
  the relation's columns (its `COLUMN` rows, `PARENT_ID` the relation) for a reader that wants them.
- A join's alias that names a column of one of two or more tables joined under it
  (`SELECT j.y FROM (a JOIN b ON ...) j`): which table holds `y` is in no definition, and the
  collector keeps relations, not their columns, while parsing (memory). Such a view waits until the
  database's statements have run; then the columns of the tables its aliases join, and only
  those, are looked up in the same snapshot, and the view is parsed again.
"""


def _render_cost(cost):
    best = cost["best_seconds"]
    shipped, unparsed, bare = best["as shipped"], best["without parsed lineage"], best["without any linkages"]
    run, parsing = cost["parsing"]
    spread = max(max(v) / min(v) - 1 for v in cost["seconds"].values())
    return f"""## What lineage costs

Full runs of the synthetic catalog at scale {cost['scale']} (`{cost['database']}`, see
`benchmarks/synthetic_catalog.py`), best of {cost['rounds']} alternating rounds, in one process:

| run | seconds | linkage rows |
|---|---:|---:|
| as shipped | {shipped:.2f} | {cost['linkage_rows']['as shipped']} |
| without lineage parsed from definitions | {unparsed:.2f} | {cost['linkage_rows']['without parsed lineage']} |
| without any linkages | {bare:.2f} | {cost['linkage_rows']['without any linkages']} |

Timed inside the fastest run as shipped, parsing definitions (the relation catalog's load included)
took {parsing:.2f} s of its {run:.2f} s ({100 * parsing / run:.0f}%). Between the variants, the best runs
differ by {100 * (shipped - unparsed) / unparsed:+.0f}% without the parsed lineage and
{100 * (shipped - bare) / bare:+.0f}% without any linkages, while the runs of one variant spread by up
to {100 * spread:.0f}% (slowest over fastest): read the time inside the run as the cost of parsing. In the
synthetic catalog, definitions not parsed: {cost['not_parsed']}; routines naming no existing relation:
{cost['nothing_known']}; rows repeated in an extract file: {cost['repeated']}.
"""


def argv_shown(args):
    shown = [f"--scale {args.scale:g}"] + ([f"--rounds {args.rounds}"] if args.rounds != ROUNDS else [])
    if args.dsn:
        shown.append('--dsn "..."')
    return shown


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="synthetic catalog scale for the cost (default 0.1)")
    parser.add_argument("--dsn", help="an existing server (a role with CREATEDB) instead of the embedded one")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="the embedded server's data folder, kept between runs")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"runs of each variant of the cost (default {ROUNDS})")
    parser.add_argument("--output", default=str(ROOT / "docs" / "lineage.md"))
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
