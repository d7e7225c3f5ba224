"""Column-level lineage of a view: each output column mapped to the source columns it is computed
from, by walking the definition's parse tree (PostgreSQL's own grammar, through pglast).

The definition is the server's deparse (pg_get_viewdef) taken with an empty search_path, so every
user relation is schema-qualified and a column reference is qualified wherever two relations are
in scope: names resolve as the server resolved them.

A recursive CTE's columns are worked out to a fixed point (the recursive term reads its own
columns); XMLTABLE and JSON_TABLE columns come from the document and PASSING expressions; the
column a FULL JOIN ... USING merges comes from both sides. A whole-row reference (``t.*`` as a
value, as in ``row_to_json(t.*)``) comes from the relation itself, not from a list of its
columns: the relation catalog holds no columns (memory), and metadata lists them.

"Computed from" means every column the output expression references: a bare column is a
``direct`` source, anything else (an expression, an aggregate, a window function with its
PARTITION BY and ORDER BY, a scalar subquery's output) an ``expression`` source. Columns read only
by WHERE, JOIN or GROUP BY are reads of the view as a whole (the catalog's edges), not the lineage
of one output column.

The tree is read as plain data (see tree.py).
"""

from dataclasses import dataclass, field

from . import tree
from .names import Relation

DIRECT, EXPRESSION = "direct", "expression"
WHOLE_ROW = "*"
# Rounds of a recursive CTE's query before its sources must have settled: each round that does
# not settle adds at least one source, and a query names few.
MAX_RECURSIVE_ROUNDS = 50
# Unwrapped fields that hold a node a walk must recognise.
_FIELD_TYPES = {"over": "WindowDef"}


@dataclass(frozen=True)
class SourceColumn:
    relation: object  # names.Relation
    column: str       # a column name, or WHOLE_ROW


class UnresolvedName(Exception):
    """A name in a definition that matches nothing in scope."""


class AmbiguousJoinColumn(UnresolvedName):
    """A column named through a join's alias (``SELECT j.y FROM (a JOIN b ON ...) j``) that more
    than one relation below the join could hold. The relation catalog keeps no columns (memory):
    the caller looks up the columns of ``relations`` and parses again with them known."""

    def __init__(self, message, relations):
        super().__init__(message)
        self.relations = relations


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


@dataclass(frozen=True)
class SystemRelation:
    """A relation the catalog does not hold (pg_catalog's, information_schema's): read, but not
    lineage. The deparse leaves pg_catalog unqualified."""
    schema: str
    name: str


@dataclass
class FunctionItem:
    """A function in FROM: any column of it comes from the function's arguments."""
    sources: dict


@dataclass
class JoinItem:
    """A join in FROM: the FROM items below it, and the columns its USING clauses merged
    (name -> sources). Named when it has an alias (``(a JOIN b USING (id)) j``)."""
    items: list
    merged: dict
    known: dict = field(default_factory=dict)  # (schema, name) -> column names, of relations looked up

    def column(self, name):
        """The sources of ``name`` seen from above the join, or None when no item below has it."""
        if name in self.merged:
            return _merged_sources(self.merged[name])
        holders = [item for item in self.items if _has(item, name, self.known)]
        if len(holders) > 1:
            unknown = [item for item in holders
                       if isinstance(item, (Relation, SystemRelation)) and (item.schema, item.name) not in self.known]
            message = f"column {name} of a join: more than one of its relations could hold it"
            if unknown:
                raise AmbiguousJoinColumn(f"{message} (their columns were not looked up)", unknown)
            raise UnresolvedName(f"{message} ({', '.join(_describe(item) for item in holders)})")
        return _column_of(holders[0], name) if holders else None


@dataclass
class NotUnderstood:
    """A FROM item of a kind this parser does not read: naming one of its columns fails, saying so."""
    kind: str


