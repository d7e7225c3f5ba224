"""The ``landing`` section of a collector's config: where pushed extract files go.

``landing_problems(value)`` lists every problem of the section (as full sentences naming
``landing.<key>``), so a collector reports them together with its other settings.
``landing_settings(value)`` returns the section completed with defaults, or raises ``ConfigError``.
Secrets (the SAS token) are resolved only when the landing is opened (``resolve_sas_token``), so a
config can be validated where the secret is not available.
"""

import os
import re
from typing import Any
from urllib.parse import urlsplit

from ..aws_secrets import read_secret, reference_problems
from ..config import Setting, absolute_path, describe, validate_section
from ..errors import ConfigError

LANDING_TYPES = ("local", "s3", "azure")
# The environment variable holding the Azure SAS token when the config has none (the Azure CLI's).
DEFAULT_SAS_TOKEN_ENV = "AZURE_STORAGE_SAS_TOKEN"
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_TIMEOUT_SECONDS = 60
_SOURCE = "landing"

_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_STORAGE_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _non_empty(value):
    return None if value.strip() else "must not be empty"


def _prefix(value):
    if "\\" in value:
        return f"must use '/' between folders, got {describe(value)}"
    if any(part in (".", "..") for part in value.strip("/").split("/")):
        return f"must not hold '.' or '..' folders, got {describe(value)}"
    if "//" in value.strip("/"):
        return f"must not hold empty folders ('//'), got {describe(value)}"
    return None


def _url(value):
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"must be an http(s) URL, got {describe(value)}"
    if parts.query or parts.fragment or "@" in parts.netloc:
        # A SAS URL pasted whole: never echo it, it holds the token.
        return ("must be the plain URL, without a query string or credentials; put the SAS token in "
                f"the environment variable {DEFAULT_SAS_TOKEN_ENV} (see docs/landing.md)")
    return None


def _bucket(value):
    if value.startswith("s3://") or "/" in value:
        return f"must be a bucket name alone (put folders in 'landing.prefix'), got {describe(value)}"
    return None if _S3_BUCKET.match(value) else (
        f"must be an S3 bucket name (3 to 63 lower-case letters, digits, '.' or '-'), got {describe(value)}")


def _region(value):
    return None if _REGION.match(value) else f"must be a region name such as \"eu-west-1\", got {describe(value)}"


def _role_arn(value):
    return None if _ROLE_ARN.match(value) else (
        f"must be an IAM role ARN such as \"arn:aws:iam::123456789012:role/kada-landing\", got {describe(value)}")


def _storage_account(value):
    return None if _STORAGE_ACCOUNT.match(value) else (
        f"must be a storage account name (3 to 24 lower-case letters and digits), got {describe(value)}")


def _container(value):
    return None if _CONTAINER.match(value) else (
        f"must be a container name (3 to 63 lower-case letters, digits and single '-'), got {describe(value)}")


def _env_name(value):
    return None if _ENV_NAME.match(value) else f"must be an environment variable name, got {describe(value)}"


def _between(low, high):
    def check(value):
        return None if low <= value <= high else f"must be between {low} and {high}, got {value}"
    return check


_TYPE = Setting("type", str, required=True)
_HWM = Setting("hwm", bool, default=False)
_REMOTE = (
    Setting("prefix", str, required=True, check=_prefix),
    _HWM,
    Setting("max_attempts", int, default=DEFAULT_MAX_ATTEMPTS, check=_between(1, 20)),
    Setting("timeout_seconds", int, default=DEFAULT_TIMEOUT_SECONDS, check=_between(1, 3600)),
)
SETTINGS_BY_TYPE = {
    "local": (_TYPE, Setting("path", str, required=True, check=absolute_path("/mnt/landing/postgres")), _HWM),
    "s3": (
        _TYPE,
        Setting("bucket", str, required=True, check=_bucket),
        Setting("region", str, required=True, check=_region),
        *_REMOTE,
        Setting("endpoint_url", str, check=_url),
        Setting("role_arn", str, check=_role_arn),
    ),
    "azure": (
        _TYPE,
        Setting("account_url", str, check=_url),
        Setting("storage_account", str, check=_storage_account),
        Setting("container", str, required=True, check=_container),
        *_REMOTE,
        Setting("sas_token", str, secret=True, check=_non_empty),
        Setting("sas_token_env", str, default=DEFAULT_SAS_TOKEN_ENV, check=_env_name),
        # Where AWS keeps the token (a collector on AWS pushing to Azure); read when the landing opens.
        Setting("sas_token_secret", dict, check=reference_problems("landing.sas_token_secret")),
    ),
}


def landing_problems(value: Any) -> list[str]:
    """Every problem of a ``landing`` section (a dict), as sentences; [] when it is valid."""
    try:
        landing_settings(value)
    except ConfigError as e:
        return e.problems
    return []


def landing_settings(value: Any) -> dict[str, Any]:
    """The ``landing`` section completed with defaults (prefix without outer slashes)."""
    if not isinstance(value, dict):
        raise ConfigError([f"'landing' must be an object, got {describe(value)}"], _SOURCE)
    kind = value.get("type")
    if kind not in SETTINGS_BY_TYPE:
        got = "nothing" if kind is None else describe(kind)
        raise ConfigError([f"'landing.type' must be one of {', '.join(LANDING_TYPES)}, got {got}"], _SOURCE)
    settings = SETTINGS_BY_TYPE[kind]
    result = validate_section(value, settings, _SOURCE)
    if kind == "azure":
        given = [k for k in ("account_url", "storage_account") if result[k]]
        if len(given) != 1:
            raise ConfigError(["the azure landing needs exactly one of 'landing.account_url' and "
                               "'landing.storage_account'" + (", found both" if given else "")], _SOURCE)
        if result["sas_token"] and result["sas_token_secret"]:
            raise ConfigError(["give the SAS token one way only: 'landing.sas_token' or 'landing.sas_token_secret'"],
                              _SOURCE)
        if result["sas_token"]:
            result["sas_token"] = result["sas_token"].lstrip("?")
    if "prefix" in result:
        result["prefix"] = result["prefix"].strip("/")
    return result


def resolve_sas_token(settings: dict[str, Any]) -> str:
    """The Azure SAS token: 'landing.sas_token', else the one AWS keeps where
    'landing.sas_token_secret' says, else the environment variable named by 'landing.sas_token_env'
    (default AZURE_STORAGE_SAS_TOKEN)."""
    if settings.get("sas_token"):
        return settings["sas_token"]
    if settings.get("sas_token_secret"):
        return read_secret(settings["sas_token_secret"], None, "landing.sas_token_secret", _SOURCE,
                           region_setting=False).strip().lstrip("?")
    name = settings.get("sas_token_env") or DEFAULT_SAS_TOKEN_ENV
    token = os.environ.get(name, "").strip().lstrip("?")
    if not token:
        raise ConfigError([f"the azure landing has no SAS token; export {name} with a token allowing read, "
                           "create, write and list on the container (or set 'landing.sas_token_env' to the "
                           "variable that holds it)"], _SOURCE)
    return token
