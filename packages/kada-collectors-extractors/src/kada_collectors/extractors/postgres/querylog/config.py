"""The ``query_log`` section of the config: where the query log of a window comes from.

    "query_log": {
        "pg_stat_statements": true,
        "log_files": {"path": "/var/log/postgresql", "format": "csvlog|jsonlog|stderr",
                      "line_prefix": "...", "log_timezone": "..."},
        "cloudwatch": {"log_group": "/aws/rds/instance/<id>/postgresql", "region": "eu-west-1",
                       "endpoint_url": "...", "line_prefix": "...", "log_timezone": "..."}
    }

Every source is optional; with ``meta_only`` false and no section (or no source in it),
pg_stat_statements is tried. ``query_log_problems`` lists every problem as a full sentence, so
they are reported together with the rest of the config.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kada_collectors.lib.config import Setting, absolute_path, describe, section_problems

LOG_FORMATS = ("csvlog", "jsonlog", "stderr")


def _log_format(value):
    return None if value in LOG_FORMATS else f"must be one of {', '.join(LOG_FORMATS)}, got {describe(value)}"


def _non_empty(value):
    return None if value.strip() else "must not be empty"


def _timezone(value):
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"must be a time zone name such as \"UTC\" or \"Europe/Paris\" (SHOW log_timezone), got {describe(value)}"
    return None


LOG_FILES = (
    Setting("path", str, required=True, check=absolute_path("/var/log/postgresql")),
    Setting("format", str, required=True, check=_log_format),
    Setting("line_prefix", str, check=_non_empty),
    Setting("log_timezone", str, check=_timezone),
)
CLOUDWATCH = (
    Setting("log_group", str, required=True, check=_non_empty),
    Setting("region", str, required=True, check=_non_empty),
    Setting("endpoint_url", str, check=_non_empty),
    Setting("line_prefix", str, check=_non_empty),
    Setting("log_timezone", str, check=_timezone),
)
SECTION = (
    Setting("pg_stat_statements", bool),
    Setting("log_files", dict),
    Setting("cloudwatch", dict),
)


def query_log_problems(value):
    """Every problem of the section, as sentences naming ``query_log.<key>``."""
    problems = section_problems(value, SECTION, "query_log")
    for key, settings in (("log_files", LOG_FILES), ("cloudwatch", CLOUDWATCH)):
        if isinstance(value.get(key), dict):
            problems += section_problems(value[key], settings, f"query_log.{key}")
    log_files = value.get("log_files")
    if isinstance(log_files, dict) and log_files.get("format") == "stderr" and not log_files.get("line_prefix"):
        problems.append("'query_log.log_files.line_prefix' is required with the stderr format: "
                        "give the server's log_line_prefix (SHOW log_line_prefix)")
    return problems


def query_log_sources(value, meta_only):
    """The section completed: which sources to read. None when the run has no query log."""
    if meta_only:
        return None
    section = dict(value or {})
    if not any(section.get(k) for k in ("pg_stat_statements", "log_files", "cloudwatch")):
        section["pg_stat_statements"] = True
    return section
