"""The query log of a window: pg_stat_statements deltas and server log statements, masked,
with the table lineage their writes prove and the DDL they record.

It runs once per run, after the databases' catalogs (the sources are cluster-wide), and writes
three parts: ``databaselog`` rows; ``linkages`` (LINEAGE, evidence QUERY_LOG) from statements that
move data between tables (INSERT ... SELECT, CREATE TABLE AS, UPDATE ... FROM, MERGE); and
``events`` (evidence DDL_LOG) from the CREATE, ALTER and DROP statements the server logged, with
their user and exact time. A source whose prerequisites are missing (no extension, not preloaded,
no privilege) is a warning; a configured source that fails to be read fails the query log, and so
the run, so that the HWM does not move past a window whose log was not read.
"""

import logging
from datetime import timezone

import psycopg

from pglast.parser import ParseError, fingerprint

from kada_collectors.lib.errors import CollectorError
from kada_collectors.lib.hwm import parse_hwm
from kada_collectors.lib.redact import redact_credentials

from ..lineage.names import RelationCatalog, parse_search_path
from ..lineage import tree
from ..lineage.routines import RoutineLineage, add_statement
from ..session import APPLICATION_NAME, DatabaseUnavailable, connect
from ..statements import is_collector_statement
from . import pgss
from .ddl import ddl_events
from .cloudwatch import read_cloudwatch
from .entries import LogReadError
from .logs import read_log_files
from .masking import mask_query

log = logging.getLogger(__name__)
STATEMENT_KINDS = {"SelectStmt": "SELECT", "InsertStmt": "INSERT", "UpdateStmt": "UPDATE", "DeleteStmt": "DELETE",
                   "MergeStmt": "MERGE", "CreateTableAsStmt": "CREATE TABLE AS", "CopyStmt": "COPY"}


class QueryLogFailed(CollectorError):
    """A configured query log source could not be read."""


