"""Table-level lineage of functions and procedures: what each body reads and writes.

SQL bodies (a string, or SQL-standard BEGIN ATOMIC / RETURN) and PL/pgSQL bodies are parsed with
PostgreSQL's own grammars (pglast). Every relation named in a statement is read, except the target
of INSERT, UPDATE, DELETE, MERGE, SELECT INTO / CREATE TABLE AS, TRUNCATE and COPY FROM, which is
written; in a statement that writes, what it reads flows into what it writes (DELETE and TRUNCATE
move no data). Unqualified names resolve along the function's own ``SET search_path``, else the
database's default with ``$user`` as the function's owner. Dynamic SQL (EXECUTE) cannot be known
before it runs: it is reported as unresolved, never guessed.
"""

import json
from dataclasses import dataclass, field

from pglast.parser import parse_plpgsql_json, scan

from . import tree
from ..ids import quote_ident
from .names import SYSTEM_SCHEMAS, parse_search_path

WRITES = {"InsertStmt": "INSERT", "UpdateStmt": "UPDATE", "DeleteStmt": "DELETE", "MergeStmt": "MERGE"}
NO_DATA_FLOW = ("DELETE", "TRUNCATE")
# PL/pgSQL statements whose SQL is only known at run time.
DYNAMIC = ("PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors")
# PLpgSQL_expr.parseMode (the server's RawParseMode): a statement, a type name, an expression,
# or one of three forms of assignment.
RAW_PARSE_DEFAULT = 0
EXPRESSION_MODES = (2,)
ASSIGNMENT_MODES = (3, 4, 5)
# What ends the type of a PL/pgSQL declaration: a default value, or a cursor's query.
_DECLARATION_VALUE = (":=", "=", "default", "cursor", "for", "is")
PARAMETER_MODES = {"FUNC_PARAM_OUT": "OUT", "FUNC_PARAM_INOUT": "INOUT", "FUNC_PARAM_VARIADIC": "VARIADIC",
                   "FUNC_PARAM_TABLE": "OUT"}


@dataclass
class RoutineLineage:
    reads: dict = field(default_factory=dict)    # Relation -> set of statement kinds
    writes: dict = field(default_factory=dict)   # Relation -> set of statement kinds
    flows: dict = field(default_factory=dict)    # (read Relation, written Relation) -> set of kinds
    unresolved: list = field(default_factory=list)


def routine_lineage(definition, language, config, owner, catalog):
    """The reads, writes and flows of one function or procedure; raises on unparsable bodies."""
    search_path = parse_search_path(_setting(config, "search_path") or catalog.default_search_path, owner)
    result = RoutineLineage()
    for statement in _statements(definition, language, result):
        add_statement(statement, search_path, catalog, result)
    return result


def _setting(config, name):
    for entry in config or ():
        key, _, value = entry.partition("=")
        if key == name:
            return value
    return None


def _statements(definition, language, result):
    if language == "plpgsql":
        yield from _plpgsql_statements(definition, result)
        return
    if language != "sql":
        return  # C, internal, PL/Python...: nothing to parse
    (create,) = tree.parse(definition)
    create = create["CreateFunctionStmt"]
    if "sql_body" in create:  # BEGIN ATOMIC ... END, or RETURN expr
        yield from tree.items(create["sql_body"])
        return
    body = _body(create)
    if body is not None:
        yield from tree.parse(body)


def _body(create):
    """The body (AS '...') of a CREATE FUNCTION's fields, or None."""
    for option in create.get("options", ()):
        option = option["DefElem"]
        if option["defname"] == "as":
            return tree.names(tree.items(option["arg"]))[0]
    return None


def _plpgsql_statements(definition, result):
    tree = json.loads(parse_plpgsql_json(_parsable_plpgsql(definition)))
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            for key, value in node.items():
                if key in DYNAMIC or (key in ("PLpgSQL_stmt_return_query", "PLpgSQL_stmt_open") and "dynquery" in value):
                    result.unresolved.append(f"dynamic SQL (EXECUTE) at line {value.get('lineno', '?')}")
                if key == "PLpgSQL_expr":
                    yield from _expression_statements(value["query"], value.get("parseMode", RAW_PARSE_DEFAULT))
                else:
                    stack.append(value)


def _expression_statements(query, mode):
    """The SQL inside one PL/pgSQL expression: a whole statement, an expression, or the right-hand
    side of an assignment (``x := ...``)."""
    if mode == RAW_PARSE_DEFAULT:
        yield from tree.parse(query)
        return
    if mode in ASSIGNMENT_MODES:
        assign = next((t for t in scan(query) if t.name in ("COLON_EQUALS", "ASCII_61")), None)
        query = query[assign.end + 1:] if assign else query
    elif mode not in EXPRESSION_MODES:
        return  # a type name
    yield from tree.parse(f"SELECT {query}")


