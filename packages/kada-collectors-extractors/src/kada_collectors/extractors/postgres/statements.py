"""The named SQL statements behind every extract: listed, read and replaceable before ``run()``.

Each statement lives in ``sql/<NAME>.sql``. It may use positional placeholders that the extractor
fills with SQL literals: ``{0}`` the host as onboarded in the catalog, ``{1}`` the window's start
and ``{2}`` its end (``YYYY-MM-DD HH:MM:SS``, UTC). A statement must return exactly its
extract's columns, in order; a replacement that does not is refused when it runs, naming both
column lists.

A statement that calls deparse functions (pg_get_viewdef, pg_get_indexdef, pg_get_expr...) can
run in batches: ``{3}`` is then a batch of object OIDs (a text literal, cast it with ``::oid[]``),
each batch in its own savepoint, or NULL when it runs in one piece. Those functions read the
server's catalog caches, which follow the latest committed state rather than the snapshot: an
object dropped after the snapshot was taken makes them fail, and a batch is run again without it
(see ``Extractor._read``). ``VIEWS_SQL`` always runs in batches, small ones: ``pg_get_viewdef``
locks what a view reads until the savepoint ends, so the locks held at any moment are bounded by
the batch, not by the database (the server's lock table is shared and finite). The others run in
one piece, and in batches when the database is read again because an object vanished under a
statement. A replacement without ``{3}`` always runs in one piece.

The shipped statements write an object's id as ``{object_id(n.nspname, c.relname)}`` (an object of
the database) or ``{server_object_id(r.rolname)}`` (a role, a database): ``ids.py`` holds the one
definition, and these are written out when a statement is loaded, so ``get()`` and the server see
plain SQL. ``USAGE_SQL``'s ``{usage_columns(...)}`` depend on the server's major: they are written
out when it runs (``usage.expand_columns``), and ``get()`` shows them as they are.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import psycopg
from psycopg import pq, sql

from kada_collectors.lib.contract import EXTRACT_COLUMNS
from kada_collectors.lib.errors import ExtractError

from .ids import expand_object_ids

SQL_DIR = Path(__file__).parent / "sql"
PLACEHOLDER = re.compile(r"\{(\d+)\}")
# In everything the collector runs, so query logs can recognise (and drop) its own work; a named
# statement's tag also names it (/* kada-collector COLUMNS_SQL */), for DBAs watching
# pg_stat_activity. It goes after the first word: pg_stat_statements keeps a statement's text
# from its first token on, so a comment before it would be lost.
STATEMENT_TAG = "/* kada-collector */"
_FIRST_WORD = re.compile(r"^(\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*)(\w+)", re.DOTALL)


def tagged(text: str, name: Optional[str] = None) -> str:
    """``text`` with the collector's tag (naming statement ``name``, if given) after its first word."""
    tag = STATEMENT_TAG if name is None else STATEMENT_TAG.replace(" */", f" {name} */")
    return _FIRST_WORD.sub(lambda m: f"{m.group(1)}{m.group(2)} {tag}", text, count=1)


# What the collector sent, as a query log shows it: its tag, or its savepoint's name (psycopg
# sends SAVEPOINT and ROLLBACK TO itself, so they cannot carry the tag).
_COLLECTOR_STATEMENT = re.compile(r"/\* kada-collector (?:\w+ )?\*/|^\s*(?:SAVEPOINT|RELEASE|ROLLBACK\s+TO)\b[^;]*\bkada_",
                                  re.IGNORECASE)


def is_collector_statement(text: str) -> bool:
    return _COLLECTOR_STATEMENT.search(text) is not None


# Whether the object of each key still exists now, as the catalog caches have it (the latest
# committed state, not the snapshot): these functions return NULL for an OID that is gone.
EXISTS_NOW = {
    "relation": "has_table_privilege(k, 'SELECT')",
    "function": "has_function_privilege(k, 'EXECUTE')",
    "type": "has_type_privilege(k, 'USAGE')",
}
# Objects per batch: VIEWS_SQL holds a lock on what each view reads until its batch ends; a
# batch is kept in memory until it is all read (see Extractor._read).
LOCKING_BATCH_OBJECTS = 200
BATCH_OBJECTS = 2000


