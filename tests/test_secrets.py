"""Secrets never leave, wherever a user wrote them: hundreds planted in a real server (views,
functions, procedures, triggers, policies, defaults, generated columns, comments on every kind of
object, foreign-data options, the query log), an extraction with masking off, and then no planted
value anywhere in the output folder, the HTML report or the log, and nothing for detect-secrets to
find there, while ordinary text keeps its meaning. The corpus is benchmarks/secret_corpus.py."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from collect import read_extract, run_extract

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from kada_collectors.extractors.postgres.extractor import _rendered
from kada_collectors.extractors.report import build_report, open_run, render_html
from kada_collectors.lib import redact
from kada_collectors.lib.logs import RedactingFilter
from kada_collectors.lib.redact import REDACTED, redact_credentials, redact_document
from secret_corpus import (ORDINARY, SYNTAXES, build, captured_log, decoded_fields,
                           detect_secrets_findings, drop, leaked, plant, texts_of)

DATABASE = "planted"
PLANTED, PLANTED_IN_QUERY_LOG = 260, 30


class Run:
    def __init__(self, output: Path, planted: list, log_text: str, report: Path):
        self.output, self.planted, self.log_text, self.report = output, planted, log_text, report
        self.texts = texts_of(output)

    def rows(self, extract: str) -> list[dict]:
        (name,) = [n for n in self.texts if f"_{extract}_" in n]
        return read_extract(self.output / name)


@pytest.fixture(scope="module")
def planted_run(pg18, tmp_path_factory) -> Run:
    """The corpus planted in pg18, extracted with mask off and the query log on, its log captured,
    and the HTML report of the run."""
    work = tmp_path_factory.mktemp("secrets")
    planted = plant(pg18.dsn(), DATABASE, PLANTED, PLANTED_IN_QUERY_LOG)
    try:
        with captured_log() as log:
            run_extract(pg18, [DATABASE], work / "output", mask=False, meta_only=False)
    finally:
        drop(pg18.dsn(), DATABASE)
    report = work / "report.html"
    report.write_text(render_html(build_report(open_run(work / "output"))), encoding="utf-8")
    return Run(work / "output", planted, log.getvalue(), report)


def test_the_corpus_is_wide(planted_run):
    extracted = [p for p in planted_run.planted if p.place.field]
    assert len(planted_run.planted) >= 200 and len(extracted) >= 200
    assert {p.place.field for p in extracted} == {"DEFINITION", "DEFAULT_VALUE", "DESCRIPTION", "PROPERTIES",
                                                 "QUERY_TEXT"}
    assert len({p.syntax for p in planted_run.planted}) == len(SYNTAXES)
    assert len({p.value for p in planted_run.planted}) == len(planted_run.planted)


def test_no_planted_secret_leaves(planted_run):
    assert {"metadata", "linkages", "events", "databaselog", "manifest"} <= {
        name.split("_")[1] for name in planted_run.texts if name.startswith("postgres_")}
    assert leaked(planted_run.texts, planted_run.planted) == []
    assert leaked({"report": planted_run.report.read_text(encoding="utf-8")}, planted_run.planted) == []
    assert planted_run.log_text and leaked({"log": planted_run.log_text}, planted_run.planted) == []


@pytest.mark.slow  # about 15 s on 2 cores: detect-secrets over every file
def test_detect_secrets_finds_nothing_in_what_leaves(planted_run, tmp_path):
    statements, _ = build(PLANTED)
    corpus = tmp_path / "planted.sql"
    corpus.write_text("\n".join(statements), encoding="utf-8")
    assert len(detect_secrets_findings([corpus])) > 50, "the scanner sees the planted secrets in the SQL"
    fields = decoded_fields(planted_run.output, tmp_path / "fields.txt")
    scanned = [*(planted_run.output / name for name in planted_run.texts), fields, planted_run.report]
    assert detect_secrets_findings(scanned) == []


def _holding(rows: list[dict], place, index: int) -> list[dict]:
    tail = re.compile(re.escape(place.row(index)) + r"(?:\(|\.|$)")
    return [r for r in rows if (place.kind is None or r["OBJECT_TYPE"] == place.kind) and tail.search(r["OBJECT_ID"])]


def test_each_secret_is_marked_where_it_was(planted_run):
    metadata, log = planted_run.rows("metadata"), planted_run.rows("databaselog")
    for secret in planted_run.planted:
        field = secret.place.field
        if field is None:
            continue
        rows = log if field == "QUERY_TEXT" else _holding(metadata, secret.place, secret.index)
        assert any(REDACTED in r[field] for r in rows), (secret.place.name, secret.syntax)


def test_ordinary_text_keeps_its_meaning(planted_run, tmp_path):
    fields = decoded_fields(planted_run.output, tmp_path / "fields.txt").read_text(encoding="utf-8")
    for _, expected in ORDINARY:
        assert expected in fields
    assert "password_hash" in {r["COLUMN_NAME"] for r in planted_run.rows("metadata")}


def test_json_columns_stay_json(planted_run):
    for extract, column in (("metadata", "PROPERTIES"), ("linkages", "DETAIL"), ("events", "DETAIL")):
        for row in planted_run.rows(extract):
            if row[column]:
                json.loads(row[column])
    json.loads(next(t for name, t in planted_run.texts.items() if "_manifest_" in name))


def _corpus_texts() -> list[str]:
    texts = [SYNTAXES[i](n)[1] for n in range(3) for i in range(len(SYNTAXES))]
    return texts + [expected for _, expected in ORDINARY] + [redact.KEY_ANCHORS[0], redact.SHAPE_ANCHORS[0], "no credentials here"]


# How user text sits in each kind of column (lib/redact.py's SQL_TRIGGERS): as written in a
# comment, inside a literal of a deparsed definition or a function's $-quoted body, inside a
# string of the collector's JSON (a literal, an option).
PLACED = {
    "prose": ("x", 25),
    "code": ("quote_literal(x) || '::text' || ' ' || '$function$' || x || '$function$'", 25),
    "json": ("jsonb_build_object('default', quote_literal(x) || '::text', 'options', jsonb_build_array('note=' || x))",
             3802),
}


@pytest.mark.parametrize("kind", sorted(PLACED))
def test_the_server_redacts_as_the_collector_does(pg18, kind):
    """The server redacts what it renders (after a small test, then the anchors): for every text of
    the corpus, as it sits in each kind of column, it gives what the collector's own function gives."""
    texts = _corpus_texts()
    expression, type_oid = PLACED[kind]
    query = sql.SQL("SELECT q.v::text, {} FROM (SELECT {} AS v FROM unnest({}::text[]) AS t(x)) q").format(
        _rendered(sql.Identifier("v"), type_oid, kind if kind != "json" else "prose"), sql.SQL(expression),
        sql.Literal(texts))
    with psycopg.connect(pg18.dsn()) as conn:
        rows = conn.execute(query).fetchall()
    assert len(rows) == len(texts)
    for value, rendered in rows:
        assert rendered == redact_credentials(value)