def _parsable_plpgsql(definition):
    """The definition rebuilt for the PL/pgSQL parser, which cannot look up user schemas: types of
    parameters, results and declarations are not lineage, so they become text/record, except
    refcursor, which OPEN and FETCH require of their variable. With OUT parameters the result is
    theirs, as the server requires: the one OUT parameter's type, else record."""
    create = tree.parse(definition)[0]["CreateFunctionStmt"]
    body = _body(create)
    parameters, outputs = [], []
    for parameter in create.get("parameters", ()):
        parameter = parameter["FunctionParameter"]
        mode = PARAMETER_MODES.get(parameter.get("mode"), "")
        name = quote_ident(parameter["name"]) if parameter.get("name") else ""
        kind = "text[]" if mode == "VARIADIC" else "refcursor" if _is_refcursor(parameter) else "text"
        parameters.append(" ".join(p for p in (mode, name, kind) if p))
        if mode in ("OUT", "INOUT"):
            outputs.append(kind)
    if create.get("is_procedure"):
        kind, returns = "PROCEDURE", ""
    else:
        kind = "FUNCTION"
        returned = create.get("returnType")
        type_name = tree.names(returned["names"])[-1] if returned else "record"
        result = (("record" if len(outputs) != 1 else outputs[0]) if outputs else
                  type_name if type_name in ("trigger", "event_trigger", "void", "refcursor") else "record")
        returns = "RETURNS " + ("SETOF " if returned and returned.get("setof") else "") + result
    tag = "$kada_body$"
    while tag in body:
        tag = tag[:-1] + "_$"
    return (f"CREATE {kind} kada_parse({', '.join(parameters)}) {returns} LANGUAGE plpgsql "
            f"AS {tag}{_public_declarations(body)}{tag}")


def _is_refcursor(parameter):
    type_name = parameter.get("argType", {}).get("names", ())
    return tree.names(type_name)[-1:] == ["refcursor"] and not parameter["argType"].get("arrayBounds")


def _public_declarations(body):
    """The body with schema-qualified type names in DECLARE sections moved to public (keeping
    ``%TYPE``/``%ROWTYPE`` references, which the parser handles), positions and lines unchanged.
    Only a declaration's type is touched: what follows ``:=``, ``DEFAULT`` or a cursor's ``FOR``
    is SQL, whose relations are lineage."""
    tokens = scan(body)
    replacements, declaring, typing = [], False, False
    for i, token in enumerate(tokens):
        word = body[token.start:token.end + 1].lower()
        if word == "declare":
            declaring = typing = True
        elif word == "begin":
            declaring = typing = False
        elif word == ";":
            typing = declaring
        elif word in _DECLARATION_VALUE:
            typing = False
        elif (typing and token.name == "ASCII_46" and 0 < i < len(tokens) - 1
              and not (i + 2 < len(tokens) and tokens[i + 2].name == "ASCII_37")):  # schema . name, not %TYPE
            schema = tokens[i - 1]
            if body[schema.start:schema.end + 1].strip('"').lower() not in ("pg_catalog", "public"):
                replacements.append((schema.start, schema.end + 1))
    for start, end in reversed(replacements):
        body = body[:start] + "public" + body[end:]
    return body


def add_statement(statement, search_path, catalog, result):
    """Add one parsed statement's reads, writes and flows to ``result``."""
    targets = {}  # id(RangeVar fields) -> (RangeVar fields, kind)
    ctes = set()
    for kind, fields in tree.walk(statement):
        if kind in WRITES:
            targets[id(fields["relation"])] = (fields["relation"], WRITES[kind])
        elif kind == "SelectStmt" and "intoClause" in fields:
            targets[id(fields["intoClause"]["rel"])] = (fields["intoClause"]["rel"], "SELECT INTO")
        elif kind == "CreateTableAsStmt":
            targets[id(fields["into"]["rel"])] = (fields["into"]["rel"], "CREATE TABLE AS")
        elif kind == "TruncateStmt":
            relations = [r["RangeVar"] for r in fields["relations"]]
            targets.update((id(r), (r, "TRUNCATE")) for r in relations)
        elif kind == "CopyStmt" and fields.get("is_from") and "relation" in fields:
            targets[id(fields["relation"])] = (fields["relation"], "COPY")
        elif kind == "CommonTableExpr":
            ctes.add(fields["ctename"])
    writes = {}
    for range_var, kind in targets.values():
        relation = _resolve(range_var, search_path, catalog, result, ctes)
        if relation is not None:
            writes.setdefault(relation, set()).add(kind)
    reads = set()
    for kind, fields in tree.walk(statement):
        if kind == "RangeVar" and id(fields) not in targets:
            relation = _resolve(fields, search_path, catalog, result, ctes)
            if relation is not None:
                reads.add(relation)
    kinds = set().union(*writes.values()) if writes else {"SELECT"}
    for relation in reads:
        result.reads.setdefault(relation, set()).update(kinds)
    for relation, write_kinds in writes.items():
        result.writes.setdefault(relation, set()).update(write_kinds)
        for source in reads - {relation}:
            moving = write_kinds - set(NO_DATA_FLOW)
            if moving:
                result.flows.setdefault((source, relation), set()).update(moving)


def _resolve(range_var, search_path, catalog, result, ctes):
    schema, name = range_var.get("schemaname"), range_var["relname"]
    if schema is None and name in ctes:
        return None
    if schema in SYSTEM_SCHEMAS:
        return None
    relation = catalog.lookup(schema, name, search_path)
    if relation is None and not (schema is None and _is_system(name)):
        name = f"{schema}.{name}" if schema else name
        note = f"relation {name} not found (temporary, or created at run time?)"
        if note not in result.unresolved:
            result.unresolved.append(note)
    return relation


def _is_system(name):
    return name.startswith("pg_") or name in ("information_schema",)
