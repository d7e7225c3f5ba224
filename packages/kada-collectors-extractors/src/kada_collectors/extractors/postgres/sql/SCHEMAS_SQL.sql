-- metadata: schemas, without the system ones and those an extension created.
SELECT 'SCHEMA' AS "OBJECT_TYPE",
       {object_id(n.nspname)} AS "OBJECT_ID",
       {object_id()} AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       n.nspname AS "SCHEMA_NAME",
       n.nspname AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       NULL AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       pg_get_userbyid(n.nspowner) AS "OWNER",
       ds.description AS "DESCRIPTION",
       NULL AS "DEFINITION",
       NULL AS "LANGUAGE",
       NULL AS "ROW_COUNT",
       NULL AS "SIZE_BYTES",
       NULL AS "PROPERTIES"
FROM pg_namespace n
LEFT JOIN pg_description ds ON ds.objoid = n.oid AND ds.classoid = 'pg_namespace'::regclass AND ds.objsubid = 0
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_namespace'::regclass AND e.objid = n.oid AND e.deptype = 'e')
