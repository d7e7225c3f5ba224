"""Connections the collector opens: read-only, tagged, with timeouts; failures told apart.

Settings are applied with SET after connecting rather than as startup ``options``, which
PgBouncer in front of RDS rejects.
"""

import logging
import re
import socket
from typing import Optional

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.string import TextLoader

from kada_collectors.lib import __version__
from kada_collectors.lib.errors import CollectorError
from kada_collectors.lib.redact import redact_credentials

from .access import iam_fix
from .iam import IamAuthError, token_for
from .passwords import password_fix, secret_password
from .statements import tagged
from .tls import explain_tls_error, tls_state

APPLICATION_NAME = f"kada-collector/{__version__}"
MINIMUM_SERVER_VERSION = 120000

log = logging.getLogger(__name__)


class DatabaseUnavailable(CollectorError):
    """A database could not be used; the message says why and what to do. ``kind`` says which step
    failed (see ``connect_error_kind``), when it is known."""

    def __init__(self, message: str, kind: Optional[str] = None):
        super().__init__(message)
        self.kind = kind

    @property
    def server_wide(self) -> bool:
        """Whether every database of the server would fail the same way (see ``SERVER_WIDE_KINDS``)."""
        return self.kind in SERVER_WIDE_KINDS

    @property
    def retryable(self) -> bool:
        """Whether trying again unchanged may succeed (see ``PERMANENT_KINDS``)."""
        return self.kind not in PERMANENT_KINDS


def connect(settings, password, dbname):
    """Open an autocommit connection to ``dbname`` with the session settings applied."""
    params = {
        "host": settings["server"],
        "port": settings["port"],
        "dbname": dbname,
        "user": settings["username"],
        "sslmode": settings["sslmode"],
        "connect_timeout": settings["connect_timeout"],
        "application_name": APPLICATION_NAME,
    }
    if settings.get("iam_auth"):
        # A new token for every connection: one lasts 15 minutes, a run may last longer. It is a
        # connect parameter only, never part of a conninfo string that could be logged.
        try:
            password = token_for(settings)
        except IamAuthError as e:
            raise DatabaseUnavailable(f"database {dbname!r}: {e}", kind="iam") from None
    elif settings.get("password_secret"):
        password = _secret(settings, dbname)  # the value last read: a rotation seen once serves every database
    if password is not None:
        params["password"] = password
    if settings.get("sslrootcert"):
        params["sslrootcert"] = settings["sslrootcert"]
    conn = _open(params, settings, dbname)
    # JSON values are written as the server prints them: parsing them only to print them again
    # would be the costliest step of the whole extraction.
    for json_type in ("json", "jsonb"):
        conn.adapters.register_loader(json_type, TextLoader)
    _warn_if_unencrypted(conn, settings, dbname)
    try:
        if conn.info.server_version < MINIMUM_SERVER_VERSION:
            raise DatabaseUnavailable(
                f"database {dbname!r}: server version {conn.info.server_version} is older than PostgreSQL 12, "
                "the oldest this collector supports", kind="version")
        timeout_ms = settings["statement_timeout_seconds"] * 1000
        conn.execute(
            tagged("SELECT set_config('statement_timeout', %(timeout)s, false), "
            "set_config('lock_timeout', %(lock)s, false), "
            # A collector stuck between statements must not hold its snapshot (and locks) forever.
            "set_config('idle_in_transaction_session_timeout', %(timeout)s, false), "
            "set_config('default_transaction_read_only', 'on', false), "
            # As pg_dump does: with only pg_catalog on the path, deparsed definitions qualify every
            # user object, so the text means the same wherever it is read (and parses unambiguously).
            "set_config('search_path', '', false)"),
            {"timeout": str(timeout_ms), "lock": str(settings["lock_timeout_seconds"] * 1000)})
    except psycopg.Error as e:  # the session ended as it began (a restart, a terminated backend)
        conn.close()
        raise DatabaseUnavailable(f"database {dbname!r} on {settings['server']}:{settings['port']}: the session "
                                  f"failed as it began: {redact_credentials(_cause(str(e)))}",
                                  kind="other") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _secret(settings, dbname, refresh=False):
    try:
        return secret_password(settings, refresh=refresh)
    except CollectorError as e:
        raise DatabaseUnavailable(f"database {dbname!r}: {e}", kind="auth") from None


def _open(params, settings, dbname):
    """psycopg.connect; a password kept by AWS that the server refuses is read again and tried
    once more (it may have been rotated since it was read), exactly once."""
    retried = False
    while True:
        try:
            return psycopg.connect(autocommit=True, **params)
        except psycopg.Error as e:
            kind = connect_error_kind(e, settings)
            if kind == "auth" and settings.get("password_secret") and not settings.get("iam_auth") and not retried:
                log.info("the server refused the password read from AWS for database %r; reading it again (it may "
                         "have been rotated)", dbname)
                params["password"], retried = _secret(settings, dbname, refresh=True), True
                continue
            raise DatabaseUnavailable(explain_connect_error(e, settings, dbname, kind), kind=kind) from None


