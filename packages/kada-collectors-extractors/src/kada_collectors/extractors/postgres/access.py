"""How the collector reaches the server: TLS, IAM database authentication, which databases.

The settings are declared in settings.py (``iam_auth``, ``aws_region``, ``role_arn`` next to
``sslmode`` and ``sslrootcert``); each is checked there on its own, and ``access_problems`` then
checks how they fit together and settles the effective ``sslmode``:

- no ``sslmode`` given: ``verify-full`` for an RDS or Aurora endpoint and with ``iam_auth`` (never
  libpq's ``prefer``, which falls back to plain text without a word), ``prefer`` otherwise;
- a ``verify-full`` chosen for the user needs ``sslrootcert``: the message says where AWS
  publishes its bundle;
- ``iam_auth`` needs ``aws_region``, ``verify-full`` and no password, and boto3 installed;
- ``"databases": ["*"]`` (every database the user may connect to) stands alone.
"""

import re

import psycopg

from kada_collectors.lib.config import describe

from .passwords import PASSWORD_SOURCES, describe_password
from .rds import RDS_CA_BUNDLE_URL, RDS_IAM_ROLE, is_rds_endpoint

ALL_DATABASES = "*"
# The extra that brings boto3 (also the [s3] landing's).
AWS_EXTRA = "aws"
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
# libpq understands sslrootcert=system from version 16 on.
_SYSTEM_ROOTS_LIBPQ = 160000


def role_arn_problem(value):
    if _ROLE_ARN.match(value):
        return None
    return f"must be an IAM role ARN such as \"arn:aws:iam::123456789012:role/kada-collector\", got {describe(value)}"


def region_problem(value):
    if re.match(r"^[a-z]{2}(-[a-z]+)+-\d+$", value):
        return None
    return f"must be an AWS region such as \"eu-west-1\", got {describe(value)}"


def is_all_databases(databases):
    return list(databases or []) == [ALL_DATABASES]


def boto3_installed():
    try:
        import boto3  # noqa: F401
    except ImportError:
        return False
    return True


def missing_boto3_message(what="iam_auth"):
    return (f"{what} needs the Python package boto3, which is not installed: "
            f"pip install \"kada-collectors-extractors[{AWS_EXTRA}]\"")


def access_problems(config, settings):
    """The problems of the TLS, IAM and database settings taken together, as sentences.

    Sets ``settings["sslmode"]`` to the effective mode when the config gives none.
    """
    problems = []
    server = settings.get("server") or ""
    rds = is_rds_endpoint(server)
    iam = bool(settings.get("iam_auth"))
    explicit_mode = config.get("sslmode") is not None
    rootcert = settings.get("sslrootcert")
    if not explicit_mode:
        settings["sslmode"] = "verify-full" if rds or iam else "prefer"
        if settings["sslmode"] == "verify-full" and not rootcert:
            why = (f"{server} is an RDS/Aurora endpoint, so the collector verifies the server's certificate "
                   "(sslmode verify-full) rather than accept any server" if rds else
                   "iam_auth sends its token as the password, so the collector verifies the server's "
                   "certificate (sslmode verify-full)")
            problems.append(
                f"'sslrootcert' is needed: {why}. Download the CA bundle AWS publishes at {RDS_CA_BUNDLE_URL} "
                "(for an RDS/Aurora server; otherwise your server's CA certificate), and set \"sslrootcert\" to "
                "its absolute path, e.g. \"/etc/kada/global-bundle.pem\". To choose another sslmode, set "
                "\"sslmode\" explicitly.")
    mode = settings["sslmode"]
    if rootcert == "system":
        if psycopg.pq.version() < _SYSTEM_ROOTS_LIBPQ:
            problems.append("'sslrootcert' \"system\" needs libpq 16 or later; this one is "
                            f"{psycopg.pq.version()}: give the path of a CA bundle instead")
        elif mode != "verify-full":
            problems.append(f"'sslrootcert' \"system\" needs sslmode verify-full (libpq refuses a weaker mode "
                            f"with the system's roots), got {describe(mode)}")
    if iam:
        if not settings.get("aws_region"):
            problems.append("'aws_region' is required with iam_auth: the region of the RDS/Aurora instance, "
                            "e.g. \"eu-west-1\" (the token is signed for it)")
        given = [name for name in PASSWORD_SOURCES if config.get(name) not in (None, "")]
        if given:
            problems.append(f"iam_auth logs in with an IAM token, not a password: remove {', '.join(given)} "
                            "(or set iam_auth to false)")
        if mode != "verify-full":
            problems.append(f"iam_auth needs sslmode verify-full, got {describe(mode)}: the token travels as the "
                            "password, so the server's certificate must be verified. Set \"sslmode\": "
                            f"\"verify-full\" and \"sslrootcert\" (RDS/Aurora: {RDS_CA_BUNDLE_URL})")
        if not boto3_installed():
            problems.append(missing_boto3_message())
    elif settings.get("role_arn"):
        problems.append("'role_arn' is only used with \"iam_auth\": true (the role assumed to sign IAM tokens); "
                        "set iam_auth or remove role_arn")
    if settings.get("password_secret") and not boto3_installed():
        problems.append(missing_boto3_message("password_secret"))
    databases = settings.get("databases") or []
    if ALL_DATABASES in databases and len(databases) > 1:
        problems.append("'databases' lists \"*\" (every database the user may connect to) with other names: "
                        "give either [\"*\"] alone or the names")
    return problems


def describe_authentication(settings):
    """How the collector logs in, for messages: never the secret itself."""
    if settings.get("iam_auth"):
        return (f"an IAM token (region {settings.get('aws_region')}"
                + (f", role {settings['role_arn']}" if settings.get("role_arn") else "") + ")")
    return describe_password(settings) or "libpq's own sources (~/.pgpass, PGPASSWORD, a service file)"


def iam_fix(settings):
    """What to check when the server refuses an IAM token."""
    user = settings["username"]
    return (f"the server refused the IAM token: check that IAM database authentication is enabled on the "
            f"instance/cluster, that the user was granted the role (GRANT {RDS_IAM_ROLE} TO \"{user}\";), that the "
            f"identity signing the token may rds-db:connect to dbuser {user} (arn:aws:rds-db:"
            f"{settings.get('aws_region')}:<account>:dbuser:<DbiResourceId>/{user}), and that 'server' is the "
            "endpoint's name and 'aws_region' its region")
