"""``kada-collector doctor``: connect as the collector's user and check each prerequisite in turn.

Each check ends PASS, WARN (works, but not as it should be), FAIL (the run would fail or miss
something; the line says how to fix it) or SKIP (an earlier failure makes it meaningless). Nothing
secret is printed: not the password, not an IAM token.
"""

import os
import socket
from dataclasses import dataclass, field
from typing import Optional

import psycopg

from kada_collectors.lib.errors import CollectorError
from kada_collectors.lib.redact import redact_credentials

from .access import describe_authentication, is_all_databases
from .discovery import MAINTENANCE_DATABASES, select_databases
from .grants import CATALOG_TABLES, READ_ALL_STATS, ident
from .iam import IamAuthError, token_for
from .querylog.config import query_log_sources
from .rds import RDS_CA_BUNDLE_URL, is_rds_endpoint
from .session import DatabaseUnavailable, connect, in_recovery
from .statements import tagged
from .tls import describe_tls, tls_state

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"

CATALOG_SQL = tagged("""
SELECT has_schema_privilege('pg_catalog', 'USAGE'),
       ARRAY(SELECT t FROM unnest(%(tables)s::text[]) t
             WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c
                               WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relname = t
                                 AND has_table_privilege(c.oid, 'SELECT'))
             ORDER BY t)
""")
PGSS_EXTENSION_SQL = tagged("SELECT extversion, extnamespace::regnamespace::text FROM pg_catalog.pg_extension "
                            "WHERE extname = 'pg_stat_statements'")
# The tables whose column statistics pg_stats shows the user (those it may SELECT), of all the
# tables the profile covers; and whether functions are counted, for usage.
STATISTICS_SQL = tagged("""
SELECT count(*) FILTER (WHERE has_table_privilege(c.oid, 'SELECT')), count(*), current_setting('track_functions')
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
""")
READ_ALL_STATS_SQL = tagged("""
SELECT r.rolsuper OR pg_has_role(current_user, %(role)s, 'USAGE')
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
""")


@dataclass
class Check:
    name: str
    status: str
    detail: str = ""
    fix: Optional[str] = None


@dataclass
class Report:
    checks: list = field(default_factory=list)

    def add(self, name, status, detail="", fix=None):
        check = Check(name, status, redact_credentials(detail), redact_credentials(fix) if fix else None)
        self.checks.append(check)
        return check

    def count(self, status):
        return sum(1 for c in self.checks if c.status == status)

    @property
    def ok(self):
        return self.count(FAIL) == 0

    def lines(self):
        width = max([len(c.name) for c in self.checks] + [10])
        for c in self.checks:
            yield f"{c.status}  {c.name.ljust(width)}  {c.detail}".rstrip()
            if c.fix:
                yield f"{' ' * (len(c.status) + 2 + width + 2)}fix: {c.fix}"


def run_doctor(settings, password):
    """Every check for the validated ``settings``; returns a ``Report``."""
    report = Report()
    where = f"{settings['server']}:{settings['port']}"
    report.add("config", PASS, f"valid; sslmode {settings['sslmode']}, logging in with {describe_authentication(settings)}")
    if not _reachable(report, settings, where):
        return _skip_rest(report, "the server is not reachable")
    if settings.get("iam_auth"):
        try:
            token_for(settings)
        except IamAuthError as e:
            report.add("iam token", FAIL, str(e))
            return _skip_rest(report, "no IAM token could be made")
        report.add("iam token", PASS, f"made for {settings['username']}@{where} in {settings['aws_region']}"
                   + (f" as {settings['role_arn']}" if settings.get("role_arn") else ""))
    first = "postgres" if is_all_databases(settings["databases"]) else settings["databases"][0]
    conn = _session(report, settings, password, first, where)
    if conn is None:
        return report
    with conn:
        _server(report, conn, settings)
    databases = _databases(report, settings, password)
    connected = []
    for dbname in databases:
        try:
            db = connect(settings, password, dbname)
        except DatabaseUnavailable as e:
            report.add(f"connect {dbname}", FAIL, str(e))
            continue
        report.add(f"connect {dbname}", PASS, "CONNECT granted")
        connected.append((dbname, db))
    try:
        for dbname, db in connected:
            _catalog(report, db, dbname, settings)
            _statistics(report, db, dbname, settings)
        query_log = query_log_sources(settings.get("query_log"), settings.get("meta_only", True))
        if query_log is None:
            report.add("query log", SKIP, "off (meta_only is true)")
        else:
            if query_log.get("pg_stat_statements"):
                _pg_stat_statements(report, connected, settings)
            if query_log.get("log_files"):
                _log_files(report, query_log["log_files"])
            if query_log.get("cloudwatch"):
                _cloudwatch(report, query_log["cloudwatch"])
    finally:
        for _, db in connected:
            db.close()
    return report


