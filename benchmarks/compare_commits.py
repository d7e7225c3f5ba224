#!/usr/bin/env python
"""Two versions of the collector on one catalog, run by turns in one session: a ratio, not a time.

    python benchmarks/compare_commits.py BASELINE [CANDIDATE] [--scale 1] [--rounds 3] [--dsn "..."]

On a shared machine the COPY limit itself moves by tens of percent from one hour to the next, so
a change's cost is best read against the code before it, measured alongside. Each commit (any git
revision; CANDIDATE defaults to the working tree) is checked out into a temporary worktree; every
round runs one full ``Extractor(**config).run()`` of each, in a child process importing that
commit's packages, on the benchmark's catalog (built by catalog_benchmark.py, reused here).
Prints each run, the best of each and the ratio candidate / baseline.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).parent))
from local_server import DEFAULT_DATA_DIR, LocalServer  # noqa: E402
from synthetic_catalog import CatalogShape, ensure_catalog  # noqa: E402

ROOT = Path(__file__).parents[1]
# Run in the child: the commit's own packages come first on its path.
ONE_RUN = """
import logging, sys, tempfile, time
sys.path.insert(0, {benchmarks!r})
from local_server import extractor_connection
from kada_collectors.extractors.postgres import Extractor
logging.disable(logging.WARNING)
settings, password = extractor_connection({dsn!r})
with tempfile.TemporaryDirectory() as out:
    extractor = Extractor(host="compare.postgres.localhost", **settings, password=password, databases=[{db!r}],
                          output_path=out, snapshot_path=out + "/snapshots.sqlite")
    started = time.perf_counter()
    extractor.run()
    print(time.perf_counter() - started)
"""


def main(argv=None):
    args = _parse_args(argv)
    server = None if args.dsn else LocalServer(args.data_dir)
    admin_dsn = args.dsn or server.admin_dsn
    with tempfile.TemporaryDirectory(prefix="kada-compare-") as scratch:
        try:
            sources = {"baseline": _checkout(args.baseline, Path(scratch) / "baseline"),
                       "candidate": _checkout(args.candidate, Path(scratch) / "candidate") if args.candidate else ROOT}
            shape = CatalogShape.for_scale(args.scale)
            ensure_catalog(admin_dsn, lambda db: make_conninfo(admin_dsn, dbname=db), shape, jobs=2)
            database = shape.database
            seconds = {name: [] for name in sources}
            for round_ in range(1, args.rounds + 1):
                for name, source in sources.items():
                    seconds[name].append(_run(source, admin_dsn, database))
                    print(f"round {round_}: {name} {seconds[name][-1]:.2f} s", flush=True)
        finally:
            if server:
                server.stop()
            for name in ("baseline", "candidate"):
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(Path(scratch) / name)],
                               capture_output=True)
    best = {name: min(values) for name, values in seconds.items()}
    print(f"best: baseline {args.baseline} {best['baseline']:.2f} s, candidate {args.candidate or 'working tree'} "
          f"{best['candidate']:.2f} s; candidate / baseline = {best['candidate'] / best['baseline']:.3f}")


def _checkout(revision, folder):
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), revision], check=True,
                   capture_output=True)
    return folder


def _run(source, dsn, database):
    packages = Path(source) / "packages"
    path = os.pathsep.join(str(packages / p / "src") for p in ("kada-collectors-lib", "kada-collectors-extractors"))
    code = ONE_RUN.format(benchmarks=str(Path(__file__).parent), dsn=dsn, db=database)
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": path}, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the run of {source} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", help="the git revision to compare against, e.g. a commit before a change")
    parser.add_argument("candidate", nargs="?", help="the git revision to measure (default: the working tree)")
    parser.add_argument("--scale", type=float, default=1.0, help="catalog scale, as catalog_benchmark.py's (default: 1)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each version, taken by turns (default: 3)")
    parser.add_argument("--dsn", help="use this server (the role needs CREATEDB) instead of the benchmark's own")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, type=Path, help="the own server's data directory")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
