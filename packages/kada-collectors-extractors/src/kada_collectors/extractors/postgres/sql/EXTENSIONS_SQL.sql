-- metadata: installed extensions; each stands for all its member objects, which are not listed.
SELECT 'EXTENSION' AS "OBJECT_TYPE",
       {object_id(x.extname)} AS "OBJECT_ID",
       {object_id()} AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       n.nspname AS "SCHEMA_NAME",
       x.extname AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       NULL AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       pg_get_userbyid(x.extowner) AS "OWNER",
       ds.description AS "DESCRIPTION",
       NULL AS "DEFINITION",
       NULL AS "LANGUAGE",
       NULL AS "ROW_COUNT",
       NULL AS "SIZE_BYTES",
       jsonb_build_object('version', x.extversion, 'schema', n.nspname, 'relocatable', x.extrelocatable) AS "PROPERTIES"
FROM pg_extension x
JOIN pg_namespace n ON n.oid = x.extnamespace
LEFT JOIN pg_description ds ON ds.objoid = x.oid AND ds.classoid = 'pg_extension'::regclass AND ds.objsubid = 0
