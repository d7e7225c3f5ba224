-- metadata: what hangs off a table besides its columns, indexes, constraints and triggers: row
-- security policies (POLICY), rewrite rules (RULE; not a view's _RETURN rule, which is the view)
-- and extended statistics (STATISTICS). Policies and rules are named within their table, and
-- have no owner of their own (their table's is given); statistics are named within their schema.
-- As pg_dump: no rule on a table of an extension; policies on such a table are dumped, so listed.
-- Placeholder 3: NULL (in one piece), or a batch of table OIDs when the database is read again
-- because an object was dropped while the collector read it.
WITH ids AS (
    SELECT c.oid, n.nspname, c.relname, c.relowner,
           {object_id(n.nspname, c.relname)} AS id,
           EXISTS (SELECT FROM pg_depend e
                   WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e') AS in_extension
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ({3}::oid[] IS NULL OR c.oid = ANY ({3}::oid[]))
      -- only the tables something hangs off (the CTE is read three times, so it is materialised)
      AND c.oid IN (SELECT polrelid FROM pg_policy UNION ALL SELECT ev_class FROM pg_rewrite WHERE rulename <> '_RETURN'
                    UNION ALL SELECT stxrelid FROM pg_statistic_ext)
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
)
SELECT 'POLICY' AS "OBJECT_TYPE",
       t.id || '.' || quote_ident(pol.polname) AS "OBJECT_ID",
       t.id AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       t.nspname AS "SCHEMA_NAME",
       pol.polname::text AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       NULL AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       pg_get_userbyid(t.relowner) AS "OWNER",
       ds.description AS "DESCRIPTION",
       format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s', pol.polname, t.nspname, t.relname, p.kind, p.command,
              (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END, ', '
                                 ORDER BY r <> 0, pg_get_userbyid(r))  -- by name: stable across runs
               FROM unnest(pol.polroles) r))
           || coalesce(' USING (' || p.using || ')', '') || coalesce(' WITH CHECK (' || p.with_check || ')', '') AS "DEFINITION",
       NULL AS "LANGUAGE",
       NULL AS "ROW_COUNT",
       NULL AS "SIZE_BYTES",
       jsonb_strip_nulls(jsonb_build_object(
           'command', p.command,
           'type', p.kind,
           'roles', (SELECT jsonb_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r)::text END
                               ORDER BY r <> 0, pg_get_userbyid(r))
                     FROM unnest(pol.polroles) r),
           'using', p.using,
           'with_check', p.with_check
       )) AS "PROPERTIES"
FROM pg_policy pol
JOIN ids t ON t.oid = pol.polrelid
CROSS JOIN LATERAL (SELECT CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                                           WHEN 'd' THEN 'DELETE' WHEN '*' THEN 'ALL' ELSE pol.polcmd::text END AS command,
                           CASE WHEN pol.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END AS kind,
                           pg_get_expr(pol.polqual, pol.polrelid) AS using,
                           pg_get_expr(pol.polwithcheck, pol.polrelid) AS with_check) p
LEFT JOIN pg_description ds ON ds.objoid = pol.oid AND ds.classoid = 'pg_policy'::regclass AND ds.objsubid = 0
UNION ALL
SELECT 'RULE',
       t.id || '.' || quote_ident(ru.rulename),
       t.id,
       {0},
       current_database(),
       t.nspname,
       ru.rulename::text,
       NULL, NULL, NULL, NULL, NULL,
       pg_get_userbyid(t.relowner),
       ds.description,
       pg_get_ruledef(ru.oid),
       NULL, NULL, NULL,
       jsonb_build_object(
           'event', CASE ru.ev_type WHEN '1' THEN 'SELECT' WHEN '2' THEN 'UPDATE' WHEN '3' THEN 'INSERT'
                                    WHEN '4' THEN 'DELETE' ELSE ru.ev_type::text END,
           'instead', ru.is_instead,
           'enabled', CASE ru.ev_enabled WHEN 'O' THEN 'ORIGIN' WHEN 'D' THEN 'DISABLED' WHEN 'R' THEN 'REPLICA'
                                         WHEN 'A' THEN 'ALWAYS' ELSE ru.ev_enabled::text END
       )
FROM pg_rewrite ru
JOIN ids t ON t.oid = ru.ev_class
LEFT JOIN pg_description ds ON ds.objoid = ru.oid AND ds.classoid = 'pg_rewrite'::regclass AND ds.objsubid = 0
WHERE ru.rulename <> '_RETURN'
  AND NOT t.in_extension
UNION ALL
-- The expressions of statistics (14+) are read from pg_get_statisticsobjdef's ON list: the
-- functions that return them alone do not exist before 14.
SELECT 'STATISTICS',
       {object_id(sn.nspname, s.stxname)},
       t.id,
       {0},
       current_database(),
       sn.nspname,
       s.stxname::text,
       NULL, NULL, NULL, NULL, NULL,
       pg_get_userbyid(s.stxowner),
       ds.description,
       d.definition,
       NULL, NULL, NULL,
       jsonb_strip_nulls(jsonb_build_object(
           'kinds', (SELECT jsonb_agg(CASE k WHEN 'd' THEN 'ndistinct' WHEN 'f' THEN 'dependencies' WHEN 'm' THEN 'mcv'
                                             WHEN 'e' THEN 'expressions' ELSE k::text END ORDER BY o)
                     FROM unnest(s.stxkind) WITH ORDINALITY u(k, o)),
           'columns', (SELECT jsonb_agg(a.attname ORDER BY u.o)
                       FROM unnest(s.stxkeys::int2[]) WITH ORDINALITY u(attnum, o)
                       JOIN pg_attribute a ON a.attrelid = s.stxrelid AND a.attnum = u.attnum),
           'keys', substring(d.definition FROM ' ON (.*) FROM '),
           -- stxstattarget: -1 (the default) before 17, NULL from 17.
           'statistics_target', nullif(to_jsonb(s) -> 'stxstattarget', '-1'::jsonb)
       ))
FROM pg_statistic_ext s
JOIN ids t ON t.oid = s.stxrelid
JOIN pg_namespace sn ON sn.oid = s.stxnamespace
CROSS JOIN LATERAL (SELECT pg_get_statisticsobjdef(s.oid) AS definition) d
LEFT JOIN pg_description ds ON ds.objoid = s.oid AND ds.classoid = 'pg_statistic_ext'::regclass AND ds.objsubid = 0
WHERE NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_statistic_ext'::regclass AND e.objid = s.oid AND e.deptype = 'e')
