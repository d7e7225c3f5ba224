"""Which databases a run extracts: the configured list, or every one the user may use for ``["*"]``.

``"databases": ["*"]`` means every database of the server that the collector's user may CONNECT
to, less those nobody extracts: templates, databases that refuse connections
(``datallowconn`` false), databases left invalid by an interrupted ``DROP DATABASE``, and RDS's
internal ``rdsadmin``. The list is read from ``pg_database`` through the ``postgres`` database
(or, when that one cannot be used, ``template1``), when the run starts; the manifest records what
``*`` became and what was left out, and why.
"""

from dataclasses import dataclass, field

import psycopg

from kada_collectors.lib.errors import CollectorError

from .access import ALL_DATABASES, is_all_databases
from .rds import RDS_INTERNAL_DATABASES
from .session import DatabaseUnavailable, connect, explain_query_error
from .statements import tagged

# Tried in order to read pg_database.
MAINTENANCE_DATABASES = ("postgres", "template1")

# datconnlimit = -2 marks a database whose DROP DATABASE was interrupted (PostgreSQL 15.4+, 16+).
DATABASES_SQL = tagged("""
SELECT datname, datistemplate, datallowconn, datconnlimit = -2 AS invalid,
       has_database_privilege(oid, 'CONNECT') AS may_connect
FROM pg_catalog.pg_database
ORDER BY datname
""")


@dataclass
class Selection:
    """The databases of a run, and for ``*`` how they were chosen."""

    names: list
    requested: list
    excluded: list = field(default_factory=list)  # [{"name": ..., "reason": ...}]
    maintenance_database: str = None

    @property
    def resolved(self):
        return is_all_databases(self.requested)

    def manifest_entry(self):
        """What the manifest says about the choice (``requested``, ``resolved_to``, ``excluded``)."""
        entry = {"requested": list(self.requested)}
        if self.resolved:
            entry.update(resolved_to=list(self.names), excluded=list(self.excluded), read_from=self.maintenance_database)
        return entry


class NoDatabase(CollectorError):
    """``*`` matched no database the user may extract."""


def exclusion_reason(row, username):
    """Why a ``pg_database`` row is not extracted with ``*``; None when it is."""
    name, is_template, allow_connections, invalid, may_connect = row
    if name in RDS_INTERNAL_DATABASES:
        return "RDS internal database"
    if is_template:
        return "template database"
    if not allow_connections:
        return "does not allow connections (datallowconn is false)"
    if invalid:
        return "invalid database (an interrupted DROP DATABASE)"
    if not may_connect:
        return f"user {username!r} has no CONNECT privilege on it"
    return None


def select_databases(settings, password):
    """The run's databases: the configured list as it is, or what ``*`` stands for now.

    Raises ``DatabaseUnavailable`` when no maintenance database can be read, ``NoDatabase`` when
    ``*`` matches nothing.
    """
    requested = list(settings["databases"])
    if not is_all_databases(requested):
        return Selection(names=requested, requested=requested)
    rows, used = read_pg_database(settings, password)
    names, excluded = [], []
    for row in rows:
        reason = exclusion_reason(row, settings["username"])
        if reason:
            excluded.append({"name": row[0], "reason": reason})
        else:
            names.append(row[0])
    if not names:
        left_out = "; ".join(f"{e['name']}: {e['reason']}" for e in excluded) or "none"
        raise NoDatabase(f"\"databases\": [\"{ALL_DATABASES}\"] matched no database that user "
                         f"{settings['username']!r} may extract on {settings['server']}:{settings['port']} "
                         f"(left out: {left_out}). Grant CONNECT on the databases to extract, or list them by name.")
    return Selection(names=names, requested=requested, excluded=excluded, maintenance_database=used)


def read_pg_database(settings, password):
    """The rows of DATABASES_SQL, read through the first maintenance database that can be used."""
    problems, kind = [], None
    for dbname in MAINTENANCE_DATABASES:
        try:
            with connect(settings, password, dbname) as conn:
                return conn.execute(DATABASES_SQL).fetchall(), dbname
        except psycopg.Error as e:  # connected, but the list could not be read
            problems.append(f"database {dbname!r}: {explain_query_error(e, 'DATABASES_SQL', settings)}")
        except DatabaseUnavailable as e:
            problems.append(str(e))
            if e.server_wide:
                kind = e.kind
                break  # the next database would fail the same way
    raise DatabaseUnavailable(
        f"cannot list the databases for \"databases\": [\"{ALL_DATABASES}\"]: no maintenance database "
        f"({', '.join(MAINTENANCE_DATABASES)}) could be used:\n" + "\n".join(f"    {p}" for p in problems), kind=kind)
