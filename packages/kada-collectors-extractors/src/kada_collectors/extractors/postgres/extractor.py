"""The PostgreSQL collector: ``Extractor(**config)``, ``test_connection()``, ``run()``."""

import contextlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timezone

import psycopg
from psycopg import IsolationLevel, pq, sql

from kada_collectors.lib import __version__
from kada_collectors.lib.config import settings_for_manifest
from kada_collectors.lib.contract import CONTRACT_VERSION, EXTRACT_COLUMNS, STAMP_FORMAT, manifest_file_name
from kada_collectors.lib.errors import CollectorError, ExtractError, HWMError
from kada_collectors.lib.hwm import BEGINNING_OF_TIME, format_hwm, now_hwm, parse_hwm
from kada_collectors.lib.redact import (REDACTED, REPLACEMENT, SQL_CASED, SQL_CASELESS, SQL_KEY_ANCHORS,
                                       SQL_SHAPE_ANCHORS, SQL_TRIGGERS, redact_credentials, redact_document)
from kada_collectors.lib.snapshots import SnapshotStore
from kada_collectors.lib.writer import ExtractFile, csv_values, write_json_atomically

from .checks import unknown_kinds
from .events import CHECKSUMS, ChangeEvents
from .lineage import DefinitionLineage
from .querylog import pgss
from .querylog.collector import QueryLogCollector, QueryLogFailed
from .querylog.config import query_log_sources
from .discovery import select_databases
from .session import (RETRYABLE, DatabaseUnavailable, connect, explain_query_error, in_recovery,
                      is_recovery_conflict)
from .settings import SETTINGS, validate_config
from .statements import NAMED_STATEMENTS, StatementSet, tagged

SOURCE = "postgres"
BOOL_OID, TIMESTAMP_OID, TIMESTAMPTZ_OID, JSON_OID, JSONB_OID = 16, 1114, 1184, 114, 3802
# The name of the collector's savepoints: recognisable in query logs as its own.
SAVEPOINT = "kada_statement"
# Objects deparsed per savepoint by batched statements: bounds the locks held at any moment.
BATCH_OBJECTS = 200
# Free-text columns, where a user may have written a secret, and what their text is (see
# lib/redact.py's SQL_TRIGGERS); JSON-typed values are "json" whatever their column.
REDACTED_COLUMNS = {"DEFINITION": "code", "DEFAULT_VALUE": "code", "DESCRIPTION": "prose", "PROPERTIES": "prose",
                    "DETAIL": "prose"}
ATTEMPTS_PER_DATABASE = 2
# A hot standby cancels a snapshot that holds back its replay (a recovery conflict): the database
# is tried again with one short snapshot per statement, this many times in all.
RECOVERY_CONFLICT_ATTEMPTS = 3
# Extracts every run writes besides those of the named statements.
DERIVED_EXTRACTS = ("events",)
DEFAULT_SNAPSHOT_FILE = "kada_postgres_snapshots.sqlite"
# Complete snapshots kept before the oldest one a coming run needs.
SNAPSHOTS_KEPT_OLDER = 3

log = logging.getLogger(__name__)


class StatementFailed(CollectorError):
    """A statement failed in a database; ``retryable`` when a fresh snapshot may succeed."""

    def __init__(self, message, retryable, recovery_conflict=False):
        super().__init__(message)
        self.retryable = retryable
        self.recovery_conflict = recovery_conflict


