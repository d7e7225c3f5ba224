-- metadata: indexes (partitioned indexes included), also those backing a constraint.
-- Placeholder 3: NULL (in one piece), or a batch of index OIDs when the database is read again
-- because an object was dropped while the collector read it.
SELECT 'INDEX' AS "OBJECT_TYPE",
       {object_id(n.nspname, ic.relname)} AS "OBJECT_ID",
       {object_id(tn.nspname, tc.relname)} AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       n.nspname AS "SCHEMA_NAME",
       ic.relname AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       NULL AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       pg_get_userbyid(ic.relowner) AS "OWNER",
       ds.description AS "DESCRIPTION",
       pg_get_indexdef(i.indexrelid) AS "DEFINITION",
       NULL AS "LANGUAGE",
       CASE WHEN ic.reltuples >= 0 AND ic.relkind = 'i' THEN ic.reltuples::bigint END AS "ROW_COUNT",
       CASE WHEN ic.relkind = 'i' THEN ic.relpages::bigint * current_setting('block_size')::bigint END AS "SIZE_BYTES",
       jsonb_strip_nulls(jsonb_build_object(
           'method', am.amname,
           'is_unique', i.indisunique,
           'is_primary', i.indisprimary,
           'is_valid', i.indisvalid,
           'is_partitioned', ic.relkind = 'I',
           'constraint', con.conname,
           'predicate', pg_get_expr(i.indpred, i.indrelid),
           'key_columns', (SELECT jsonb_agg(pg_get_indexdef(i.indexrelid, k, true) ORDER BY k)
                           FROM generate_series(1, i.indnkeyatts) k),
           'include_columns', (SELECT jsonb_agg(pg_get_indexdef(i.indexrelid, k, true) ORDER BY k)
                               FROM generate_series(i.indnkeyatts + 1, i.indnatts) k),
           'tablespace', ts.spcname
       )) AS "PROPERTIES"
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace tn ON tn.oid = tc.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
LEFT JOIN pg_description ds ON ds.objoid = ic.oid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = 0
WHERE tc.relkind IN ('r', 'p', 'm', 'f')
  AND ({3}::oid[] IS NULL OR i.indexrelid = ANY ({3}::oid[]))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = tc.oid AND e.deptype = 'e')
