-- linkages: what each view and materialized view reads, as the server recorded it in pg_depend
-- for the view's rewrite rule: every relation read (table level) and every column read (in the
-- select list, WHERE or JOIN: "reads", not which output column each feeds; that mapping comes
-- from parsing the definition). Views calling user functions get a CALLS edge. PostgreSQL 15 and
-- older also record a view's dependency on itself; it is dropped. Objects of system schemas are
-- not linked; DETAIL names the extension of a source that belongs to one. Only the view's own
-- rule (_RETURN) is its definition: what a DO INSTEAD rule on it reads and writes is not, and
-- with it each column read came once per rule. Every row is distinct (the file is a set).
WITH reads AS (
    SELECT v.oid AS view_oid, v.relkind AS view_kind, vn.nspname AS view_schema, v.relname AS view_name,
           d.refclassid, d.refobjid, d.refobjsubid
    FROM pg_rewrite r
    JOIN pg_class v ON v.oid = r.ev_class
    JOIN pg_namespace vn ON vn.oid = v.relnamespace
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.deptype = 'n'
    WHERE v.relkind IN ('v', 'm')
      AND r.rulename = '_RETURN'
      AND d.refobjid <> v.oid
      AND vn.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND vn.nspname !~ '^pg_(toast_)?temp_'
      AND NOT EXISTS (SELECT FROM pg_depend e
                      WHERE e.classid = 'pg_class'::regclass AND e.objid = v.oid AND e.deptype = 'e')
), edges AS (
    -- one table-level edge per relation read, and one per column read
    SELECT DISTINCT rd.view_oid, rd.view_kind, rd.view_schema, rd.view_name, rd.refobjid, 'table' AS level, 0 AS attnum
    FROM reads rd
    WHERE rd.refclassid = 'pg_class'::regclass
  UNION ALL
    SELECT DISTINCT rd.view_oid, rd.view_kind, rd.view_schema, rd.view_name, rd.refobjid, 'column', rd.refobjsubid
    FROM reads rd
    WHERE rd.refclassid = 'pg_class'::regclass AND rd.refobjsubid > 0
)
SELECT 'LINEAGE' AS "LINK_TYPE",
       CASE WHEN e.level = 'column' THEN 'COLUMN'
            ELSE CASE s.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED_TABLE' WHEN 'v' THEN 'VIEW'
                                WHEN 'm' THEN 'MATERIALIZED_VIEW' WHEN 'f' THEN 'FOREIGN_TABLE' WHEN 'S' THEN 'SEQUENCE'
                                ELSE s.relkind::text END END AS "SOURCE_TYPE",
       {object_id(sn.nspname, s.relname)}
           || CASE WHEN e.level = 'column' THEN '.' || quote_ident(a.attname) ELSE '' END AS "SOURCE_ID",
       CASE e.view_kind WHEN 'v' THEN 'VIEW' ELSE 'MATERIALIZED_VIEW' END AS "TARGET_TYPE",
       {object_id(e.view_schema, e.view_name)} AS "TARGET_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       'CATALOG' AS "EVIDENCE",
       jsonb_strip_nulls(jsonb_build_object('read', e.level, 'extension', x.extname)) AS "DETAIL"
FROM edges e
JOIN pg_class s ON s.oid = e.refobjid
JOIN pg_namespace sn ON sn.oid = s.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = e.refobjid AND a.attnum = e.attnum AND e.level = 'column'
LEFT JOIN pg_depend xd ON xd.classid = 'pg_class'::regclass AND xd.objid = s.oid AND xd.deptype = 'e'
LEFT JOIN pg_extension x ON x.oid = xd.refobjid
WHERE sn.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND s.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')  -- not a composite type's row (USES_TYPE covers it)
UNION ALL
SELECT DISTINCT 'CALLS',
       CASE rd.view_kind WHEN 'v' THEN 'VIEW' ELSE 'MATERIALIZED_VIEW' END,
       {object_id(rd.view_schema, rd.view_name)},
       CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
       {object_id(pn.nspname, p.proname)} || '(' || oidvectortypes(p.proargtypes) || ')',
       {0},
       current_database(),
       'CATALOG',
       jsonb_strip_nulls(jsonb_build_object('extension', x.extname))
FROM reads rd
JOIN pg_proc p ON p.oid = rd.refobjid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
LEFT JOIN pg_depend xd ON xd.classid = 'pg_proc'::regclass AND xd.objid = p.oid AND xd.deptype = 'e'
LEFT JOIN pg_extension x ON x.oid = xd.refobjid
WHERE rd.refclassid = 'pg_proc'::regclass
  AND pn.nspname NOT IN ('pg_catalog', 'information_schema')