class Scope:
    """The FROM items of one query level, the CTEs it sees, and the enclosing level."""

    def __init__(self, parent=None, ctes=None):
        self.parent = parent
        self.ctes = dict(ctes if ctes is not None else (parent.ctes if parent else {}))
        # alias -> Relation | SystemRelation | Derived | FunctionItem | JoinItem | NotUnderstood
        self.items = {}
        self.merged = {}  # columns merged by JOIN ... USING, named unqualified: name -> sources

    def find(self, alias, column=None):
        level = self
        while level:
            if alias in level.items:
                return level.items[alias]
            level = level.parent
        named = f"column {alias}.{column}" if column else f"{alias}.*"
        raise UnresolvedName(f"{named}: no FROM item, subquery or CTE named {alias} is in scope")


def view_column_lineage(definition, catalog, known_columns=None):
    """[(output column, {SourceColumn: kind})] of a view definition; raises on unparsable SQL.

    ``known_columns`` ({(schema, relation): its column names}) resolves the columns a join's
    alias names (see AmbiguousJoinColumn)."""
    (statement,) = tree.parse(definition)
    return _Resolver(catalog, known_columns or {}).select(statement["SelectStmt"], None)


def merge(into, sources, kind=None):
    """Add ``sources`` into ``into``; a column reached both directly and not is an expression."""
    for source, source_kind in sources.items():
        new = kind or source_kind
        into[source] = new if into.get(source, new) == new else EXPRESSION


def _is_star(column_ref):
    return "A_Star" in column_ref["fields"][-1]