def _skip_rest(report, why):
    report.add("the rest", SKIP, f"skipped: {why}")
    return report


def _reachable(report, settings, where):
    server, port = settings["server"], settings["port"]
    if server.startswith("/"):
        path = os.path.join(server, f".s.PGSQL.{port}")
        if os.path.exists(path):
            report.add("reachable", PASS, f"the socket {path} exists")
            return True
        report.add("reachable", FAIL, f"no PostgreSQL socket {path}", "check 'server' (the socket folder) and 'port', "
                   "and that the server runs")
        return False
    try:
        socket.create_connection((server, port), timeout=settings["connect_timeout"]).close()
    except socket.gaierror as e:
        report.add("reachable", FAIL, f"cannot resolve {server}: {e.strerror}",
                   "check 'server' (the endpoint's DNS name) and this machine's DNS")
        return False
    except OSError as e:
        reason = "timed out" if isinstance(e, socket.timeout) else (e.strerror or str(e))
        report.add("reachable", FAIL, f"cannot open a TCP connection to {where}: {reason}",
                   "check 'server' and 'port', that the server runs, and that firewalls or security groups let this "
                   "machine in")
        return False
    report.add("reachable", PASS, f"{where} accepts TCP connections")
    return True


def _session(report, settings, password, dbname, where):
    """The first connection: TLS and authentication, told apart. None when they failed."""
    try:
        conn = connect(settings, password, dbname)
    except DatabaseUnavailable as e:
        kind = e.kind
        if kind == "tls":
            report.add("tls", FAIL, str(e), _tls_fix(settings))
            _skip_rest(report, "TLS failed")
            return None
        mode = settings["sslmode"]
        if kind in ("auth", "database", "privilege"):
            # libpq authenticates only after TLS succeeded, and checks the database after both.
            if mode in ("require", "verify-ca", "verify-full"):
                report.add("tls", PASS, f"negotiated with sslmode {mode}")
            else:
                report.add("tls", WARN, f"unknown (sslmode {mode} may have fallen back to plain text)",
                           "set sslmode verify-full and sslrootcert")
        if kind == "auth":
            report.add("authenticated", FAIL, str(e))
            _skip_rest(report, "authentication failed")
            return None
        if kind in ("database", "privilege"):
            report.add("authenticated", PASS, f"as {ident(settings['username'])}")
            # The database is reported with the others; another may serve for the server-wide checks.
            for other in [d for d in (*settings["databases"], *MAINTENANCE_DATABASES) if d not in (dbname, "*")]:
                try:
                    return connect(settings, password, other)
                except DatabaseUnavailable:
                    continue
            report.add("connect", FAIL, str(e))
            _skip_rest(report, f"no database could be used on {where}")
            return None
        report.add("connect", FAIL, str(e))
        _skip_rest(report, "the connection failed")
        return None
    state = tls_state(conn, settings, protocol=True)
    if not state["used"]:
        fix = ("set \"sslmode\": \"verify-full\" and 'sslrootcert' (RDS/Aurora: " + RDS_CA_BUNDLE_URL + ")")
        report.add("tls", WARN, describe_tls(state) + ": the password and the catalog travel in clear", fix)
    elif state.get("name_checked"):
        report.add("tls", PASS, describe_tls(state))
    else:
        report.add("tls", WARN, describe_tls(state), "set sslmode verify-full (and sslrootcert) to verify the server")
    report.add("authenticated", PASS, f"as {ident(settings['username'])} with {describe_authentication(settings)}")
    return conn


