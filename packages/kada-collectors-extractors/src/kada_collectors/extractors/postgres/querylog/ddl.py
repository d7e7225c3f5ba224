"""Change events from the DDL a server logged (log_statement = ddl or all): who, and exactly when.

Only what names its object plainly is turned into an event: CREATE, ALTER, COMMENT ON, RENAME and
DROP of schemas, tables, views, materialized views, indexes, sequences, foreign tables, types and
domains. An unqualified name is taken as ``public`` (the logs do not carry the session's
search_path). Functions are left to the snapshot comparison: their identity needs argument types
as the catalog prints them.
"""

from pglast import ast, parse_sql
from pglast.enums import ObjectType
from pglast.parser import ParseError

from ..lineage.names import quote_ident

EVIDENCE = "DDL_LOG"
OBJECT_TYPES = {
    ObjectType.OBJECT_SCHEMA: "SCHEMA", ObjectType.OBJECT_TABLE: "TABLE", ObjectType.OBJECT_VIEW: "VIEW",
    ObjectType.OBJECT_MATVIEW: "MATERIALIZED_VIEW", ObjectType.OBJECT_INDEX: "INDEX",
    ObjectType.OBJECT_SEQUENCE: "SEQUENCE", ObjectType.OBJECT_FOREIGN_TABLE: "FOREIGN_TABLE",
    ObjectType.OBJECT_TYPE: "TYPE", ObjectType.OBJECT_DOMAIN: "DOMAIN",
}
DEFAULT_SCHEMA = "public"


def ddl_events(text, database, user, host):
    """[(EVENT_TYPE, OBJECT_TYPE, OBJECT_ID, HOST, DATABASE_NAME, USER_NAME, EVIDENCE)] of the DDL
    statements of ``text`` (none when it is not DDL, or cannot be parsed)."""
    try:
        statements = parse_sql(text)
    except ParseError:
        return []
    events = []
    for raw in statements:
        found = _describe(raw.stmt)
        for names in found[2] if found else ():
            if found[1] != "SCHEMA" and len(names) == 1:
                names = [DEFAULT_SCHEMA, *names]
            object_id = ".".join(quote_ident(n) for n in [host, database, *names])
            events.append((found[0], found[1], object_id, host, database, user, EVIDENCE))
    return events


def _describe(node):
    """(event, object type, [[schema,] name, ...]) of a DDL statement, or None."""
    if isinstance(node, ast.DropStmt) and node.removeType in OBJECT_TYPES:
        return "DROPPED", OBJECT_TYPES[node.removeType], [_names(o) for o in node.objects or ()]
    found = _describe_one(node)
    return (found[0], found[1], [found[2]]) if found else None


def _describe_one(node):
    if isinstance(node, ast.CreateSchemaStmt):
        return "CREATED", "SCHEMA", [node.schemaname]
    if isinstance(node, ast.CreateForeignTableStmt):
        return "CREATED", "FOREIGN_TABLE", _range_var(node.base.relation)
    if isinstance(node, ast.CreateStmt):
        return "CREATED", "PARTITIONED_TABLE" if node.partspec else "TABLE", _range_var(node.relation)
    if isinstance(node, ast.ViewStmt):
        return "CREATED", "VIEW", _range_var(node.view)
    if isinstance(node, ast.CreateTableAsStmt):
        kind = "MATERIALIZED_VIEW" if node.objtype == ObjectType.OBJECT_MATVIEW else "TABLE"
        return "CREATED", kind, _range_var(node.into.rel)
    if isinstance(node, ast.IndexStmt) and node.idxname:
        schema = node.relation.schemaname or DEFAULT_SCHEMA
        return "CREATED", "INDEX", [schema, node.idxname]
    if isinstance(node, ast.CreateSeqStmt):
        return "CREATED", "SEQUENCE", _range_var(node.sequence)
    if isinstance(node, ast.AlterTableStmt) and node.objtype in OBJECT_TYPES:
        return "ALTERED", OBJECT_TYPES[node.objtype], _range_var(node.relation)
    if isinstance(node, ast.RenameStmt) and node.renameType in OBJECT_TYPES and node.relation is not None:
        return "ALTERED", OBJECT_TYPES[node.renameType], _range_var(node.relation)
    if isinstance(node, ast.CommentStmt) and node.objtype in OBJECT_TYPES:
        return "ALTERED", OBJECT_TYPES[node.objtype], _names(node.object)
    return None


def _range_var(range_var):
    return [range_var.schemaname, range_var.relname] if range_var.schemaname else [range_var.relname]


def _names(value):
    if isinstance(value, ast.String):
        return [value.sval]
    if isinstance(value, ast.TypeName):
        return [n.sval for n in value.names]
    return [n.sval for n in value if isinstance(n, ast.String)]
