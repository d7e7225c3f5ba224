"""PostgreSQL's own views as a real schema for the lineage parser: information_schema's and
pg_catalog's, written by PostgreSQL's authors (outer joins, CASE, subqueries, set-returning
functions, UNION, views over views), on every major the server has."""

from __future__ import annotations

import psycopg

from kada_collectors.extractors.postgres.lineage.names import RelationCatalog
from kada_collectors.extractors.postgres.lineage.views import view_column_lineage

SYSTEM_VIEWS_SQL = """
SELECT format('%I.%I', schemaname, viewname), pg_get_viewdef(format('%I.%I', schemaname, viewname)::regclass)
FROM pg_views WHERE schemaname IN ('information_schema', 'pg_catalog') ORDER BY 1
"""


def parse_system_views(dsn: str) -> tuple[int, list[str]]:
    """How many system views the server has, and each one not parsed, with why. Definitions are
    deparsed with an empty search_path, as the collector reads them."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET search_path = ''")
        catalog = RelationCatalog.load(conn, "localhost")
        views = conn.execute(SYSTEM_VIEWS_SQL).fetchall()
    failures = []
    for name, definition in views:
        try:
            view_column_lineage(definition, catalog)
        except Exception as e:  # the grammar's error, a name not resolved, or a bug: each is a finding
            failures.append(f"{name}: {type(e).__name__}: {e}")
    return len(views), failures
