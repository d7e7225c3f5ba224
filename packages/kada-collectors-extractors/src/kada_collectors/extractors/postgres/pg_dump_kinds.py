"""The metadata extract's object kinds against pg_dump's table of contents (``pg_restore -l``).

``pg_dump --schema-only`` lists what it would create as entries of a kind (``TABLE``, ``OPERATOR
CLASS``, ``PROCEDURAL LANGUAGE``...). Each kind is either matched by rows of the metadata extract
(``MATCHES``: the same objects, so the same count) or deliberately carried elsewhere
(``ELSEWHERE``, with where). docs/contract.md ("Coverage against pg_dump") lists both; the tests
and benchmarks/pg_dump_coverage.py count both sides with ``compare``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Optional


@dataclass(frozen=True)
class Match:
    """A TOC kind and the metadata OBJECT_TYPEs that list the same objects; ``when`` picks, by
    their PROPERTIES, the rows pg_dump lists as such entries when it lists only some of them."""

    toc: str
    object_types: tuple[str, ...]
    when: Optional[Callable[[dict], bool]] = None


def _constraint_types(*names: str) -> Callable[[dict], bool]:
    return lambda properties: properties.get("constraint_type") in names


MATCHES = (
    Match("SCHEMA", ("SCHEMA",)),
    Match("EXTENSION", ("EXTENSION",)),
    Match("TABLE", ("TABLE", "PARTITIONED_TABLE")),
    Match("VIEW", ("VIEW",)),
    Match("MATERIALIZED VIEW", ("MATERIALIZED_VIEW",)),
    Match("FOREIGN TABLE", ("FOREIGN_TABLE",)),
    Match("SEQUENCE", ("SEQUENCE",)),
    Match("FUNCTION", ("FUNCTION",)),
    Match("PROCEDURE", ("PROCEDURE",)),
    Match("AGGREGATE", ("AGGREGATE",)),
    Match("TYPE", ("TYPE",)),
    Match("DOMAIN", ("DOMAIN",)),
    # pg_dump creates the index behind a primary key, unique or exclusion constraint with the constraint.
    Match("INDEX", ("INDEX",), lambda properties: "constraint" not in properties),
    Match("CONSTRAINT", ("CONSTRAINT",), _constraint_types("PRIMARY KEY", "UNIQUE", "EXCLUSION")),
    # A partition's copy of its parent's foreign key is made by attaching it, not dumped.
    Match("FK CONSTRAINT", ("CONSTRAINT",),
          lambda properties: properties.get("constraint_type") == "FOREIGN KEY" and not properties.get("inherited")),
    Match("TRIGGER", ("TRIGGER",)),
    Match("COLLATION", ("COLLATION",)),
    Match("CAST", ("CAST",)),
    Match("OPERATOR", ("OPERATOR",)),
    Match("OPERATOR CLASS", ("OPERATOR_CLASS",)),
    Match("OPERATOR FAMILY", ("OPERATOR_FAMILY",)),
    Match("ACCESS METHOD", ("ACCESS_METHOD",)),
    Match("TEXT SEARCH CONFIGURATION", ("TEXT_SEARCH_CONFIGURATION",)),
    Match("TEXT SEARCH DICTIONARY", ("TEXT_SEARCH_DICTIONARY",)),
    Match("TEXT SEARCH PARSER", ("TEXT_SEARCH_PARSER",)),
    Match("TEXT SEARCH TEMPLATE", ("TEXT_SEARCH_TEMPLATE",)),
    Match("CONVERSION", ("CONVERSION",)),
    Match("TRANSFORM", ("TRANSFORM",)),
    Match("PROCEDURAL LANGUAGE", ("LANGUAGE",)),
    Match("POLICY", ("POLICY",)),
    Match("RULE", ("RULE",)),
    Match("PUBLICATION", ("PUBLICATION",)),
    Match("SUBSCRIPTION", ("SUBSCRIPTION",)),
    Match("FOREIGN DATA WRAPPER", ("FOREIGN_DATA_WRAPPER",)),
    Match("SERVER", ("FOREIGN_SERVER",)),
    Match("USER MAPPING", ("USER_MAPPING",)),
    Match("EVENT TRIGGER", ("EVENT_TRIGGER",)),
    Match("STATISTICS", ("STATISTICS",)),
)

# TOC kinds that are not objects of their own in metadata, and where the catalog finds them.
ELSEWHERE = {
    "ACL": "the privileges extract",
    "DEFAULT ACL": "the privileges extract (DEFAULT_PRIVILEGES_<kind> rows)",
    "COMMENT": "each object's DESCRIPTION",
    "SECURITY LABEL": "not extracted (labels belong to a label provider such as sepgsql)",
    "DEFAULT": "the COLUMN row's DEFAULT_VALUE",
    "CHECK CONSTRAINT": "CONSTRAINT rows; pg_dump writes most CHECK constraints inside CREATE TABLE, so the counts differ",
    "SEQUENCE OWNED BY": "the SEQUENCE row's owned_by and the OWNED_BY linkage",
    "TABLE ATTACH": "the partition's partition_of and the PARTITION_OF linkage",
    "INDEX ATTACH": "the partition's own INDEX row",
    "ROW SECURITY": "the table's has_rls",
    "SHELL TYPE": "the TYPE row (a shell is the first step of creating a base type)",
    "DATABASE": "the DATABASE row (pg_dump lists it only with --create)",
    "DATABASE PROPERTIES": "the DATABASE row",
    "PUBLICATION TABLE": "the PUBLICATION row's PROPERTIES",
    "PUBLICATION TABLES IN SCHEMA": "the PUBLICATION row's PROPERTIES",
    "STATISTICS DATA": "not extracted (planner statistics are data)",
    **dict.fromkeys(("TABLE DATA", "SEQUENCE SET", "MATERIALIZED VIEW DATA", "LARGE OBJECT", "BLOB"),
                    "not extracted (data, which --schema-only leaves out too)"),
}
# Objects initdb makes that pg_dump leaves to the new database and the extract lists: not counted.
BUILT_IN = {("SCHEMA", "public"), ("EXTENSION", "plpgsql")}

MATCHED = frozenset(m.toc for m in MATCHES)
_KNOWN = sorted(MATCHED | set(ELSEWHERE), key=len, reverse=True)  # the longest first: TABLE ATTACH before TABLE


def toc_entry(line: str) -> Optional[tuple[str, str]]:
    """(kind, name) of one line of ``pg_restore -l`` ("12; 2615 16385 SCHEMA - sales owner"), None
    for a comment. A kind this module does not know is its first word."""
    line = line.strip()
    if not line or line.startswith(";"):
        return None
    rest = line.split(None, 3)[3]  # after the entry's number and its catalog ids
    kind = next((k for k in _KNOWN if rest == k or rest.startswith(k + " ")), rest.split()[0])
    words = rest[len(kind):].split()
    return kind, words[1] if len(words) > 1 else ""


def toc_counts(listing: str) -> Counter:
    """Entries per TOC kind in the text of ``pg_restore -l``, without ``BUILT_IN`` objects."""
    counts: Counter = Counter()
    for line in listing.splitlines():
        entry = toc_entry(line)
        if entry is not None and entry not in BUILT_IN:
            counts[entry[0]] += 1
    return counts


def extract_counts(rows: Iterable[dict]) -> Counter:
    """Rows per TOC kind among metadata ``rows`` (as the CSV reader gives them), by ``MATCHES``."""
    by_type: dict[str, list[Match]] = {}
    for match in MATCHES:
        for object_type in match.object_types:
            by_type.setdefault(object_type, []).append(match)
    counts: Counter = Counter()
    for row in rows:
        if (row["OBJECT_TYPE"], row["OBJECT_NAME"]) in BUILT_IN:
            continue
        properties = None
        for match in by_type.get(row["OBJECT_TYPE"], ()):
            if match.when is not None and properties is None:
                properties = json.loads(row["PROPERTIES"] or "{}")
            if match.when is None or match.when(properties):
                counts[match.toc] += 1
    return counts


def compare(toc: Counter, extract: Counter) -> list[dict]:
    """Per TOC kind present in the dump or the extract: both counts, and a status:
    ``equal``, ``differs``, ``elsewhere`` (``ELSEWHERE``) or ``unknown`` (a kind not listed here)."""
    result = []
    for kind in sorted(set(toc) | {kind for kind, n in extract.items() if n}):
        if kind in MATCHED:
            status = "equal" if extract[kind] == toc[kind] else "differs"
        else:
            status = "elsewhere" if kind in ELSEWHERE else "unknown"
        result.append({"kind": kind, "pg_dump": toc[kind], "extract": extract[kind] if kind in MATCHED else None,
                       "status": status, **({"where": ELSEWHERE[kind]} if kind in ELSEWHERE else {})})
    return result
