"""The PostgreSQL collector: ``Extractor(**config)``, ``test_connection()``, ``run()``."""

import collections
import contextlib
import errno
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timezone
from typing import Any, Optional, Union

import psycopg
from psycopg import IsolationLevel, sql

from kada_collectors.lib import __version__
from kada_collectors.lib.config import settings_for_manifest
from kada_collectors.lib.contract import EXTRACT_COLUMNS, STAMP_FORMAT, manifest_file_name
from kada_collectors.lib.errors import CollectorError, ExtractError, HWMError, OutOfSpace
from kada_collectors.lib.interrupt import sigterm_raises
from kada_collectors.lib.manifest import Manifest, ManifestFile
from kada_collectors.lib.hwm import BEGINNING_OF_TIME, format_hwm, now_hwm, parse_hwm
from kada_collectors.lib.redact import (REDACTED, REPLACEMENT, SQL_CASED, SQL_CASELESS, SQL_KEY_ANCHORS,
                                       SQL_SHAPE_ANCHORS, SQL_TRIGGERS, redact_credentials)
from kada_collectors.lib.runlock import run_lock
from kada_collectors.lib.snapshots import SnapshotStore, is_disk_full
from kada_collectors.lib.writer import ExtractFile, csv_values, remove_temporaries

from .checks import unknown_kinds
from .events import CHECKSUMS, ChangeEvents
from .lineage import DefinitionLineage
from .querylog import pgss
from .querylog.collector import QueryLogCollector, QueryLogFailed
from .querylog.config import query_log_sources
from .discovery import select_databases
from .session import (RETRYABLE, DatabaseUnavailable, connect, explain_query_error, in_recovery,
                      is_ddl_deadlock, is_recovery_conflict, is_vanished_object)
from .settings import SETTINGS, validate_config
from .shared_snapshot import (MAX_SESSIONS_PER_DATABASE, Lane, LaneFailed, NoSharedSnapshot, SessionBudget,
                              open_helpers, run_lanes, share_snapshot)
from .statements import (EXISTS_NOW, MOMENT_OIDS, NAMED_STATEMENTS, OPTIONAL_EXTRACTS, StatementSet, contract_moment,
                         describe, tagged)
from .usage import WindowUsage, expand_columns

SOURCE = "postgres"
BOOL_OID, JSON_OID, JSONB_OID = 16, 114, 3802
# The name of the collector's savepoints: recognisable in query logs as its own.
SAVEPOINT = "kada_statement"
# Batches of one statement run again because DDL got in their way (see _read): each rerun after
# a dropped object leaves out at least one object or halves a batch, so this bounds the work.
BATCH_RERUNS = 64
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
    """A statement failed in a database; ``retryable`` when a fresh snapshot may succeed,
    ``catalog_changed`` when DDL got in its way (an object it read was dropped meanwhile, or a
    deadlock): the next attempt reads in batches."""

    def __init__(self, message, retryable, recovery_conflict=False, catalog_changed=False):
        super().__init__(message)
        self.retryable = retryable
        self.recovery_conflict = recovery_conflict
        self.catalog_changed = catalog_changed


def _unusable(message: str, causes: "list[DatabaseUnavailable]") -> CollectorError:
    """The connection test's failure: retryable unless every cause is permanent (a missing
    database, no CONNECT), which no retry fixes."""
    error = CollectorError(message)
    error.retryable = any(cause.retryable for cause in causes)
    return error


class DatabaseParts:
    """Where one database's rows go before they are appended to the files: a part per extract for
    the database and, when several sessions read it, a part per statement (made as it starts), so
    that the files hold the statements' rows in the same order whichever session read them."""

    def __init__(self, files, index):
        # Parts are named by position: a database name may hold any character.
        self._files, self._label = files, f"db{index}"
        self.common = {extract: f.part(self._label) for extract, f in files.items()}
        self._by_statement = {}

    def of(self, statement):
        """The parts of ``statement``'s extract (and of the events, for metadata)."""
        extracts = (statement.extract, "events") if statement.extract == "metadata" else (statement.extract,)
        parts = {e: self._files[e].part(f"{self._label}-{statement.name}") for e in extracts}
        self._by_statement[statement.name] = parts
        return parts

    def in_order(self):
        """(extract, part) of every part: the database's, then the statements' in run order."""
        yield from self.common.items()
        for statement in NAMED_STATEMENTS:
            yield from self._by_statement.get(statement.name, {}).items()

    def discard(self):
        for _, part in self.in_order():
            part.discard()


