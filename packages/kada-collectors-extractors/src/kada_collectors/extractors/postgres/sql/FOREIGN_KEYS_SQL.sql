-- linkages: foreign keys, one row per column pair in key order (composite keys give several,
-- numbered in DETAIL). Copies of a partitioned table's key on its partitions are left out.
SELECT 'FOREIGN_KEY' AS "LINK_TYPE",
       'COLUMN' AS "SOURCE_TYPE",
       {object_id(n.nspname, c.relname, a.attname)} AS "SOURCE_ID",
       'COLUMN' AS "TARGET_TYPE",
       {object_id(fn.nspname, fc.relname, fa.attname)} AS "TARGET_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       'CATALOG' AS "EVIDENCE",
       jsonb_build_object(
           'constraint', {object_id(n.nspname, c.relname, con.conname)},
           'position', k.ord,
           'columns', cardinality(con.conkey)
       ) AS "DETAIL"
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class fc ON fc.oid = con.confrelid
JOIN pg_namespace fn ON fn.oid = fc.relnamespace
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY k(attnum, fattnum, ord)
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fattnum
WHERE con.contype = 'f'
  AND con.conparentid = 0
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
