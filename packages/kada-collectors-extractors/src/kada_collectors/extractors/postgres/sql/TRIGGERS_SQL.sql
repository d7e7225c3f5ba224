-- metadata: user triggers (not the internal ones behind foreign keys). tgtype is a bit mask:
-- 1 row, 2 before, 4 insert, 8 delete, 16 update, 32 truncate, 64 instead of.
-- Placeholder 3: NULL (in one piece), or a batch of table OIDs when the database is read again
-- because an object was dropped while the collector read it.
SELECT 'TRIGGER' AS "OBJECT_TYPE",
       {object_id(n.nspname, c.relname, tg.tgname)} AS "OBJECT_ID",
       {object_id(n.nspname, c.relname)} AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       n.nspname AS "SCHEMA_NAME",
       tg.tgname AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       NULL AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       NULL AS "OWNER",
       ds.description AS "DESCRIPTION",
       pg_get_triggerdef(tg.oid) AS "DEFINITION",
       NULL AS "LANGUAGE",
       NULL AS "ROW_COUNT",
       NULL AS "SIZE_BYTES",
       jsonb_strip_nulls(jsonb_build_object(
           'timing', CASE WHEN tg.tgtype & 64 <> 0 THEN 'INSTEAD OF' WHEN tg.tgtype & 2 <> 0 THEN 'BEFORE' ELSE 'AFTER' END,
           'events', (SELECT jsonb_agg(ev) FROM (VALUES (4, 'INSERT'), (16, 'UPDATE'), (8, 'DELETE'), (32, 'TRUNCATE')) b(bit, ev)
                      WHERE tg.tgtype & b.bit <> 0),
           'level', CASE WHEN tg.tgtype & 1 <> 0 THEN 'ROW' ELSE 'STATEMENT' END,
           'function', {object_id(pn.nspname, p.proname)} || '(' || oidvectortypes(p.proargtypes) || ')',
           'enabled', CASE tg.tgenabled WHEN 'O' THEN 'ORIGIN' WHEN 'D' THEN 'DISABLED' WHEN 'R' THEN 'REPLICA'
                                        WHEN 'A' THEN 'ALWAYS' ELSE tg.tgenabled::text END,
           'is_constraint_trigger', tg.tgconstraint <> 0
       )) AS "PROPERTIES"
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = tg.tgfoid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
LEFT JOIN pg_description ds ON ds.objoid = tg.oid AND ds.classoid = 'pg_trigger'::regclass AND ds.objsubid = 0
WHERE NOT tg.tgisinternal
  AND ({3}::oid[] IS NULL OR tg.tgrelid = ANY ({3}::oid[]))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