class _Resolver:
    def __init__(self, catalog, known_columns):
        self.catalog = catalog
        self.known = known_columns

    # -- queries -------------------------------------------------------------------------------
    def select(self, stmt, outer):
        """The output columns of a SELECT (or set operation, or VALUES) seen from ``outer``."""
        scope = Scope(outer)
        with_clause = stmt.get("withClause", {})
        for wrapped in with_clause.get("ctes", ()):
            self._cte(wrapped["CommonTableExpr"], scope, with_clause.get("recursive", False))
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

    def _cte(self, cte, scope, recursive):
        """Add one CTE to ``scope``. A recursive one reads its own columns: it starts from its
        non-recursive term, then its whole query is read again until its sources stop growing
        (they only grow, and are finitely many)."""
        name, query = cte["ctename"], cte["ctequery"]
        columns = tree.names(cte.get("aliascolnames", ()))
        if "SelectStmt" not in query:  # a data-modifying CTE: not a view's
            scope.ctes[name] = Derived()
            return
        select = query["SelectStmt"]
        seed = select["larg"] if recursive and select.get("op", "SETOP_NONE") != "SETOP_NONE" else None
        scope.ctes[name] = _renamed(Derived(self.select(seed, scope) if seed else []), columns)
        for _ in range(MAX_RECURSIVE_ROUNDS):
            derived = _renamed(Derived(self.select(select, scope)), columns)
            if derived == scope.ctes[name]:
                return
            scope.ctes[name] = derived
        raise UnresolvedName(f"recursive CTE {name}: its columns' sources did not settle")

    # -- FROM ----------------------------------------------------------------------------------
    def _from_item(self, wrapped, scope):
        """Add a FROM item to ``scope``; return it as a join sees it (a JoinItem)."""
        kind, item = tree.node(wrapped)
        alias = item.get("alias")
        if kind == "JoinExpr":
            return self._join(item, scope)
        if kind == "RangeVar":
            schema, name = item.get("schemaname"), item["relname"]
            if schema is None and name in scope.ctes:
                found = scope.ctes[name]
            else:
                found = self.catalog.lookup(schema, name) or SystemRelation(schema or "pg_catalog", name)
            found = _renamed(found, tree.names(alias.get("colnames", ()))) if alias else found
            scope.items[alias["aliasname"] if alias else name] = found
            return JoinItem([found], {})
        if kind == "RangeSubselect":
            # A LATERAL subquery sees its siblings; any other only the enclosing levels and CTEs.
            visible = scope if item.get("lateral") else Scope(scope.parent, scope.ctes)
            found = Derived(self.select(item["subquery"]["SelectStmt"], visible))
        elif kind == "RangeFunction":
            sources = {}
            for entry in item.get("functions", ()):
                call = entry["List"]["items"][0] if "List" in entry else entry
                merge(sources, self._expression(call, scope, {}), EXPRESSION)
            found = FunctionItem(sources)
        elif kind == "RangeTableSample":
            return self._from_item(item["relation"], scope)
        elif kind == "RangeTableFunc":  # XMLTABLE
            document = self._sources([item.get(k) for k in ("docexpr", "rowexpr", "namespaces")], scope)
            found = Derived([(c["colname"], {} if c.get("for_ordinality") else
                              {**document, **self._sources([c.get("colexpr"), c.get("coldefexpr")], scope)})
                             for c in (column["RangeTableFuncCol"] for column in item.get("columns", ()))])
        elif kind == "JsonTable":  # JSON_TABLE, PostgreSQL 17+
            document = self._sources([item.get("context_item"), item.get("passing")], scope)
            found = Derived(list(self._json_table_columns(item.get("columns", ()), document, scope)))
        else:
            found = NotUnderstood(kind)
        if not alias:
            return JoinItem([found], {})
        found = _renamed(found, tree.names(alias.get("colnames", ())))
        scope.items[alias["aliasname"]] = found
        return JoinItem([found], {})

    def _join(self, join, scope):
        """A join's sides, and the columns its USING merges: a FULL JOIN's from both sides (it
        coalesces them), a RIGHT JOIN's from the right, any other's from the left."""
        left, right = self._from_item(join["larg"], scope), self._from_item(join["rarg"], scope)
        merged = {**left.merged, **right.merged}
        using = tree.names(join.get("usingClause", ()))
        sides = {"JOIN_FULL": (left, right), "JOIN_RIGHT": (right,)}.get(join.get("jointype"), (left,))
        for name in using:
            try:
                merged[name] = _merged(name, sides)
            except UnresolvedName as e:
                merged[name] = e  # an error only if the query names the merged column
        scope.merged.update({name: merged[name] for name in using})
        joined = JoinItem(left.items + right.items, merged, self.known)
        if "join_using_alias" in join:  # USING (...) AS x: x has the merged columns alone
            scope.items[join["join_using_alias"]["aliasname"]] = Derived([(n, _merged_sources(merged[n])) for n in using])
        if "alias" in join:
            scope.items[join["alias"]["aliasname"]] = joined
        return joined

    def _json_table_columns(self, columns, document, scope):
        """(name, sources) of JSON_TABLE's columns, NESTED ones flattened."""
        for column in columns:
            column = column["JsonTableColumn"]
            if column["coltype"] == "JTC_NESTED":
                yield from self._json_table_columns(column.get("columns", ()), document, scope)
            elif column["coltype"] == "JTC_FOR_ORDINALITY":
                yield column["name"], {}
            else:
                yield column["name"], {**document, **self._sources([column.get("on_empty"), column.get("on_error")],
                                                                   scope)}

    # -- expressions ---------------------------------------------------------------------------
    def _expression(self, node, scope, windows):
        """{SourceColumn: kind} of an expression (a wrapped node): DIRECT only for a bare column
        reference."""
        if "ColumnRef" in node:
            return self._column(node["ColumnRef"], scope)
        sources = {}
        self._walk(*tree.node(node), scope, windows, sources)
        return sources

    def _sources(self, values, scope):
        """{SourceColumn: EXPRESSION} of every column referenced below ``values`` (nodes, lists,
        unwrapped fields or None)."""
        sources = {}
        self._walk_value([v for v in values if v], None, scope, {}, sources)
        return dict.fromkeys(sources, EXPRESSION)

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
            return _column_of(scope.find(names[-2], column), column, names[-2])
        # Unqualified: a column a JOIN ... USING merged, else the one item of the nearest level
        # that has it (the deparse qualifies a column whenever two relations could hold it);
        # else a whole-row reference to an item.
        level = scope
        while level:
            if column in level.merged:
                return _merged_sources(level.merged[column])
            holders = [(alias, item) for alias, item in level.items.items() if _has(item, column, self.known)]
            if len(holders) == 1:
                return _column_of(holders[0][1], column, holders[0][0])
            if len(holders) > 1:
                raise UnresolvedName(f"column {column} is not qualified and more than one FROM item could hold it "
                                     f"({', '.join(alias for alias, _ in holders)})")
            if column in level.items:
                return self._whole_row(level.items[column])
            level = level.parent
        raise UnresolvedName(f"column {column}: no FROM item in scope holds it")

    @staticmethod
    def _whole_row(item):
        if isinstance(item, (Derived, JoinItem)):
            return _every_source(item)
        if isinstance(item, FunctionItem):
            return dict.fromkeys(item.sources, EXPRESSION)
        if isinstance(item, NotUnderstood):
            raise UnresolvedName(f"a whole row of a {item.kind} in FROM, which is not understood")
        return {SourceColumn(item, WHOLE_ROW): EXPRESSION} if isinstance(item, Relation) else {}

    @staticmethod
    def _star(qualifier, scope):
        """A star left in a select list: the deparse expands those over relations, so only
        derived items' columns can be named here."""
        items = [scope.find(qualifier[-1])] if qualifier else list(scope.items.values())
        return [(name, dict(sources)) for item in items if isinstance(item, Derived) for name, sources in item.columns]


