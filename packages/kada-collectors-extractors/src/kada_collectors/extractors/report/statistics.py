"""The report's usage view and column profiles, from the ``usage`` and ``profile`` extracts.

Usage: the tables most read and most written in the window, the tables and indexes nothing
touched in it, and the functions by calls; each list ranked here and cut to ``USAGE_LIST`` (the
terminal shows the first five). Profile: per table, its row estimate and its columns' statistics,
up to ``PROFILE_COLUMNS`` columns in all (a large catalog has half a million).
"""

import json
from collections import Counter

USAGE_LIST = 100  # entries of each usage list embedded in the page
PROFILE_COLUMNS = 200_000  # column profiles embedded in the page; past it they are counted only
TABLE_TYPES = ("TABLE", "PARTITIONED_TABLE", "MATERIALIZED_VIEW")
FUNCTION_TYPES = ("FUNCTION", "PROCEDURE", "AGGREGATE")
# What counts as reading and writing a table, and as touching it at all.
READ = ("seq_tup_read", "idx_tup_fetch")
WRITTEN = ("n_tup_ins", "n_tup_upd", "n_tup_del")
SCANS = ("seq_scan", "idx_scan")


def _sum(counters, names):
    return sum(counters.get(name) or 0 for name in names)


class Usage:
    """The ``usage`` extract's rows, ranked."""

    def __init__(self):
        self.tables, self.indexes, self.functions = [], [], []
        self.baselines = Counter()
        self.since = None

    def add_row(self, row):
        try:
            counters = json.loads(row["COUNTERS"] or "{}")
        except ValueError:
            counters = {}
        kind, object_id = row["OBJECT_TYPE"], row["OBJECT_ID"]
        self.baselines[row["BASELINE"]] += 1
        if kind in TABLE_TYPES:
            self.tables.append((object_id, _sum(counters, READ), _sum(counters, WRITTEN), _sum(counters, SCANS)))
        elif kind == "INDEX":
            self.indexes.append((object_id, counters.get("idx_scan") or 0))
        elif kind in FUNCTION_TYPES:
            self.functions.append((object_id, counters.get("calls") or 0, counters.get("total_time") or 0))

    def encode(self, present):
        """The lists, each as [object id, numbers...] and its total length."""
        if not present:
            return {"present": False}

        def top(rows, key):
            ranked = sorted((r for r in rows if key(r)), key=lambda r: (-key(r), r[0]))
            return {"total": len(ranked), "rows": [list(r) for r in ranked[:USAGE_LIST]]}

        def none(rows, key):
            idle = sorted(r[0] for r in rows if not key(r))
            return {"total": len(idle), "rows": idle[:USAGE_LIST]}
        return {
            "present": True, "baselines": dict(self.baselines),
            "read": top(self.tables, lambda r: r[1]), "written": top(self.tables, lambda r: r[2]),
            "untouched_tables": none(self.tables, lambda r: r[1] or r[2] or r[3]),
            "unscanned_indexes": none(self.indexes, lambda r: r[1]),
            "functions": top(self.functions, lambda r: r[1]),
        }


class Profiles:
    """The ``profile`` extract's rows, per table."""

    def __init__(self):
        self.tables, self.columns, self.omitted = {}, 0, 0

    def add_row(self, row):
        if row["OBJECT_TYPE"] == "COLUMN":
            if self.columns >= PROFILE_COLUMNS:
                self.omitted += 1
                return
            self.columns += 1
            table = self.tables.setdefault(row["PARENT_ID"], _table())
            name = row["OBJECT_ID"][len(row["PARENT_ID"]) + 1:]
            table["columns"].append([name, row["NULL_FRACTION"], row["DISTINCT_VALUES"],
                                     row["DISTINCT_IS_ESTIMATED"] == "Y", row["AVG_WIDTH"], row["CORRELATION"]])
        else:
            table = self.tables.setdefault(row["OBJECT_ID"], _table())
            table["rows"], table["analyzed"] = row["ROW_ESTIMATE"], row["LAST_ANALYZED"]
            # N: its statistics did not change in the window; its columns were in an earlier file.
            table["included"] = row.get("COLUMNS_INCLUDED") != "N"

    def encode(self, present):
        if not present:
            return {"present": False}
        return {"present": True, "tables": self.tables, "columns": self.columns, "omitted": self.omitted}


def _table():
    return {"rows": None, "analyzed": "", "included": True, "columns": []}
