-- linkages: what SQL-standard function bodies (BEGIN ATOMIC / RETURN, PostgreSQL 14+) touch, as
-- the server recorded it in pg_depend: each relation at table level and each column. The
-- catalog does not say read or write (DETAIL "access": "read or write"); parsing the body does.
-- String bodies and PL/pgSQL record nothing here.
WITH deps AS (
    SELECT DISTINCT p.oid AS proc_oid, p.prokind, pn.nspname AS proc_schema, p.proname,
           oidvectortypes(p.proargtypes) AS proc_args, d.refobjid, d.refobjsubid AS attnum
    FROM pg_proc p
    JOIN pg_namespace pn ON pn.oid = p.pronamespace
    JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'n'
                    AND d.refclassid = 'pg_class'::regclass
    WHERE pn.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND pn.nspname !~ '^pg_(toast_)?temp_'
      AND NOT EXISTS (SELECT FROM pg_depend e
                      WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype IN ('e', 'i'))
), edges AS (
    SELECT DISTINCT proc_oid, prokind, proc_schema, proname, proc_args, refobjid, 0 AS attnum FROM deps
  UNION ALL
    SELECT proc_oid, prokind, proc_schema, proname, proc_args, refobjid, attnum FROM deps WHERE attnum > 0
)
SELECT 'LINEAGE' AS "LINK_TYPE",
       CASE WHEN e.attnum > 0 THEN 'COLUMN'
            ELSE CASE s.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED_TABLE' WHEN 'v' THEN 'VIEW'
                                WHEN 'm' THEN 'MATERIALIZED_VIEW' WHEN 'f' THEN 'FOREIGN_TABLE' WHEN 'S' THEN 'SEQUENCE'
                                ELSE s.relkind::text END END AS "SOURCE_TYPE",
       {object_id(sn.nspname, s.relname)}
           || CASE WHEN e.attnum > 0 THEN '.' || quote_ident(a.attname) ELSE '' END AS "SOURCE_ID",
       CASE e.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END AS "TARGET_TYPE",
       {object_id(e.proc_schema, e.proname)} || '(' || e.proc_args || ')' AS "TARGET_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       'CATALOG' AS "EVIDENCE",
       jsonb_strip_nulls(jsonb_build_object('access', 'read or write', 'read', CASE WHEN e.attnum > 0 THEN 'column' ELSE 'table' END,
                                            'extension', x.extname)) AS "DETAIL"
FROM edges e
JOIN pg_class s ON s.oid = e.refobjid
JOIN pg_namespace sn ON sn.oid = s.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = e.refobjid AND a.attnum = e.attnum AND e.attnum > 0
LEFT JOIN pg_depend xd ON xd.classid = 'pg_class'::regclass AND xd.objid = s.oid AND xd.deptype = 'e'
LEFT JOIN pg_extension x ON x.oid = xd.refobjid
WHERE sn.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND s.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')  -- not a composite type's row (USES_TYPE covers it)
