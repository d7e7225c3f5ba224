"""The extract contract: file names, columns per extract, value formats. See docs/contract.md."""

import re

CONTRACT_VERSION = 1

EXTRACT_COLUMNS = {
    "metadata": (
        "OBJECT_TYPE", "OBJECT_ID", "PARENT_ID", "HOST", "DATABASE_NAME", "SCHEMA_NAME", "OBJECT_NAME",
        "COLUMN_NAME", "ORDINAL_POSITION", "DATA_TYPE", "IS_NULLABLE", "DEFAULT_VALUE", "OWNER",
        "DESCRIPTION", "DEFINITION", "LANGUAGE", "ROW_COUNT", "SIZE_BYTES", "PROPERTIES",
    ),
    "linkages": (
        "LINK_TYPE", "SOURCE_TYPE", "SOURCE_ID", "TARGET_TYPE", "TARGET_ID", "HOST", "DATABASE_NAME",
        "EVIDENCE", "DETAIL",
    ),
    "roles": ("OBJECT_TYPE", "OBJECT_ID", "USER", "ROLE"),
    "privileges": (
        "GRANTEE", "PRIVILEGE", "OBJECT_TYPE", "OBJECT_ID", "GRANTOR", "IS_GRANTABLE", "HOST", "DATABASE_NAME",
    ),
    "databaselog": (
        "QUERY_ID", "LOG_SOURCE", "HOST", "DATABASE_NAME", "USER_NAME", "APPLICATION_NAME", "START_TIME",
        "END_TIME", "DURATION_MS", "CALLS", "ROWS", "STATEMENT_TYPE", "QUERY_TEXT", "IS_MASKED", "ERROR_CODE",
    ),
    "events": (
        "EVENT_TIME", "EVENT_TYPE", "OBJECT_TYPE", "OBJECT_ID", "HOST", "DATABASE_NAME", "USER_NAME",
        "EVIDENCE", "DETAIL",
    ),
    # From the planner's statistics (pg_stats): numbers only, never values (docs/contract.md).
    "profile": (
        "OBJECT_TYPE", "OBJECT_ID", "PARENT_ID", "HOST", "DATABASE_NAME", "ROW_ESTIMATE", "NULL_FRACTION",
        "DISTINCT_VALUES", "DISTINCT_IS_ESTIMATED", "DISTINCT_FRACTION", "AVG_WIDTH", "CORRELATION", "LAST_ANALYZED",
        "COLUMNS_INCLUDED",
    ),
    # The window's deltas of the cumulative statistics views, counters under the views' own names.
    "usage": (
        "OBJECT_TYPE", "OBJECT_ID", "HOST", "DATABASE_NAME", "WINDOW_START", "WINDOW_END", "COUNTS_SINCE",
        "BASELINE", "COUNTERS", "STATE",
    ),
}

# Columns whose values together are unique within one file of the extract. Every extract is a
# set besides: no record appears twice in a file (an extract not listed here has its whole
# record as its key).
UNIQUE_COLUMNS = {extract: ("OBJECT_TYPE", "OBJECT_ID") for extract in ("metadata", "profile", "usage")}

# A run's status and each database's, in the manifest (manifest.py holds its fields).
RUN_STATUSES = ("succeeded", "failed")

DELIMITER = "|"
QUOTE = '"'
RECORD_END = "\n"
STAMP_FORMAT = "%Y%m%d%H%M%S"

# <source>_<extract>_<YYYYMMDDHHMMSS>.csv[.gz] and <source>_manifest_<YYYYMMDDHHMMSS>.json
EXTRACT_NAME = re.compile(r"^(?P<source>[a-z0-9]+)_(?P<extract>[a-z]+)_(?P<stamp>\d{14})\.csv(?P<gz>\.gz)?$")
MANIFEST_NAME = re.compile(r"^(?P<source>[a-z0-9]+)_manifest_(?P<stamp>\d{14})\.json$")


def extract_file_name(source, extract, stamp, compress):
    return f"{source}_{extract}_{stamp}.csv" + (".gz" if compress else "")


def manifest_file_name(source, stamp):
    return f"{source}_manifest_{stamp}.json"
