"""Column-level lineage of a view: each output column mapped to the source columns it is computed
from, by walking the definition's parse tree (PostgreSQL's own grammar, through pglast).

The definition is the server's deparse (pg_get_viewdef) taken with an empty search_path, so every
user relation is schema-qualified and a column reference is qualified wherever two relations are
in scope: names resolve as the server resolved them.

"Computed from" means every column the output expression references: a bare column is a
``direct`` source, anything else (an expression, an aggregate, a window function with its
PARTITION BY and ORDER BY, a scalar subquery's output) an ``expression`` source. Columns read only
by WHERE, JOIN or GROUP BY are reads of the view as a whole (the catalog's edges), not the lineage
of one output column.

The tree is read as plain data (see tree.py).
"""

from dataclasses import dataclass, field

from . import tree

DIRECT, EXPRESSION = "direct", "expression"
WHOLE_ROW = "*"
# Unwrapped fields that hold a node a walk must recognise.
_FIELD_TYPES = {"over": "WindowDef"}


@dataclass(frozen=True)
class SourceColumn:
    relation: object  # names.Relation
    column: str       # a column name, or WHOLE_ROW


class UnresolvedName(Exception):
    """A name in a definition that matches nothing in scope."""


@dataclass
class Derived:
    """A FROM item the query computes (subquery, CTE, VALUES): its output columns in order, each
    with its sources {SourceColumn: DIRECT | EXPRESSION}."""
    columns: list = field(default_factory=list)

    def column(self, name):
        return next((sources for column, sources in self.columns if column == name), None)

    def every_source(self):
        merged = {}
        for _, sources in self.columns:
            merge(merged, sources, EXPRESSION)
        return merged


@dataclass
class FunctionItem:
    """A function in FROM: any column of it comes from the function's arguments."""
    sources: dict


class Scope:
    """The FROM items of one query level, the CTEs it sees, and the enclosing level."""

    def __init__(self, parent=None, ctes=None):
        self.parent = parent
        self.ctes = dict(ctes if ctes is not None else (parent.ctes if parent else {}))
        self.items = {}  # alias -> Relation | Derived | FunctionItem | None (not lineage: a system relation)

    def find(self, alias):
        level = self
        while level:
            if alias in level.items:
                return level.items[alias]
            level = level.parent
        raise UnresolvedName(alias)


def view_column_lineage(definition, catalog):
    """[(output column, {SourceColumn: kind})] of a view definition; raises on unparsable SQL."""
    (statement,) = tree.parse(definition)
    return _Resolver(catalog).select(statement["SelectStmt"], None)


def merge(into, sources, kind=None):
    """Add ``sources`` into ``into``; a column reached both directly and not is an expression."""
    for source, source_kind in sources.items():
        new = kind or source_kind
        into[source] = new if into.get(source, new) == new else EXPRESSION


def _is_star(column_ref):
    return "A_Star" in column_ref["fields"][-1]


