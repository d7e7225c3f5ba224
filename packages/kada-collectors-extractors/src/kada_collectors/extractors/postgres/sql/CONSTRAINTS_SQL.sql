-- metadata: table constraints. NOT NULL constraints (PostgreSQL 18 stores them as contype 'n')
-- are left out: every version states them as the column's IS_NULLABLE. A kind this statement
-- does not know comes through with its raw letter rather than being dropped.
-- Placeholder 3: NULL (in one piece), or a batch of table OIDs when the database is read again
-- because an object was dropped while the collector read it.
SELECT 'CONSTRAINT' AS "OBJECT_TYPE",
       {object_id(n.nspname, c.relname, con.conname)} AS "OBJECT_ID",
       {object_id(n.nspname, c.relname)} AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       n.nspname AS "SCHEMA_NAME",
       con.conname AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       NULL AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       NULL AS "OWNER",
       ds.description AS "DESCRIPTION",
       pg_get_constraintdef(con.oid) AS "DEFINITION",
       NULL AS "LANGUAGE",
       NULL AS "ROW_COUNT",
       NULL AS "SIZE_BYTES",
       jsonb_strip_nulls(jsonb_build_object(
           'constraint_type', CASE con.contype WHEN 'p' THEN 'PRIMARY KEY' WHEN 'f' THEN 'FOREIGN KEY' WHEN 'u' THEN 'UNIQUE'
                                               WHEN 'c' THEN 'CHECK' WHEN 'x' THEN 'EXCLUSION' WHEN 't' THEN 'TRIGGER'
                                               ELSE con.contype::text END,
           'columns', (SELECT jsonb_agg(a.attname ORDER BY k.ord)
                       FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                       JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),
           'references', CASE WHEN con.contype = 'f' THEN
                             {object_id(fn.nspname, fc.relname)} END,
           'referenced_columns', (SELECT jsonb_agg(a.attname ORDER BY k.ord)
                                  FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                                  JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum),
           'on_update', CASE WHEN con.contype = 'f' THEN CASE con.confupdtype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT'
                            WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END END,
           'on_delete', CASE WHEN con.contype = 'f' THEN CASE con.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT'
                            WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END END,
           'deferrable', con.condeferrable,
           'deferred', con.condeferred,
           'validated', con.convalidated,
           -- conenforced exists from PostgreSQL 18; to_jsonb() reads it where it exists.
           'enforced', to_jsonb(con) -> 'conenforced',
           'index', CASE WHEN con.conindid <> 0 THEN
                        {object_id(n.nspname, ci.relname)} END,
           'inherited', con.coninhcount > 0
       )) AS "PROPERTIES"
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
LEFT JOIN pg_class ci ON ci.oid = con.conindid
LEFT JOIN pg_description ds ON ds.objoid = con.oid AND ds.classoid = 'pg_constraint'::regclass AND ds.objsubid = 0
WHERE con.contype <> 'n'
  AND ({3}::oid[] IS NULL OR con.conrelid = ANY ({3}::oid[]))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
