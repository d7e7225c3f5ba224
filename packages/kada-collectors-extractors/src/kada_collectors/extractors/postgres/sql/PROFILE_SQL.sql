-- profile: what the columns hold, from the planner's statistics as of the last ANALYZE (pg_stats),
-- never from the tables. One row per table, partition, materialized view and foreign table (its
-- row estimate and when it was last analysed), then one per column that has statistics, for the
-- tables whose statistics may have changed in the window ({1}, its start): those analysed since
-- then, or whose last analyse the server no longer knows (a statistics reset, a crash, a failover,
-- an upgrade) while they have statistics. A column's statistics change only when its table is
-- analysed, so the others' columns were in an earlier window's file, as they are now; a first run
-- sends every table's. A minute before the window's start: what the collector's clock and the
-- server's may differ by. COLUMNS_INCLUDED says, on each table row, which case it is.
-- Only numbers leave: most_common_vals, most_common_freqs, histogram_bounds and the element
-- statistics are data values and are never read. pg_stats shows only the columns the role may
-- SELECT. A negative n_distinct is a fraction of the rows (-1: every value distinct): it is turned
-- into a count with the table's row estimate, and marked as estimated.
-- pg_stats checks the role's privilege on every column it passes (about 5 us each), and it names
-- its tables without an OID. So it is read once per included table, that table's schema and name
-- pushed into it (a security barrier view; name equality is leakproof, so the planner moves the
-- condition inside): it finds the table by pg_class's index on (relname, relnamespace) and checks
-- only its columns. OFFSET 0 keeps the subquery per table: joined whole, the view checked every
-- column of the database, and pushing the names alone matched every schema's table of that name
-- (schema-per-tenant databases repeat them).
WITH t AS MATERIALIZED (
    SELECT CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED_TABLE' WHEN 'm' THEN 'MATERIALIZED_VIEW'
                          ELSE 'FOREIGN_TABLE' END AS kind,
           {object_id(n.nspname, c.relname)} AS id,
           {object_id(n.nspname)} AS schema_id,
           n.nspname, c.relname, c.relkind = 'p' AS whole_tree,
           CASE WHEN c.reltuples >= 0 THEN c.reltuples END AS reltuples,
           greatest(pg_stat_get_last_analyze_time(c.oid), pg_stat_get_last_autoanalyze_time(c.oid)) AS analyzed,
           c.reltuples > 0 AS counted
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'm', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
      AND NOT EXISTS (SELECT FROM pg_depend e
                      WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
), included AS MATERIALIZED (
    SELECT t.*, coalesce(t.analyzed >= {1}::timestamp AT TIME ZONE 'UTC' - interval '1 minute', t.counted, false)
                AS columns_included
    FROM t
)
SELECT t.kind AS "OBJECT_TYPE",
       t.id AS "OBJECT_ID",
       t.schema_id AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       t.reltuples::bigint AS "ROW_ESTIMATE",
       NULL::real AS "NULL_FRACTION",
       NULL::bigint AS "DISTINCT_VALUES",
       NULL::boolean AS "DISTINCT_IS_ESTIMATED",
       NULL::real AS "DISTINCT_FRACTION",
       NULL::integer AS "AVG_WIDTH",
       NULL::real AS "CORRELATION",
       t.analyzed AS "LAST_ANALYZED",
       t.columns_included AS "COLUMNS_INCLUDED"
FROM included t
UNION ALL
SELECT 'COLUMN',
       t.id || '.' || quote_ident(s.attname),
       t.id,
       {0},
       current_database(),
       NULL,
       s.null_frac,
       CASE WHEN s.n_distinct >= 0 THEN round(s.n_distinct)::bigint ELSE round(-s.n_distinct * t.reltuples)::bigint END,
       s.n_distinct < 0,
       CASE WHEN s.n_distinct < 0 THEN -s.n_distinct END,
       s.avg_width,
       s.correlation,
       t.analyzed,
       NULL
FROM included t
CROSS JOIN LATERAL (
    -- A partitioned table has only statistics of its whole tree; an inheritance parent has both: its own.
    SELECT attname, null_frac, n_distinct, avg_width, correlation
    FROM pg_stats
    WHERE schemaname = t.nspname AND tablename = t.relname AND inherited = t.whole_tree
    OFFSET 0
) s
WHERE t.columns_included
