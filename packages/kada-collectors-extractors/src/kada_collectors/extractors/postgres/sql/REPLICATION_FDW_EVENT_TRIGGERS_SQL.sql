-- metadata: the database's objects outside any schema: publications and subscriptions (logical
-- replication), foreign-data wrappers, foreign servers and user mappings, and event triggers.
-- Each is named within the database; a user mapping within its server (PUBLIC's user is
-- 'public', which no role can be named). A password option never leaves, whoever may read it;
-- the other options go through the redaction of PROPERTIES. Options are sorted, as pg_dump writes
-- them: a restored server has the same. Members of an extension are left out, as pg_dump leaves
-- them out, and so are the user mappings of a server that belongs to one.
WITH db AS (SELECT {object_id()} AS id),
-- Tables listed in a publication, with their column list and row filter (15+): the view
-- pg_publication_tables prints both, read through to_jsonb() since older versions lack them.
published AS (
    SELECT pr.prpubid,
           jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'table', db.id || '.' || quote_ident(n.nspname) || '.' || quote_ident(c.relname),
               'columns', CASE WHEN to_jsonb(pr) ->> 'prattrs' IS NOT NULL THEN to_jsonb(pt) -> 'attnames' END,
               'row_filter', to_jsonb(pt) -> 'rowfilter'))
               ORDER BY n.nspname, c.relname) AS tables
    FROM pg_publication_rel pr
    CROSS JOIN db
    JOIN pg_publication p ON p.oid = pr.prpubid
    JOIN pg_class c ON c.oid = pr.prrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_publication_tables pt ON pt.pubname = p.pubname AND pt.schemaname = n.nspname AND pt.tablename = c.relname
    GROUP BY pr.prpubid
),
-- Schemas published whole (15+): pg_publication_namespace, found through its dependencies so
-- that the statement runs where that catalog does not exist.
published_schemas AS (
    SELECT dp.refobjid AS pubid, jsonb_agg(db.id || '.' || quote_ident(n.nspname) ORDER BY n.nspname) AS schemas
    FROM pg_depend dp
    CROSS JOIN db
    JOIN pg_depend dn ON dn.classid = dp.classid AND dn.objid = dp.objid AND dn.refclassid = 'pg_namespace'::regclass
    JOIN pg_namespace n ON n.oid = dn.refobjid
    WHERE dp.classid = to_regclass('pg_catalog.pg_publication_namespace') AND dp.refclassid = 'pg_publication'::regclass
    GROUP BY dp.refobjid
),
extension_members AS (
    SELECT e.classid, e.objid FROM pg_depend e
    WHERE e.deptype = 'e' AND e.classid IN ('pg_foreign_data_wrapper'::regclass, 'pg_foreign_server'::regclass,
                                            'pg_event_trigger'::regclass)
)
SELECT 'PUBLICATION' AS "OBJECT_TYPE",
       db.id || '.' || quote_ident(p.pubname) AS "OBJECT_ID",
       db.id AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       NULL AS "SCHEMA_NAME",
       p.pubname::text AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       NULL AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       pg_get_userbyid(p.pubowner) AS "OWNER",
       ds.description AS "DESCRIPTION",
       NULL AS "DEFINITION",
       NULL AS "LANGUAGE",
       NULL AS "ROW_COUNT",
       NULL AS "SIZE_BYTES",
       jsonb_strip_nulls(jsonb_build_object(
           'all_tables', p.puballtables,
           'tables', pub.tables,
           'schemas', ps.schemas,
           'operations', (SELECT jsonb_agg(op ORDER BY o) FROM (VALUES (1, 'insert', p.pubinsert), (2, 'update', p.pubupdate),
                                                                   (3, 'delete', p.pubdelete), (4, 'truncate', p.pubtruncate)) v(o, op, published)
                          WHERE published),
           'via_partition_root', p.pubviaroot,
           -- pubgencols (18): 's' publishes stored generated columns, 'n' none.
           'generated_columns', CASE to_jsonb(p) ->> 'pubgencols' WHEN 's' THEN 'stored' WHEN 'n' THEN 'none'
                                                                  ELSE to_jsonb(p) ->> 'pubgencols' END
       )) AS "PROPERTIES"
