#!/usr/bin/env python
"""What the collector survives, measured: the figures of docs/operations.md ("Safe to point at production").

    python benchmarks/safety.py [--dsn "..."] [--only secrets locks churn wrapper]

Each part is a module beside this one (``safety_<part>.py``) with ``measure(admin_dsn, workdir)``, which
plants or provokes what it is about against a real server and returns its figures: secrets planted and
leaked, simultaneous pairs of runs and collisions, runs under DDL churn and failures, faults tried and
temporary files left. Without ``--dsn`` the benchmark's own PostgreSQL 18 is started (local_server.py).
Prints a Markdown table and writes benchmarks/results/<date>-safety.json.
"""

import argparse
import contextlib
import datetime
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from local_server import DEFAULT_DATA_DIR, LocalServer  # noqa: E402

PARTS = ("secrets", "locks", "churn", "wrapper")
# What the figures of docs/operations.md are measured with, where a part's default differs.
SETTINGS = {"locks": {"pairs": 20}, "churn": {"runs": 50}}
RESULTS_DIR = Path(__file__).parent / "results"


def main(argv=None):
    args = _parse_args(argv)
    figures = {}
    with serving(args.dsn, args.data_dir) as admin_dsn:
        for part in args.only:
            module = importlib.import_module(f"safety_{part}")
            started = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix=f"kada-safety-{part}-") as workdir:
                figures[part] = module.measure(admin_dsn, Path(workdir), **SETTINGS.get(part, {}))
            figures[part]["seconds"] = round(time.perf_counter() - started, 1)
            print(f"{part}: done in {figures[part]['seconds']} s", file=sys.stderr, flush=True)
    result = {"date": datetime.date.today().isoformat(), "figures": figures}
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{result['date']}-safety.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(render(figures))
    print(f"\nresults written to {path}", file=sys.stderr)


def part_main(measure, description, argv=None, **options):
    """The command line of one part's script: ``--dsn``, and an integer option per keyword of
    ``options`` (its default), passed on to ``measure``; prints the figures as JSON."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dsn", help="a superuser DSN of the server to use (default: start the benchmark's own)")
    for name, default in options.items():
        parser.add_argument(f"--{name}", type=int, default=default, help="(default: %(default)s)")
    args = vars(parser.parse_args(argv))
    dsn = args.pop("dsn")
    with serving(dsn) as admin_dsn, tempfile.TemporaryDirectory(prefix="kada-safety-") as workdir:
        figures = measure(admin_dsn, Path(workdir), **args)
    print(json.dumps(figures, indent=2))


@contextlib.contextmanager
def serving(dsn=None, data_dir=DEFAULT_DATA_DIR):
    """The admin DSN of ``dsn``'s server, or of the benchmark's own, started for the block."""
    if dsn:
        yield dsn
        return
    server = LocalServer(data_dir)
    try:
        yield server.admin_dsn
    finally:
        server.stop()


def render(figures):
    """The figures as the Markdown table docs/operations.md shows."""
    lines = ["| part | figure | value |", "|---|---|---|"]
    for part, values in figures.items():
        for name, value in values.items():
            if name != "seconds":
                lines.append(f"| {part} | {name.replace('_', ' ')} | {value} |")
    return "\n".join(lines)


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="a superuser DSN of the server to use (default: start the benchmark's own)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, type=Path, help="the benchmark server's data folder")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS), help="the parts to measure")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
