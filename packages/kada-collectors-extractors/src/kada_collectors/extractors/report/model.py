"""The report's data: what the page and the terminal summary show, built in one pass over each file.

A large run has half a million objects, so the page gets them in a compact, columnar form rather
than as rows (see ``Objects.encode``): per object a kind and a depth in the object tree (one
character each), the last part of its OBJECT_ID (the whole ID is its base object's ID, a dot and
this part, so shared prefixes are stored once) and one dictionary-encoded detail. Objects are in
tree order, depth first (a table, then its columns, ...), so a parent is the last object before
it one level up, and edges, events and sizes refer to objects by position, mostly as small
differences. Integer columns are packed as base64 VLQ strings (``pack``), about half the size of
JSON numbers. Definitions are not embedded, and the query log only as a sample.
"""

import json
import sys
from array import array
from collections import Counter, defaultdict

from .run import hash_file, read_records
from .statistics import Profiles, Usage

QUERY_LOG_SAMPLE = 200  # records of the query log shown as they will be sent
QUERY_TEXT_LIMIT = 4000  # characters of one query text in that sample
DESCRIPTION_LIMIT = 160  # characters of one COMMENT in the object table
DESCRIPTION_BUDGET = 500_000  # characters of comments embedded in all; past it they are counted only
LIST_LIMIT = 20_000  # dropped objects and role memberships listed one by one
# Kinds that extend types, operators, text search and languages, kinds that hang off a table, and
# kinds of the database outside any schema: listed after the others, and never a parent but a
# foreign server (its user mappings'): their OBJECT_IDs may equal another kind's (a language's or a
# publication's host.database.name is also a schema's).
EXTENSIBILITY_KINDS = ("COLLATION", "CONVERSION", "OPERATOR", "OPERATOR_CLASS", "OPERATOR_FAMILY",
                       "TEXT_SEARCH_CONFIGURATION", "TEXT_SEARCH_DICTIONARY", "TEXT_SEARCH_PARSER",
                       "TEXT_SEARCH_TEMPLATE", "LANGUAGE", "ACCESS_METHOD", "CAST", "TRANSFORM")
TABLE_ATTACHED_KINDS = ("POLICY", "RULE", "STATISTICS")
DATABASE_WIDE_KINDS = ("PUBLICATION", "SUBSCRIPTION", "FOREIGN_DATA_WRAPPER", "FOREIGN_SERVER", "USER_MAPPING",
                       "EVENT_TRIGGER")
# Kinds in the order a parent's children are listed; unknown kinds (a newer collector's) come last.
KIND_ORDER = ("DATABASE", "SCHEMA", "EXTENSION", "TABLE", "PARTITIONED_TABLE", "VIEW", "MATERIALIZED_VIEW",
              "FOREIGN_TABLE", "SEQUENCE", "FUNCTION", "PROCEDURE", "AGGREGATE", "TYPE",
              "DOMAIN", "COLUMN", "CONSTRAINT", "INDEX", "TRIGGER", *TABLE_ATTACHED_KINDS, *DATABASE_WIDE_KINDS,
              *EXTENSIBILITY_KINDS)
# Kinds that are never a PARENT_ID. Their OBJECT_ID may equal another kind's (a column and a CHECK
# constraint of the same name), so a PARENT_ID is looked up among the other kinds only.
LEAF_KINDS = frozenset(("COLUMN", "CONSTRAINT", "INDEX", "TRIGGER", *TABLE_ATTACHED_KINDS, *EXTENSIBILITY_KINDS,
                        *(kind for kind in DATABASE_WIDE_KINDS if kind != "FOREIGN_SERVER")))
SIZED_KINDS = frozenset(("TABLE", "PARTITIONED_TABLE", "MATERIALIZED_VIEW", "FOREIGN_TABLE", "INDEX"))
EVENT_CODES = {"CREATED": "C", "ALTERED": "A", "DROPPED": "D"}


