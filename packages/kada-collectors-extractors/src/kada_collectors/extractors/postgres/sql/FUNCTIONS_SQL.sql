-- metadata: functions, procedures, aggregates and window functions (FUNCTION rows, as pg_dump has
-- them, with "window" in PROPERTIES). The identity carries the
-- argument types so overloads stay distinct. pg_get_functiondef() refuses aggregates, so an
-- aggregate's parts are described in PROPERTIES instead. Functions the server made implicitly
-- (a range type's constructors: an internal dependency) are not listed.
-- Placeholder 3: NULL (in one piece), or a batch of function OIDs when the database is read again
-- because an object was dropped while the collector read it.
SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END AS "OBJECT_TYPE",
       {object_id(n.nspname, p.proname)} || '(' || oidvectortypes(p.proargtypes) || ')' AS "OBJECT_ID",
       {object_id(n.nspname)} AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       n.nspname AS "SCHEMA_NAME",
       p.proname AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       CASE WHEN p.prokind <> 'p' THEN pg_get_function_result(p.oid) END AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       pg_get_userbyid(p.proowner) AS "OWNER",
       ds.description AS "DESCRIPTION",
       CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS "DEFINITION",
       l.lanname AS "LANGUAGE",
       NULL AS "ROW_COUNT",
       NULL AS "SIZE_BYTES",
       jsonb_strip_nulls(jsonb_build_object(
           'arguments', pg_get_function_arguments(p.oid),
           'result', pg_get_function_result(p.oid),
           'volatility', CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END,
           'security_definer', p.prosecdef,
           'strict', p.proisstrict,
           'leakproof', p.proleakproof,
           'parallel', CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted' ELSE 'unsafe' END,
           'returns_set', p.proretset,
           'window', CASE WHEN p.prokind = 'w' THEN true END,  -- only on window functions
           'config', p.proconfig,
           'state_function', CASE WHEN agg.aggfnoid IS NOT NULL THEN agg.aggtransfn::regprocedure::text END,
           'state_type', CASE WHEN agg.aggfnoid IS NOT NULL THEN format_type(agg.aggtranstype, NULL) END,
           'final_function', CASE WHEN agg.aggfinalfn <> 0 THEN agg.aggfinalfn::regprocedure::text END,
           'initial_value', agg.agginitval
       )) AS "PROPERTIES"
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
LEFT JOIN pg_aggregate agg ON agg.aggfnoid = p.oid
LEFT JOIN pg_description ds ON ds.objoid = p.oid AND ds.classoid = 'pg_proc'::regclass AND ds.objsubid = 0
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND ({3}::oid[] IS NULL OR p.oid = ANY ({3}::oid[]))
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype IN ('e', 'i'))
