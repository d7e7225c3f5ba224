-- metadata: user-defined types and domains. Not listed: array types, the row type every table
-- has, and types the server made for another (a range's multirange: an internal dependency).
-- Placeholder 3: NULL (in one piece), or a batch of type OIDs when the database is read again
-- because an object was dropped while the collector read it.
SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS "OBJECT_TYPE",
       {object_id(n.nspname, t.typname)} AS "OBJECT_ID",
       {object_id(n.nspname)} AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       n.nspname AS "SCHEMA_NAME",
       t.typname AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS "DATA_TYPE",
       CASE WHEN t.typtype = 'd' THEN NOT t.typnotnull END AS "IS_NULLABLE",
       t.typdefault AS "DEFAULT_VALUE",
       pg_get_userbyid(t.typowner) AS "OWNER",
       ds.description AS "DESCRIPTION",
       NULL AS "DEFINITION",
       NULL AS "LANGUAGE",
       NULL AS "ROW_COUNT",
       NULL AS "SIZE_BYTES",
       jsonb_strip_nulls(jsonb_build_object(
           'kind', CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'c' THEN 'composite' WHEN 'r' THEN 'range'
                                  WHEN 'm' THEN 'multirange' WHEN 'b' THEN 'base' WHEN 'd' THEN 'domain'
                                  WHEN 'p' THEN 'pseudo' ELSE t.typtype::text END,
           'labels', (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
           'attributes', (SELECT jsonb_agg(jsonb_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod))
                                           ORDER BY a.attnum)
                          FROM pg_attribute a
                          WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped),
           'subtype', (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid),
           'constraints', (SELECT jsonb_agg(jsonb_build_object('name', con.conname, 'definition', pg_get_constraintdef(con.oid))
                                            ORDER BY con.conname)
                           FROM pg_constraint con WHERE con.contypid = t.oid AND con.contype = 'c')
       )) AS "PROPERTIES"
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_class rel ON rel.oid = t.typrelid
LEFT JOIN pg_description ds ON ds.objoid = t.oid AND ds.classoid = 'pg_type'::regclass AND ds.objsubid = 0
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND ({3}::oid[] IS NULL OR t.oid = ANY ({3}::oid[]))
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND (t.typrelid = 0 OR rel.relkind = 'c')
  AND NOT EXISTS (SELECT FROM pg_type elem WHERE elem.oid = t.typelem AND elem.typarray = t.oid)
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid AND e.deptype IN ('e', 'i'))
