"""Names as the server resolves them: the database's relations, search paths, identifiers."""

from dataclasses import dataclass
from typing import Iterable, Optional

from ..ids import child_id, sql_object_id
from ..statements import tagged

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")


@dataclass(frozen=True)
class Relation:
    object_type: str  # as in metadata: TABLE, VIEW, ...
    object_id: str
    extension: Optional[str]  # the extension it belongs to (then it is not in metadata)
    schema: str
    name: str


RELATION_TYPES = {"r": "TABLE", "p": "PARTITIONED_TABLE", "v": "VIEW", "m": "MATERIALIZED_VIEW", "f": "FOREIGN_TABLE"}

# Relations only, not their columns: the deparsed definitions name each column unambiguously
# (qualified wherever two relations are in scope, whole rows as t.*) but through a join's alias,
# whose few relations have their columns looked up (RELATION_COLUMNS_SQL); memory must not grow
# with every column of the database. Not sorted: at 124,000 relations a sort spilled 17 MB to
# the server's disk; RelationCatalog packs the rows in whatever order they come.
RELATIONS_SQL = tagged("""
SELECT n.nspname, c.relname, c.relkind::text, x.extname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_depend xd ON xd.classid = 'pg_class'::regclass AND xd.objid = c.oid AND xd.deptype = 'e'
LEFT JOIN pg_extension x ON x.oid = xd.refobjid
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
""")
RELATION_COLUMNS_SQL = tagged("""
SELECT n.nspname, c.relname, a.attname
FROM unnest(%s::text[], %s::text[]) AS wanted (nspname, relname)
JOIN pg_namespace n ON n.nspname = wanted.nspname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = wanted.relname
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
""")
DATABASE_ID_SQL = tagged(f"SELECT {sql_object_id('current_database()', host='%(host)s')}")
DEFAULT_SEARCH_PATH_SQL = tagged("SELECT reset_val FROM pg_settings WHERE name = 'search_path'")


class RelationCatalog:
    """The database's user relations by (schema, name): what a definition's names can point at.

    Kept small, as it lives while definitions are parsed; a ``Relation`` and its id are made when
    a definition names it. Hand-made rather than a dict of dicts, which costs about 80 bytes a
    relation (10 MB for 124,000 relations; docs/performance.md): per schema, the names packed
    into strings of ``"\\x00name\\x01k"`` entries (k the relkind), each name in the bucket its
    ``hash()`` picks, so a relation costs its name and a few bytes, and a lookup is a hash and a
    ``str.find`` over one bucket (C speed) however many relations the schema holds. A schema's
    buckets double as it grows, as a dict's table does (``hash()`` differs between processes, not
    within one, and the catalog never leaves its process). Relations of an extension (rare), and
    names that hold the separator, are kept aside in a dict.
    """

    BUCKET_SIZE = 32  # most entries a bucket holds on average: a longer find against more strings

    def __init__(self, schemas, aside, database_id, default_search_path):
        self._schemas = schemas  # {schema: packed buckets}
        self._aside = aside  # {(schema, name): (relkind, extension or None)}
        self._database_id = database_id
        self.default_search_path = default_search_path

    @classmethod
    def load(cls, conn, host: str) -> "RelationCatalog":
        """The catalog of ``conn``'s database, its rows streamed through COPY (as the extractor's
        statements are read) and packed as they come: no list of all rows is ever held."""
        (database_id,) = conn.execute(DATABASE_ID_SQL, {"host": host}).fetchone()
        (search_path,) = conn.execute(DEFAULT_SEARCH_PATH_SQL).fetchone()
        with conn.cursor() as cursor, cursor.copy(f"COPY ({RELATIONS_SQL}) TO STDOUT") as copy:
            copy.set_types(["text", "text", "text", "text"])
            return cls.packed(copy.rows(), database_id, search_path)

    @classmethod
    def packed(cls, rows: Iterable[tuple], database_id: str, default_search_path: str) -> "RelationCatalog":
        """The catalog of ``rows`` (schema, name, relkind, extension), in any order."""
        schemas, aside, counts = {}, {}, {}
        for schema, name, kind, extension in rows:
            if extension is not None or "\x01" in name:
                aside[schema, name] = (kind, extension)
                continue
            buckets = schemas.get(schema) or schemas.setdefault(schema, [""])
            counts[schema] = count = counts.get(schema, 0) + 1
            if count > len(buckets) * cls.BUCKET_SIZE:
                buckets = schemas[schema] = _doubled(buckets)
            buckets[hash(name) % len(buckets)] += f"\x00{name}\x01{kind}"
        return cls(schemas, aside, database_id, default_search_path)

    def lookup(self, schema: Optional[str], name: str, search_path: Iterable[str] = ()) -> Optional[Relation]:
        """The relation a (possibly unqualified) name means, or None (system, temporary, unknown)."""
        if schema is not None:
            return self._relation(schema, name)
        for candidate in search_path:
            if candidate in SYSTEM_SCHEMAS:
                continue
            found = self._relation(candidate, name)
            if found:
                return found
        return None

    def _relation(self, schema, name):
        kind, extension = self._packed_kind(schema, name), None
        if kind is None and self._aside:  # the two hold different relations: aside only when not packed
            kind, extension = self._aside.get((schema, name), (None, None))
        if kind is None:
            return None
        return Relation(RELATION_TYPES[kind], child_id(self._database_id, schema, name), extension, schema, name)

    def _packed_kind(self, schema, name):
        """The relkind of ``name`` in ``schema``'s packed buckets, or None."""
        buckets = self._schemas.get(schema)
        if buckets is None:
            return None
        bucket = buckets[hash(name) % len(buckets)]
        # No packed name holds \x00 or \x01: a match is a whole entry's whole name.
        needle = f"\x00{name}\x01"
        at = bucket.find(needle)
        return None if at < 0 else bucket[at + len(needle)]

    @staticmethod
    def columns(conn, relations):
        """{(schema, name): column names} of ``relations``: looked up only for the few a definition
        names ambiguously (a join's alias), as the catalog keeps no columns."""
        known = {(r.schema, r.name): set() for r in relations}
        schemas, names = zip(*known) if known else ((), ())
        for schema, name, column in conn.execute(RELATION_COLUMNS_SQL, [list(schemas), list(names)]):
            known[schema, name].add(column)
        return known


def _doubled(buckets: "list[str]") -> "list[str]":
    """``buckets``' entries spread over twice as many buckets (by the hash of their names)."""
    grown = [""] * (2 * len(buckets))
    for bucket in buckets:
        for entry in bucket.split("\x00")[1:]:
            grown[hash(entry[:-2]) % len(grown)] += f"\x00{entry}"
    return grown


def parse_search_path(setting, owner=None):
    """The schemas of a search_path setting (``"$user", public``), ``$user`` as ``owner``.

    pg_catalog is always searched first when it is not listed, as the server does.
    """
    schemas = []
    for item in _split_list(setting or ""):
        if item == "$user":
            if owner:
                schemas.append(owner)
        elif item:
            schemas.append(item)
    if "pg_catalog" not in schemas:
        schemas.insert(0, "pg_catalog")
    return schemas


def _split_list(setting):
    """Split a comma-separated identifier list, honouring double quotes."""
    items, current, quoted, i = [], [], False, 0
    while i < len(setting):
        ch = setting[i]
        if ch == '"':
            if quoted and setting[i + 1:i + 2] == '"':
                current.append('"')
                i += 1
            else:
                quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        elif quoted or not ch.isspace():
            current.append(ch if quoted else ch.lower())
        i += 1
    items.append("".join(current).strip())
    return [item for item in items if item]
