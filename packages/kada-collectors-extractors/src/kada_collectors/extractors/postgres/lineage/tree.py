"""Parse trees as plain data: the parser's JSON (libpg_query, through pglast), read with json.

pglast's Python nodes validate every attribute as they are built, which cost several times the
parse itself. A node is ``{"Type": {fields}}``, except in a field that can hold one type only
(``SelectStmt.larg``, ``RangeVar.alias``, ``FuncCall.over``, ``InsertStmt.relation``): there the
fields come without the wrapper. Fields at their default (false, zero, empty) are left out.
"""

import json

from pglast.parser import parse_sql_json


def parse(text):
    """The statements of ``text``, each a node; raises pglast's ParseError."""
    return [statement["stmt"] for statement in json.loads(parse_sql_json(text))["stmts"]]


def node(wrapped):
    """(type, fields) of a node."""
    (kind, fields), = wrapped.items()
    return kind, fields


def is_node(value):
    """Whether a dict is a node (one key, a type name) rather than the fields of an unwrapped one."""
    return len(value) == 1 and next(iter(value))[0].isupper()


def names(nodes):
    """The texts of the String nodes of a name list (``schema.relation``, ``a.b.c``)."""
    return [n["String"].get("sval", "") for n in nodes if "String" in n]


def items(wrapped):
    """The nodes of a node that may be a (nested) List, such as the statements of BEGIN ATOMIC."""
    if "List" in wrapped:
        for item in wrapped["List"].get("items", ()):
            yield from items(item)
    elif wrapped:
        yield wrapped


def walk(wrapped):
    """(type, fields) of ``wrapped`` and every node below it. An unwrapped node's type is not
    known, except a RangeVar's (``InsertStmt.relation``, ``IntoClause.rel``): the one node with
    a ``relname``."""
    stack = [wrapped]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
            continue
        if not isinstance(value, dict) or not value:
            continue
        if is_node(value):
            kind, fields = node(value)
        else:
            kind, fields = ("RangeVar" if "relname" in value else None), value
        yield kind, fields
        stack.extend(v for v in fields.values() if isinstance(v, (dict, list)))
