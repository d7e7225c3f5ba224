-- metadata: columns of tables, partitions, views, materialized views and foreign tables.
-- A generated column's expression is its DEFINITION, not its default.
-- Placeholder 3: NULL (in one piece), or a batch of relation OIDs when the database is read again
-- because an object was dropped while the collector read it.
SELECT 'COLUMN' AS "OBJECT_TYPE",
       {object_id(n.nspname, c.relname, a.attname)} AS "OBJECT_ID",
       {object_id(n.nspname, c.relname)} AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       n.nspname AS "SCHEMA_NAME",
       c.relname AS "OBJECT_NAME",
       a.attname AS "COLUMN_NAME",
       a.attnum AS "ORDINAL_POSITION",
       format_type(a.atttypid, a.atttypmod) AS "DATA_TYPE",
       NOT a.attnotnull AS "IS_NULLABLE",
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS "DEFAULT_VALUE",
       NULL AS "OWNER",
       ds.description AS "DESCRIPTION",
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS "DEFINITION",
       NULL AS "LANGUAGE",
       NULL AS "ROW_COUNT",
       NULL AS "SIZE_BYTES",
       jsonb_strip_nulls(jsonb_build_object(
           'identity', CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END,
           'generated', CASE a.attgenerated WHEN '' THEN NULL WHEN 's' THEN 'STORED' WHEN 'v' THEN 'VIRTUAL'
                                            ELSE a.attgenerated::text END,
           'collation', CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
           'dimensions', nullif(a.attndims, 0),
           'options', a.attoptions,
           'foreign_options', a.attfdwoptions
       )) AS "PROPERTIES"
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_description ds ON ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = a.attnum
WHERE a.attnum > 0
  AND ({3}::oid[] IS NULL OR a.attrelid = ANY ({3}::oid[]))
  AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
