"""Change events: this run's metadata compared with the snapshot saved at the window's start.

Every metadata row is checksummed field by field as it streams to the file; after the database's
statements, the snapshot store diffs the two snapshots (in SQLite, not in memory) into CREATED,
ALTERED (naming the fields that changed) and DROPPED events. Planner estimates and sizes are not
compared: they move without anyone altering anything. View definitions are compared by the
fingerprint of their parse tree, so a major upgrade that only changes how the server prints a
view (PostgreSQL 16 dropped table prefixes) is not an alteration.
"""

from pglast.parser import ParseError, fingerprint

from kada_collectors.lib.contract import EXTRACT_COLUMNS
from kada_collectors.lib.snapshots import changed_fields, checksums
from kada_collectors.lib.writer import format_value

KIND = "metadata"
COMPARED = ("PARENT_ID", "ORDINAL_POSITION", "DATA_TYPE", "IS_NULLABLE", "DEFAULT_VALUE", "OWNER", "DESCRIPTION",
            "DEFINITION", "LANGUAGE", "PROPERTIES")
PARSED_DEFINITIONS = ("VIEW", "MATERIALIZED_VIEW")
_POSITION = {name: i for i, name in enumerate(EXTRACT_COLUMNS["metadata"])}
_COMPARED_AT = [_POSITION[name] for name in COMPARED]
_TYPE_AT, _ID_AT, _DEFINITION = _POSITION["OBJECT_TYPE"], _POSITION["OBJECT_ID"], COMPARED.index("DEFINITION")
EVIDENCE = "SNAPSHOT_DIFF"


class ChangeEvents:
    def __init__(self, store, host, dbname, window):
        self.store, self.host, self.dbname = store, host, dbname
        self.start_hwm, self.end_hwm = window
        self.baseline = store.find(KIND, host, dbname, self.start_hwm)
        self.writer = store.begin(KIND, host, dbname, self.end_hwm)

    def observe(self, row):
        """``row``: a metadata record, its values rendered as text."""
        values = [row[i] for i in _COMPARED_AT]
        if row[_TYPE_AT] in PARSED_DEFINITIONS and values[_DEFINITION]:
            values[_DEFINITION] = _fingerprint(values[_DEFINITION])
        self.writer.add(row[_TYPE_AT], row[_ID_AT], checksums(values))

    def write(self, part):
        """Write the window's events into ``part``; return warnings for the manifest."""
        self.writer.flush()
        # Written as text straight away: a first run has as many events as objects.
        for event, object_type, object_id, old, new in self.store.diff(self.baseline, self.writer.snapshot):
            detail = format_value({"changed": changed_fields(old, new, COMPARED)}) if event == "ALTERED" else ""
            part.write_text((self.end_hwm, event, object_type, object_id, self.host, self.dbname, "", EVIDENCE, detail))
        if self.baseline is None:
            return [f"database {self.dbname!r}: no change-event snapshot at {self.start_hwm} (a first run, or the "
                    "snapshot file was moved or deleted): every object is reported as created"]
        return []

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
