-- linkages: columns to the user-defined types and domains they use (an array column to its
-- element type), and domains to the user-defined type they are based on. Built-in types are
-- not linked. DETAIL names the extension when the type belongs to one.
WITH uses(source_type, source_id, type_oid, is_array) AS (
    SELECT 'COLUMN',
           {object_id(n.nspname, c.relname, a.attname)},
           CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END,
           t.typcategory = 'A'
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attnum > 0 AND NOT a.attisdropped
      AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
      AND NOT EXISTS (SELECT FROM pg_depend e
                      WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
  UNION ALL
    SELECT 'DOMAIN',
           {object_id(n.nspname, d.typname)},
           d.typbasetype,
           false
    FROM pg_type d
    JOIN pg_namespace n ON n.oid = d.typnamespace
    WHERE d.typtype = 'd'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
)
SELECT 'USES_TYPE' AS "LINK_TYPE",
       u.source_type AS "SOURCE_TYPE",
       u.source_id AS "SOURCE_ID",
       CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS "TARGET_TYPE",
       {object_id(tn.nspname, t.typname)} AS "TARGET_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       'CATALOG' AS "EVIDENCE",
       jsonb_strip_nulls(jsonb_build_object(
           'array', CASE WHEN u.is_array THEN true END,
           'extension', x.extname
       )) AS "DETAIL"
FROM uses u
JOIN pg_type t ON t.oid = u.type_oid
JOIN pg_namespace tn ON tn.oid = t.typnamespace
LEFT JOIN pg_depend xd ON xd.classid = 'pg_type'::regclass AND xd.objid = t.oid AND xd.deptype = 'e'
LEFT JOIN pg_extension x ON x.oid = xd.refobjid
WHERE tn.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND (t.typrelid = 0 OR EXISTS (SELECT FROM pg_class r WHERE r.oid = t.typrelid AND r.relkind = 'c'))