class Extractor:
    """Reads the catalogs of every configured database and writes the extracts of a window.

    The config is validated in full on construction, before anything connects.
    """

    def __init__(self, **config):
        self._settings, self._password = validate_config(config)
        self._statements = StatementSet()
        self._described = {}  # statement columns, per run (see _columns)
        # Next to the HWM file by default (the working folder), as the wrapper keeps it.
        self._snapshot_path = os.path.abspath(self._settings.get("snapshot_path") or DEFAULT_SNAPSHOT_FILE)

    def __repr__(self):
        s = self._settings
        return f"Extractor(server={s['server']!r}, port={s['port']}, databases={s['databases']!r})"

    # -- the named SQL ---------------------------------------------------------------------------
    def list_sql(self):
        """The names of every statement behind the extracts, in run order."""
        return self._statements.names()

    def get_sql(self, name):
        """The SQL text of statement ``name`` (with its ``{n}`` placeholders)."""
        return self._statements.get(name)

    def overwrite_sql(self, name, statement):
        """Replace statement ``name``; it must return the same columns as the one it replaces."""
        self._statements.overwrite(name, statement)

    # -- checks ----------------------------------------------------------------------------------
    def test_connection(self):
        """Connect to every configured database; raise one error listing each that cannot be used."""
        problems = []
        try:
            names = select_databases(self._settings, self._password).names  # "*" resolved (discovery.py)
        except CollectorError as e:
            raise CollectorError(f"cannot use the server:\n  - {e}") from None
        for dbname in names:
            try:
                connect(self._settings, self._password, dbname).close()
            except DatabaseUnavailable as e:
                problems.append(str(e))
        if problems:
            raise CollectorError("cannot use the server:\n" + "\n".join(f"  - {p}" for p in problems))
        log.info("connection test passed for %d database(s)", len(names))
        return True

    # -- the run ---------------------------------------------------------------------------------
    def run(self, start_hwm=None, end_hwm=None):
        """Write every extract of the window ``[start_hwm, end_hwm]`` and the manifest.

        Databases are extracted ``max_connections`` at a time; one that fails does not stop the others, but
        ``run()`` raises at the end so the caller does not publish the HWM.
        """
        start_hwm, end_hwm = _window(start_hwm, end_hwm)
        stamp = parse_hwm(end_hwm).strftime(STAMP_FORMAT)
        self._described = {}
        output = self._prepare_output()
        started = time.monotonic()
        started_at = now_hwm()
        selection = select_databases(self._settings, self._password)  # "*" resolved now (discovery.py)
        query_log = query_log_sources(self._settings.get("query_log"), self._settings["meta_only"])
        extracts = {s.extract for s in NAMED_STATEMENTS} | set(DERIVED_EXTRACTS)
        if query_log is not None:
            extracts.add("databaselog")
        files = {extract: ExtractFile(output, SOURCE, extract, stamp, EXTRACT_COLUMNS[extract], self._settings["compress"])
                 for extract in sorted(extracts)}
        store = SnapshotStore(self._snapshot_path)
        databases, query_log_report, query_log_warnings, query_log_error = [], None, [], None
        try:
            databases = self._extract_databases(selection.names, files, store, (start_hwm, end_hwm))
            if query_log is not None:
                collector = QueryLogCollector(query_log, {**self._settings, "databases": selection.names}, self._password,
                                              store, (start_hwm, end_hwm))
                query_log_error = self._collect_query_log(collector, files)
                query_log_report, query_log_warnings = collector.report, collector.warnings
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="kada-commit") as pool:
                # fsync waits on the disk and hashing lets go of the GIL: two files at a time.
                written = list(pool.map(ExtractFile.commit, files.values()))
            # A repeated window needs the snapshots at its start: keep from start_hwm on.
            for dbname in selection.names:
                ChangeEvents.prune(store, self._settings["host"], dbname, start_hwm, SNAPSHOTS_KEPT_OLDER)
            store.prune(pgss.KIND, self._settings["host"], pgss.CLUSTER, start_hwm, SNAPSHOTS_KEPT_OLDER)
        except BaseException:
            for f in files.values():
                f.discard()
            raise
        finally:
            store.close()
        failed = [d for d in databases if d["status"] == "failed"]
        warnings = [w for d in databases for w in d["warnings"]] + query_log_warnings
        for warning in warnings:
            log.warning("%s", warning)
        # Errors and warnings quote what the server said, which may quote a definition.
        manifest = redact_document({
            "contract_version": CONTRACT_VERSION,
            "collector": {"name": "kada-collectors-extractors", "version": __version__, "source": SOURCE},
            "host": self._settings["host"],
            "window": {"start_hwm": start_hwm, "end_hwm": end_hwm},
            "status": "failed" if failed or query_log_error else "succeeded",
            "databases": databases,
            "database_selection": selection.manifest_entry(),
            "standby": any(d.get("standby") for d in databases),
            "files": [w.manifest_entry() for w in written],
            "warnings": warnings,
            **({"query_log": query_log_report} if query_log_report is not None else {}),
            "settings": settings_for_manifest(self._settings, SETTINGS),
            "timings": {"started_at": started_at, "finished_at": now_hwm(),
                        "seconds": round(time.monotonic() - started, 3)},
        })
        manifest_path = write_json_atomically(os.path.join(output, manifest_file_name(SOURCE, stamp)), manifest)
        log.info("wrote %s", manifest_path)
        if failed or query_log_error:
            reasons = [f"  - {d['name']}: {d['error']}" for d in failed]
            if query_log_error:
                reasons.append(f"  - the query log: {query_log_error}")
            raise ExtractError(
                f"{len(failed)} of {len(databases)} database(s) failed"
                + (" and the query log could not be read" if query_log_error else "")
                + f"; what succeeded was written (see {manifest_path}). Do not publish the HWM: the next run "
                "repeats this window.\n" + redact_credentials("\n".join(reasons)))
        return manifest

    @staticmethod
    def _collect_query_log(collector, files):
        """The query log into its own parts: all of it, or none of it. Returns the error, if any."""
        parts = {extract: files[extract].part("querylog") for extract in ("databaselog", "linkages", "events")}
        try:
            collector.collect(parts)
        except QueryLogFailed as e:
            collector.discard()
            log.error("the query log failed: %s", e)
            return str(e)
        else:
            for extract, part in parts.items():
                files[extract].append(part)
            collector.complete()
            return None
        finally:
            for part in parts.values():
                part.discard()

    def _prepare_output(self):
        output = self._settings["output_path"]
        try:
            os.makedirs(output, exist_ok=True)
        except OSError as e:
            raise ExtractError(f"cannot create output_path {output}: {e.strerror}") from None
        if not os.access(output, os.W_OK | os.X_OK):
            raise ExtractError(f"output_path {output} is not writable by this user; fix its permissions or choose another folder")
        return output

    def _extract_databases(self, names, files, store, window):
        """Extract the databases, ``max_connections`` at a time; append their parts in the configured
        order (so the files do not depend on which finished first). Roles are the server's, read in
        every database: those of the first one that succeeded are kept."""
        workers = max(1, min(self._settings["max_connections"], len(names)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kada-db") as pool:
            futures = [pool.submit(self._extract_database, index, dbname, files, store, window)
                       for index, dbname in enumerate(names)]
            try:
                results = [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                wait(futures)  # let those under way finish, then drop what they wrote
                for future in futures:
                    if not future.cancelled() and future.exception() is None:
                        for part in (future.result()[1] or {}).values():
                            part.discard()
                raise
        outcomes, roles_kept = [], False
        for outcome, parts in results:
            outcomes.append(outcome)
            for extract, part in (parts or {}).items():
                if extract == "roles" and roles_kept:
                    part.discard()
                    del outcome["rows"]["roles"]
                    continue
                roles_kept = roles_kept or extract == "roles"
                files[extract].append(part)
        return outcomes

    def _extract_database(self, index, dbname, files, store, window):
        """Extract one database into parts: (outcome, parts) on success, (outcome, None) when it failed
        (its parts dropped)."""
        started = time.monotonic()
        outcome = {"name": dbname, "status": "failed", "server_version": None, "standby": None, "seconds": None,
                   "rows": {}, "warnings": [], "error": None}
        short = False  # after a recovery conflict: one snapshot per statement
        for attempt in range(1, max(ATTEMPTS_PER_DATABASE, RECOVERY_CONFLICT_ATTEMPTS) + 1):
            # Parts are named by position: a database name may hold any character.
            parts = {extract: f.part(f"db{index}") for extract, f in files.items()}
            events = ChangeEvents(store, self._settings["host"], dbname, window, parts["events"])
            try:
                outcome["server_version"], outcome["warnings"], outcome["standby"] = self._extract_snapshot(
                    dbname, parts, events, window, short)
            except StatementFailed as e:
                limit = RECOVERY_CONFLICT_ATTEMPTS if e.recovery_conflict else ATTEMPTS_PER_DATABASE
                if e.retryable and attempt < limit:
                    short = short or e.recovery_conflict
                    log.warning("database %s: %s; retrying with a fresh snapshot%s", dbname, e,
                                " per statement" if short else "")
                    continue
                outcome["error"] = str(e)
            except DatabaseUnavailable as e:
                outcome["error"] = str(e)
            else:
                for extract, part in parts.items():
                    part.close()
                    outcome["rows"][extract] = part.rows
                events.complete()
                outcome["status"] = "succeeded"
            finally:
                if outcome["status"] != "succeeded":
                    for part in parts.values():
                        part.discard()  # a failed attempt leaves nothing behind
                    events.discard()
            break
        outcome["seconds"] = round(time.monotonic() - started, 3)
        if outcome["status"] == "failed":
            log.error("database %s failed: %s", dbname, outcome["error"])
            return outcome, None
        log.info("database %s: %s in %.2fs", dbname,
                 ", ".join(f"{n} {extract}" for extract, n in outcome["rows"].items()), outcome["seconds"])
        return outcome, parts

    def _extract_snapshot(self, dbname, parts, events, window, short=False):
        """Run every statement of one database inside one REPEATABLE READ, READ ONLY snapshot."""
        values = (self._settings["host"], *window)
        with connect(self._settings, self._password, dbname) as conn:
            server_version = conn.info.parameter_status("server_version")
            standby = in_recovery(conn)  # a read replica or an Aurora reader: recorded in the manifest
            conn.autocommit = False
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            current = None
            try:
                with contextlib.nullcontext() if short else conn.transaction():
                    current = "the relation catalog for lineage"
                    lineage = DefinitionLineage(conn, self._settings["host"], dbname, parts["linkages"].write)
                    # Rows are watched as they stream by: objects checksummed and definitions
                    # parsed once, never held in memory.
                    parsers = {"VIEWS_SQL": lineage.on_view, "FUNCTIONS_SQL": lineage.on_routine}
                    for statement in NAMED_STATEMENTS:
                        current = statement.name
                        parser = parsers.get(statement.name)
                        watcher = events if statement.extract == "metadata" else None
                        for batch_values in self._batches(conn, statement, values):
                            self._stream(conn, statement.name, batch_values, parts[statement.extract], watcher, parser)
                            if short:
                                conn.commit()  # nothing long-lived for a standby's replay to cancel
                        parsers.pop(statement.name, None)
                        if not parsers:
                            lineage.release()  # its relation catalog is not needed any more
                    current = "the change events"
                    warnings = events.write()
                    current = "the check for unknown object kinds"
                    warnings += unknown_kinds(conn, dbname) + lineage.finish()
            except psycopg.Error as e:
                if is_recovery_conflict(e):  # a standby ends the session when a savepoint is open
                    raise StatementFailed(explain_query_error(e, current, self._settings), retryable=True,
                                          recovery_conflict=True) from None
                if conn.broken or conn.closed:
                    raise DatabaseUnavailable(
                        f"lost the connection to database {dbname!r} while running {current} (was the database "
                        f"dropped or the server restarted?): {redact_credentials(str(e).strip())}") from None
                raise StatementFailed(explain_query_error(e, current, self._settings),
                                      retryable=isinstance(e, RETRYABLE)) from None
            if short:
                warnings.append(f"database {dbname}: read with one snapshot per statement after the standby cancelled "
                                "the collector's snapshot (a recovery conflict); objects changed meanwhile may not match")
            return server_version.split()[0], warnings, standby

    def _batches(self, conn, statement, values):
        """The placeholder values of each execution: one, or one per batch of OIDs."""
        if not self._statements.is_batched(statement.name):
            return [values]
        keys = [row[0] for row in conn.execute(tagged(statement.batch_keys)).fetchall()]
        batches = [keys[i:i + BATCH_OBJECTS] for i in range(0, len(keys), BATCH_OBJECTS)] or [[]]
        return [(*values, "{" + ",".join(map(str, batch)) + "}") for batch in batches]

    def _stream(self, conn, name, values, part, events=None, parser=None):
        """Run one statement, streaming its rows into ``part`` as the server renders them (COPY in
        the contract's CSV, credentials redacted by the server). The collector only looks at them
        for ``events`` (metadata: the server's checksums come ahead of each row, see events.py)
        and for ``parser``, which gets each record parsed back, its values as text.

        It runs in a savepoint that is rolled back afterwards: deparse functions such as
        pg_get_viewdef keep their locks until the (sub)transaction ends, and rolling back to the
        savepoint releases them while keeping the snapshot.
        """
        query = self._statements.render(name, values, conn)
        with conn.transaction(SAVEPOINT, force_rollback=True), conn.cursor() as cur:
            columns = self._columns(cur, name, query)
            # Each level is fenced with OFFSET 0, so that its columns are computed once per row
            # however often the next level refers to them (else the planner folds the levels and
            # would compute a JSON column once for each mention in the redaction).
            source = sql.SQL("SELECT * FROM ({}) source OFFSET 0").format(sql.SQL(query))
            rendered = sql.SQL("SELECT {} FROM ({}) q OFFSET 0").format(sql.SQL(", ").join(
                sql.SQL("{} AS {}").format(_rendered(sql.Identifier(column), type_oid, REDACTED_COLUMNS.get(column)),
                                           sql.Identifier(column))
                for column, type_oid in columns), source)
            if events is not None:
                rendered = sql.SQL("SELECT {}, * FROM ({}) q").format(CHECKSUMS, rendered)
            copy = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, DELIMITER '|', FORCE_QUOTE *)").format(rendered)
            write = part.write_csv
            with cur.copy(copy) as stream:
                # The protocol sends each row in a message of its own: a record is a whole block.
                records = stream if events is None else events.watch(stream)
                if parser is None:
                    for record in records:
                        write(record)
                else:
                    for record in records:
                        write(record)
                        parser(csv_values(record))
            part.rows += cur.rowcount

    def _columns(self, cur, name, query):
        """(name, type OID) of each column of statement ``name``, checked against the contract. The
        shipped statements read only pg_catalog, so their columns are the same in every database
        of the server: they are looked up once per run (a replacement at every execution)."""
        conn = cur.connection
        key = (name, conn.info.server_version) if self._statements.is_shipped(name) else None
        columns = self._described.get(key)
        if columns is None:
            columns = _described(conn, query)
            self._statements.check_columns(name, [column for column, _ in columns])
            if key is not None:
                self._described[key] = columns
        return columns


def _described(conn, query):
    """(name, type OID) of each column of ``query``, as the server describes it once parsed: the
    protocol's Describe, so the statement is not planned (planning a catalog statement twice cost
    more than running the smaller ones)."""
    pgconn = conn.pgconn
    for result in (pgconn.prepare(b"", query.encode(conn.info.encoding)), pgconn.describe_prepared(b"")):
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
    return [(result.fname(i).decode(conn.info.encoding), result.ftype(i)) for i in range(result.nfields)]


def _rendered(column, type_oid, redacted=None):
    """A column as the contract writes it, rendered by the server: Y/N, UTC times, '' for NULL,
    secrets redacted when ``redacted`` says what text the column holds (lib/redact.py's
    detectors, as PostgreSQL regular expressions)."""
    value = sql.SQL("q.{}").format(column)
    if type_oid == BOOL_OID:
        text = sql.SQL("CASE WHEN {0} THEN 'Y' WHEN NOT {0} THEN 'N' END").format(value)
    elif type_oid in (TIMESTAMPTZ_OID, TIMESTAMP_OID):
        moment = sql.SQL("({} AT TIME ZONE 'UTC')" if type_oid == TIMESTAMPTZ_OID else "{}").format(value)
        text = sql.SQL("to_char({0}, CASE WHEN extract(microseconds FROM {0})::bigint % 1000000 = 0 "
                       "THEN 'YYYY-MM-DD HH24:MI:SS' ELSE 'YYYY-MM-DD HH24:MI:SS.US' END)").format(moment)
    else:
        text = sql.SQL("{}::text").format(value)
    if redacted:
        text = _redacted(text, SQL_TRIGGERS["json" if type_oid in (JSON_OID, JSONB_OID) else redacted])
    return sql.SQL("coalesce({}, '')").format(text)


def _redacted(text, trigger):
    """``text`` (an SQL expression) with lib/redact.py's detectors applied by the server: the small
    ``trigger`` first, then each set of anchors, then the detectors; most values stop at the first."""
    caseless = sql.SQL("regexp_replace({}, {}, {}, 'gi')").format(text, sql.Literal(SQL_CASELESS),
                                                                  sql.Literal(REPLACEMENT))
    return sql.SQL("CASE WHEN {0} !~ {1} THEN {0} "
                   "WHEN {0} ~* {2} THEN CASE WHEN {0} ~* {3} THEN {5} ELSE {4} END "
                   "WHEN {0} ~* {3} THEN {6} ELSE {0} END").format(
        text, sql.Literal(trigger), sql.Literal(SQL_KEY_ANCHORS), sql.Literal(SQL_SHAPE_ANCHORS), caseless,
        *(sql.SQL("regexp_replace({}, {}, {}, 'g')").format(t, sql.Literal(SQL_CASED), sql.Literal(REDACTED))
          for t in (caseless, text)))


def _window(start_hwm, end_hwm):
    """Validate and normalise the window; a malformed or inverted window is a clear error."""
    start = parse_hwm(BEGINNING_OF_TIME if start_hwm is None else start_hwm, what="start_hwm")
    end = parse_hwm(now_hwm() if end_hwm is None else end_hwm, what="end_hwm")
    if start > end:
        raise HWMError(f"start_hwm {format_hwm(start)} is after end_hwm {format_hwm(end)}: the window is inverted. "
                       "Check the HWM file; it must hold a moment before now (UTC).")
    if end > datetime.now(timezone.utc):
        log.warning("end_hwm %s is in the future (UTC); clock skew?", format_hwm(end))
    return format_hwm(start), format_hwm(end)