class QueryLogCollector:
    def __init__(self, sources, settings, password, store, window):
        self.sources, self.settings, self.password, self.store = sources, settings, password, store
        self.start_hwm, self.end_hwm = window
        self.host, self.databases, self.mask = settings["host"], settings["databases"], settings["mask"]
        self.report, self.warnings = [], []
        self._writes = {}  # database -> {statement text: (user, query id, source)}: lineage to resolve
        self._snapshot = None

    # -- the phase -----------------------------------------------------------------------------
    def collect(self, parts):
        """Write the window's query log into ``parts``; raise QueryLogFailed when a source failed."""
        if self.sources.get("pg_stat_statements"):
            self._source("pg_stat_statements", lambda: self._statistics(parts))
        if self.sources.get("log_files"):
            section = self.sources["log_files"]
            self._source("log_files", lambda: self._log_statements(parts, read_log_files(
                section["path"], section["format"], section.get("line_prefix"), *self._window(),
                log_timezone=section.get("log_timezone"))))
        if self.sources.get("cloudwatch"):
            section = self.sources["cloudwatch"]
            self._source("cloudwatch", lambda: self._log_statements(parts, read_cloudwatch(
                section["log_group"], section["region"], section.get("endpoint_url"), section.get("line_prefix"),
                *self._window(), log_timezone=section.get("log_timezone"))))
        self._lineage(parts["linkages"])
        failed = [r for r in self.report if r["status"] == "failed"]
        if failed:
            raise QueryLogFailed("; ".join(f"{r['source']}: {r['error']}" for r in failed))

    def complete(self):
        """Keep this run's pg_stat_statements snapshot: the next window starts from it."""
        if self._snapshot is not None:
            self.store.complete(self._snapshot, pgss.KIND, self.host, pgss.CLUSTER, self.end_hwm)

    def discard(self):
        if self._snapshot is not None:
            self.store.discard(self._snapshot)

    def _source(self, name, read):
        try:
            rows = read()
        except pgss.Unavailable as e:
            self.report.append({"source": name, "status": "skipped", "rows": 0, "error": str(e)})
            self.warnings.append(f"query log: {e}")
        except (LogReadError, DatabaseUnavailable) as e:
            self.report.append({"source": name, "status": "failed", "rows": 0, "error": str(e)})
        except psycopg.Error as e:
            self.report.append({"source": name, "status": "failed", "rows": 0,
                                "error": redact_credentials(e.diag.message_primary or str(e))})
        else:
            self.report.append({"source": name, "status": "succeeded", "rows": rows, "error": None})

    def _window(self):
        return parse_hwm(self.start_hwm), parse_hwm(self.end_hwm)

    # -- pg_stat_statements --------------------------------------------------------------------
    def _statistics(self, parts):
        for dbname in self.databases:
            try:
                conn = connect(self.settings, self.password, dbname)
            except DatabaseUnavailable:
                continue  # that database's own failure is reported with the catalogs
            with conn:
                schema = pgss.locate(conn)
                if schema is None:
                    continue
                entries, stats_reset, notes = pgss.read(conn, schema, self.databases)
            self.warnings += notes
            return self._statistics_rows(parts["databaselog"], entries, stats_reset)
        raise pgss.Unavailable(
            "pg_stat_statements: the extension is not created in any configured database: run CREATE EXTENSION "
            "pg_stat_statements in one of them (on RDS as a member of rds_superuser)")

    def _statistics_rows(self, part, entries, stats_reset):
        found = self.store.find(pgss.KIND, self.host, pgss.CLUSTER, self.start_hwm)
        baseline, baseline_reset = None, None
        if found is not None:
            baseline = {object_id: payload for _, object_id, payload in self.store.objects(found)}
            if pgss.INFO in baseline:
                baseline_reset = pgss.baseline_reset(baseline[pgss.INFO])
        deltas, evicted = pgss.deltas(entries, baseline, stats_reset, baseline_reset)
        if baseline is None:
            self.warnings.append(f"pg_stat_statements: no snapshot at {self.start_hwm} (a first run): the counters "
                                 "are reported whole, since each statement was first seen or statistics were reset")
        if evicted:
            self.warnings.append(f"pg_stat_statements: {evicted} statement(s) were evicted since the last run; their "
                                 "calls in the window are lost: raise pg_stat_statements.max")
        self._snapshot = self.store.begin(pgss.KIND, self.host, pgss.CLUSTER, self.end_hwm)
        self._snapshot.add_text([(pgss.INFO, pgss.INFO, pgss.info_payload(stats_reset)),
                               *(("STATEMENT", entry.key, entry.payload()) for entry in entries)])
        for delta in deltas:
            entry = delta.entry
            text, kind = self._text(entry.text, entry.database, entry.user, str(entry.queryid), "pg_stat_statements")
            part.write((str(entry.queryid), "pg_stat_statements", self.host, entry.database, entry.user, "",
                        self.start_hwm, self.end_hwm, round(delta.total_ms, 3), delta.calls, delta.rows, kind,
                        text, self.mask, ""))
        return len(deltas)

    # -- server logs ---------------------------------------------------------------------------
    def _log_statements(self, parts, statements):
        rows = 0
        for statement in statements:
            if statement.database not in self.databases or self._own(statement):
                continue
            query_id = _fingerprint(statement.text)
            text, kind = self._text(statement.text, statement.database, statement.user, query_id, statement.source)
            moment = statement.time.astimezone(timezone.utc)
            parts["databaselog"].write((query_id, statement.source, self.host, statement.database, statement.user,
                                        statement.application, moment, None, statement.duration_ms, 1, None,
                                        kind, text, self.mask, statement.error_code))
            rows += 1
            if statement.error_code is None:
                for event in ddl_events(statement.text, statement.database, statement.user, self.host):
                    parts["events"].write((moment, *event, {"statement": text}))
        return rows

    @staticmethod
    def _own(statement):
        return (statement.application or "").startswith(APPLICATION_NAME.split("/")[0]) or \
            is_collector_statement(statement.text)

    # -- shared --------------------------------------------------------------------------------
    def _text(self, raw, database, user, query_id, source):
        """The text as it will be written, and its statement type; writes are kept for lineage."""
        kind = statement_type(raw)
        if kind in ("INSERT", "UPDATE", "MERGE", "CREATE TABLE AS", "SELECT INTO", "COPY"):
            self._writes.setdefault(database, {}).setdefault(raw, (user, query_id, source))
        # Masking drops literals and comments; secrets in what is left (or in the whole text with
        # mask off: a password in ALTER ROLE, a conninfo in a DO block) are redacted either way.
        return redact_credentials(mask_query(raw) if self.mask else raw), kind

    def _lineage(self, part):
        """LINEAGE edges of the window's statements that move data, resolved database by database."""
        for database, statements in self._writes.items():
            try:
                conn = connect(self.settings, self.password, database)
            except DatabaseUnavailable as e:
                self.warnings.append(f"query log lineage of {database!r} not resolved: {e}")
                continue
            with conn:
                catalog = RelationCatalog.load(conn, self.host)
            edges = {}
            for text, (user, query_id, source) in statements.items():
                result = RoutineLineage()
                try:
                    for statement in tree.parse(text):
                        add_statement(statement, parse_search_path(catalog.default_search_path, user), catalog, result)
                except ParseError:
                    continue
                for (read, written), kinds in result.flows.items():
                    edges.setdefault((read, written), {"statements": set(), "query_ids": set(), "sources": set()})
                    edges[(read, written)]["statements"].update(kinds)
                    edges[(read, written)]["query_ids"].add(query_id)
                    edges[(read, written)]["sources"].add(source)
            for (read, written), detail in sorted(edges.items(), key=lambda e: (e[0][0].object_id, e[0][1].object_id)):
                part.write(("LINEAGE", read.object_type, read.object_id, written.object_type, written.object_id,
                            self.host, database, "QUERY_LOG", {k: sorted(v) for k, v in detail.items()}))


def statement_type(text):
    """SELECT, INSERT, ... as PostgreSQL's grammar sees the (first) statement; else its first word."""
    try:
        statements = tree.parse(text)
    except ParseError:
        words = text.split(None, 1)
        return words[0].upper() if words else ""
    if not statements:
        return ""
    kind, fields = tree.node(statements[0])
    if kind == "SelectStmt" and "intoClause" in fields:
        return "SELECT INTO"
    return STATEMENT_KINDS.get(kind) or _utility_name(kind)


UTILITY_NAMES = {"VariableSetStmt": "SET", "VariableShowStmt": "SHOW", "TransactionStmt": "TRANSACTION",
                 "ExplainStmt": "EXPLAIN", "DoStmt": "DO", "ExecuteStmt": "EXECUTE", "PrepareStmt": "PREPARE"}


def _utility_name(kind):
    """CreateStmt -> CREATE, AlterTableStmt -> ALTER TABLE: readable without a table of names."""
    if kind in UTILITY_NAMES:
        return UTILITY_NAMES[kind]
    name = kind.removesuffix("Stmt")
    words, current = [], ""
    for ch in name:
        if ch.isupper() and current:
            words.append(current)
            current = ""
        current += ch
    words.append(current)
    return " ".join(words).upper()


def _fingerprint(text):
    try:
        return fingerprint(text)
    except ParseError:
        return ""