FROM pg_publication p
CROSS JOIN db
LEFT JOIN published pub ON pub.prpubid = p.oid
LEFT JOIN published_schemas ps ON ps.pubid = p.oid
LEFT JOIN pg_description ds ON ds.objoid = p.oid AND ds.classoid = 'pg_publication'::regclass AND ds.objsubid = 0
UNION ALL
-- Subscriptions are the server's, each in one database: this one's. Only some of pg_subscription's
-- columns may be read by anyone (before 14 not even its oid, found instead in pg_stat_subscription);
-- naming another makes the statement fail. The connection string (subconninfo, superusers only)
-- is read on its own where it may be.
SELECT 'SUBSCRIPTION',
       db.id || '.' || quote_ident(s.subname),
       db.id,
       {0},
       current_database(),
       NULL,
       s.subname::text,
       NULL, NULL, NULL, NULL, NULL,
       pg_get_userbyid(s.subowner),
       ds.description,
       NULL, NULL, NULL, NULL,
       jsonb_strip_nulls(jsonb_build_object(
           'enabled', s.subenabled,
           'publications', to_jsonb(s.subpublications),
           'slot_name', s.subslotname,
           'connection', regexp_replace(conn.info, '(password\s*=\s*)(''(\\.|[^''\\])*''|\S*)', '\1[REDACTED]', 'gi')
       ))
FROM pg_subscription s
CROSS JOIN db
-- query_to_xml runs the query only for those who may read the column; its XML escapes undone.
LEFT JOIN LATERAL (
    SELECT replace(replace(replace((xpath('/row/c/text()', query_to_xml(
               format('SELECT /* kada-collector */ subconninfo AS c FROM pg_catalog.pg_subscription '
                      'WHERE subdbid = %s AND subname = %L', s.subdbid, s.subname), false, true, '')
           ))[1]::text, '&lt;', '<'), '&gt;', '>'), '&amp;', '&') AS info
    WHERE has_column_privilege('pg_catalog.pg_subscription', 'subconninfo', 'SELECT')
) conn ON true
-- Though pg_subscription is shared, a subscription's comment is in its database's pg_description.
LEFT JOIN pg_description ds ON ds.classoid = 'pg_subscription'::regclass AND ds.objsubid = 0
                           AND ds.objoid IN (SELECT st.subid FROM pg_stat_subscription st WHERE st.subname = s.subname)
WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
UNION ALL
SELECT 'FOREIGN_DATA_WRAPPER',
       db.id || '.' || quote_ident(w.fdwname),
       db.id,
       {0},
       current_database(),
       NULL,
       w.fdwname::text,
       NULL, NULL, NULL, NULL, NULL,
       pg_get_userbyid(w.fdwowner),
       ds.description,
       NULL, NULL, NULL, NULL,
       jsonb_strip_nulls(jsonb_build_object(
           'handler', nullif(w.fdwhandler, 0)::regprocedure::text,
           'validator', nullif(w.fdwvalidator, 0)::regprocedure::text,
           'options', (SELECT jsonb_agg(o ORDER BY o) FROM unnest(w.fdwoptions) o WHERE o !~* '^password=')
       ))
FROM pg_foreign_data_wrapper w
CROSS JOIN db
LEFT JOIN pg_description ds ON ds.objoid = w.oid AND ds.classoid = 'pg_foreign_data_wrapper'::regclass AND ds.objsubid = 0
WHERE w.oid >= 16384  -- none is built in today; any that were would be the server's
  AND NOT EXISTS (SELECT FROM extension_members e WHERE e.classid = 'pg_foreign_data_wrapper'::regclass AND e.objid = w.oid)
