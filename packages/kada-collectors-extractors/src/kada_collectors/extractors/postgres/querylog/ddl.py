"""Change events from the DDL a server logged (log_statement = ddl or all): who, and exactly when.

Only what names its object plainly is turned into an event: CREATE, ALTER, COMMENT ON, RENAME and
DROP of schemas, tables, views, materialized views, indexes, sequences, foreign tables, types and
domains. An unqualified name is taken as ``public`` (the logs do not carry the session's
search_path). Functions are left to the snapshot comparison: their identity needs argument types
as the catalog prints them.
"""

from pglast.parser import ParseError

from ..ids import object_id
from ..lineage import tree

EVIDENCE = "DDL_LOG"
OBJECT_TYPES = {
    "OBJECT_SCHEMA": "SCHEMA", "OBJECT_TABLE": "TABLE", "OBJECT_VIEW": "VIEW", "OBJECT_MATVIEW": "MATERIALIZED_VIEW",
    "OBJECT_INDEX": "INDEX", "OBJECT_SEQUENCE": "SEQUENCE", "OBJECT_FOREIGN_TABLE": "FOREIGN_TABLE",
    "OBJECT_TYPE": "TYPE", "OBJECT_DOMAIN": "DOMAIN",
}
DEFAULT_SCHEMA = "public"


def ddl_events(text, database, user, host):
    """[(EVENT_TYPE, OBJECT_TYPE, OBJECT_ID, HOST, DATABASE_NAME, USER_NAME, EVIDENCE)] of the DDL
    statements of ``text`` (none when it is not DDL, or cannot be parsed)."""
    try:
        statements = tree.parse(text)
    except ParseError:
        return []
    events = []
    for statement in statements:
        found = _describe(*tree.node(statement))
        for names in found[2] if found else ():
            if found[1] != "SCHEMA" and len(names) == 1:
                names = [DEFAULT_SCHEMA, *names]
            events.append((found[0], found[1], object_id(host, database, *names), host, database, user, EVIDENCE))
    return events


def _describe(kind, fields):
    """(event, object type, [[schema,] name, ...]) of a DDL statement (its type and fields), or None."""
    if kind == "DropStmt" and fields.get("removeType") in OBJECT_TYPES:
        return "DROPPED", OBJECT_TYPES[fields["removeType"]], [_names(o) for o in fields.get("objects", ())]
    found = _describe_one(kind, fields)
    return (found[0], found[1], [found[2]]) if found else None


def _describe_one(kind, fields):
    if kind == "CreateSchemaStmt":  # CREATE SCHEMA AUTHORIZATION r names it after the role
        name = fields.get("schemaname") or fields.get("authrole", {}).get("rolename")
        return ("CREATED", "SCHEMA", [name]) if name else None
    if kind == "CreateForeignTableStmt":
        return "CREATED", "FOREIGN_TABLE", _range_var(fields["base"]["relation"])
    if kind == "CreateStmt":
        return "CREATED", "PARTITIONED_TABLE" if "partspec" in fields else "TABLE", _range_var(fields["relation"])
    if kind == "ViewStmt":
        return "CREATED", "VIEW", _range_var(fields["view"])
    if kind == "CreateTableAsStmt":
        created = "MATERIALIZED_VIEW" if fields.get("objtype") == "OBJECT_MATVIEW" else "TABLE"
        return "CREATED", created, _range_var(fields["into"]["rel"])
    if kind == "IndexStmt" and fields.get("idxname"):
        schema = fields["relation"].get("schemaname") or DEFAULT_SCHEMA
        return "CREATED", "INDEX", [schema, fields["idxname"]]
    if kind == "CreateSeqStmt":
        return "CREATED", "SEQUENCE", _range_var(fields["sequence"])
    if kind == "AlterTableStmt" and fields.get("objtype") in OBJECT_TYPES:
        return "ALTERED", OBJECT_TYPES[fields["objtype"]], _range_var(fields["relation"])
    if kind == "RenameStmt" and fields.get("renameType") in OBJECT_TYPES and "relation" in fields:
        return "ALTERED", OBJECT_TYPES[fields["renameType"]], _range_var(fields["relation"])
    if kind == "CommentStmt" and fields.get("objtype") in OBJECT_TYPES:
        return "ALTERED", OBJECT_TYPES[fields["objtype"]], _names(fields["object"])
    return None


def _range_var(range_var):
    schema = range_var.get("schemaname")
    return [schema, range_var["relname"]] if schema else [range_var["relname"]]


def _names(value):
    """The name parts of a dropped or commented object: a name, a qualified name, or a type's."""
    kind, fields = tree.node(value)
    if kind == "String":
        return [fields.get("sval", "")]
    return tree.names(fields["names"] if kind == "TypeName" else fields.get("items", ()))
