-- metadata: sequences with their parameters (pg_sequence; never nextval(), which writes) and
-- the column that owns them (serial: 'a' dependency; identity: 'i').
SELECT 'SEQUENCE' AS "OBJECT_TYPE",
       {object_id(n.nspname, c.relname)} AS "OBJECT_ID",
       {object_id(n.nspname)} AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       n.nspname AS "SCHEMA_NAME",
       c.relname AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       format_type(s.seqtypid, NULL) AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       pg_get_userbyid(c.relowner) AS "OWNER",
       ds.description AS "DESCRIPTION",
       NULL AS "DEFINITION",
       NULL AS "LANGUAGE",
       NULL AS "ROW_COUNT",
       c.relpages::bigint * current_setting('block_size')::bigint AS "SIZE_BYTES",
       jsonb_strip_nulls(jsonb_build_object(
           'start', s.seqstart,
           'increment', s.seqincrement,
           'min', s.seqmin,
           'max', s.seqmax,
           'cache', s.seqcache,
           'cycle', s.seqcycle,
           'persistence', CASE c.relpersistence WHEN 'u' THEN 'unlogged' WHEN 't' THEN 'temporary' ELSE 'permanent' END,
           'owned_by', {object_id(on_.nspname, oc.relname, oa.attname)},
           'identity', CASE WHEN owner_dep.deptype IS NOT NULL THEN owner_dep.deptype = 'i' END
       )) AS "PROPERTIES"
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_sequence s ON s.seqrelid = c.oid
LEFT JOIN pg_depend owner_dep ON owner_dep.classid = 'pg_class'::regclass AND owner_dep.objid = c.oid
                              AND owner_dep.refclassid = 'pg_class'::regclass AND owner_dep.refobjsubid > 0
                              AND owner_dep.deptype IN ('a', 'i')
LEFT JOIN pg_class oc ON oc.oid = owner_dep.refobjid
LEFT JOIN pg_namespace on_ ON on_.oid = oc.relnamespace
LEFT JOIN pg_attribute oa ON oa.attrelid = owner_dep.refobjid AND oa.attnum = owner_dep.refobjsubid
LEFT JOIN pg_description ds ON ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = 0
WHERE c.relkind = 'S'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
