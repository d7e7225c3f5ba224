-- linkages: a table (or view) to the function its trigger runs; DETAIL names the trigger, and
-- the extension when the function belongs to one. Built-in trigger functions are not linked:
-- they are not catalog objects of the database.
SELECT 'TRIGGERS' AS "LINK_TYPE",
       CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED_TABLE' WHEN 'v' THEN 'VIEW'
                      WHEN 'm' THEN 'MATERIALIZED_VIEW' WHEN 'f' THEN 'FOREIGN_TABLE' ELSE c.relkind::text END AS "SOURCE_TYPE",
       {object_id(n.nspname, c.relname)} AS "SOURCE_ID",
       CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END AS "TARGET_TYPE",
       {object_id(pn.nspname, p.proname)} || '(' || oidvectortypes(p.proargtypes) || ')' AS "TARGET_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       'CATALOG' AS "EVIDENCE",
       jsonb_strip_nulls(jsonb_build_object(
           'trigger', {object_id(n.nspname, c.relname, tg.tgname)},
           'extension', x.extname
       )) AS "DETAIL"
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = tg.tgfoid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
LEFT JOIN pg_depend xd ON xd.classid = 'pg_proc'::regclass AND xd.objid = p.oid AND xd.deptype = 'e'
LEFT JOIN pg_extension x ON x.oid = xd.refobjid
WHERE NOT tg.tgisinternal
  AND pn.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
