-- linkages: sequences owned by a column (serial: an 'a' dependency) or backing an identity
-- column (an 'i' dependency).
SELECT 'OWNED_BY' AS "LINK_TYPE",
       'SEQUENCE' AS "SOURCE_TYPE",
       {object_id(n.nspname, s.relname)} AS "SOURCE_ID",
       'COLUMN' AS "TARGET_TYPE",
       {object_id(tn.nspname, t.relname, a.attname)} AS "TARGET_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       'CATALOG' AS "EVIDENCE",
       jsonb_build_object('identity', d.deptype = 'i') AS "DETAIL"
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_namespace n ON n.oid = s.relnamespace
JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass
  AND d.refclassid = 'pg_class'::regclass
  AND d.refobjsubid > 0
  AND d.deptype IN ('a', 'i')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = s.oid AND e.deptype = 'e')
