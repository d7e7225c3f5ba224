-- metadata: views and materialized views with their definitions.
-- pg_get_viewdef() locks every relation a view reads until the transaction ends. The collector
-- runs this statement once per batch of view OIDs (placeholder 3), each in a savepoint it rolls back, so
-- no lock outlives its batch and the locks held at once stay few whatever the database's size.
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'MATERIALIZED_VIEW' END AS "OBJECT_TYPE",
       {object_id(n.nspname, c.relname)} AS "OBJECT_ID",
       {object_id(n.nspname)} AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       n.nspname AS "SCHEMA_NAME",
       c.relname AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       NULL AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       pg_get_userbyid(c.relowner) AS "OWNER",
       ds.description AS "DESCRIPTION",
       pg_get_viewdef(c.oid) AS "DEFINITION",
       NULL AS "LANGUAGE",
       CASE WHEN c.relkind = 'm' AND c.reltuples >= 0 THEN c.reltuples::bigint END AS "ROW_COUNT",
       CASE WHEN c.relkind = 'm'
            THEN (c.relpages::bigint + coalesce(toast.relpages, 0)) * current_setting('block_size')::bigint END AS "SIZE_BYTES",
       jsonb_strip_nulls(jsonb_build_object(
           'security_barrier', CASE WHEN c.reloptions @> ARRAY['security_barrier=true'] THEN true END,
           'security_invoker', CASE WHEN c.reloptions @> ARRAY['security_invoker=true'] THEN true END,
           'check_option', (SELECT substr(o, length('check_option=') + 1) FROM unnest(c.reloptions) o
                            WHERE o LIKE 'check\_option=%'),
           'is_populated', CASE WHEN c.relkind = 'm' THEN c.relispopulated END,
           'tablespace', ts.spcname
       )) AS "PROPERTIES"
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
LEFT JOIN pg_description ds ON ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = 0
WHERE c.oid = ANY ({3}::oid[])
  AND c.relkind IN ('v', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
