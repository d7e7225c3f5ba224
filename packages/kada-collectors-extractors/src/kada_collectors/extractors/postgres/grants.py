"""The least-privilege SQL for the collector's user, for the options of one config.

``grants_script(settings)`` returns a psql script (``kada-collector grants --config F``) that a
superuser (on RDS/Aurora: the master user) runs once. It needs no connection to be written: the
collector's user may not exist yet. It adapts itself to the server's version when it runs (psql's
``\\if``), and every statement in it can be run again safely.
"""

import itertools
from typing import Optional

from psycopg import sql

from .access import is_all_databases
from .querylog.config import query_log_sources
from .rds import RDS_CA_BUNDLE_URL, RDS_IAM_ROLE, is_rds_endpoint

# The catalog tables and views the collector reads (sql/*.sql, lineage/, checks.py). PUBLIC may
# read them all by default; the vendor's page asks for USAGE on pg_catalog and SELECT on these.
CATALOG_TABLES = (
    "pg_aggregate", "pg_am", "pg_amop", "pg_amproc", "pg_attrdef", "pg_attribute", "pg_auth_members", "pg_cast",
    "pg_class", "pg_collation", "pg_constraint", "pg_conversion", "pg_database", "pg_default_acl", "pg_depend",
    "pg_description", "pg_enum", "pg_event_trigger", "pg_extension", "pg_foreign_data_wrapper", "pg_foreign_server",
    "pg_foreign_table", "pg_index", "pg_inherits", "pg_language", "pg_namespace", "pg_opclass", "pg_operator",
    "pg_opfamily", "pg_partitioned_table", "pg_policy", "pg_proc", "pg_publication", "pg_publication_rel",
    "pg_publication_tables", "pg_range", "pg_rewrite", "pg_roles", "pg_sequence", "pg_settings", "pg_shdescription",
    "pg_stat_subscription", "pg_statistic_ext", "pg_tablespace", "pg_transform", "pg_trigger", "pg_ts_config",
    "pg_ts_config_map", "pg_ts_dict", "pg_ts_parser", "pg_ts_template", "pg_type", "pg_user_mappings",
    # The statistics views behind the profile and usage extracts.
    "pg_stat_all_indexes", "pg_stat_all_tables", "pg_stat_database", "pg_stat_user_functions", "pg_statio_all_indexes",
    "pg_statio_all_tables", "pg_stats",
)
# Named by the collector's SQL but never granted whole: PUBLIC may read only some of pg_subscription's
# columns (not the connection string, which must stay the superusers'), and the collector names only
# those; pg_publication_namespace (15+) is named only as the class of its dependencies, not read.
NOT_GRANTED_WHOLE = ("pg_publication_namespace", "pg_subscription")
READ_ALL_STATS = "pg_read_all_stats"


def ident(name):
    return sql.Identifier(name).as_string()


def literal(text):
    return "'" + text.replace("'", "''") + "'"


def psql_dbname(name):
    """A database name as psql's \\connect reads it."""
    return '"' + name.replace('"', '""') + '"'


def grants_script(settings: dict, config_name: str = "the config") -> str:
    """The psql script granting what ``settings`` needs, and nothing more."""
    role = ident(settings["username"])
    rds = is_rds_endpoint(settings["server"])
    query_log = query_log_sources(settings.get("query_log"), settings.get("meta_only", True))
    pgss = bool(query_log and query_log.get("pg_stat_statements"))
    # The script's sections, numbered as printed: which ones appear depends on the options.
    steps = itertools.count(2)
    out = _login_role(settings, config_name, role, rds, query_log)
    out += _connect(next(steps), settings["databases"], role)
    if pgss:
        out += _read_all_stats(next(steps), role)
    out += _catalog(next(steps), settings["databases"], role, rds, pgss)
    outside = _outside(query_log) if query_log else []
    if outside:
        out += ["", f"-- {next(steps)}. Outside the database."] + outside
    if rds or settings.get("iam_auth"):
        out += ["", f"-- TLS: connect with sslmode verify-full and the RDS CA bundle ({RDS_CA_BUNDLE_URL})."]
    return "\n".join(out) + "\n"