UNION ALL
SELECT 'FOREIGN_SERVER',
       db.id || '.' || quote_ident(fs.srvname),
       db.id,
       {0},
       current_database(),
       NULL,
       fs.srvname::text,
       NULL, NULL, NULL, NULL, NULL,
       pg_get_userbyid(fs.srvowner),
       ds.description,
       NULL, NULL, NULL, NULL,
       jsonb_strip_nulls(jsonb_build_object(
           'foreign_data_wrapper', w.fdwname,
           'type', fs.srvtype,
           'version', fs.srvversion,
           'options', (SELECT jsonb_agg(o ORDER BY o) FROM unnest(fs.srvoptions) o WHERE o !~* '^password=')
       ))
FROM pg_foreign_server fs
CROSS JOIN db
JOIN pg_foreign_data_wrapper w ON w.oid = fs.srvfdw
LEFT JOIN pg_description ds ON ds.objoid = fs.oid AND ds.classoid = 'pg_foreign_server'::regclass AND ds.objsubid = 0
WHERE NOT EXISTS (SELECT FROM extension_members e WHERE e.classid = 'pg_foreign_server'::regclass AND e.objid = fs.oid)
UNION ALL
-- pg_user_mappings shows a mapping's options only to superusers, the members of the server's
-- owner role and the mapped user (docs/grants.md); the mapping itself to everyone.
SELECT 'USER_MAPPING',
       db.id || '.' || quote_ident(um.srvname) || '.' || quote_ident(um.usename),
       db.id || '.' || quote_ident(um.srvname),
       {0},
       current_database(),
       NULL,
       um.usename::text,
       NULL, NULL, NULL, NULL, NULL,
       pg_get_userbyid(fs.srvowner),
       NULL,
       NULL, NULL, NULL, NULL,
       jsonb_strip_nulls(jsonb_build_object(
           'server', db.id || '.' || quote_ident(um.srvname),
           'user', CASE WHEN um.umuser = 0 THEN 'PUBLIC' ELSE um.usename::text END,
           'options', (SELECT jsonb_agg(o ORDER BY o) FROM unnest(um.umoptions) o WHERE o !~* '^password=')
       ))
FROM pg_user_mappings um
CROSS JOIN db
JOIN pg_foreign_server fs ON fs.oid = um.srvid
WHERE NOT EXISTS (SELECT FROM extension_members e WHERE e.classid = 'pg_foreign_server'::regclass AND e.objid = fs.oid)
UNION ALL
SELECT 'EVENT_TRIGGER',
       db.id || '.' || quote_ident(et.evtname),
       db.id,
       {0},
       current_database(),
       NULL,
       et.evtname::text,
       NULL, NULL, NULL, NULL, NULL,
       pg_get_userbyid(et.evtowner),
       ds.description,
       NULL, NULL, NULL, NULL,
       jsonb_strip_nulls(jsonb_build_object(
           'event', et.evtevent,
           'tags', to_jsonb(et.evttags),
           'function', db.id || '.' || quote_ident(pn.nspname) || '.' || quote_ident(f.proname) || '(' || oidvectortypes(f.proargtypes) || ')',
           'enabled', CASE et.evtenabled WHEN 'O' THEN 'ORIGIN' WHEN 'D' THEN 'DISABLED' WHEN 'R' THEN 'REPLICA'
                                         WHEN 'A' THEN 'ALWAYS' ELSE et.evtenabled::text END
       ))
FROM pg_event_trigger et
CROSS JOIN db
JOIN pg_proc f ON f.oid = et.evtfoid
JOIN pg_namespace pn ON pn.oid = f.pronamespace
LEFT JOIN pg_description ds ON ds.objoid = et.oid AND ds.classoid = 'pg_event_trigger'::regclass AND ds.objsubid = 0
WHERE NOT EXISTS (SELECT FROM extension_members e WHERE e.classid = 'pg_event_trigger'::regclass AND e.objid = et.oid)
