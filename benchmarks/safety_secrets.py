#!/usr/bin/env python
"""Secrets never leave: secrets planted wherever a user can write text, an extraction with
masking off, and what leaked into the files, the manifest, the HTML report and the log.

    python benchmarks/safety_secrets.py                      # its own PostgreSQL 18
    python benchmarks/safety_secrets.py --dsn "host=... user=postgres dbname=postgres"

The role of --dsn must be a superuser (it creates a database, a role and a foreign-data wrapper).
``measure(admin_dsn, workdir)`` returns the figures for docs/operations.md.
"""

import time
from pathlib import Path

from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.report import build_report, open_run, render_html
from kada_collectors.lib.redact import REDACTED, redact_credentials
from local_server import extractor_connection
from safety import part_main
from secret_corpus import (ORDINARY, build, captured_log, decoded_fields, detect_secrets_findings, drop, leaked, plant,
                           texts_of)

DATABASE = "kada_planted_corpus"
PLANTED = 260  # in objects of the database
PLANTED_IN_QUERY_LOG = 30  # in pg_stat_statements' texts


def measure(admin_dsn: str, workdir: Path) -> dict:
    """Plant, extract (mask off), look for every planted secret everywhere; return the figures."""
    workdir = Path(workdir)
    planted = plant(admin_dsn, DATABASE, PLANTED, PLANTED_IN_QUERY_LOG)
    try:
        output, log_text, seconds = _extract(admin_dsn, workdir / "output")
    finally:
        drop(admin_dsn, DATABASE)
    report = workdir / "report.html"
    report.write_text(render_html(build_report(open_run(output))), encoding="utf-8")
    texts = texts_of(output)
    extracted = [p for p in planted if p.place.field]
    corpus = workdir / "planted.txt"
    corpus.write_text("\n".join(text for text in build(PLANTED)[0]), encoding="utf-8")
    fields = decoded_fields(output, workdir / "fields.txt")
    fields_text = fields.read_text(encoding="utf-8")
    return {
        "planted_secrets": len(planted),
        "planted_where_extracted": len(extracted),
        "syntaxes": len({p.syntax for p in planted}),
        "places": len({p.place.name for p in planted}),
        "leaked_into_files": len(leaked(texts, planted)),
        "leaked_into_report": len(leaked({"report": report.read_text(encoding="utf-8")}, planted)),
        "leaked_into_log": len(leaked({"log": log_text}, planted)),
        "redaction_markers": sum(t.count(REDACTED) for t in texts.values()),
        "detect_secrets_in_planted_sql": len(detect_secrets_findings([corpus])),
        "detect_secrets_in_output": len(detect_secrets_findings([*(output / n for n in texts), fields, report])),
        "ordinary_texts_kept": sum(expected in fields_text for _, expected in ORDINARY),
        "ordinary_texts": len(ORDINARY),
        "extraction_seconds": round(seconds, 2),
        "python_redaction_mb_per_s": _python_throughput(),
    }


def _extract(admin_dsn, output):
    """Run the collector as a customer would (mask off, query log on), capturing its log."""
    output.mkdir(parents=True, exist_ok=True)
    connection, password = extractor_connection(admin_dsn)
    config = {**connection, "host": "safety.postgres.localhost", "databases": [DATABASE], "output_path": str(output),
              "snapshot_path": str(output.parent / "snapshots.sqlite"), "mask": False, "meta_only": False,
              "compress": False, **({"password": password} if password else {})}
    started = time.monotonic()
    with captured_log() as log:
        Extractor(**config).run()
    return output, log.getvalue(), time.monotonic() - started


def _python_throughput() -> float:
    """MB per second of ordinary SQL text through the collector's own redaction function."""
    text = "\n".join(sql for sql, _ in ORDINARY) * 40
    started, rounds = time.perf_counter(), 20
    for _ in range(rounds):
        redact_credentials(text)
    return round(len(text) * rounds / (time.perf_counter() - started) / 1e6, 1)


def main(argv=None) -> None:
    part_main(measure, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    main()