def _login_role(settings: dict, config_name: str, role: str, rds: bool, query_log: Optional[dict]) -> list[str]:
    """The script's header, and its first section: the login role and how it authenticates."""
    user = settings["username"]
    iam = bool(settings.get("iam_auth"))
    admin = "the master user (a member of rds_superuser; RDS and Aurora have no superuser)" if rds else "a superuser"
    wants = ["metadata"] + (["the query log"] if query_log else [])
    out = [
        f"-- Least privilege for the K data catalog collector's user {role} on "
        f"{settings['server']}:{settings['port']}{' (AWS RDS/Aurora)' if rds else ''}.",
        f"-- For {config_name}: {' and '.join(wants)}, "
        + ("IAM database authentication." if iam else "password authentication."),
        f"-- Run it with psql as {admin}, connected to any database, e.g.:",
        f"--   psql \"host={settings['server']} port={settings['port']} dbname=postgres user=<admin>"
        + (" sslmode=verify-full sslrootcert=<CA bundle>" if rds else "") + "\" -f grants.sql",
        "-- Every statement may be run again. The role owns nothing and may read no table: the collector reads the",
        "-- catalog only, in read-only transactions.",
        r"\set ON_ERROR_STOP on",
        "",
        "-- 1. The login role.",
        f"SELECT {literal('CREATE ROLE ' + role + ' LOGIN')} WHERE NOT EXISTS "
        f"(SELECT FROM pg_catalog.pg_roles WHERE rolname = {literal(user)}) \\gexec",
    ]
    if not iam:
        return out + ["-- Give it a password without writing it here or in the server's log: in psql, type",
                      f"--   \\password {role}"]
    if rds:
        out += [f"-- It logs in with IAM tokens: {RDS_IAM_ROLE} makes RDS check them (and refuse passwords).",
                f"GRANT {RDS_IAM_ROLE} TO {role};"]
    else:
        out += [f"-- iam_auth works with RDS/Aurora endpoints only: there, GRANT {RDS_IAM_ROLE} TO {role};"]
    out += ["-- The AWS identity that signs the tokens needs this IAM policy statement:",
            f'--   {{"Effect": "Allow", "Action": "rds-db:connect", "Resource": '
            f'"arn:aws:rds-db:{settings.get("aws_region") or "<region>"}:<account>:dbuser:<DbiResourceId>/{user}"}}']
    if settings.get("role_arn"):
        out += [f"-- and may assume {settings['role_arn']} (sts:AssumeRole; the role's trust policy names it)."]
    return out


def _connect(step: int, databases: list, role: str) -> list[str]:
    """CONNECT on each database."""
    out = ["", f"-- {step}. CONNECT on each database to extract (PUBLIC usually has it already)."]
    if is_all_databases(databases):
        return out + ['-- "databases": ["*"]: every database the role may CONNECT to is extracted (templates, databases',
                      "-- that refuse connections and rdsadmin are left out). Where PUBLIC's CONNECT was revoked, grant it",
                      "-- on each database to extract:",
                      f"--   GRANT CONNECT ON DATABASE <name> TO {role};"]
    return out + [f"GRANT CONNECT ON DATABASE {ident(db)} TO {role};" for db in databases]


def _read_all_stats(step: int, role: str) -> list[str]:
    """What pg_stat_statements needs to show other users' statements."""
    return [
        "",
        f"-- {step}. The query log: other users' statements in pg_stat_statements need pg_read_all_stats,",
        "-- and its privileges must be inherited (without, the text shows as <insufficient privilege>).",
        "SELECT current_setting('server_version_num')::int >= 160000 AS kada_grant_with_inherit \\gset",
        r"\if :kada_grant_with_inherit",
        f"GRANT {READ_ALL_STATS} TO {role} WITH INHERIT TRUE;",
        r"\else",
        f"ALTER ROLE {role} INHERIT;",
        f"GRANT {READ_ALL_STATS} TO {role};",
        r"\endif",
    ]


def _catalog(step: int, databases: list, role: str, rds: bool, pgss: bool) -> list[str]:
    """The catalog in each database (and pg_stat_statements in the first)."""
    out = ["", f"-- {step}. In each database: the catalog. PUBLIC may read it by default; these grants matter",
           "-- only where hardening revoked that."
           + (" On RDS the catalog belongs to rdsadmin, so psql may warn 'no privileges were granted': harmless"
              " while PUBLIC keeps its access." if rds else "")]
    catalog = [f"GRANT USAGE ON SCHEMA pg_catalog TO {role};",
               "GRANT SELECT ON " + ", ".join(f"pg_catalog.{t}" for t in CATALOG_TABLES) + f" TO {role};"]
    extension = []
    if pgss:
        preload = ("RDS/Aurora preload it by default: shared_preload_libraries in the parameter group" if rds else
                   "the server must preload it: shared_preload_libraries = 'pg_stat_statements', then a restart")
        extension = ["-- pg_stat_statements is cluster-wide: one database with the extension is enough.",
                     f"-- {preload[0].upper()}{preload[1:]}.",
                     "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"]
    if is_all_databases(databases):
        out += ["-- Run these lines in every database to extract:"] + ["--   " + line for line in catalog]
        return out + ([r"\connect postgres"] + extension if extension else [])
    for index, db in enumerate(databases):
        out += [f"\\connect {psql_dbname(db)}"] + catalog + (extension if index == 0 else [])
    return out


def _outside(query_log: dict) -> list[str]:
    """What the query log needs outside the database (files, CloudWatch): the section's lines, if any."""
    notes = []
    if query_log.get("log_files"):
        notes.append(f"-- The server's log files: the OS user running the collector must read "
                     f"{query_log['log_files'].get('path')} (e.g. be in the group that owns it).")
    if query_log.get("cloudwatch"):
        group = query_log["cloudwatch"].get("log_group")
        notes += ["-- CloudWatch Logs: the AWS identity running the collector needs:",
                  '--   {"Effect": "Allow", "Action": ["logs:FilterLogEvents", "logs:DescribeLogStreams"], '
                  f'"Resource": "arn:aws:logs:{query_log["cloudwatch"].get("region") or "<region>"}:<account>:'
                  f'log-group:{group}:*"}}']
    return notes