def test_the_anchors_hold_every_secret():
    """Text without an anchor skips the detectors: no secret of the corpus may lack one."""
    for text in _corpus_texts():
        detected = redact._CASED.sub(REDACTED, redact._CASELESS.sub(redact.REPLACEMENT, text))
        assert redact_credentials(text) == detected, text


@pytest.mark.parametrize("text, expected", [
    ("host=db password=s3cr3t dbname=x", "host=db password=[REDACTED] dbname=x"),
    ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG and DB_PASSWORD=hunter2",
     "export AWS_SECRET_ACCESS_KEY=[REDACTED] and DB_PASSWORD=[REDACTED]"),
    ("v_password := 'x1'; db_password text := 'x2';", "v_password := [REDACTED]; db_password text := [REDACTED];"),
    ("EXECUTE 'ALTER ROLE r PASSWORD ''x3''';", "EXECUTE 'ALTER ROLE r PASSWORD [REDACTED]';"),
    ('{"password": "x4", "api_key":"x5"}', '{"password": [REDACTED], "api_key":[REDACTED]}'),
    ("postgresql://alice:x6@db/app", "postgresql://alice:[REDACTED]@db/app"),
    ("key AKIAIOSFODNN7EXAMPL3 in use", "key [REDACTED] in use"),
    ("u.password_hash = md5(p_hash)", "u.password_hash = md5(p_hash)"),
    ("SELECT u.password::text, token_type = 'refresh'", "SELECT u.password::text, token_type = 'refresh'"),
    ("Each token is checked; PRIMARY KEY (id)", "Each token is checked; PRIMARY KEY (id)"),
])
def test_what_is_caught_and_what_is_kept(text, expected):
    assert redact_credentials(text) == expected


def test_logs_and_documents_are_redacted():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "cannot connect: %s", ("password=x7 host=h",), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "cannot connect: password=[REDACTED] host=h"
    document = {"error": "DB_PASSWORD=x8", "rows": 3, "warnings": ["token: x9"], "ok": None}
    assert redact_document(document) == {"error": "DB_PASSWORD=[REDACTED]", "rows": 3,
                                         "warnings": ["token: [REDACTED]"], "ok": None}


def test_a_smaller_corpus_on_every_major(pg_server, tmp_path):
    planted = plant(pg_server.dsn(), DATABASE, 80)
    try:
        extract = run_extract(pg_server, [DATABASE], tmp_path / "output", mask=False)
    finally:
        drop(pg_server.dsn(), DATABASE)
    texts = texts_of(extract.output)
    assert leaked(texts, planted) == []
    assert sum(t.count(REDACTED) for t in texts.values()) >= len([p for p in planted if p.place.field])


@pytest.mark.parametrize("mask", [False, True])
def test_query_log_text_is_redacted_masked_or_not(mask):
    """Statements read from server logs take the same path as pg_stat_statements': their text, and
    the DDL events' DETAIL.statement made from it."""
    from kada_collectors.extractors.postgres.querylog.collector import QueryLogCollector

    collector = QueryLogCollector({}, {"host": "h", "databases": ["d"], "mask": mask}, None, None,
                                  ("2026-01-01 00:00:00", "2026-01-02 00:00:00"))
    text, kind = collector._text("ALTER ROLE app PASSWORD 'x10' /* token: x11 */", "d", "u", "1", "log_file")
    assert kind == "ALTER ROLE" and "x10" not in text and "x11" not in text
    text, _ = collector._text("SELECT 1 /* DB_PASSWORD=x12 */", "d", "u", "2", "log_file")
    assert "x12" not in text and (mask or "DB_PASSWORD=[REDACTED]" in text)
