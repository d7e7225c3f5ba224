"""Change events: this run's metadata compared with the snapshot saved at the window's start.

Every metadata row is checksummed field by field as it streams to the file; after the database's
statements, the snapshot store diffs the two snapshots (in SQLite, not in memory) into CREATED,
ALTERED (naming the fields that changed) and DROPPED events. Planner estimates and sizes are not
compared: they move without anyone altering anything. View definitions are compared by the
fingerprint of their parse tree, so a major upgrade that only changes how the server prints a
view (PostgreSQL 16 dropped table prefixes) is not an alteration.
"""

from pglast.parser import ParseError, fingerprint

from kada_collectors.lib.snapshots import changed_fields, checksums
from kada_collectors.lib.writer import format_value

KIND = "metadata"
COMPARED = ("PARENT_ID", "ORDINAL_POSITION", "DATA_TYPE", "IS_NULLABLE", "DEFAULT_VALUE", "OWNER", "DESCRIPTION",
            "DEFINITION", "LANGUAGE", "PROPERTIES")
PARSED_DEFINITIONS = ("VIEW", "MATERIALIZED_VIEW")
EVIDENCE = "SNAPSHOT_DIFF"


class ChangeEvents:
    def __init__(self, store, host, dbname, window):
        self.store, self.host, self.dbname = store, host, dbname
        self.start_hwm, self.end_hwm = window
        self.baseline = store.find(KIND, host, dbname, self.start_hwm)
        self.writer = store.begin(KIND, host, dbname, self.end_hwm)

    def observe(self, row):
        values = [format_value(row[field]) for field in COMPARED]
        if row["OBJECT_TYPE"] in PARSED_DEFINITIONS and values[7]:
            values[7] = _fingerprint(values[7])
        self.writer.add(row["OBJECT_TYPE"], row["OBJECT_ID"], checksums(values))

    def write(self, part):
        """Write the window's events into ``part``."""
        self.writer.flush()
        detail = {"observed_between": [self.start_hwm, self.end_hwm]}
        if self.baseline is None:
            detail["baseline"] = f"none at {self.start_hwm}: every object is reported as created"
        for event, object_type, object_id, old, new in self.store.diff(self.baseline, self.writer.snapshot):
            changes = {"changed": changed_fields(old, new, COMPARED)} if event == "ALTERED" else {}
            part.write((self.end_hwm, event, object_type, object_id, self.host, self.dbname, "", EVIDENCE,
                        {**detail, **changes}))

    @staticmethod
    def prune(store, host, dbname, oldest_needed, keep_older):
        store.prune(KIND, host, dbname, oldest_needed, keep_older)

    def complete(self):
        self.store.complete(self.writer, KIND, self.host, self.dbname, self.end_hwm)

    def discard(self):
        self.store.discard(self.writer)


def _fingerprint(definition):
    try:
        return fingerprint(definition)
    except ParseError:
        return definition
