"""Lineage parsed from definitions: views' columns and routines' tables (evidence PARSED_DEFINITION).

``DefinitionLineage`` watches the VIEWS_SQL and FUNCTIONS_SQL records (values as text) as they
stream to the metadata file and writes the edges it can prove into the linkages file, so a definition is deparsed once
and memory does not grow with the number of views. A definition that cannot be parsed or
resolved keeps its catalog edges and adds a warning, never an error.
"""

import json
import logging

from pglast.parser import ParseError

from kada_collectors.lib.contract import EXTRACT_COLUMNS

from ..ids import child_id
from .names import RelationCatalog
from .routines import routine_lineage
from .views import WHOLE_ROW, AmbiguousJoinColumn, UnresolvedName, view_column_lineage

log = logging.getLogger(__name__)
EVIDENCE = "PARSED_DEFINITION"
ROUTINE_TYPES = ("FUNCTION", "PROCEDURE")
METADATA_COLUMNS = EXTRACT_COLUMNS["metadata"]


class DefinitionLineage:
    def __init__(self, conn, host, dbname, emit):
        self.catalog = RelationCatalog.load(conn, host)
        self.host, self.dbname, self._emit = host, dbname, emit
        self.warnings = []
        self.dynamic_routines = 0
        self._deferred = []  # views whose columns wait for resolve_deferred

    def on_view(self, texts):
        row = dict(zip(METADATA_COLUMNS, texts))
        if not row["DEFINITION"]:
            return
        try:
            outputs = view_column_lineage(row["DEFINITION"], self.catalog)
        except AmbiguousJoinColumn:
            # The session is streaming the views: the columns it needs are looked up afterwards.
            self._deferred.append(row)
            return
        except (ParseError, UnresolvedName) as e:
            self._not_parsed(row, e)
            return
        self._view_edges(row, outputs)

    def resolve_deferred(self, conn):
        """Parse again the views a join's alias made ambiguous, with the columns of the relations
        they join looked up over ``conn`` (in the database's snapshot, once its statements ran)."""
        known = {}
        for row in self._deferred:
            try:
                self._view_edges(row, self._with_columns(row["DEFINITION"], known, conn))
            except UnresolvedName as e:
                self._not_parsed(row, e)
        self._deferred = []
        self.catalog = None

    def _with_columns(self, definition, known, conn):
        """A view's column lineage, looking up the columns of each relation it names ambiguously
        until none is left (each round adds relations not yet looked up, so it ends)."""
        while True:
            try:
                return view_column_lineage(definition, self.catalog, known)
            except AmbiguousJoinColumn as e:
                known.update(RelationCatalog.columns(conn, e.relations))

    def _view_edges(self, row, outputs):
        for column, sources in outputs:
            target = child_id(row["OBJECT_ID"], column)
            for source, transform in sorted(sources.items(), key=lambda s: (s[0].relation.object_id, s[0].column)):
                detail = {"transform": transform}
                if source.relation.extension:
                    detail["extension"] = source.relation.extension
                self._edge(*self._source(source), "COLUMN", target, detail)

    def on_routine(self, texts):
        row = dict(zip(METADATA_COLUMNS, texts))
        if row["OBJECT_TYPE"] not in ROUTINE_TYPES or not row["DEFINITION"]:
            return
        properties = json.loads(row["PROPERTIES"]) if row["PROPERTIES"] else {}
        try:
            lineage = routine_lineage(row["DEFINITION"], row["LANGUAGE"], properties.get("config"), row["OWNER"],
                                      self.catalog)
        except (ParseError, ValueError) as e:
            self._not_parsed(row, e)
            return
        routine = (row["OBJECT_TYPE"], row["OBJECT_ID"])
        unresolved = {"unresolved": lineage.unresolved} if lineage.unresolved else {}
        if any(u.startswith("dynamic SQL") for u in lineage.unresolved):
            self.dynamic_routines += 1
        elif lineage.unresolved and not (lineage.reads or lineage.writes):
            # No edge would carry DETAIL.unresolved: the manifest says why the routine has none.
            self.warnings.append(f"{row['OBJECT_TYPE'].lower()} {row['OBJECT_ID']}: no reads or writes known, as "
                                 f"every relation it names is missing ({'; '.join(lineage.unresolved)})")
        for relation, kinds in sorted(lineage.reads.items(), key=lambda r: r[0].object_id):
            self._edge(relation.object_type, relation.object_id, *routine,
                       {"access": "read", "statements": sorted(kinds), **unresolved, **_extension(relation)})
        for relation, kinds in sorted(lineage.writes.items(), key=lambda r: r[0].object_id):
            self._edge(*routine, relation.object_type, relation.object_id,
                       {"access": "write", "statements": sorted(kinds), **unresolved, **_extension(relation)})
        for (source, target), kinds in sorted(lineage.flows.items(), key=lambda f: (f[0][0].object_id, f[0][1].object_id)):
            self._edge(source.object_type, source.object_id, target.object_type, target.object_id,
                       {"via": row["OBJECT_ID"], "statements": sorted(kinds), **unresolved})

    def release(self):
        """Drop the relation catalog once the definitions are parsed (memory), unless views wait
        for resolve_deferred."""
        if not self._deferred:
            self.catalog = None

    def finish(self):
        """Warnings for the manifest, once the database is done."""
        if self.dynamic_routines:
            self.warnings.append(
                f"database {self.dbname!r}: {self.dynamic_routines} function(s) run dynamic SQL (EXECUTE), whose "
                "lineage cannot be known before it runs; their edges say so in DETAIL.unresolved")
        return self.warnings

    @staticmethod
    def _source(source):
        """A whole row (t.*) comes from the relation itself, a column from that column."""
        relation = source.relation
        if source.column == WHOLE_ROW:
            return relation.object_type, relation.object_id
        return "COLUMN", child_id(relation.object_id, source.column)

    def _edge(self, source_type, source_id, target_type, target_id, detail):
        self._emit(("LINEAGE", source_type, source_id, target_type, target_id, self.host, self.dbname, EVIDENCE, detail))

    def _not_parsed(self, row, error):
        """A manifest warning saying what was not understood: the grammar's own error, or the name
        that could not be resolved and why."""
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if isinstance(error, ParseError):
            reason = f"PostgreSQL's grammar rejects it: {reason}"
        self.warnings.append(f"{row['OBJECT_TYPE'].lower()} {row['OBJECT_ID']}: definition not parsed ({reason}); "
                             "only its catalog edges are in linkages")


def _extension(relation):
    return {"extension": relation.extension} if relation.extension else {}