_warned_unencrypted = set()


def _warn_if_unencrypted(conn, settings, dbname):
    """sslmode prefer/allow fall back to plain text silently: say so, once per server."""
    where = (settings["server"], settings["port"])
    if settings.get("sslmode") in ("prefer", "allow") and not settings["server"].startswith("/") \
            and not tls_state(conn, settings)["used"] and where not in _warned_unencrypted:
        _warned_unencrypted.add(where)
        log.warning("the connection to %s:%s (database %r) is not encrypted: sslmode %s fell back to plain text. "
                    "Set \"sslmode\": \"verify-full\" with 'sslrootcert' to require TLS and verify the server",
                    settings["server"], settings["port"], dbname, settings["sslmode"])


# What stops every database of the server (as opposed to one database that is missing, refuses
# CONNECT, or failed some other way): the collector cannot start at all.
SERVER_WIDE_KINDS = frozenset({"unreachable", "not_postgres", "tls", "auth", "iam", "version"})
# Failures that stay until someone acts (creates the database, grants CONNECT, fixes the port or
# upgrades the server): trying again within minutes only delays the run's end.
PERMANENT_KINDS = frozenset({"database", "privilege", "not_postgres", "version"})
_AUTH_SIGNS = ("authentication failed", "no pg_hba.conf entry", "no password supplied")
_UNREACHABLE_SIGNS = ("could not translate host name", "connection refused", "timeout expired", "no route to host",
                      "network is unreachable", "could not connect", "connection timed out",
                      "name or service not known", "is the server running")
# libpq's words when what answered on the port does not speak PostgreSQL's protocol.
_NOT_POSTGRES_SIGNS = ("invalid response to ssl negotiation", "expected authentication request",
                       "received invalid response", "invalid response to gssapi negotiation")


def connect_error_kind(error: Exception, settings: dict) -> str:
    """Which step of connecting failed: unreachable, not_postgres (something else answered on the
    port, or took the connection and never answered), tls, auth, database (missing), privilege (no
    CONNECT), or other. The one classification of connect errors: ``explain_connect_error`` only
    words the kind this returns, and ``doctor`` reads it from ``DatabaseUnavailable.kind``."""
    state = getattr(error, "sqlstate", None)
    text = str(error)
    lowered = text.lower()
    if any(s in lowered for s in _NOT_POSTGRES_SIGNS):
        return "not_postgres"
    if explain_tls_error(text, settings):
        return "tls"
    if state == "3D000" or ("database" in lowered and "does not exist" in lowered):
        return "database"
    if state == "42501" or "permission denied for database" in lowered:
        return "privilege"
    if state in ("28P01", "28000") or any(s in lowered for s in _AUTH_SIGNS):
        return "auth"
    if "ssl" in lowered and ("required" in lowered or "certificate" in lowered or "unsupported" in lowered):
        return "tls"
    if any(s in lowered for s in _UNREACHABLE_SIGNS):
        # libpq timed out waiting for an answer, yet the port takes TCP connections: something
        # that is not PostgreSQL (or not only) listens there.
        if "timeout expired" in lowered and _answers_tcp(settings):
            return "not_postgres"
        return "unreachable"
    return "other"


def explain_connect_error(error: Exception, settings: dict, dbname: str, kind: Optional[str] = None) -> str:
    """Turn a driver error into what happened and what to do, without echoing any secret: the
    wording of its ``kind`` (``connect_error_kind``'s, unless given)."""
    kind = kind or connect_error_kind(error, settings)
    where = f"{settings['server']}:{settings['port']}"
    user = settings["username"]
    text = str(error)
    cause = redact_credentials(_cause(text))
    if kind == "tls":
        return explain_tls_error(text, settings) or (
            f"TLS negotiation with {where} failed: {cause}. "
            "Check 'sslmode' and 'sslrootcert' (RDS: sslmode verify-full with the RDS CA bundle).")
    if kind == "database":
        return (f"database {dbname!r} does not exist on {where}. Check the 'databases' list "
                f"(names are case-sensitive), or create the database.")
    if kind == "privilege":
        return (f"user {user!r} may not connect to database {dbname!r} on {where}. "
                f"Run: GRANT CONNECT ON DATABASE \"{dbname}\" TO \"{user}\";")
    if kind == "auth":
        return f"authentication refused for user {user!r} on {where} (database {dbname!r}): {_auth_fix(text, settings)}."
    if kind == "not_postgres":
        return (f"something at {where} accepted the connection but did not answer as PostgreSQL ({cause}): another "
                f"service listens on port {settings['port']}, or a proxy that does not pass PostgreSQL through. "
                f"Check 'port' (5432 unless the server was set up otherwise; RDS shows it under Connectivity & "
                f"security), e.g. with: pg_isready -h {settings['server']} -p {settings['port']}")
    if kind == "unreachable":
        return (f"cannot reach PostgreSQL at {where}: {cause}. Check 'server' and 'port', that the server is "
                "running, and that firewalls or security groups let this machine in.")
    return f"cannot connect to database {dbname!r} on {where}: {cause}"


