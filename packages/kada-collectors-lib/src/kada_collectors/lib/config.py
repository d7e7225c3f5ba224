"""Load and validate a collector's JSON config, reporting every problem at once.

A source declares its settings as a list of ``Setting``; ``validate_settings`` checks a mapping
against it (unknown keys, missing keys, wrong types, bad values) and raises one ``ConfigError``
listing them all, so a user fixes the file in one go rather than one error per run.
"""

import difflib
import json
import os
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional

from .errors import ConfigError
from .redact import REDACTED, redact_credentials

_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer", list: "a list", dict: "an object"}


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    required: bool = False
    default: Any = None
    # Returns a problem (a sentence completing "'<name>' ..."), a list of whole sentences (for an
    # object setting whose keys are checked one by one), or None; only called when the type is right.
    check: Optional[Callable[[Any], Any]] = None
    secret: bool = False  # never echoed in messages or the manifest


def load_config(path: "str | os.PathLike[str]") -> dict[str, Any]:
    """Read a JSON config file into a dict; a clear ``ConfigError`` names the file and the fault."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError([f"file not found: {os.path.abspath(path)} (pass --config with the path of your JSON config)"], source=path) from None
    except OSError as e:
        raise ConfigError([f"cannot read {os.path.abspath(path)}: {e.strerror}"], source=path) from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError([f"not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}"], source=path) from None
    if not isinstance(config, dict):
        raise ConfigError(["the top level must be a JSON object ({...}) of settings"], source=path)
    return config


def absolute_path(example: str) -> Callable[[str], Optional[str]]:
    """A ``Setting.check`` that a path is absolute; its message shows ``example``, a path that fits
    the setting."""
    def check(value: str) -> Optional[str]:
        return None if os.path.isabs(value) else f"must be an absolute path, got {describe(value)}; e.g. \"{example}\""
    return check


def _type_ok(value, expected):
    if expected is int:  # JSON true/false must not pass for a number
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def describe(value, secret=False):
    """A short, safe rendering of a value for an error message."""
    if secret:
        return "(hidden)"
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggestion(key, known):
    """'; did you mean ...?' for a close known name, else the list of known names. Names are
    compared without their section prefix ('landing.'), which would make any two look alike."""
    def bare(name):
        return name.rpartition(".")[2]
    by_bare = {bare(name): name for name in known}
    close = difflib.get_close_matches(bare(key), by_bare, n=1)
    if close:
        return f"; did you mean '{by_bare[close[0]]}'?"
    return f"; known settings: {', '.join(sorted(known))}"


def validate_settings(config, settings, source="config"):
    """Return ``config`` completed with defaults, or raise ``ConfigError`` with every problem."""
    known = {s.name: s for s in settings}
    problems = []
    if not isinstance(config, dict):
        raise ConfigError([f"expected a mapping of settings, got {type(config).__name__}"], source)
    for key in config:
        if key not in known:
            problems.append(f"unknown setting '{key}'{_suggestion(str(key), known)}")
    result = {}
    for s in settings:
        if s.name not in config or config[s.name] is None:
            if s.required:
                problems.append(f"missing setting '{s.name}' ({_TYPE_NAMES.get(s.type, s.type.__name__)})")
            result[s.name] = s.default
            continue
        value = config[s.name]
        if not _type_ok(value, s.type):
            problems.append(
                f"'{s.name}' must be {_TYPE_NAMES.get(s.type, s.type.__name__)}, got {describe(value, s.secret)}"
            )
            continue
        problem = s.check(value) if s.check else None
        if isinstance(problem, (list, tuple)):
            problems.extend(problem)
        elif problem:
            problems.append(f"'{s.name}' {problem}")
        result[s.name] = value
    if problems:
        raise ConfigError(problems, source)
    return result


def validate_section(value, settings, prefix):
    """Validate an object setting (a section such as ``landing``): like ``validate_settings``, its
    problems naming ``<prefix>.<key>``; returns the section completed with defaults."""
    named = [replace(s, name=f"{prefix}.{s.name}") for s in settings]
    checked = validate_settings({f"{prefix}.{k}": v for k, v in value.items()}, named, prefix)
    return {s.name: checked[f"{prefix}.{s.name}"] for s in settings}


def section_problems(value, settings, prefix):
    """The problems ``validate_section`` would raise, as a list ([] when valid)."""
    try:
        validate_section(value, settings, prefix)
    except ConfigError as e:
        return e.problems
    return []


# Keys of an object setting (e.g. ``landing``) whose values are secrets, whatever the setting.
_SECRET_KEY = re.compile(
    r"(?i)password|passwd|secret|token|sas|credential|access_?key|account_?key|private|^sig$")


def _safe_value(value, secret):
    if secret:
        return REDACTED if value else None  # it was set; the marker, as wherever a secret is removed
    if isinstance(value, dict):
        return {k: _safe_value(v, bool(_SECRET_KEY.search(str(k)))) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe_value(v, False) for v in value]
    if isinstance(value, str):
        return redact_credentials(value)  # e.g. a URL carrying a token in its query string
    return value


def settings_for_manifest(config, settings):
    """The settings safe to record: every non-secret setting, secrets reduced to 'set' or absent.

    Inside an object setting, a key that names a secret (``sas_token``, ``password``...) is reduced
    the same way, and credentials written inside strings (``...?sig=...``) are redacted.
    """
    return {s.name: _safe_value(config.get(s.name), s.secret) for s in settings}
