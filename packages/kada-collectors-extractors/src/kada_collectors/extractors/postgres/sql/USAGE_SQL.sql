-- usage: the server's cumulative statistics of this database as they stand now, one row per
-- object: the database (pg_stat_database), tables, partitions and materialized views
-- (pg_stat_all_tables with pg_statio_all_tables), indexes (pg_stat_all_indexes with
-- pg_statio_all_indexes) and functions and procedures (pg_stat_user_functions, when
-- track_functions is on). The collector turns them into the window's deltas against the snapshot
-- kept at the window's start (usage.py). COUNTERS holds each view's own columns, by their own
-- names, whatever this major has (they differ by version): a JSON array of the views' rows, which
-- the collector merges, leaving out the identifying columns (ids and names). row_to_json, not
-- jsonb: jsonb's merges and key removals rebuilt each object several times, and took half the
-- statement's time; the ids are metadata's.
SELECT 'DATABASE' AS "OBJECT_TYPE",
       {server_object_id(current_database())} AS "OBJECT_ID",
       json_build_array(row_to_json(d),
                        json_build_object('postmaster_start_time', pg_postmaster_start_time(),
                                          'track_functions', current_setting('track_functions'))) AS "COUNTERS"
FROM pg_stat_database d
WHERE d.datname = current_database()
UNION ALL
-- The views' own schema names filter them before they compute a row (TOAST tables are most of them).
SELECT CASE c.relkind WHEN 'p' THEN 'PARTITIONED_TABLE' WHEN 'm' THEN 'MATERIALIZED_VIEW' ELSE 'TABLE' END,
       {object_id(s.schemaname, s.relname)},
       json_build_array(row_to_json(s), row_to_json(io))
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
       json_build_array(row_to_json(s), row_to_json(io))
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
       json_build_array(row_to_json(s))
FROM pg_stat_user_functions s
JOIN pg_proc p ON p.oid = s.funcid
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