def _answers_tcp(settings: dict) -> bool:
    """Whether a TCP connection to the server's port opens (after libpq timed out waiting for an
    answer: then something listens there that is not PostgreSQL, or not only)."""
    if settings["server"].startswith("/"):  # a Unix socket folder
        return False
    try:
        socket.create_connection((settings["server"], settings["port"]), timeout=min(settings["connect_timeout"], 5)).close()
    except OSError:
        return False
    return True


def _auth_fix(text: str, settings: dict) -> str:
    lowered = text.lower()
    if "no pg_hba.conf entry" in lowered:
        return "the server's pg_hba.conf has no entry for this client, user and database: ask the DBA to add one"
    if settings.get("iam_auth"):
        return iam_fix(settings)
    if "no password supplied" in lowered:
        return "no password was given: set 'password', 'password_env', 'password_file' or 'password_secret' in the config"
    return password_fix(settings)


def _cause(text):
    """The line of a driver error that says why: libpq prefixes each attempt with "connection to
    server at ... failed:" and may end with a hint ("Is the server running ...?"), which is dropped."""
    lines = [line.strip() for line in text.strip().splitlines()
             if line.strip() and not line.strip().startswith("Is the server running")]
    return lines[-1] if lines else "unknown error"


def explain_query_error(error, name, settings):
    """What a failed statement means for the user."""
    if is_recovery_conflict(error):
        return (f"the standby cancelled {name} to replay changes from the primary (a recovery conflict: "
                f"{redact_credentials(error.diag.message_detail or 'no detail')}). Raise max_standby_streaming_delay "
                "or turn on hot_standby_feedback on the replica (RDS: its parameter group), or extract from the primary")
    if isinstance(error, pg_errors.QueryCanceled):
        return (f"{name} ran longer than statement_timeout_seconds={settings['statement_timeout_seconds']}; "
                "raise it in the config, or run when the server is less busy")
    if isinstance(error, pg_errors.LockNotAvailable):
        return (f"{name} waited more than lock_timeout_seconds={settings['lock_timeout_seconds']} for a lock "
                "held by another session (DDL in progress?); run again later or raise lock_timeout_seconds")
    message = redact_credentials(error.diag.message_primary or _cause(str(error)))
    if isinstance(error, pg_errors.InsufficientPrivilege):
        return f"{name}: {message}. See docs/grants.md for the privileges the collector needs"
    return f"{name} failed: {message}"


# Errors that a fresh snapshot can cure: an object dropped after our snapshot was taken makes the
# deparse functions raise "could not open relation" or "cache lookup failed" (internal errors); a
# hot standby may cancel a long snapshot; a lock held by brief DDL may free up.
RETRYABLE = (pg_errors.InternalError_, pg_errors.SerializationFailure, pg_errors.LockNotAvailable)
# What those deparse functions raise for an object dropped after the snapshot was taken.
_VANISHED = re.compile(r"cache lookup failed for |could not open relation with OID |relation with OID \d+ does not exist")


def is_ddl_deadlock(error: Exception) -> bool:
    """The server cancelled the statement to end a deadlock with another session (not a standby's
    recovery conflict, which shares the SQLSTATE)."""
    return isinstance(error, pg_errors.DeadlockDetected) and not is_recovery_conflict(error)


def is_vanished_object(error: Exception) -> bool:
    """The statement failed because an object it read was dropped after the snapshot was taken."""
    return isinstance(error, (pg_errors.InternalError_, pg_errors.UndefinedTable, pg_errors.UndefinedObject)) \
        and _VANISHED.search(error.diag.message_primary or "") is not None


def in_recovery(conn):
    """Whether the server is a hot standby (a read replica, an Aurora reader): pg_is_in_recovery()."""
    return bool(conn.execute(tagged("SELECT pg_catalog.pg_is_in_recovery()")).fetchone()[0])


def is_recovery_conflict(error):
    """A hot standby cancelled the statement (or ended the session) to replay changes from the primary."""
    return getattr(error, "sqlstate", None) in ("40001", "40P01") and "conflict with recovery" in str(error)
