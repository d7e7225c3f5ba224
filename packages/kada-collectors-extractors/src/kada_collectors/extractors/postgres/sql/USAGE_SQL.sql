-- usage: the server's cumulative statistics of this database as they stand now, one row per
-- object: the database (pg_stat_database), tables, partitions and materialized views
-- (pg_stat_all_tables with pg_statio_all_tables), indexes (pg_stat_all_indexes with
-- pg_statio_all_indexes) and functions and procedures (pg_stat_user_functions, when
-- track_functions is on). The collector turns them into the window's deltas against the snapshot
-- kept at the window's start (usage.py).
-- The collector writes out each usage_columns macro (alias view, ..., expression AS name, ...)
-- for the server it runs on, from the views' own columns, whatever this major has (they differ
-- by version): "COUNTERS", a JSON object of the cumulative counters that are not zero, and
-- "STATE", one of the other values (gauges, times in UTC as the contract writes them, and the
-- expressions given), the columns that name the object left out. The server sorts the values into
-- the two, so that the collector passes an untouched object's texts through without parsing
-- them. The ids are metadata's.
SELECT 'DATABASE' AS "OBJECT_TYPE",
       {server_object_id(current_database())} AS "OBJECT_ID",
       {usage_columns(d pg_stat_database, pg_postmaster_start_time() AS postmaster_start_time,
                      current_setting('track_functions') AS track_functions)}
FROM pg_stat_database d
WHERE d.datname = current_database()
UNION ALL
-- The views' own schema names filter them before they compute a row (TOAST tables are most of them).
SELECT CASE c.relkind WHEN 'p' THEN 'PARTITIONED_TABLE' WHEN 'm' THEN 'MATERIALIZED_VIEW' ELSE 'TABLE' END,
       {object_id(s.schemaname, s.relname)},
       {usage_columns(s pg_stat_all_tables, io pg_statio_all_tables)}
FROM pg_stat_all_tables s
JOIN pg_class c ON c.oid = s.relid
LEFT JOIN pg_statio_all_tables io ON io.relid = s.relid
  AND io.schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
WHERE c.relkind IN ('r', 'p', 'm')
  AND s.schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND s.schemaname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
UNION ALL
SELECT 'INDEX',
       {object_id(s.schemaname, s.indexrelname)},
       {usage_columns(s pg_stat_all_indexes, io pg_statio_all_indexes)}
FROM pg_stat_all_indexes s
JOIN pg_class tc ON tc.oid = s.relid
LEFT JOIN pg_statio_all_indexes io ON io.indexrelid = s.indexrelid
  AND io.schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
WHERE tc.relkind IN ('r', 'p', 'm', 'f')
  AND s.schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND s.schemaname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = tc.oid AND e.deptype = 'e')
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
       {object_id(n.nspname, p.proname)} || '(' || oidvectortypes(p.proargtypes) || ')',
       {usage_columns(s pg_stat_user_functions)}
FROM pg_stat_user_functions s
JOIN pg_proc p ON p.oid = s.funcid
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
