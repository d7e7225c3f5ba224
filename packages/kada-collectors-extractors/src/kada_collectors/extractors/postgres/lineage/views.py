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
"""

from dataclasses import dataclass, field

from pglast import ast, parse_sql
from pglast.enums import SetOperation

from .tree import children

DIRECT, EXPRESSION = "direct", "expression"
WHOLE_ROW = "*"


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
    (raw,) = parse_sql(definition)
    return _Resolver(catalog).select(raw.stmt, None)


def merge(into, sources, kind=None):
    """Add ``sources`` into ``into``; a column reached both directly and not is an expression."""
    for source, source_kind in sources.items():
        new = kind or source_kind
        into[source] = new if into.get(source, new) == new else EXPRESSION


def _names(nodes):
    return [n.sval for n in nodes if isinstance(n, ast.String)]


class _Resolver:
    def __init__(self, catalog):
        self.catalog = catalog

    # -- queries -------------------------------------------------------------------------------
    def select(self, stmt, outer):
        """The output columns of a SELECT (or set operation, or VALUES) seen from ``outer``."""
        scope = Scope(outer)
        for cte in stmt.withClause.ctes if stmt.withClause else ():
            scope.ctes[cte.ctename] = Derived()  # a recursive CTE's reference to itself adds nothing
            outputs = self.select(cte.ctequery, scope) if isinstance(cte.ctequery, ast.SelectStmt) else []
            scope.ctes[cte.ctename] = _renamed(Derived(outputs), _names(cte.aliascolnames or ()))
        if stmt.op != SetOperation.SETOP_NONE:
            combined = self.select(stmt.larg, scope)
            for (_, into), (_, sources) in zip(combined, self.select(stmt.rarg, scope)):
                merge(into, sources)
            return combined
        if stmt.valuesLists:
            return [(f"column{i + 1}", self._expressions([row[i] for row in stmt.valuesLists], scope))
                    for i in range(len(stmt.valuesLists[0]))]
        for item in stmt.fromClause or ():
            self._from_item(item, scope)
        windows = {w.name: w for w in stmt.windowClause or () if w.name}
        outputs = []
        for target in stmt.targetList or ():
            if isinstance(target.val, ast.ColumnRef) and isinstance(target.val.fields[-1], ast.A_Star):
                outputs.extend(self._star(_names(target.val.fields[:-1]), scope))
            else:
                outputs.append((target.name or _figure_name(target.val), self._expression(target.val, scope, windows)))
        return outputs

    # -- FROM ----------------------------------------------------------------------------------
    def _from_item(self, item, scope):
        if isinstance(item, ast.RangeVar):
            alias = item.alias.aliasname if item.alias else item.relname
            if item.schemaname is None and item.relname in scope.ctes:
                found = scope.ctes[item.relname]
            else:
                found = self.catalog.lookup(item.schemaname, item.relname)
            scope.items[alias] = _renamed(found, _names(item.alias.colnames or ())) if item.alias else found
        elif isinstance(item, ast.JoinExpr):
            self._from_item(item.larg, scope)
            self._from_item(item.rarg, scope)
        elif isinstance(item, ast.RangeSubselect):
            # A LATERAL subquery sees its siblings; any other only the enclosing levels and CTEs.
            visible = scope if item.lateral else Scope(scope.parent, scope.ctes)
            derived = Derived(self.select(item.subquery, visible))
            scope.items[item.alias.aliasname] = _renamed(derived, _names(item.alias.colnames or ()))
        elif isinstance(item, ast.RangeFunction):
            sources = {}
            for entry in item.functions or ():
                call = entry[0] if isinstance(entry, (list, tuple)) else entry
                merge(sources, self._expression(call, scope, {}), EXPRESSION)
            if item.alias:
                scope.items[item.alias.aliasname] = FunctionItem(sources)
        elif isinstance(item, ast.RangeTableSample):
            self._from_item(item.relation, scope)

    # -- expressions ---------------------------------------------------------------------------
    def _expression(self, node, scope, windows):
        """{SourceColumn: kind} of an expression: DIRECT only for a bare column reference."""
        if isinstance(node, ast.ColumnRef):
            return self._column(node, scope)
        sources = {}
        self._walk(node, scope, windows, sources)
        return sources

    def _expressions(self, nodes, scope):
        sources = {}
        for node in nodes:
            merge(sources, self._expression(node, scope, {}))
        return sources

    def _walk(self, node, scope, windows, sources):
        if isinstance(node, ast.ColumnRef):
            merge(sources, self._column(node, scope), EXPRESSION)
            return
        if isinstance(node, ast.SubLink):
            for _, inner in self.select(node.subselect, scope):
                merge(sources, inner, EXPRESSION)
            if node.testexpr is not None:
                self._walk(node.testexpr, scope, windows, sources)
            return
        if isinstance(node, ast.WindowDef) and node.refname in windows:
            self._walk(windows[node.refname], scope, windows, sources)
        if isinstance(node, ast.FuncCall) and node.over is not None and node.over.name in windows:
            self._walk(windows[node.over.name], scope, windows, sources)  # OVER w
        for child in children(node):
            self._walk(child, scope, windows, sources)

    def _column(self, ref, scope):
        names = _names(ref.fields)
        if isinstance(ref.fields[-1], ast.A_Star):
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
    if isinstance(node, ast.ColumnRef):
        names = _names(node.fields)
        return names[-1] if names else "?column?"
    if isinstance(node, ast.FuncCall):
        return node.funcname[-1].sval
    if isinstance(node, ast.TypeCast):
        inner = _figure_name(node.arg)
        return inner if inner != "?column?" else node.typeName.names[-1].sval
    if isinstance(node, ast.A_Indirection) and isinstance(node.indirection[-1], ast.String):
        return node.indirection[-1].sval
    return {ast.CaseExpr: "case", ast.CoalesceExpr: "coalesce"}.get(type(node), "?column?")