def _tls_fix(settings):
    if is_rds_endpoint(settings["server"]):
        return f"download {RDS_CA_BUNDLE_URL} and set 'sslrootcert' to its path, with sslmode verify-full"
    return "set 'sslrootcert' to the CA that signed the server's certificate, and 'server' to the name in it"


def _server(report, conn, settings):
    version = conn.info.parameter_status("server_version")
    role = "a hot standby (read replica or Aurora reader)" if in_recovery(conn) else "a primary"
    report.add("server", PASS, f"PostgreSQL {version.split()[0]}, {role}"
               + (", RDS/Aurora endpoint" if is_rds_endpoint(settings["server"]) else ""))


def _databases(report, settings, password):
    if not is_all_databases(settings["databases"]):
        return list(settings["databases"])
    try:
        selection = select_databases(settings, password)
    except CollectorError as e:
        report.add("databases *", FAIL, str(e))
        return []
    left_out = "; ".join(f"{e['name']} ({e['reason']})" for e in selection.excluded)
    report.add("databases *", PASS, f"{len(selection.names)}: {', '.join(selection.names)}"
               + (f"; left out: {left_out}" if left_out else ""))
    return selection.names


def _catalog(report, conn, dbname, settings):
    name = f"catalog {dbname}"
    role = ident(settings["username"])
    try:
        usage, missing = conn.execute(CATALOG_SQL, {"tables": list(CATALOG_TABLES)}).fetchone()
    except psycopg.Error as e:
        report.add(name, FAIL, f"cannot read the catalog: {e.diag.message_primary or e}",
                   f"in {dbname}: GRANT USAGE ON SCHEMA pg_catalog TO {role}; GRANT SELECT ON pg_catalog.pg_class, "
                   f"pg_catalog.pg_namespace TO {role}; (kada-collector grants prints all of them)")
        return
    problems, fixes = [], []
    if not usage:
        problems.append("no USAGE on schema pg_catalog")
        fixes.append(f"GRANT USAGE ON SCHEMA pg_catalog TO {role};")
    if missing:
        problems.append(f"cannot SELECT {', '.join(missing)}")
        fixes.append("GRANT SELECT ON " + ", ".join(f"pg_catalog.{t}" for t in missing) + f" TO {role};")
    if problems:
        report.add(name, FAIL, "; ".join(problems), f"in {dbname}: " + " ".join(fixes))
    else:
        report.add(name, PASS, f"{len(CATALOG_TABLES)} catalog tables readable")


def _statistics(report, conn, dbname, settings):
    """What the profile and usage extracts will hold: pg_stats shows only the columns of tables the
    user may SELECT, and functions are counted only with track_functions on."""
    if not settings.get("profile") and not settings.get("usage"):
        return
    readable, tables, track_functions = conn.execute(STATISTICS_SQL).fetchone()
    role = ident(settings["username"])
    if settings.get("profile"):
        if readable == tables:
            report.add(f"profile {dbname}", PASS, f"pg_stats shows the columns of all {tables} table(s)")
        else:
            report.add(f"profile {dbname}", WARN, f"pg_stats shows the columns of {readable} of {tables} table(s): "
                       "only those the user may SELECT; the others' profile holds their row estimate alone",
                       f"in {dbname}: GRANT SELECT ON the tables to profile TO {role}; or, for all of them, "
                       f"GRANT pg_read_all_data TO {role}; (PostgreSQL 14+). The collector reads no table either way")
    if settings.get("usage"):
        if track_functions == "none":
            report.add(f"usage {dbname}", WARN, "track_functions is off: usage will count no function calls",
                       "set track_functions = 'pl' in postgresql.conf (RDS: the parameter group) and reload")
        else:
            report.add(f"usage {dbname}", PASS, f"statistics views readable; track_functions = {track_functions}")


