"""The settings of the PostgreSQL collector: the vendor's config file, plus what a safe run needs."""

import re

from kada_collectors.lib.aws_secrets import reference_problems
from kada_collectors.lib.config import Setting, absolute_path, describe, validate_settings
from kada_collectors.lib.errors import ConfigError
from kada_collectors.lib.landing.config import landing_problems

from .access import access_problems, region_problem, role_arn_problem
from .passwords import PASSWORD_SOURCES, resolve_password
from .querylog.config import query_log_problems
from .statements import OPTIONAL_EXTRACTS

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


# What a connection string looks like: a URI (postgresql://user:password@host/db) or libpq's
# key=value pairs. Neither belongs in 'server', 'username' or a database name (libpq reads a
# database name holding '=' or a URI as a whole connection string), and the value is never
# repeated in the message: it may hold a password.
_URI_SCHEME = re.compile(r"^\s*[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_CONNINFO_KEY = re.compile(r"\b(?:host|hostaddr|port|dbname|user|password|sslmode)\s*=", re.IGNORECASE)
_IN_THEIR_SETTINGS = ("and the rest in settings of their own: 'server', 'port', 'username', 'password_env' "
                      "(or 'password') and 'databases'")


def _is_connection_string(value):
    return bool(_URI_SCHEME.match(value) or _CONNINFO_KEY.search(value))


def _non_empty(value):
    return None if value.strip() else "must not be empty"


def _no_connection_string(what, alone, userinfo=False):
    """A check that a setting holds ``what`` (described by ``alone``), not a connection string;
    with ``userinfo``, not ``user:password@host`` either."""
    def check(value):
        if _is_connection_string(value) or (userinfo and "@" in value):
            return (f"holds a connection string, not {what} (not repeated here: it may hold a password). Give "
                    f"{alone}, " + _IN_THEIR_SETTINGS)
        return _non_empty(value)
    return check


_server = _no_connection_string(
    "a host", "the host name, IP address or unix-socket folder alone, e.g. \"db.example.com\"", userinfo=True)
_username = _no_connection_string("a user name", "the user name alone, e.g. \"kada_collector\"")


def _port(value):
    return None if 1 <= value <= 65535 else f"must be between 1 and 65535, got {value}"


def _positive(maximum):
    def check(value):
        return None if 1 <= value <= maximum else f"must be between 1 and {maximum}, got {value}"
    return check


def _databases(value):
    if not value:
        return "must list at least one database, e.g. [\"dwh\"]"
    bad = [describe(v) for v in value if not isinstance(v, str) or not v.strip()]
    if bad:
        return f"must hold non-empty strings only; bad entries: {', '.join(bad)}"
    strings = [str(i + 1) for i, v in enumerate(value) if _URI_SCHEME.match(v) or "=" in v]
    if strings:
        which = f"entry {strings[0]} is a connection string" if len(strings) == 1 else \
            f"entries {', '.join(strings)} are connection strings"
        return (f"{which}, not database names (not repeated here: they may hold a password). List database names "
                "only, e.g. [\"dwh\"], " + _IN_THEIR_SETTINGS)
    dupes = sorted({v for v in value if value.count(v) > 1})
    return f"lists {', '.join(dupes)} more than once" if dupes else None


def _ssl_mode(value):
    return None if value in SSL_MODES else f"must be one of {', '.join(SSL_MODES)}, got {describe(value)}"


SETTINGS = (
    Setting("host", str, required=True, check=_non_empty),
    Setting("server", str, required=True, check=_server),
    Setting("username", str, required=True, check=_username),
    Setting("password", str, secret=True),
    Setting("password_env", str, check=_non_empty),
    Setting("password_file", str, check=absolute_path("/etc/kada/postgres_password")),
    # Where AWS keeps it (Secrets Manager or SSM Parameter Store): a place, not the password.
    Setting("password_secret", dict, check=reference_problems("password_secret")),
    Setting("databases", list, required=True, check=_databases),
    Setting("port", int, default=5432, check=_port),
    Setting("output_path", str, required=True, check=absolute_path("/var/lib/kada/output")),
    Setting("mask", bool, default=True),
    Setting("compress", bool, default=False),
    Setting("meta_only", bool, default=True),
    # Where the query log comes from when meta_only is false (docs/query-log.md).
    Setting("query_log", dict, check=query_log_problems),
    # The profile and usage extracts, from the server's own statistics (docs/contract.md): on
    # when meta_only is false, unless set.
    Setting("profile", bool),
    Setting("usage", bool),
    Setting("sslmode", str, default="prefer", check=_ssl_mode),
    Setting("sslrootcert", str, check=_non_empty),
    # IAM database authentication (docs/rds.md): a fresh token per connection as the password.
    # aws_region is also where password_secret is read.
    Setting("iam_auth", bool, default=False),
    Setting("aws_region", str, check=region_problem),
    Setting("role_arn", str, check=role_arn_problem),
    # The change-event snapshots (SQLite); by default kada_postgres_snapshots.sqlite in the
    # working folder, next to the HWM file.
    Setting("snapshot_path", str, check=absolute_path("/var/lib/kada/kada_postgres_snapshots.sqlite")),
    Setting("connect_timeout", int, default=10, check=_positive(3600)),
    # Databases extracted at once, each on a connection of its own.
    Setting("max_connections", int, default=2, check=_positive(64)),
    Setting("statement_timeout_seconds", int, default=600, check=_positive(86400)),
    Setting("lock_timeout_seconds", int, default=5, check=_positive(3600)),
    # Where `kada-collector push` and `run` put the files (docs/landing.md); its problems are
    # reported with the others'. Its secrets never reach the manifest (settings_for_manifest).
    Setting("landing", dict, check=landing_problems),
)


def validate_config(config):
    """Validate the whole config; return it completed with defaults and the resolved password."""
    settings = validate_settings(config, SETTINGS, source="PostgreSQL collector config")
    given = [name for name in PASSWORD_SOURCES if config.get(name) not in (None, "")]
    if len(given) > 1:
        raise ConfigError([f"give the password one way only, found {', '.join(given)}"], "PostgreSQL collector config")
    # TLS, IAM and "*" taken together (access.py); settles the effective sslmode.
    problems = access_problems(config, settings)
    if problems:
        raise ConfigError(problems, "PostgreSQL collector config")
    for extract in OPTIONAL_EXTRACTS:
        if settings[extract] is None:
            settings[extract] = not settings["meta_only"]
    return settings, resolve_password(settings)