def build_report(run):
    """Read every file of ``run`` once; return the report's data (a JSON-ready dict)."""
    kinds = Kinds()
    objects = Objects(kinds)
    metadata = run.file("metadata")
    for row in read_records(metadata) if metadata else ():  # first: the other extracts refer to its objects
        objects.add_row(row)
    objects.order()
    events, links = Events(objects), Links(objects)
    privileges, roles, query_log, usage, profiles = Privileges(), Roles(), QueryLog(), Usage(), Profiles()
    readers = {"events": events.add_row, "linkages": links.add_row, "privileges": privileges.add_row,
               "roles": roles.add_row, "databaselog": query_log.add_row, "usage": usage.add_row,
               "profile": profiles.add_row}
    for run_file in run.files:
        if run_file is metadata:
            continue
        add = readers.get(run_file.extract)
        if add is None:
            hash_file(run_file)  # an extract this report does not show: still checked and listed
        else:
            for row in read_records(run_file):
                add(row)
    manifest = run.manifest
    return {
        "run": {
            "manifest": run.manifest_name, "folder": run.folder, "host": manifest.get("host"),
            "window": manifest.get("window"), "status": manifest.get("status"),
            "collector": manifest.get("collector"), "timings": manifest.get("timings"),
            "contract_version": manifest.get("contract_version"),
        },
        "databases": [d for d in manifest.get("databases", []) if isinstance(d, dict)],
        "warnings": [str(w) for w in manifest.get("warnings", [])],
        "settings": manifest.get("settings") if isinstance(manifest.get("settings"), dict) else {},
        "files": _files(run),
        "kinds": kinds.values,
        "counts": sorted([db, schema, kinds.code(kind), n] for (db, schema, kind), n in objects.counts.items()),
        "objects": objects.encode(),
        "events": events.encode(),
        "links": links.encode(),
        "privileges": privileges.encode(),
        "roles": roles.encode(),
        "query_log": query_log.encode(run),
        "usage": usage.encode(run.file("usage") is not None),
        "profile": profiles.encode(run.file("profile") is not None),
    }


def _files(run):
    """Every file that would leave: those the manifest lists, then the manifest itself."""
    files = [{"extract": f.extract, "name": f.name, "rows": f.rows, "bytes": f.bytes, "sha256": f.sha256,
              "check": f.check} for f in run.files]
    files.append({"extract": "manifest", "name": run.manifest_name, "rows": None, "bytes": run.manifest_bytes,
                  "sha256": run.manifest_sha256, "check": "ok"})
    return files


class Dictionary:
    """Strings → small integers, most frequent first (short numbers in the JSON), once ``freeze``d."""

    def __init__(self, reserve_empty=False):
        self.counts = Counter()
        self.reserve_empty = reserve_empty  # code 0 is "" whether or not it occurs

    def add(self, value):
        self.counts[value] += 1

    def freeze(self):
        frequent = [v for v, _ in self.counts.most_common() if not (self.reserve_empty and v == "")]
        self.values = ([""] if self.reserve_empty else []) + frequent
        self.codes = {v: i for i, v in enumerate(self.values)}
        return self

    def __getitem__(self, value):
        return self.codes[value]


class Kinds:
    """Object kinds → codes, shared by objects, counts and events; one character per object on the page."""

    def __init__(self):
        self.values, self.codes = [], {}

    def code(self, kind):
        code = self.codes.get(kind)
        if code is None:
            code = self.codes[kind] = len(self.values)
            self.values.append(kind)
        return code


def _kind_char(code):
    return chr(48 + code)  # "0", "1", ...: printable and never needing a JSON escape for 40+ kinds


_VLQ_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def pack(numbers):
    """Integers as a base64 VLQ string (as in source maps): the sign in the lowest bit, then 5 bits
    per character, low bits first, bit 6 set on every character but a number's last. 0..15 take one
    character, up to 511 two. Decoded by report.js ``unpack``."""
    out = []
    for number in numbers:
        value = -2 * number + 1 if number < 0 else 2 * number
        while value >= 32:
            out.append(_VLQ_DIGITS[32 + (value & 31)])
            value >>= 5
        out.append(_VLQ_DIGITS[value])
    return "".join(out)