def _pg_stat_statements(report, connected, settings):
    role = ident(settings["username"])
    if not connected:
        report.add("pg_stat_statements", SKIP, "no database could be used")
        return
    where = None
    for dbname, conn in connected:
        row = conn.execute(PGSS_EXTENSION_SQL).fetchone()
        if row:
            where = (dbname, conn, row)
            break
    if where is None:
        first = connected[0][0]
        report.add("pg_stat_statements", FAIL, "the extension is in none of the databases "
                   f"({', '.join(d for d, _ in connected)})",
                   f"as a superuser (RDS: the master user), in {first}: CREATE EXTENSION pg_stat_statements;")
        return
    dbname, conn, (version, schema) = where
    try:
        with conn.transaction():
            conn.execute(tagged(f"SELECT 1 FROM {ident(schema)}.pg_stat_statements LIMIT 1")).fetchall()
    except psycopg.Error as e:
        message = e.diag.message_primary or str(e)
        if "shared_preload_libraries" in message:
            fix = ("add pg_stat_statements to shared_preload_libraries (RDS/Aurora: the parameter group) and restart "
                   "the server")
        else:
            fix = f"GRANT SELECT ON {ident(schema)}.pg_stat_statements TO {role};"
        report.add("pg_stat_statements", FAIL, f"installed in {dbname} ({version}) but not readable: {message}", fix)
        return
    report.add("pg_stat_statements", PASS, f"version {version} in {dbname}, readable")
    if conn.execute(READ_ALL_STATS_SQL, {"role": READ_ALL_STATS}).fetchone()[0]:
        report.add("query text", PASS, f"{READ_ALL_STATS} inherited: other users' statements are visible")
    else:
        pg16 = conn.info.server_version >= 160000
        fix = (f"GRANT {READ_ALL_STATS} TO {role} WITH INHERIT TRUE;" if pg16 else
               f"ALTER ROLE {role} INHERIT; GRANT {READ_ALL_STATS} TO {role};")
        report.add("query text", FAIL, f"{settings['username']} does not inherit {READ_ALL_STATS}: other users' "
                   "statements read as <insufficient privilege>", fix)


def _log_files(report, section):
    path = section.get("path")
    if not os.path.isdir(path):
        report.add("log files", FAIL, f"{path} is not a folder on this machine",
                   "set query_log.log_files.path to the server's log folder (SHOW log_directory), as this machine sees it")
        return
    try:
        names = [n for n in os.listdir(path) if os.path.isfile(os.path.join(path, n))]
    except OSError as e:
        report.add("log files", FAIL, f"cannot list {path}: {e.strerror}",
                   "let the collector's OS user read the folder (e.g. add it to the group that owns the logs)")
        return
    unreadable = [n for n in names if not os.access(os.path.join(path, n), os.R_OK)]
    if unreadable:
        report.add("log files", FAIL, f"{len(unreadable)} of {len(names)} file(s) in {path} unreadable, e.g. "
                   f"{unreadable[0]}", "let the collector's OS user read them (log_file_mode = 0640 and the group)")
    elif not names:
        report.add("log files", WARN, f"{path} holds no file yet", "check log_destination and logging_collector")
    else:
        report.add("log files", PASS, f"{len(names)} file(s) readable in {path}")


def _cloudwatch(report, section):
    group = section.get("log_group")
    try:
        import boto3
        import botocore.exceptions
    except ImportError:
        report.add("cloudwatch", FAIL, "boto3 is not installed", "pip install \"kada-collectors-extractors[aws]\"")
        return
    try:
        client = boto3.client("logs", region_name=section.get("region"), endpoint_url=section.get("endpoint_url"))
        streams = client.describe_log_streams(logGroupName=group, limit=1).get("logStreams", [])
    except botocore.exceptions.NoCredentialsError:
        report.add("cloudwatch", FAIL, "no AWS credentials found",
                   "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with an instance role")
        return
    except botocore.exceptions.ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            report.add("cloudwatch", FAIL, f"log group {group} does not exist",
                       "export the instance's postgresql log to CloudWatch Logs (EnableCloudwatchLogsExports), "
                       "or correct query_log.cloudwatch.log_group")
        else:
            report.add("cloudwatch", FAIL, f"cannot read log group {group}: {code}",
                       f"allow logs:FilterLogEvents and logs:DescribeLogStreams on {group}")
        return
    except botocore.exceptions.BotoCoreError as e:
        report.add("cloudwatch", FAIL, f"cannot reach CloudWatch Logs: {e}", "check the region and the network")
        return
    report.add("cloudwatch", PASS if streams else WARN, f"log group {group} readable"
               + ("" if streams else " but empty"), None if streams else "check the instance's log exports")
