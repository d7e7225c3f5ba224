"""Where the database password comes from: the config (``password``), an environment variable
(``password_env``), a file (``password_file``) or AWS (``password_secret``: Secrets Manager or
SSM Parameter Store), one of them at most; with none, libpq's own sources apply.

A password kept by AWS is read once per process and kept in memory for the connections that
follow. When the server refuses it, it is read again, once, before the connection is tried again
(``session.connect``): the secret may have been rotated since it was read. It is never logged.
"""

import json
import os
import threading
from typing import Optional

from kada_collectors.lib.aws_secrets import describe_reference, read_secret
from kada_collectors.lib.errors import ConfigError

PASSWORD_SOURCES = ("password", "password_env", "password_file", "password_secret")
_SOURCE = "PostgreSQL collector config"
_SECRETS = {}  # (the reference, the region) -> the value last read
_SECRETS_LOCK = threading.Lock()


def resolve_password(settings: dict) -> Optional[str]:
    """The password from whichever source the settings give; None lets libpq decide (~/.pgpass,
    PGPASSWORD, a service file)."""
    if settings.get("password"):
        return settings["password"]
    if settings.get("password_env"):
        name = settings["password_env"]
        if name not in os.environ:
            raise ConfigError([f"'password_env' names the environment variable {name}, which is not set"], _SOURCE)
        return os.environ[name]
    if settings.get("password_file"):
        path = settings["password_file"]
        try:
            with open(path, encoding="utf-8") as f:
                return f.read().rstrip("\r\n")
        except OSError as e:
            raise ConfigError([f"'password_file' {path} cannot be read: {e.strerror}"], _SOURCE) from None
    if settings.get("password_secret"):
        return secret_password(settings)
    return None


def secret_password(settings: dict, refresh: bool = False) -> str:
    """The password ``password_secret`` names: read from AWS the first time (or again with
    ``refresh``), from memory otherwise."""
    reference = settings["password_secret"]
    key = (json.dumps(reference, sort_keys=True), settings.get("aws_region"))
    with _SECRETS_LOCK:
        if refresh or key not in _SECRETS:
            _SECRETS[key] = read_secret(reference, settings.get("aws_region"), "password_secret", _SOURCE)
        return _SECRETS[key]


def forget_secrets() -> None:
    """Drop the passwords read from AWS; the next connection reads them again."""
    with _SECRETS_LOCK:
        _SECRETS.clear()


def describe_password(settings: dict) -> Optional[str]:
    """Where the password comes from, for messages (never the password); None: libpq's sources."""
    if settings.get("password"):
        return "the password in the config"
    if settings.get("password_env"):
        return f"the password in ${settings['password_env']}"
    if settings.get("password_file"):
        return f"the password in {settings['password_file']}"
    if settings.get("password_secret"):
        return f"the password in {describe_reference(settings['password_secret'])}"
    return None


def password_fix(settings: dict) -> str:
    """What to check when the server refuses the password."""
    if settings.get("password_secret"):
        return (f"check 'username' and {describe_reference(settings['password_secret'])}: it was read again after "
                "the first refusal (in case it had been rotated) and is still refused")
    return "check 'username' and the password ('password', 'password_env', 'password_file' or 'password_secret')"