class Objects:
    """The metadata rows, ordered as a tree, plus the objects edges name that it lacks.

    Memory per object is kept to its ID and a few machine integers: repeated strings (a parent's
    ID, a type, an owner) are interned, and an ID maps to its row directly (a tuple key per object
    would cost more than the ID itself)."""

    def __init__(self, kinds):
        self.kinds = kinds
        self.ids, self.kind, self.parent_id, self.detail = [], array("B"), [], []
        self.first = {}  # OBJECT_ID → arrival number of its first row
        self.other_kinds = {}  # (kind code, OBJECT_ID) → arrival number, for an ID seen again under another kind
        self.sizes, self.descriptions = {}, {}
        self.counts = Counter()  # (database, schema, kind) → objects
        self.descriptions_left, self.descriptions_omitted = DESCRIPTION_BUDGET, 0
        self.extra, self.extra_index = [], {}  # (kind code, OBJECT_ID) of objects not in metadata

    def add_row(self, row):
        kind, code, object_id = row["OBJECT_TYPE"], self.kinds.code(row["OBJECT_TYPE"]), row["OBJECT_ID"]
        i = len(self.ids)
        if self.first.setdefault(object_id, i) != i:
            self.other_kinds[(code, object_id)] = i
        self.ids.append(object_id)
        self.kind.append(code)
        self.parent_id.append(sys.intern(row["PARENT_ID"]))
        self.counts[(row["DATABASE_NAME"], row["SCHEMA_NAME"], kind)] += 1
        # One detail per object: a column's type, another object's owner.
        self.detail.append(sys.intern(row["DATA_TYPE"] + (" not null" if row["IS_NULLABLE"] == "N" else "")
                                      if kind == "COLUMN" else row["OWNER"]))
        if kind in SIZED_KINDS and (row["ROW_COUNT"] or row["SIZE_BYTES"]):
            self.sizes[i] = (_int(row["ROW_COUNT"]), _int(row["SIZE_BYTES"]))
        description = row["DESCRIPTION"]
        if description and self.descriptions_left > 0:
            text = description[:DESCRIPTION_LIMIT] + ("…" if len(description) > DESCRIPTION_LIMIT else "")
            self.descriptions[i] = text
            self.descriptions_left -= len(text)
        elif description:
            self.descriptions_omitted += 1

    def _row(self, code, object_id):
        """The arrival number of the metadata row of this kind and ID, or None."""
        i = self.first.get(object_id)
        if i is not None and self.kind[i] == code:
            return i
        return self.other_kinds.get((code, object_id))

    def _parent_row(self, parent_id):
        """The row a PARENT_ID names: the one of that ID whose kind can be a parent."""
        leaves = {self.kinds.codes.get(k) for k in LEAF_KINDS}
        i = self.first.get(parent_id)
        if i is None or self.kind[i] not in leaves:
            return -1 if i is None else i
        return next((j for (code, object_id), j in self.other_kinds.items()
                     if object_id == parent_id and code not in leaves), -1)

    def order(self):
        """Put the objects in tree order, depth first; ``place`` then gives an object's position."""
        n, values = len(self.ids), self.kinds.values
        parent = array("i", (self._parent_row(p) if p else -1 for p in self.parent_id))
        del self.parent_id
        children = defaultdict(list)
        for i in range(n):
            children[parent[i]].append(i)
        rank = {kind: r for r, kind in enumerate(KIND_ORDER)}

        def sort_key(i):
            return rank.get(values[self.kind[i]], len(rank)), self.ids[i]

        order, stack = array("i"), sorted(children.pop(-1, ()), key=sort_key, reverse=True)
        while stack:
            i = stack.pop()
            order.append(i)
            stack.extend(sorted(children.pop(i, ()), key=sort_key, reverse=True))
        self.position = array("i", bytes(4 * n))
        for place, i in enumerate(order):
            self.position[i] = place
        self.order_list = order
        self.parent = array("i", (self.position[parent[i]] if parent[i] >= 0 else -1 for i in order))
        self.depth = array("B")
        for p in self.parent:
            self.depth.append(self.depth[p] + 1 if p >= 0 else 0)

    def place(self, kind, object_id):
        """The position of a metadata object, or None."""
        i = self._row(self.kinds.code(kind), object_id)
        return None if i is None else self.position[i]

    def place_or_extra(self, kind, object_id):
        """The position of an object, adding one past the metadata's when it is not there
        (an extension's member, say)."""
        place = self.place(kind, object_id)
        if place is None:
            key = (self.kinds.code(kind), object_id)
            place = self.extra_index.get(key)
            if place is None:
                place = self.extra_index[key] = len(self.ids) + len(self.extra)
                self.extra.append(key)
        return place

    def encode(self):
        """The compact form the page decodes (report.js, ``decodeObjects``)."""
        order, ids, n = self.order_list, self.ids, len(self.ids)
        tails, bases, names, details = [], [], Dictionary(), Dictionary(reserve_empty=True)
        for place, i in enumerate(order):
            tail, up = _tail(ids[i], self.parent[place], self.parent, lambda p: ids[order[p]])
            tails.append(tail)
            if up != 1:
                bases.append((place, up))
            details.add(self.detail[i])
        for k, (_, object_id) in enumerate(self.extra):
            tails.append(object_id)
            bases.append((n + k, 0))
        for tail in tails:
            names.add(tail)
        names.freeze()
        details.freeze()
        return {
            "count": len(tails),
            "metadata": n,
            "kind": "".join(_kind_char(self.kind[i]) for i in order) + "".join(_kind_char(k) for k, _ in self.extra),
            # depth in the tree (0: no parent): the parent is the last object before, one level up
            "depth": "".join(_kind_char(d) for d in self.depth) + _kind_char(0) * len(self.extra),
            "name": pack(names[t] for t in tails),
            "names": names.values,
            # (position difference, levels up to the object whose ID this one extends, 0: none) for
            # objects where that is not the parent; e.g. an index extends its schema's ID, not its table's
            "base": pack(_deltas(bases)),
            "detail": pack([details[self.detail[i]] for i in order] + [0] * len(self.extra)),
            "details": details.values,
            # (position difference, ROW_COUNT, SIZE_BYTES; -1: empty)
            "size": pack(_deltas(sorted((self.position[i], r, b) for i, (r, b) in self.sizes.items()))),
            "described": pack(_deltas(sorted((self.position[i],) for i in self.descriptions))),
            "descriptions": [self.descriptions[i] for i in sorted(self.descriptions, key=self.position.__getitem__)],
            "descriptions_omitted": self.descriptions_omitted,
        }