class Extractor:
    """Reads the catalogs of every configured database and writes the extracts of a window.

    The config is validated in full on construction, before anything connects.
    """

    def __init__(self, **config: Any) -> None:
        self._settings, self._password = validate_config(config)
        self._statements = StatementSet()
        self._described: dict = {}  # statement columns, per run (see _columns)
        # Next to the HWM file by default (the working folder), as the wrapper keeps it.
        self._snapshot_path = os.path.abspath(self._settings.get("snapshot_path") or DEFAULT_SNAPSHOT_FILE)

    def __repr__(self) -> str:
        s = self._settings
        return f"Extractor(server={s['server']!r}, port={s['port']}, databases={s['databases']!r})"

    # -- the named SQL ---------------------------------------------------------------------------
    def list_sql(self) -> list[str]:
        """The names of every statement behind the extracts, in run order."""
        return self._statements.names()

    def get_sql(self, name: str) -> str:
        """The SQL text of statement ``name`` (with its ``{n}`` placeholders)."""
        return self._statements.get(name)

    def overwrite_sql(self, name: str, statement: str) -> None:
        """Replace statement ``name``; it must return the same columns as the one it replaces."""
        self._statements.overwrite(name, statement)

    # -- checks ----------------------------------------------------------------------------------
    def test_connection(self) -> bool:
        """Connect to every configured database before any work.

        Raises what stops every database (the server unreachable, TLS, authentication refused), or
        when no database can be used. A database that is missing or refuses CONNECT only stops
        itself: it is logged as a warning naming it and the fix, ``run()`` extracts the others and
        then fails, naming it in the manifest, so the HWM is not published.
        """
        try:
            names = select_databases(self._settings, self._password).names  # "*" resolved (discovery.py)
        except CollectorError as e:
            raise CollectorError(f"cannot use the server:\n  - {e}") from None
        problems = []
        for dbname in names:
            try:
                connect(self._settings, self._password, dbname).close()
            except DatabaseUnavailable as e:
                if e.server_wide:  # the next databases would fail the same way: stop at once
                    raise _unusable(f"cannot use the server:\n  - {e}", [e]) from None
                problems.append(e)
        if len(problems) == len(names):
            raise _unusable("cannot use the server: no configured database can be used:\n"
                            + "\n".join(f"  - {p}" for p in problems), problems)
        for problem in problems:
            log.warning("%s (the other databases are extracted; the run then fails, so the HWM is not published)",
                        problem)
        log.info("connection test passed for %d of %d database(s)", len(names) - len(problems), len(names))
        return True

    # -- the run ---------------------------------------------------------------------------------
    def run(self, start_hwm: Optional[Union[str, datetime]] = None,
            end_hwm: Optional[Union[str, datetime]] = None) -> dict:
        """Write every extract of the window ``[start_hwm, end_hwm]`` and the manifest.

        Databases are extracted ``max_connections`` at a time; one that fails does not stop the others, but
        ``run()`` raises at the end so the caller does not publish the HWM.

        One run at a time per output folder and per snapshot file: while another holds either,
        ``run()`` raises ``RunInProgress`` having changed nothing. SIGTERM (in the main thread)
        raises ``RunInterrupted`` and a full disk ``OutOfSpace``, both after removing what the run
        had written.
        """
        start_hwm, end_hwm = _window(start_hwm, end_hwm)
        output = self._prepare_output()
        with sigterm_raises(), run_lock(output, self._snapshot_path):
            count, size = remove_temporaries(output, SOURCE)
            if count:
                log.warning("removed %d temporary file(s) (%d bytes) an interrupted run left in %s", count, size, output)
            return self._run(output, start_hwm, end_hwm)

    def _run(self, output, start_hwm, end_hwm):
        stamp = parse_hwm(end_hwm).strftime(STAMP_FORMAT)
        self._described = {}
        started = time.monotonic()
        started_at = now_hwm()
        selection = select_databases(self._settings, self._password)  # "*" resolved now (discovery.py)
        query_log = query_log_sources(self._settings.get("query_log"), self._settings["meta_only"])
        extracts = {s.extract for s in self._wanted(NAMED_STATEMENTS)} | set(DERIVED_EXTRACTS)
        if query_log is not None:
            extracts.add("databaselog")
        files = {}
        with self._removed_on_failure(output, files):
            for extract in sorted(extracts):
                files[extract] = ExtractFile(output, SOURCE, extract, stamp, EXTRACT_COLUMNS[extract],
                                             self._settings["compress"])
            databases, written, query_log_report, query_log_warnings, query_log_error = self._extract_window(
                selection, query_log, files, (start_hwm, end_hwm))
            failed = [d for d in databases if d["status"] == "failed"]
            not_diffed = _not_diffed(databases, start_hwm, self._snapshot_path)
            warnings = [w for d in databases for w in d["warnings"]] + query_log_warnings + not_diffed
            manifest_path = os.path.join(output, manifest_file_name(SOURCE, stamp))
            document = Manifest(
                collector={"name": "kada-collectors-extractors", "version": __version__, "source": SOURCE},
                host=self._settings["host"],
                window={"start_hwm": start_hwm, "end_hwm": end_hwm},
                status="failed" if failed or query_log_error else "succeeded",
                databases=databases,
                database_selection=selection.manifest_entry(),
                standby=any(d.get("standby") for d in databases),
                files=[ManifestFile(**w.manifest_entry()) for w in written],
                warnings=warnings,
                query_log=query_log_report,
                settings=settings_for_manifest(self._settings, SETTINGS),
                timings={"started_at": started_at, "finished_at": now_hwm(),
                         "seconds": round(time.monotonic() - started, 3)},
            ).write(manifest_path)
        for warning in warnings:
            # Expected on a first run, which needs no one: said once, not as a warning.
            level = logging.INFO if warning in not_diffed and start_hwm == BEGINNING_OF_TIME else logging.WARNING
            log.log(level, "%s", warning)
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
        return document

    def _wanted(self, statements):
        """Those of ``statements`` whose extract the settings turn on (profile and usage may be off)."""
        return [s for s in statements if s.extract not in OPTIONAL_EXTRACTS or self._settings[s.extract]]

    def _extract_window(self, selection, query_log, files, window):
        """Extract the databases and the query log into ``files``, commit them and prune the
        snapshots; returns the databases' outcomes, the files written, and the query log's report,
        warnings and error."""
        store = SnapshotStore(self._snapshot_path)
        query_log_report, query_log_warnings, query_log_error = None, [], None
        try:
            databases = self._extract_databases(selection.names, files, store, window)
            if query_log is not None:
                collector = QueryLogCollector(query_log, {**self._settings, "databases": selection.names}, self._password,
                                              store, window)
                query_log_error = self._collect_query_log(collector, files)
                query_log_report, query_log_warnings = collector.report, collector.warnings
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="kada-commit") as pool:
                # fsync waits on the disk and hashing lets go of the GIL: two files at a time.
                written = list(pool.map(ExtractFile.commit, files.values()))
            # A repeated window needs the snapshots at its start: keep from start_hwm on.
            for dbname in selection.names:
                ChangeEvents.prune(store, self._settings["host"], dbname, window[0], SNAPSHOTS_KEPT_OLDER)
                WindowUsage.prune(store, self._settings["host"], dbname, window[0], SNAPSHOTS_KEPT_OLDER)
            store.prune(pgss.KIND, self._settings["host"], pgss.CLUSTER, window[0], SNAPSHOTS_KEPT_OLDER)
        finally:
            store.close()
        return databases, written, query_log_report, query_log_warnings, query_log_error

    @contextlib.contextmanager
    def _removed_on_failure(self, output, files):
        """On any failure in the body, remove every file of the run (temporary or committed): a run
        that did not finish leaves nothing. A full disk becomes ``OutOfSpace`` naming it."""
        snapshot_size = _size(self._snapshot_path)
        try:
            yield
        except BaseException as e:
            grown = _size(self._snapshot_path) - snapshot_size
            so_far = sum(f.discard() for f in files.values())
            if isinstance(e, OSError) and e.errno == errno.ENOSPC:
                raise OutOfSpace(f"the disk of the output folder {output} is full: the run had written "
                                 f"{so_far:,} bytes there when it ran out. They were removed and the HWM was not "
                                 "published; free some space (or set output_path to a larger disk) and run "
                                 "again") from None
            if is_disk_full(e):
                raise OutOfSpace(f"the disk of the snapshot file {self._snapshot_path} is full: the run had "
                                 f"added {max(grown, 0):,} bytes to it (and written {so_far:,} bytes of extracts) "
                                 "when it ran out. What it wrote was removed and the HWM was not published; free "
                                 "some space (or set snapshot_path to a larger disk) and run again") from None
            raise

    @staticmethod
    def _collect_query_log(collector, files):
        """The query log into its own parts: all of it, or none of it. Returns the error, if any."""
        # Log lines may repeat (two sessions, one statement, one timestamp): each record written once.
        parts = {extract: files[extract].part("querylog", distinct=True) for extract in ("databaselog", "linkages", "events")}
        try:
            collector.collect(parts)
        except QueryLogFailed as e:
            collector.discard()
            log.error("the query log failed: %s", e)
            return str(e)
        else:
            for extract, part in parts.items():
                files[extract].append(part)
            collector.warnings += _repeats_dropped(parts)
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
        # Each database has a session of its own; those no database thread uses are shared out.
        budget = SessionBudget(self._settings["max_connections"] - workers)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kada-db") as pool:
            futures = [pool.submit(self._extract_database, index, dbname, files, store, window, budget)
                       for index, dbname in enumerate(names)]
            try:
                results = [future.result() for future in futures]
            except BaseException:
                for f in files.values():
                    f.discard()  # the databases under way stop at their next row
                for future in futures:
                    future.cancel()
                wait(futures)  # let those under way end, then drop what they wrote
                for future in futures:
                    if not future.cancelled() and future.exception() is None and future.result()[1]:
                        future.result()[1].discard()
                raise
        outcomes, roles_kept = [], False
        for outcome, parts in results:
            outcomes.append(outcome)
            for extract, part in parts.in_order() if parts else ():
                if extract == "roles" and roles_kept:
                    part.discard()
                else:
                    files[extract].append(part)
            if parts and roles_kept:
                del outcome["rows"]["roles"]
            roles_kept = roles_kept or parts is not None
        return outcomes

    def _extract_database(self, index, dbname, files, store, window, budget):
        """Extract one database into parts: (outcome, parts) on success, (outcome, None) when it failed
        (its parts dropped)."""
        started = time.monotonic()
        outcome = {"name": dbname, "status": "failed", "server_version": None, "standby": None, "seconds": None,
                   "sessions": None, "change_events": None, "rows": {}, "warnings": [], "error": None}
        short = False  # after a recovery conflict: one snapshot per statement
        batched = False  # after DDL got in a statement's way: every deparsing statement in batches
        # Its own session, and helpers from those no other database uses now (shared_snapshot.py).
        extra = budget.take(MAX_SESSIONS_PER_DATABASE - 1)
        sessions = 1 + extra
        try:
            for attempt in range(1, max(ATTEMPTS_PER_DATABASE, RECOVERY_CONFLICT_ATTEMPTS) + 1):
                parts = DatabaseParts(files, index)
                events = ChangeEvents(store, self._settings["host"], dbname, window, parts.common["events"])
                usage = WindowUsage(store, self._settings["host"], dbname, window)
                try:
                    (outcome["server_version"], outcome["warnings"], outcome["standby"],
                     outcome["sessions"]) = self._extract_snapshot(dbname, parts, (events, usage), window, sessions,
                                                                   short, batched)
                except StatementFailed as e:
                    limit = RECOVERY_CONFLICT_ATTEMPTS if e.recovery_conflict else ATTEMPTS_PER_DATABASE
                    if e.retryable and attempt < limit:
                        short, batched = short or e.recovery_conflict, batched or e.catalog_changed
                        log.warning("database %s: %s; retrying with a fresh snapshot%s", dbname, e,
                                    " per statement" if short else ", in batches that leave out objects dropped "
                                    "meanwhile" if batched else "")
                        continue
                    outcome["error"] = str(e)
                except DatabaseUnavailable as e:
                    outcome["error"] = str(e)
                else:
                    for extract, part in parts.in_order():
                        part.close()
                        outcome["rows"][extract] = outcome["rows"].get(extract, 0) + part.rows
                    events.complete()
                    usage.complete()
                    outcome["change_events"] = "diffed" if events.diffed else "all created"
                    outcome["status"] = "succeeded"
                finally:
                    if outcome["status"] != "succeeded":
                        parts.discard()  # a failed attempt leaves nothing behind
                        events.discard()
                        usage.discard()
                break
        finally:
            budget.give_back(extra)
        outcome["seconds"] = round(time.monotonic() - started, 3)
        if outcome["status"] == "failed":
            log.error("database %s failed: %s", dbname, outcome["error"])
            return outcome, None
        log.info("database %s: %s in %.2fs (%d session%s)", dbname,
                 ", ".join(f"{n} {extract}" for extract, n in outcome["rows"].items()), outcome["seconds"],
                 outcome["sessions"], "" if outcome["sessions"] == 1 else "s")
        return outcome, parts

    def _extract_snapshot(self, dbname, parts, windowed, window, sessions=1, short=False, batched=False):
        """Run every statement of one database inside one REPEATABLE READ, READ ONLY snapshot, over
        up to ``sessions`` sessions sharing it (shared_snapshot.py). ``short``: one snapshot per
        statement, in one session; ``batched``: every statement that deparses in batches (see
        statements.py). Returns the server version, the warnings, whether the server is a standby
        and how many sessions read the database. ``windowed``: the database's ChangeEvents and
        WindowUsage."""
        values = (self._settings["host"], *window)
        with connect(self._settings, self._password, dbname) as conn:
            server_version = conn.info.parameter_status("server_version")
            standby = in_recovery(conn)  # a read replica or an Aurora reader: recorded in the manifest
            conn.autocommit = False
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            helpers, problems = open_helpers(self._settings, self._password, dbname, 0 if short else sessions - 1)
            try:
                try:
                    warnings, lanes = self._read_database(conn, helpers, dbname, parts, windowed, values, short,
                                                          batched, problems, standby)
                except NoSharedSnapshot as e:  # nothing was read yet: all of it in one session
                    problems.append(e.reason)
                    warnings, lanes = self._read_database(conn, [], dbname, parts, windowed, values, short, batched,
                                                          problems, standby)
            finally:
                for helper in helpers:
                    helper.close()
            if problems:
                log.info("database %s: read by %d session(s) of %d: %s", dbname, lanes, sessions, "; ".join(problems))
            if short:
                warnings.append(f"database {dbname}: read with one snapshot per statement after the standby cancelled "
                                "the collector's snapshot (a recovery conflict); objects changed meanwhile may not match")
            return server_version.split()[0], warnings, standby, lanes

    def _read_database(self, conn, helpers, dbname, parts, windowed, values, short, batched, problems, standby):
        """The statements of one database over ``conn`` and the ``helpers`` that adopt its snapshot
        (the reasons of those that do not go to ``problems``); returns the warnings and the number
        of sessions that read it."""
        events, usage = windowed
        current = None
        try:
            with contextlib.nullcontext() if short else conn.transaction():
                if helpers:
                    current = "the snapshot export"
                    helpers, refused = share_snapshot(conn, helpers)
                    problems += refused
                current = "the relation catalog for lineage"
                lineage = DefinitionLineage(conn, self._settings["host"], dbname, parts.common["linkages"].write)
                # Rows are watched as they stream by: objects checksummed and definitions parsed
                # once, never more than a batch of them held in memory. The first session parses.
                parsers = {"VIEWS_SQL": lineage.on_view, "FUNCTIONS_SQL": lineage.on_routine}
                lanes = [Lane(conn, events.writer)] + [Lane(helper, events.session_writer()) for helper in helpers]

                def read(lane, statement):
                    parser = parsers.get(statement.name)
                    # One session: the database's parts; several: the statement's, so that the
                    # files do not depend on which session read what.
                    into = parts.common if len(lanes) == 1 else parts.of(statement)
                    if statement.columns is not None:  # counters, turned into the window's deltas
                        return self._read_usage(lane.conn, statement.name, values, into[statement.extract], usage)
                    watcher = events.watcher(into["events"], lane.writer) if statement.extract == "metadata" else None
                    warnings = self._read(lane.conn, dbname, statement, values, into[statement.extract], watcher,
                                          parser, short, batched)
                    if parser is not None:
                        del parsers[statement.name]
                        if not parsers:
                            lineage.release()  # its relation catalog is not needed any more
                    return warnings

                current = "the check for kinds the database holds none of"
                absent = self._absent(conn)
                statements = [s for s in self._wanted(NAMED_STATEMENTS) if s.name not in absent]
                try:
                    left_out = run_lanes(lanes, statements, set(parsers), read)
                except LaneFailed as failed:
                    # A standby's recovery conflict ends every session of the snapshot: the others
                    # may only have seen their connection lost.
                    lane, error = next(((lane, e) for lane, e in failed.failures if is_recovery_conflict(e)),
                                       failed.failures[0])
                    if isinstance(error, psycopg.Error):
                        raise self._failure(error, lane.conn, dbname, lane.current, standby) from None
                    raise error
                current = "the columns of relations joined under an alias"
                lineage.resolve_deferred(conn)
                current = "the change events"
                warnings = events.write()
                current = "the check for unknown object kinds"
                warnings += left_out + unknown_kinds(conn, dbname) + lineage.finish()
        except psycopg.Error as e:
            raise self._failure(e, conn, dbname, current, standby) from None
        return warnings, len(lanes)

    def _read_usage(self, conn, name, values, part, usage):
        """USAGE_SQL's counters, as the window's deltas (usage.py), in a savepoint like any statement;
        returns the warnings for the manifest."""
        with conn.transaction(SAVEPOINT, force_rollback=True), conn.cursor() as cur:
            # The views' columns as this server has them (usage.expand_columns).
            query = expand_columns(self._statements.render(name, values, conn), conn)
            self._columns(cur, name, query)
            usage.read(conn, query, part)
        return usage.warnings

    def _absent(self, conn):
        """The shipped statements whose kinds the database holds none of (``NamedStatement.present``
        false): their rows would be none, and they are not run. One query for them all."""
        checks = [s for s in NAMED_STATEMENTS if s.present and self._statements.is_shipped(s.name)]
        if not checks:
            return set()
        query = "SELECT " + ", ".join(f"({s.present}) AS {s.name}" for s in checks)
        with conn.transaction(SAVEPOINT, force_rollback=True):
            found = conn.execute(tagged(query)).fetchone()
        return {s.name for s, present in zip(checks, found) if not present}

    def _failure(self, error, conn, dbname, current, standby=False):
        """What a database error while running ``current`` on ``conn`` means: the exception to raise."""
        if is_recovery_conflict(error):  # a standby ends the session when a savepoint is open
            return StatementFailed(explain_query_error(error, current, self._settings), retryable=True,
                                   recovery_conflict=True)
        if conn.broken or conn.closed:
            said = redact_credentials(" ".join(str(error).split()))
            if standby:  # a conflict ends every session of the snapshot: only one may have been told why
                return StatementFailed(
                    f"the standby ended the session while {current} ran (a recovery conflict, most likely: {said}); "
                    "raise max_standby_streaming_delay or turn on hot_standby_feedback on the replica (RDS: its "
                    "parameter group), or extract from the primary", retryable=True, recovery_conflict=True)
            return DatabaseUnavailable(f"lost the connection to database {dbname!r} while running {current} (was "
                                       f"the database dropped or the server restarted?): {said}")
        changed = is_vanished_object(error) or is_ddl_deadlock(error)
        return StatementFailed(explain_query_error(error, current, self._settings),
                               retryable=changed or isinstance(error, RETRYABLE), catalog_changed=changed)

    def _read(self, conn, dbname, statement, values, part, events, parser, short, batched):
        """Run one named statement, in one piece or batch by batch (see _batch_keys); return the
        warnings for the manifest.

        A batch that fails because an object it reads was dropped after the snapshot was taken
        (deparse functions read the latest catalog, see statements.py) leaves nothing behind: it
        is run again without the objects that no longer exist, or, when none is gone (a function
        or type an object used was dropped), in halves, until the object that fails is alone and
        is left out. The run goes on; the dropped objects are absent, as in the next snapshot. A
        batch the server cancelled to end a deadlock with DDL (the batch holds locks on what the
        views read; DROP ... CASCADE takes them in another order) is run again once the DDL is through.
        """
        pending = collections.deque(self._batch_keys(conn, statement, batched))
        vanished = retries = 0
        while pending:
            keys = pending.popleft()
            try:
                self._stream(conn, statement.name, _with_batch(values, keys), part, events, parser,
                             buffered=keys is not None)
            except psycopg.Error as e:
                deadlock = is_ddl_deadlock(e)
                if keys is None or not (deadlock or is_vanished_object(e)):
                    raise
                retries += 1
                if retries > BATCH_RERUNS:
                    raise StatementFailed(f"{statement.name}: objects kept being dropped while it read them ({retries - 1} "
                                          "batches run again)", retryable=True, catalog_changed=True) from None
                if deadlock:  # the savepoint's rollback let the DDL through: the same batch again
                    pending.appendleft(keys)
                    continue
                gone = self._vanished(conn, statement, keys) if len(keys) > 1 else set(keys)
                vanished += len(gone)
                rest = [k for k in keys if k not in gone]
                halves = [rest] if gone else [rest[len(rest) // 2:], rest[:len(rest) // 2]]
                pending.extendleft(half for half in halves if half)
                continue
            if short:
                conn.commit()  # nothing long-lived for a standby's replay to cancel
        # A warning of the manifest, which run() also logs.
        return [f"database {dbname!r}: {vanished} object(s) read by {statement.name} were dropped (or lost what they "
                f"depend on) while the collector read them and are left out ({retries} batch(es) run again)"
                ] if vanished else []

    def _batch_keys(self, conn, statement, batched):
        """The OIDs of each batch of ``statement``, or [None] when it runs in one piece: the statements
        that deparse run in batches when they hold locks (VIEWS_SQL), or when ``batched`` (the
        database is read again because an object vanished under a statement run in one piece)."""
        if not self._statements.is_batched(statement.name) or not (batched or statement.batches.holds_locks):
            return [None]
        size = statement.batches.size
        keys = [row[0] for row in conn.execute(tagged(statement.batches.keys)).fetchall()]
        return [keys[i:i + size] for i in range(0, len(keys), size)] or [[]]

    def _batches(self, conn, statement, values):
        """The placeholder values of each execution of a first attempt: one, or one per batch of OIDs."""
        return [_with_batch(values, keys) for keys in self._batch_keys(conn, statement, batched=False)]

    @staticmethod
    def _vanished(conn, statement, keys):
        """Those of ``keys`` whose object is gone now (a lookup in the latest catalog, not the snapshot)."""
        query = f"SELECT k FROM unnest(%s::oid[]) k WHERE {EXISTS_NOW[statement.batches.kind]} IS NULL"
        with conn.transaction(SAVEPOINT, force_rollback=True):
            return {row[0] for row in conn.execute(tagged(query), (_oid_array(keys),))}

    def _stream(self, conn, name, values, part, events=None, parser=None, buffered=False):
        """Run one statement, streaming its rows into ``part`` as the server renders them (COPY in
        the contract's CSV, credentials redacted by the server). The collector only looks at them
        for ``events`` (metadata: the server's checksums come ahead of each row, see events.py)
        and for ``parser``, which gets each record parsed back, its values as text. ``buffered``
        (a batch): the rows are kept until all are read, so that a batch that fails part-way
        leaves nothing behind.

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
            with cur.copy(copy) as stream:
                # The protocol sends each row in a message of its own: a record is a whole block.
                records = [bytes(record) for record in stream] if buffered else _write(stream, part, events, parser)
            if not buffered:
                part.rows += cur.rowcount
        if buffered:
            _write(records, part, events, parser)
            part.rows += len(records)

    def _columns(self, cur, name, query):
        """(name, type OID) of each column of statement ``name``, checked against the contract. The
        shipped statements read only pg_catalog, so their columns are the same in every database
        of the server: they are looked up once per run (a replacement at every execution)."""
        conn = cur.connection
        key = (name, conn.info.server_version) if self._statements.is_shipped(name) else None
        columns = self._described.get(key)
        if columns is None:
            columns = describe(conn, query)
            self._statements.check_columns(name, [column for column, _ in columns])
            if key is not None:
                self._described[key] = columns
        return columns


def _write(records, part, events, parser):
    """Write COPY ``records`` into ``part``, through ``events`` and ``parser`` when given (see _stream)."""
    write = part.write_csv
    records = records if events is None else events.watch(records)
    if parser is None:
        for record in records:
            write(record)
    else:
        for record in records:
            write(record)
            parser(csv_values(record))


def _repeats_dropped(parts):
    """Warnings for the query log's records written once though made more than once (every extract
    is a set): the same statement by the same user logged with the same timestamp."""
    return [f"the query log: {part.repeats} {extract} record(s) identical to another in every field were written once"
            for extract, part in parts.items() if part.repeats]


def _oid_array(keys):
    """A batch of OIDs as the text of an oid[] literal."""
    return "{" + ",".join(map(str, keys)) + "}"


def _with_batch(values, keys):
    """The placeholder values with {3}: the batch of OIDs, or NULL for a statement in one piece."""
    return (*values, None if keys is None else _oid_array(keys))


def _rendered(column, type_oid, redacted=None):
    """A column as the contract writes it, rendered by the server: Y/N, UTC times, '' for NULL,
    secrets redacted when ``redacted`` says what text the column holds (lib/redact.py's
    detectors, as PostgreSQL regular expressions)."""
    value = sql.SQL("q.{}").format(column)
    if type_oid == BOOL_OID:
        text = sql.SQL("CASE WHEN {0} THEN 'Y' WHEN NOT {0} THEN 'N' END").format(value)
    elif type_oid in MOMENT_OIDS:
        text = contract_moment(value, type_oid)
    else:
        text = sql.SQL("{}::text").format(value)
    if redacted:
        text = _redacted(text, SQL_TRIGGERS["json" if type_oid in (JSON_OID, JSONB_OID) else redacted])
    return sql.SQL("coalesce({}, '')").format(text)


def _size(path):
    """The size of file ``path`` in bytes, 0 when there is none."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


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


def _not_diffed(databases, start_hwm, snapshot_path):
    """One warning for the databases whose events are all CREATED, for want of a snapshot at
    ``start_hwm``, naming them (a first run: all of them)."""
    names = [d["name"] for d in databases if d["change_events"] == "all created"]
    if not names:
        return []
    shown = ", ".join(repr(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return [f"{len(names)} database(s) had no change-event snapshot at {start_hwm} (a first run, or the snapshot "
            f"file {snapshot_path} was moved or deleted): every object is reported as created ({shown})"]


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