def _has(item, column, known):
    """Whether ``item`` can hold ``column``; a relation whose columns are not ``known`` can hold any
    (the deparse leaves a column unqualified only when one relation is in scope)."""
    if isinstance(item, Derived):
        return item.column(column) is not None
    if isinstance(item, JoinItem):
        return column in item.merged or any(_has(i, column, known) for i in item.items)
    if isinstance(item, (Relation, SystemRelation)) and (item.schema, item.name) in known:
        return column in known[item.schema, item.name]
    return True


def _describe(item):
    if isinstance(item, (Relation, SystemRelation)):
        return f"{item.schema}.{item.name}"
    return {Derived: "a subquery or CTE", FunctionItem: "a function in FROM"}.get(type(item), "a FROM item")


def _column_of(item, column, alias="?"):
    if isinstance(item, SystemRelation):
        return {}  # not lineage
    if isinstance(item, (Derived, JoinItem)):
        sources = item.column(column)
        if sources is None:
            raise UnresolvedName(f"column {alias}.{column}: not a column of the subquery, CTE or join {alias}")
        return dict(sources)
    if isinstance(item, FunctionItem):
        return dict.fromkeys(item.sources, EXPRESSION)
    if isinstance(item, NotUnderstood):
        raise UnresolvedName(f"column {alias}.{column}: {alias} is a {item.kind} in FROM, which is not understood")
    return {SourceColumn(item, column): DIRECT}


def _merged(name, sides):
    """The sources of the column ``name`` a USING clause merges from ``sides`` (both of a FULL
    JOIN, as an expression: it coalesces them)."""
    sources = {}
    for side in sides:
        found = side.column(name)
        if found is None:
            raise UnresolvedName(f"USING ({name}): no FROM item on one side of the join holds it")
        merge(sources, found, EXPRESSION if len(sides) > 1 else None)
    return sources


def _merged_sources(value):
    """A merged column's sources, or the reason they could not be known (raised)."""
    if isinstance(value, UnresolvedName):
        raise value
    return dict(value)


def _every_source(item):
    """Every source of a derived item or join, as expressions (its whole row)."""
    if isinstance(item, Derived):
        return item.every_source()
    merged = {}
    for sources in item.merged.values():
        merge(merged, _merged_sources(sources), EXPRESSION)
    for inner in item.items:
        merge(merged, _Resolver._whole_row(inner), EXPRESSION)
    return merged


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