def _tail(object_id, parent, parents, id_of):
    """The part of ``object_id`` after the ID of the nearest ancestor (at most 3 levels up) it
    extends, and how many levels up that is (0: none, the tail is the whole ID)."""
    up, p = 1, parent
    while p >= 0 and up <= 3:
        base = id_of(p)
        if object_id.startswith(base) and object_id[len(base):len(base) + 1] == ".":
            return object_id[len(base) + 1:], up
        up, p = up + 1, parents[p]
    return object_id, 0


def _deltas(tuples):
    """Flatten (position, ...) tuples sorted by position, each position as a difference from the previous."""
    flat, previous = [], 0
    for place, *rest in tuples:
        flat.append(place - previous)
        flat.extend(rest)
        previous = place
    return flat


def _int(text):
    try:
        return int(float(text)) if text else -1
    except ValueError:
        return -1


class Events:
    """The events extract: a code per object of the metadata, and the objects it lacks (dropped ones)."""

    def __init__(self, objects):
        self.objects = objects
        self.codes = bytearray(len(objects.ids))  # per position: 0, or the event's code (C, A or D)
        self.changed = {}  # position → the changed fields, as a bit mask over ``fields``
        self.fields = Kinds()  # the changed fields' names, in order of appearance
        self.unmatched, self.unmatched_total = [], 0  # (code, kind code, OBJECT_ID) of objects not in metadata
        self.counts = Counter()  # (event type, kind, database) → events

    def add_row(self, row):
        event, kind = row["EVENT_TYPE"], row["OBJECT_TYPE"]
        self.counts[(event, kind, row["DATABASE_NAME"])] += 1
        code = EVENT_CODES.get(event, "?")
        place = self.objects.place(kind, row["OBJECT_ID"])
        if place is None:
            self.unmatched_total += 1
            if len(self.unmatched) < LIST_LIMIT:
                self.unmatched.append([code, self.objects.kinds.code(kind), row["OBJECT_ID"]])
            return
        self.codes[place] = ord(code)
        if event == "ALTERED":
            try:
                changed = json.loads(row["DETAIL"] or "{}").get("changed") or []
            except (ValueError, AttributeError):
                changed = []
            mask = 0
            for name in changed:
                mask |= 1 << self.fields.code(str(name))
            self.changed[place] = mask

    def encode(self):
        if self.codes and self.codes.count(self.codes[0]) == len(self.codes) and self.codes[0]:
            per_object = {"all": chr(self.codes[0])}  # a first run: every object CREATED, in a few bytes
        else:
            places = [place for place, code in enumerate(self.codes) if code]
            per_object = {"places": pack(_deltas((p,) for p in places)),
                          "codes": "".join(chr(self.codes[p]) for p in places)}
        return {
            "counts": sorted([event, self.objects.kinds.code(kind), db, n]
                             for (event, kind, db), n in self.counts.items()),
            "total": sum(self.counts.values()),
            "per_object": per_object,
            "fields": self.fields.values,
            "changed": pack(_deltas(sorted(self.changed.items()))),  # (position difference, mask)
            "unmatched": self.unmatched,
            "unmatched_total": self.unmatched_total,
        }


