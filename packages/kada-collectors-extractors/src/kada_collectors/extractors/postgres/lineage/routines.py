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

from pglast import ast, parse_sql
from pglast.parser import parse_plpgsql_json, scan

from .names import SYSTEM_SCHEMAS, parse_search_path, quote_ident
from .tree import flatten, walk

WRITES = {ast.InsertStmt: "INSERT", ast.UpdateStmt: "UPDATE", ast.DeleteStmt: "DELETE", ast.MergeStmt: "MERGE"}
NO_DATA_FLOW = ("DELETE", "TRUNCATE")
# PL/pgSQL statements whose SQL is only known at run time.
DYNAMIC = ("PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors")
# PLpgSQL_expr.parseMode (the server's RawParseMode): a statement, a type name, an expression,
# or one of three forms of assignment.
RAW_PARSE_DEFAULT = 0
EXPRESSION_MODES = (2,)
ASSIGNMENT_MODES = (3, 4, 5)
PARAMETER_MODES = {"o": "OUT", "b": "INOUT", "v": "VARIADIC", "t": "OUT"}


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
    (raw,) = parse_sql(definition)
    create = raw.stmt
    if create.sql_body is not None:  # BEGIN ATOMIC ... END, or RETURN expr
        yield from flatten([create.sql_body])
        return
    for option in create.options or ():
        if option.defname == "as":
            body = option.arg[0].sval if isinstance(option.arg, (list, tuple)) else option.arg.sval
            yield from (r.stmt for r in parse_sql(body))


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
        yield from (r.stmt for r in parse_sql(query))
        return
    if mode in ASSIGNMENT_MODES:
        assign = next((t for t in scan(query) if t.name in ("COLON_EQUALS", "ASCII_61")), None)
        query = query[assign.end + 1:] if assign else query
    elif mode not in EXPRESSION_MODES:
        return  # a type name
    yield from (r.stmt for r in parse_sql(f"SELECT {query}"))


def _parsable_plpgsql(definition):
    """The definition rebuilt for the PL/pgSQL parser, which cannot look up user schemas: types of
    parameters, results and declarations are not lineage, so they become text/record."""
    create = parse_sql(definition)[0].stmt
    body = next(o.arg for o in create.options if o.defname == "as")
    body = body[0].sval if isinstance(body, (list, tuple)) else body.sval
    parameters = []
    for parameter in create.parameters or ():
        mode = PARAMETER_MODES.get(parameter.mode.value if hasattr(parameter.mode, "value") else parameter.mode, "")
        name = quote_ident(parameter.name) if parameter.name else ""
        parameters.append(" ".join(p for p in (mode, name, "text[]" if mode == "VARIADIC" else "text") if p))
    if create.is_procedure:
        kind, returns = "PROCEDURE", ""
    else:
        kind = "FUNCTION"
        returned = create.returnType.names[-1].sval if create.returnType else "record"
        returns = "RETURNS " + ("SETOF record" if create.returnType and create.returnType.setof else
                                returned if returned in ("trigger", "event_trigger", "void") else "record")
    tag = "$kada_body$"
    while tag in body:
        tag = tag[:-1] + "_$"
    return (f"CREATE {kind} kada_parse({', '.join(parameters)}) {returns} LANGUAGE plpgsql "
            f"AS {tag}{_public_declarations(body)}{tag}")


def _public_declarations(body):
    """The body with schema-qualified type names in DECLARE sections moved to public (keeping
    ``%TYPE``/``%ROWTYPE`` references, which the parser handles), positions and lines unchanged."""
    tokens = scan(body)
    replacements, declaring = [], False
    for i, token in enumerate(tokens):
        word = body[token.start:token.end + 1].lower()
        if word == "declare":
            declaring = True
        elif word == "begin":
            declaring = False
        elif (declaring and token.name == "ASCII_46" and 0 < i < len(tokens) - 1
              and not (i + 2 < len(tokens) and tokens[i + 2].name == "ASCII_37")):  # schema . name, not %TYPE
            schema = tokens[i - 1]
            if body[schema.start:schema.end + 1].strip('"').lower() not in ("pg_catalog", "public"):
                replacements.append((schema.start, schema.end + 1))
    for start, end in reversed(replacements):
        body = body[:start] + "public" + body[end:]
    return body


def add_statement(statement, search_path, catalog, result):
    """Add one parsed statement's reads, writes and flows to ``result``."""
    targets = {}  # id(RangeVar) -> (RangeVar, kind)
    ctes = set()
    for node in walk(statement):
        kind = WRITES.get(type(node))
        if kind:
            targets[id(node.relation)] = (node.relation, kind)
        elif isinstance(node, ast.SelectStmt) and node.intoClause is not None:
            targets[id(node.intoClause.rel)] = (node.intoClause.rel, "SELECT INTO")
        elif isinstance(node, ast.CreateTableAsStmt):
            targets[id(node.into.rel)] = (node.into.rel, "CREATE TABLE AS")
        elif isinstance(node, ast.TruncateStmt):
            targets.update((id(r), (r, "TRUNCATE")) for r in node.relations)
        elif isinstance(node, ast.CopyStmt) and node.is_from and node.relation is not None:
            targets[id(node.relation)] = (node.relation, "COPY")
        elif isinstance(node, ast.CommonTableExpr):
            ctes.add(node.ctename)
    writes = {}
    for range_var, kind in targets.values():
        relation = _resolve(range_var, search_path, catalog, result, ctes)
        if relation is not None:
            writes.setdefault(relation, set()).add(kind)
    reads = set()
    for node in walk(statement):
        if isinstance(node, ast.RangeVar) and id(node) not in targets:
            relation = _resolve(node, search_path, catalog, result, ctes)
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
    if range_var.schemaname is None and range_var.relname in ctes:
        return None
    if range_var.schemaname in SYSTEM_SCHEMAS:
        return None
    relation = catalog.lookup(range_var.schemaname, range_var.relname, search_path)
    if relation is None and not (range_var.schemaname is None and _is_system(range_var.relname)):
        name = f"{range_var.schemaname}.{range_var.relname}" if range_var.schemaname else range_var.relname
        note = f"relation {name} not found (temporary, or created at run time?)"
        if note not in result.unresolved:
            result.unresolved.append(note)
    return relation


def _is_system(name):
    return name.startswith("pg_") or name in ("information_schema",)