@dataclass(frozen=True)
class Batches:
    """How a statement is run in batches (see the docstring)."""

    keys: str  # lists, in output order, the OIDs the statement is run over
    kind: str  # what the OIDs are: a key of EXISTS_NOW
    size: int = BATCH_OBJECTS
    holds_locks: bool = False  # in batches always, not only when the database is read again


@dataclass(frozen=True)
class NamedStatement:
    name: str
    extract: str
    batches: Optional[Batches] = None
    # An SQL condition that holds whenever the statement can return a row (a cheap superset of its
    # own): where it does not, the shipped statement is not run. Planning a statement of many
    # catalog joins costs a new session 10 to 25 ms, most databases hold none of these kinds, and
    # customers have hundreds of databases (see Extractor._absent).
    present: Optional[str] = None
    # The columns it returns when they are not its extract's: its rows are read by the collector
    # and turned into the extract's (USAGE_SQL's counters become the window's deltas, usage.py).
    columns: Optional[tuple] = None


BATCH_PLACEHOLDER = "{3}"
_USER_SCHEMA = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_'"


def _relations(kinds: str, order: str = "c.oid") -> Batches:
    return Batches(f"SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   f"WHERE c.relkind IN ({kinds}) AND {_USER_SCHEMA} ORDER BY {order}", "relation")


TABLES = _relations("'r', 'p', 'f'")
VIEWS = Batches(_relations("'v', 'm'", "n.nspname, c.relname").keys, "relation", LOCKING_BATCH_OBJECTS, holds_locks=True)
INDEXES = Batches(f"SELECT i.indexrelid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                  f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_USER_SCHEMA} ORDER BY 1", "relation")
FUNCTIONS = Batches(f"SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    f"WHERE {_USER_SCHEMA} ORDER BY 1", "function")
# Not the array types nor the row types of relations, which TYPES_SQL leaves out.
TYPES = Batches(f"SELECT t.oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                f"LEFT JOIN pg_class c ON c.oid = t.typrelid WHERE {_USER_SCHEMA} AND (t.typrelid = 0 OR c.relkind = 'c') "
                f"AND NOT EXISTS (SELECT FROM pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid) ORDER BY 1", "type")
TRIGGERS = Batches("SELECT DISTINCT tgrelid FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1", "relation")
INHERITORS = Batches("SELECT DISTINCT inhrelid FROM pg_inherits ORDER BY 1", "relation")
# The tables that have a policy, a rule (a view's _RETURN rule is the view) or extended statistics.
TABLE_ATTACHMENTS = Batches(f"SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_USER_SCHEMA} "
                            "AND c.oid IN (SELECT polrelid FROM pg_policy UNION ALL SELECT ev_class FROM pg_rewrite "
                            "WHERE rulename <> '_RETURN' UNION ALL SELECT stxrelid FROM pg_statistic_ext) ORDER BY 1",
                            "relation")


def _any(*reads: str) -> str:
    return " OR ".join(f"EXISTS (SELECT FROM pg_catalog.{read})" for read in reads)


# Built-in objects have OIDs below 16384 (FirstNormalObjectId); what users and extensions make, above.
_USER_MADE = "WHERE oid >= 16384"
EXTENSIBILITY_PRESENT = _any(*(f"{catalog} {_USER_MADE}" for catalog in (
    "pg_collation", "pg_cast", "pg_operator", "pg_opclass", "pg_opfamily", "pg_am", "pg_ts_config", "pg_ts_dict",
    "pg_ts_parser", "pg_ts_template", "pg_conversion", "pg_transform", "pg_language")))
# A view's _RETURN rule is the view; pg_settings' own rules are the system's.
TABLE_ATTACHMENTS_PRESENT = _any("pg_policy", "pg_rewrite WHERE rulename <> '_RETURN' AND ev_class >= 16384",
                                 "pg_statistic_ext")
# pg_subscription is the server's: this database's subscriptions only.
DATABASE_WIDE_PRESENT = _any("pg_publication", "pg_foreign_data_wrapper", "pg_foreign_server", "pg_event_trigger",
                             "pg_subscription WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database "
                             "WHERE datname = current_database())")
OBJECT_LINKS_PRESENT = f"{TABLE_ATTACHMENTS_PRESENT} OR {DATABASE_WIDE_PRESENT} OR {_any('pg_foreign_table')}"


# What USAGE_SQL returns: each object's counters that are not zero and its state, as the views name them.
USAGE_COUNTERS = ("OBJECT_TYPE", "OBJECT_ID", "COUNTERS", "STATE")
# Extracts written only when their setting (or meta_only false) turns them on.
OPTIONAL_EXTRACTS = ("profile", "usage")


# In run order. One statement per object kind (or family of kinds), each run once per database.
NAMED_STATEMENTS = (
    # From the server's own statistics, never the tables: switched by "profile" and "usage". First:
    # PROFILE_SQL is among the longest, and sessions sharing a snapshot take statements in this order.
    NamedStatement("PROFILE_SQL", "profile"),
    NamedStatement("USAGE_SQL", "usage", columns=USAGE_COUNTERS),
    NamedStatement("DATABASES_SQL", "metadata"),
    NamedStatement("SCHEMAS_SQL", "metadata"),
    NamedStatement("EXTENSIONS_SQL", "metadata"),
    NamedStatement("TABLES_SQL", "metadata", TABLES),
    NamedStatement("VIEWS_SQL", "metadata", VIEWS),
    NamedStatement("FUNCTIONS_SQL", "metadata", FUNCTIONS),
    NamedStatement("COLUMNS_SQL", "metadata", _relations("'r', 'p', 'f', 'v', 'm'")),
    NamedStatement("SEQUENCES_SQL", "metadata"),
    NamedStatement("TYPES_SQL", "metadata", TYPES),
    NamedStatement("INDEXES_SQL", "metadata", INDEXES),
    NamedStatement("CONSTRAINTS_SQL", "metadata", TABLES),
    NamedStatement("TRIGGERS_SQL", "metadata", TRIGGERS),
    # One statement for a family of small kinds (collations, casts, operators, text search...).
    NamedStatement("EXTENSIBILITY_SQL", "metadata", present=EXTENSIBILITY_PRESENT),
    NamedStatement("POLICIES_RULES_STATISTICS_SQL", "metadata", TABLE_ATTACHMENTS, present=TABLE_ATTACHMENTS_PRESENT),
    NamedStatement("REPLICATION_FDW_EVENT_TRIGGERS_SQL", "metadata", present=DATABASE_WIDE_PRESENT),
    NamedStatement("FOREIGN_KEYS_SQL", "linkages"),
    NamedStatement("TABLE_HIERARCHY_SQL", "linkages", INHERITORS),
    NamedStatement("SEQUENCE_OWNERS_SQL", "linkages"),
    NamedStatement("TRIGGER_FUNCTIONS_SQL", "linkages"),
    NamedStatement("TYPE_USAGE_SQL", "linkages"),
    NamedStatement("VIEW_DEPENDENCIES_SQL", "linkages"),
    NamedStatement("FUNCTION_DEPENDENCIES_SQL", "linkages"),
    # Policies, rules, publications, subscriptions, foreign tables and servers to what they link.
    NamedStatement("OBJECT_LINKS_SQL", "linkages", present=OBJECT_LINKS_PRESENT),
    NamedStatement("PRIVILEGES_SQL", "privileges"),
    NamedStatement("DEFAULT_PRIVILEGES_SQL", "privileges"),
    NamedStatement("ROLES_SQL", "roles"),  # the server's: only the first database's rows are kept
)
BY_NAME = {s.name: s for s in NAMED_STATEMENTS}


# Types whose values the contract writes as times in UTC (timestamp with and without time zone).
TIMESTAMP_OID, TIMESTAMPTZ_OID = 1114, 1184
MOMENT_OIDS = (TIMESTAMPTZ_OID, TIMESTAMP_OID)


def describe(conn: psycopg.Connection, query: str) -> "list[tuple[str, int]]":
    """(name, type OID) of each column of ``query``, as the server describes it once parsed: the
    protocol's Describe, so the statement is not planned (planning a catalog statement twice cost
    more than running the smaller ones)."""
    pgconn = conn.pgconn
    for result in (pgconn.prepare(b"", query.encode(conn.info.encoding)), pgconn.describe_prepared(b"")):
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
    return [((result.fname(i) or b"").decode(conn.info.encoding), result.ftype(i)) for i in range(result.nfields)]


def contract_moment(value: sql.Composable, type_oid: int) -> sql.Composable:
    """SQL of the text the contract writes for ``value``, a time of type ``type_oid``
    (``MOMENT_OIDS``): UTC, microseconds only when there are some (lib/writer.py's format_value)."""
    moment = sql.SQL("({} AT TIME ZONE 'UTC')" if type_oid == TIMESTAMPTZ_OID else "{}").format(value)
    return sql.SQL("to_char({0}, CASE WHEN extract(microseconds FROM {0})::bigint % 1000000 = 0 "
                   "THEN 'YYYY-MM-DD HH24:MI:SS' ELSE 'YYYY-MM-DD HH24:MI:SS.US' END)").format(moment)


def load_default(name: str) -> str:
    """The shipped text of statement ``name``, its id macros written out (see the docstring)."""
    return expand_object_ids((SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))


class StatementSet:
    """The statements of one Extractor: the shipped defaults, plus the user's replacements."""

    def __init__(self) -> None:
        self._text = {s.name: load_default(s.name) for s in NAMED_STATEMENTS}
        self._replaced: set[str] = set()

    def names(self) -> list[str]:
        return [s.name for s in NAMED_STATEMENTS]

    def get(self, name: str) -> str:
        self._check_name(name)
        return self._text[name]

    def overwrite(self, name: str, statement: str) -> None:
        self._check_name(name)
        if not isinstance(statement, str) or not statement.strip():
            raise ExtractError(f"overwrite_sql('{name}', ...) needs the SQL text of a SELECT, got {statement!r}")
        self._text[name] = statement
        self._replaced.add(name)

    def is_shipped(self, name: str) -> bool:
        """True unless the user replaced the statement."""
        return name not in self._replaced

    def _check_name(self, name: str) -> None:
        if name not in self._text:
            raise ExtractError(f"no SQL statement named {name!r}; the names are: {', '.join(self.names())}")

    def is_batched(self, name: str) -> bool:
        return BY_NAME[name].batches is not None and BATCH_PLACEHOLDER in self._text[name]

    def render(self, name: str, values: Sequence[Any], conn: Any) -> str:
        """The statement text with placeholders replaced by SQL literals, tagged, ready to run."""
        text = self._text[name].strip().rstrip(";").strip()

        def literal(match: re.Match[str]) -> str:
            index = int(match.group(1))
            if index >= len(values):
                raise ExtractError(
                    f"{name} uses the placeholder {{{index}}}, but only {{0}} to {{{len(values) - 1}}} exist "
                    "({0} host, {1} window start, {2} window end, {3} a batch of OIDs or NULL in the statements that deparse)"
                )
            return sql.Literal(values[index]).as_string(conn)

        # Ends with a line break: a closing line comment must not swallow what the collector wraps around it.
        return tagged(PLACEHOLDER.sub(literal, text), name) + "\n"

    @staticmethod
    def check_columns(name: str, received: Sequence[str]) -> None:
        statement = BY_NAME[name]
        expected = list(statement.columns or EXTRACT_COLUMNS[statement.extract])
        what = "its own columns" if statement.columns else f"the columns of the {statement.extract} extract"
        if list(received) != expected:
            raise ExtractError(
                f"{name} must return {what}, in order.\n"
                f"  expected: {', '.join(expected)}\n"
                f"  received: {', '.join(received)}\n"
                f"Alias each column of your statement (AS \"NAME\") to match."
            )