class Links:
    """The linkages extract as three columns: (link type, evidence) code, source and target positions."""

    def __init__(self, objects):
        self.objects = objects
        self.types = Kinds()  # "LINK_TYPE EVIDENCE" → code
        self.edges = []
        self.counts = Counter()  # (link type, evidence) → edges

    def add_row(self, row):
        label = f"{row['LINK_TYPE']} {row['EVIDENCE']}"
        self.counts[label] += 1
        self.edges.append((self.objects.place_or_extra(row["SOURCE_TYPE"], row["SOURCE_ID"]),
                           self.objects.place_or_extra(row["TARGET_TYPE"], row["TARGET_ID"]),
                           self.types.code(label)))

    def encode(self):
        self.edges.sort()
        labels = sorted(self.types.values)  # the same type, the same colour on the page, run after run
        recode = [labels.index(label) for label in self.types.values]
        source, target, previous = [], [], 0
        for s, t, _ in self.edges:
            source.append(s - previous)  # sorted by source: differences are mostly 0 and 1
            target.append(t - s)  # a target is usually near its source in tree order
            previous = s
        return {"types": labels, "type": "".join(_kind_char(recode[c]) for _, _, c in self.edges),
                "source": pack(source), "target": pack(target), "counts": dict(sorted(self.counts.items()))}


class Privileges:
    """The privileges extract summarised per grantee: what, on how many objects of which kinds."""

    def __init__(self):
        self.grantees = defaultdict(lambda: {"privileges": Counter(), "kinds": Counter(), "objects": set(),
                                             "grantable": 0, "grants": 0})
        self.total = 0

    def add_row(self, row):
        grantee = self.grantees[row["GRANTEE"]]
        grantee["privileges"][row["PRIVILEGE"]] += 1
        grantee["kinds"][row["OBJECT_TYPE"]] += 1
        grantee["objects"].add(hash(row["OBJECT_ID"]))  # a count of distinct objects, not the IDs
        grantee["grants"] += 1
        grantee["grantable"] += row["IS_GRANTABLE"] == "Y"
        self.total += 1

    def encode(self):
        rows = [{"grantee": name, "grants": g["grants"], "objects": len(g["objects"]), "grantable": g["grantable"],
                 "privileges": dict(g["privileges"].most_common()), "kinds": dict(g["kinds"].most_common())}
                for name, g in self.grantees.items()]
        rows.sort(key=lambda r: (-r["grants"], r["grantee"]))
        return {"total": self.total, "grantees": rows}


class Roles:
    """The roles extract: logins, roles and memberships."""

    def __init__(self):
        self.rows, self.total = [], 0

    def add_row(self, row):
        self.total += 1
        if len(self.rows) < LIST_LIMIT:
            self.rows.append([row["OBJECT_TYPE"], row["USER"], row["ROLE"]])

    def encode(self):
        return {"total": self.total, "rows": self.rows}


class QueryLog:
    """The query log (``databaselog``): the first records as they will be sent, and totals."""

    def __init__(self):
        self.columns, self.sample, self.total, self.masked = None, [], 0, 0
        self.statement_types, self.users, self.databases = Counter(), Counter(), Counter()

    def add_row(self, row):
        self.total += 1
        self.masked += row.get("IS_MASKED") == "Y"
        self.statement_types[row.get("STATEMENT_TYPE") or "(none)"] += 1
        self.users[row.get("USER_NAME") or "(none)"] += 1
        self.databases[row.get("DATABASE_NAME") or "(none)"] += 1
        if len(self.sample) < QUERY_LOG_SAMPLE:
            if self.columns is None:
                self.columns = list(row)
            self.sample.append([_cap(row[c]) if c == "QUERY_TEXT" else row[c] for c in self.columns])

    def encode(self, run):
        run_file = run.file("databaselog")
        if run_file is None:
            settings = run.manifest.get("settings") or {}
            why = ("the run extracted metadata only (meta_only is true)" if settings.get("meta_only", True)
                   else "the run wrote no query log file")
            return {"present": False, "why": why}
        return {"present": True, "file": run_file.name, "total": self.total, "masked": self.masked,
                "columns": self.columns or [], "sample": self.sample, "sample_limit": QUERY_LOG_SAMPLE,
                "text_limit": QUERY_TEXT_LIMIT, "statement_types": dict(self.statement_types.most_common()),
                "users": dict(self.users.most_common(20)), "databases": dict(self.databases.most_common(20))}


def _cap(text):
    return text if len(text) <= QUERY_TEXT_LIMIT else text[:QUERY_TEXT_LIMIT] + f"… ({len(text):,} characters)"