class _Resolver:
    def __init__(self, catalog):
        self.catalog = catalog

    # -- queries -------------------------------------------------------------------------------
    def select(self, stmt, outer):
        """The output columns of a SELECT (or set operation, or VALUES) seen from ``outer``."""
        scope = Scope(outer)
        for wrapped in stmt.get("withClause", {}).get("ctes", ()):
            cte = wrapped["CommonTableExpr"]
            scope.ctes[cte["ctename"]] = Derived()  # a recursive CTE's reference to itself adds nothing
            query = cte["ctequery"]
            outputs = self.select(query["SelectStmt"], scope) if "SelectStmt" in query else []
            scope.ctes[cte["ctename"]] = _renamed(Derived(outputs), tree.names(cte.get("aliascolnames", ())))
        if stmt.get("op", "SETOP_NONE") != "SETOP_NONE":
            combined = self.select(stmt["larg"], scope)
            for (_, into), (_, sources) in zip(combined, self.select(stmt["rarg"], scope)):
                merge(into, sources)
            return combined
        if "valuesLists" in stmt:
            rows = [row["List"]["items"] for row in stmt["valuesLists"]]
            return [(f"column{i + 1}", self._expressions([row[i] for row in rows], scope))
                    for i in range(len(rows[0]))]
        for item in stmt.get("fromClause", ()):
            self._from_item(item, scope)
        windows = {w["WindowDef"]["name"]: w for w in stmt.get("windowClause", ()) if w["WindowDef"].get("name")}
        outputs = []
        for target in stmt.get("targetList", ()):
            target = target["ResTarget"]
            value = target["val"]
            if "ColumnRef" in value and _is_star(value["ColumnRef"]):
                outputs.extend(self._star(tree.names(value["ColumnRef"]["fields"][:-1]), scope))
            else:
                outputs.append((target.get("name") or _figure_name(value), self._expression(value, scope, windows)))
        return outputs

    # -- FROM ----------------------------------------------------------------------------------
    def _from_item(self, wrapped, scope):
        kind, item = tree.node(wrapped)
        alias = item.get("alias")
        if kind == "RangeVar":
            schema, name = item.get("schemaname"), item["relname"]
            if schema is None and name in scope.ctes:
                found = scope.ctes[name]
            else:
                found = self.catalog.lookup(schema, name)
            scope.items[alias["aliasname"] if alias else name] = (
                _renamed(found, tree.names(alias.get("colnames", ()))) if alias else found)
        elif kind == "JoinExpr":
            self._from_item(item["larg"], scope)
            self._from_item(item["rarg"], scope)
        elif kind == "RangeSubselect":
            # A LATERAL subquery sees its siblings; any other only the enclosing levels and CTEs.
            visible = scope if item.get("lateral") else Scope(scope.parent, scope.ctes)
            derived = Derived(self.select(item["subquery"]["SelectStmt"], visible))
            scope.items[alias["aliasname"]] = _renamed(derived, tree.names(alias.get("colnames", ())))
        elif kind == "RangeFunction":
            sources = {}
            for entry in item.get("functions", ()):
                call = entry["List"]["items"][0] if "List" in entry else entry
                merge(sources, self._expression(call, scope, {}), EXPRESSION)
            if alias:
                scope.items[alias["aliasname"]] = FunctionItem(sources)
        elif kind == "RangeTableSample":
            self._from_item(item["relation"], scope)

    # -- expressions ---------------------------------------------------------------------------
    def _expression(self, node, scope, windows):
        """{SourceColumn: kind} of an expression (a wrapped node): DIRECT only for a bare column
        reference."""
        if "ColumnRef" in node:
            return self._column(node["ColumnRef"], scope)
        sources = {}
        self._walk(*tree.node(node), scope, windows, sources)
        return sources

    def _expressions(self, nodes, scope):
        sources = {}
        for node in nodes:
            merge(sources, self._expression(node, scope, {}))
        return sources

    def _walk(self, kind, fields, scope, windows, sources):
        """Add the sources below a node of type ``kind`` (None: a struct's fields) to ``sources``."""
        if kind == "ColumnRef":
            merge(sources, self._column(fields, scope), EXPRESSION)
            return
        if kind == "SubLink":
            for _, inner in self.select(fields["subselect"]["SelectStmt"], scope):
                merge(sources, inner, EXPRESSION)
            if "testexpr" in fields:
                self._walk(*tree.node(fields["testexpr"]), scope, windows, sources)
            return
        if kind == "WindowDef" and fields.get("refname") in windows:
            self._walk(*tree.node(windows[fields["refname"]]), scope, windows, sources)
        if kind == "FuncCall" and fields.get("over", {}).get("name") in windows:
            self._walk(*tree.node(windows[fields["over"]["name"]]), scope, windows, sources)  # OVER w
        for name, value in fields.items():
            if isinstance(value, (dict, list)):
                self._walk_value(value, _FIELD_TYPES.get(name), scope, windows, sources)

    def _walk_value(self, value, kind, scope, windows, sources):
        if isinstance(value, list):
            for element in value:
                self._walk_value(element, None, scope, windows, sources)
        elif isinstance(value, dict) and value:
            if tree.is_node(value):
                self._walk(*tree.node(value), scope, windows, sources)
            else:
                self._walk(kind, value, scope, windows, sources)

    def _column(self, ref, scope):
        names = tree.names(ref["fields"])
        if _is_star(ref):
            return self._whole_row(scope.find(names[-1])) if names else {}
        column = names[-1]
        if len(names) >= 2:
            return _column_of(scope.find(names[-2]), column)
        # Unqualified: the one item of the nearest level that has it (the deparse qualifies a
        # column whenever two relations could hold it); else a whole-row reference to an item.
        level = scope
        while level:
            holders = [item for item in level.items.values() if _has(item, column)]
            if len(holders) == 1:
                return _column_of(holders[0], column)
            if len(holders) > 1:
                raise UnresolvedName(f"{column} (ambiguous)")
            if column in level.items:
                return self._whole_row(level.items[column])
            level = level.parent
        raise UnresolvedName(column)

    @staticmethod
    def _whole_row(item):
        if isinstance(item, Derived):
            return item.every_source()
        if isinstance(item, FunctionItem):
            return dict.fromkeys(item.sources, EXPRESSION)
        return {SourceColumn(item, WHOLE_ROW): EXPRESSION} if item is not None else {}

    @staticmethod
    def _star(qualifier, scope):
        """A star left in a select list: the deparse expands those over relations, so only
        derived items' columns can be named here."""
        items = [scope.find(qualifier[-1])] if qualifier else list(scope.items.values())
        return [(name, dict(sources)) for item in items if isinstance(item, Derived) for name, sources in item.columns]


def _has(item, column):
    """Whether ``item`` can hold ``column``; a relation can hold any (the deparse leaves a column
    unqualified only when one relation is in scope)."""
    if item is None:
        return False
    if isinstance(item, Derived):
        return item.column(column) is not None
    return True


def _column_of(item, column):
    if item is None:
        return {}  # a system relation: not lineage
    if isinstance(item, Derived):
        sources = item.column(column)
        if sources is None:
            raise UnresolvedName(column)
        return dict(sources)
    if isinstance(item, FunctionItem):
        return dict.fromkeys(item.sources, EXPRESSION)
    return {SourceColumn(item, column): DIRECT}


def _renamed(item, names):
    """A derived item under an alias with column names: ``AS x(a, b)`` renames its first columns."""
    if names and isinstance(item, Derived):
        return Derived([(names[i] if i < len(names) else name, sources) for i, (name, sources) in enumerate(item.columns)])
    return item


def _figure_name(node):
    """The name the server gives an unaliased output column (its FigureColname, simplified)."""
    kind, fields = tree.node(node)
    if kind == "ColumnRef":
        names = tree.names(fields["fields"])
        return names[-1] if names else "?column?"
    if kind == "FuncCall":
        return tree.names(fields["funcname"])[-1]
    if kind == "TypeCast":
        inner = _figure_name(fields["arg"])
        return inner if inner != "?column?" else tree.names(fields["typeName"]["names"])[-1]
    if kind == "A_Indirection" and "String" in fields["indirection"][-1]:
        return tree.names(fields["indirection"][-1:])[0]
    return {"CaseExpr": "case", "CoalesceExpr": "coalesce"}.get(kind, "?column?")
