"""Checks run in each database's snapshot after the extracts: what the extracts could not cover.

The statements list the object kinds they know by their catalog letters. A newer PostgreSQL may
add kinds (PostgreSQL 19's property graphs are relkind 'g'); those objects are counted and
reported as manifest warnings rather than silently lost or crashing the run.
"""

from .statements import tagged

UNKNOWN_KINDS_SQL = tagged("""
SELECT 'relkind' AS catalog_column, c.relkind::text AS letter, count(*) AS objects
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind NOT IN ('r', 'p', 'f', 'v', 'm', 'S', 'i', 'I', 'c', 't')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
GROUP BY 2
UNION ALL
SELECT 'contype', con.contype::text, count(*)
FROM pg_constraint con
WHERE con.contype NOT IN ('c', 'f', 'p', 'u', 't', 'x', 'n')
GROUP BY 2
UNION ALL
SELECT 'typtype', t.typtype::text, count(*)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype NOT IN ('b', 'c', 'd', 'e', 'p', 'r', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
GROUP BY 2
UNION ALL
SELECT 'prokind', p.prokind::text, count(*)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind NOT IN ('f', 'p', 'a', 'w')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
GROUP BY 2
ORDER BY 1, 2
""")


def unknown_kinds(conn, dbname):
    """Manifest warnings for objects of kinds this collector does not know."""
    rows = conn.execute(UNKNOWN_KINDS_SQL).fetchall()
    return [f"database {dbname!r}: {count} object(s) of unknown {column} {letter!r} are not in the extracts "
            "(a PostgreSQL newer than this collector?)" for column, letter, count in rows]
