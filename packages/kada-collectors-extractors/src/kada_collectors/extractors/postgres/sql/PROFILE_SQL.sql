-- profile: what the columns hold, from the planner's statistics as of the last ANALYZE (pg_stats),
-- never from the tables. One row per table, partition, materialized view and foreign table (its
-- row estimate and when it was last analysed), then one per column that has statistics. Only
-- numbers leave: most_common_vals, most_common_freqs, histogram_bounds and the element statistics
-- are data values and are never read. pg_stats shows only the columns the role may SELECT.
-- A negative n_distinct is a fraction of the rows (-1: every value distinct): it is turned into a
-- count with the table's row estimate, and marked as estimated.
-- The tables and pg_stats' rows are each read once (MATERIALIZED) and joined by name in one hash
-- join: pg_stats names its tables, it gives no OID.
WITH t AS MATERIALIZED (
    SELECT CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED_TABLE' WHEN 'm' THEN 'MATERIALIZED_VIEW'
                          ELSE 'FOREIGN_TABLE' END AS kind,
           {object_id(n.nspname, c.relname)} AS id,
           {object_id(n.nspname)} AS schema_id,
           n.nspname, c.relname, c.relkind = 'p' AS whole_tree,
           CASE WHEN c.reltuples >= 0 THEN c.reltuples END AS reltuples,
           greatest(pg_stat_get_last_analyze_time(c.oid), pg_stat_get_last_autoanalyze_time(c.oid)) AS analyzed
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'm', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
      AND NOT EXISTS (SELECT FROM pg_depend e
                      WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
), s AS MATERIALIZED (
    SELECT schemaname, tablename, attname, inherited, null_frac, n_distinct, avg_width, correlation
    FROM pg_stats
    WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
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
       t.analyzed AS "LAST_ANALYZED"
FROM t
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
       t.analyzed
FROM s
-- A partitioned table has only statistics of its whole tree; an inheritance parent has both: its own.
JOIN t ON t.nspname = s.schemaname AND t.relname = s.tablename AND s.inherited = t.whole_tree
