-- linkages: what policies, rules, publications, subscriptions, foreign tables and foreign servers
-- link to. EVIDENCE names the catalog fact behind each edge. Objects outside the database
-- (a postgres_fdw table's remote table, a subscription's publications) are EXTERNAL_* targets
-- named as that server's own extract would name them. A password option is never read: only the
-- options host, port, dbname, schema_name and table_name are. User mappings get no edge: their
-- server is already their PARENT_ID.
WITH db AS (SELECT {object_id()} AS id),
-- Inlined into each use (NOT MATERIALIZED): looked up by OID, never listed whole.
rel AS NOT MATERIALIZED (
    SELECT c.oid, n.nspname, c.relname, db.id || '.' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS id,
           CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED_TABLE' WHEN 'v' THEN 'VIEW'
                          WHEN 'm' THEN 'MATERIALIZED_VIEW' WHEN 'f' THEN 'FOREIGN_TABLE' WHEN 'S' THEN 'SEQUENCE'
                          ELSE c.relkind::text END AS type,
           x.extname AS extension
    FROM pg_class c
    CROSS JOIN db
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_depend xd ON xd.classid = 'pg_class'::regclass AND xd.objid = c.oid AND xd.deptype = 'e'
    LEFT JOIN pg_extension x ON x.oid = xd.refobjid
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
),
-- Policies and rules (not a view's _RETURN rule, nor the rules of an extension's table, which
-- metadata leaves out), whose expressions and actions pg_depend records.
attached AS (
    SELECT 'pg_policy'::regclass AS classid, pol.oid, 'POLICY' AS type, t.id || '.' || quote_ident(pol.polname) AS id,
           t.oid AS on_oid
    FROM pg_policy pol
    JOIN rel t ON t.oid = pol.polrelid
    UNION ALL
    SELECT 'pg_rewrite'::regclass, ru.oid, 'RULE', t.id || '.' || quote_ident(ru.rulename), t.oid
    FROM pg_rewrite ru
    JOIN rel t ON t.oid = ru.ev_class
    WHERE ru.rulename <> '_RETURN' AND t.extension IS NULL
),
-- What each rule action may do to each relation it names: the requiredPerms bits of the relation
-- in the stored parse tree (an RTE before 16, an RTEPermissionInfo from 16): 1 insert, 2 select,
-- 4 update, 8 delete. OLD and NEW, which are the rule's own table, carry select from 16 (none
-- before): on that table only the write bits tell something.
rule_access AS (
    SELECT ru.oid, m[1]::oid AS relid, bit_or(m[2]::int) AS perms
    FROM pg_rewrite ru
    CROSS JOIN LATERAL regexp_matches(ru.ev_action::text, ':relid (\d+)[^{}]*:requiredPerms (\d+)', 'g') m
    WHERE ru.rulename <> '_RETURN'
    GROUP BY 1, 2
),
attached_reads AS (
    SELECT a.classid, a.oid, a.type, a.id, d.refobjid,
           jsonb_agg(DISTINCT att.attname::text ORDER BY att.attname::text) FILTER (WHERE d.refobjsubid > 0) AS columns
    FROM attached a
    JOIN pg_depend d ON d.classid = a.classid AND d.objid = a.oid AND d.deptype = 'n' AND d.refclassid = 'pg_class'::regclass
    LEFT JOIN pg_attribute att ON att.attrelid = d.refobjid AND att.attnum = d.refobjsubid AND d.refobjsubid > 0
    GROUP BY 1, 2, 3, 4, 5
),
server_options AS (
    SELECT fs.oid, fs.srvname, fs.srvfdw, h.proname = 'postgres_fdw_handler' AS is_postgres_fdw,
           (SELECT option_value FROM pg_options_to_table(fs.srvoptions) WHERE option_name = 'host') AS host,
           (SELECT option_value FROM pg_options_to_table(fs.srvoptions) WHERE option_name = 'port') AS port,
           (SELECT option_value FROM pg_options_to_table(fs.srvoptions) WHERE option_name = 'dbname') AS dbname,
           x.extname AS extension
    FROM pg_foreign_server fs
    JOIN pg_foreign_data_wrapper w ON w.oid = fs.srvfdw
    LEFT JOIN pg_proc h ON h.oid = w.fdwhandler
    LEFT JOIN pg_depend xd ON xd.classid = 'pg_foreign_server'::regclass AND xd.objid = fs.oid AND xd.deptype = 'e'
    LEFT JOIN pg_extension x ON x.oid = xd.refobjid
),
-- Schemas published whole (15+), found through pg_depend as in REPLICATION_FDW_EVENT_TRIGGERS_SQL.
published_schemas AS (
    SELECT p.oid AS pubid, p.pubname, n.nspname
    FROM pg_depend dp
    JOIN pg_depend dn ON dn.classid = dp.classid AND dn.objid = dp.objid AND dn.refclassid = 'pg_namespace'::regclass
    JOIN pg_namespace n ON n.oid = dn.refobjid
    JOIN pg_publication p ON p.oid = dp.refobjid
    WHERE dp.classid = to_regclass('pg_catalog.pg_publication_namespace') AND dp.refclassid = 'pg_publication'::regclass
),
-- The publisher, from the connection string where the collector's user may read it (superusers):
-- query_to_xml runs the query only then. Only host, port and dbname are kept.
subscriptions AS (
    SELECT s.subname, s.subpublications,
           nullif(coalesce(kv.host[1], kv.host[2], kv.hostaddr[1], kv.hostaddr[2], uri.parts[1]), '') AS host,
           coalesce(kv.port[1], kv.port[2], uri.parts[2]) AS port,
           nullif(coalesce(kv.dbname[1], kv.dbname[2], uri.parts[3]), '') AS dbname
    FROM pg_subscription s
    LEFT JOIN LATERAL (
        SELECT replace(replace(replace((xpath('/row/c/text()', query_to_xml(
                   format('SELECT /* kada-collector */ subconninfo AS c FROM pg_catalog.pg_subscription '
                          'WHERE subdbid = %s AND subname = %L', s.subdbid, s.subname), false, true, '')
               ))[1]::text, '&lt;', '<'), '&gt;', '>'), '&amp;', '&') AS info
        WHERE has_column_privilege('pg_catalog.pg_subscription', 'subconninfo', 'SELECT')
    ) conn ON true
    CROSS JOIN LATERAL (
        SELECT regexp_match(conn.info, '(?:^|\s)host\s*=\s*(?:''((?:[^''\\]|\\.)*)''|([^\s'']+))') AS host,
               regexp_match(conn.info, '(?:^|\s)hostaddr\s*=\s*(?:''((?:[^''\\]|\\.)*)''|([^\s'']+))') AS hostaddr,
               regexp_match(conn.info, '(?:^|\s)port\s*=\s*(?:''((?:[^''\\]|\\.)*)''|([^\s'']+))') AS port,
               regexp_match(conn.info, '(?:^|\s)dbname\s*=\s*(?:''((?:[^''\\]|\\.)*)''|([^\s'']+))') AS dbname
    ) kv
    CROSS JOIN LATERAL (
        SELECT regexp_match(conn.info, '^postgres(?:ql)?://(?:[^@/]*@)?([^:/?,]*)(?::(\d+))?/([^?]*)') AS parts
    ) uri
    WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
)
-- A policy guards its table.
SELECT 'GUARDS' AS "LINK_TYPE",
       'POLICY' AS "SOURCE_TYPE",
       t.id || '.' || quote_ident(pol.polname) AS "SOURCE_ID",
       t.type AS "TARGET_TYPE",
       t.id AS "TARGET_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       'PG_POLICY' AS "EVIDENCE",
       jsonb_strip_nulls(jsonb_build_object('extension', t.extension)) AS "DETAIL"
FROM pg_policy pol
JOIN rel t ON t.oid = pol.polrelid
UNION ALL
-- A policy reads what its expressions name; a rule's actions read, write or only name relations.
SELECT CASE WHEN a.type = 'POLICY' OR rp.perms & 13 = 0 AND rp.perms & 2 <> 0 THEN 'READS'
            WHEN rp.perms & 13 <> 0 THEN 'WRITES' ELSE 'REFERENCES' END,
       a.type, a.id, r.type, r.id, {0}, current_database(),
       CASE WHEN rp.perms <> 0 THEN 'RULE_ACTION' ELSE 'PG_DEPEND' END,
       jsonb_strip_nulls(jsonb_build_object(
           'columns', ar.columns,
           'operations', (SELECT jsonb_agg(v.op ORDER BY v.bit) FROM (VALUES (1, 'insert'), (2, 'select'), (4, 'update'), (8, 'delete')) v(bit, op)
                          WHERE rp.perms & v.bit <> 0),
           'access', CASE WHEN a.type = 'RULE' AND rp.perms = 0
                          THEN 'referenced (the catalog does not say read or write)' END,
           'extension', r.extension))
FROM attached_reads ar
JOIN attached a ON a.classid = ar.classid AND a.oid = ar.oid
JOIN rel r ON r.oid = ar.refobjid
LEFT JOIN rule_access ra ON a.type = 'RULE' AND ra.oid = ar.oid AND ra.relid = ar.refobjid
CROSS JOIN LATERAL (SELECT CASE WHEN a.type = 'RULE' THEN coalesce(ra.perms & CASE WHEN ar.refobjid = a.on_oid THEN 13 ELSE 15 END, 0)
                           END AS perms) rp
UNION ALL
-- A policy's expressions and a rule's actions call user functions.
SELECT DISTINCT 'CALLS', a.type, a.id,
       CASE f.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
       db.id || '.' || quote_ident(fn.nspname) || '.' || quote_ident(f.proname) || '(' || oidvectortypes(f.proargtypes) || ')',
       {0}, current_database(), 'PG_DEPEND',
       jsonb_strip_nulls(jsonb_build_object('extension', x.extname))
FROM attached a
CROSS JOIN db
JOIN pg_depend d ON d.classid = a.classid AND d.objid = a.oid AND d.deptype = 'n' AND d.refclassid = 'pg_proc'::regclass
JOIN pg_proc f ON f.oid = d.refobjid
JOIN pg_namespace fn ON fn.oid = f.pronamespace
LEFT JOIN pg_depend xd ON xd.classid = 'pg_proc'::regclass AND xd.objid = f.oid AND xd.deptype = 'e'
LEFT JOIN pg_extension x ON x.oid = xd.refobjid
WHERE fn.nspname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
-- A publication publishes the tables it lists. FOR ALL TABLES gets no edge per table: the
-- PUBLICATION row's all_tables says it.
SELECT 'PUBLISHES', 'PUBLICATION', db.id || '.' || quote_ident(p.pubname), r.type, r.id, {0}, current_database(),
       'PG_PUBLICATION_REL', jsonb_strip_nulls(jsonb_build_object('extension', r.extension))
FROM pg_publication_rel pr
CROSS JOIN db
JOIN pg_publication p ON p.oid = pr.prpubid
JOIN rel r ON r.oid = pr.prrelid
UNION ALL
-- ... each schema it publishes whole (15+) ...
SELECT 'PUBLISHES', 'PUBLICATION', db.id || '.' || quote_ident(ps.pubname), 'SCHEMA', db.id || '.' || quote_ident(ps.nspname),
       {0}, current_database(), 'PG_PUBLICATION_NAMESPACE', NULL
FROM published_schemas ps
CROSS JOIN db
UNION ALL
-- ... and the tables of those schemas, as the server resolves them.
SELECT 'PUBLISHES', 'PUBLICATION', db.id || '.' || quote_ident(ps.pubname), r.type, r.id, {0}, current_database(),
       'PG_PUBLICATION_TABLES',
       jsonb_strip_nulls(jsonb_build_object('schema', db.id || '.' || quote_ident(ps.nspname), 'extension', r.extension))
FROM published_schemas ps
CROSS JOIN db
JOIN pg_publication_tables pt ON pt.pubname = ps.pubname AND pt.schemaname = ps.nspname
JOIN pg_namespace n ON n.nspname = pt.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
JOIN rel r ON r.oid = c.oid
UNION ALL
-- A foreign table reads through its server.
SELECT 'FOREIGN_SERVER', 'FOREIGN_TABLE', r.id, 'FOREIGN_SERVER', db.id || '.' || quote_ident(so.srvname),
       {0}, current_database(), 'PG_FOREIGN_TABLE', jsonb_strip_nulls(jsonb_build_object('extension', so.extension))
FROM pg_foreign_table ft
CROSS JOIN db
JOIN rel r ON r.oid = ft.ftrelid
JOIN server_options so ON so.oid = ft.ftserver
WHERE r.extension IS NULL
UNION ALL
-- A postgres_fdw foreign table maps a remote table: schema_name and table_name default to the
-- foreign table's own, as postgres_fdw has them; no host means the local machine. A server
-- without dbname (libpq would take the mapped user's name) gives no remote edge.
SELECT 'MAPS_TO', 'FOREIGN_TABLE', r.id, 'EXTERNAL_TABLE',
       quote_ident(coalesce(so.host, {0})) || '.' || quote_ident(so.dbname) || '.'
           || quote_ident(coalesce(tbl.schema_name, r.nspname)) || '.' || quote_ident(coalesce(tbl.table_name, r.relname)),
       {0}, current_database(), 'FDW_OPTIONS',
       jsonb_strip_nulls(jsonb_build_object('server', db.id || '.' || quote_ident(so.srvname), 'port', so.port))
FROM pg_foreign_table ft
CROSS JOIN db
JOIN rel r ON r.oid = ft.ftrelid
JOIN server_options so ON so.oid = ft.ftserver
CROSS JOIN LATERAL (
    SELECT (SELECT option_value FROM pg_options_to_table(ft.ftoptions) WHERE option_name = 'schema_name') AS schema_name,
           (SELECT option_value FROM pg_options_to_table(ft.ftoptions) WHERE option_name = 'table_name') AS table_name
) tbl
WHERE r.extension IS NULL AND so.is_postgres_fdw AND so.dbname IS NOT NULL
UNION ALL
-- A foreign server is served by its wrapper (postgres_fdw's belongs to its extension).
SELECT 'FOREIGN_DATA_WRAPPER', 'FOREIGN_SERVER', db.id || '.' || quote_ident(so.srvname),
       'FOREIGN_DATA_WRAPPER', db.id || '.' || quote_ident(w.fdwname), {0}, current_database(), 'PG_FOREIGN_SERVER',
       jsonb_strip_nulls(jsonb_build_object('extension', x.extname))
FROM server_options so
CROSS JOIN db
JOIN pg_foreign_data_wrapper w ON w.oid = so.srvfdw
LEFT JOIN pg_depend xd ON xd.classid = 'pg_foreign_data_wrapper'::regclass AND xd.objid = w.oid AND xd.deptype = 'e'
LEFT JOIN pg_extension x ON x.oid = xd.refobjid
WHERE so.extension IS NULL
UNION ALL
-- A subscription subscribes to its publisher's publications: host.dbname.publication when the
-- connection string is visible, else the publication's name alone.
SELECT 'SUBSCRIBES_TO', 'SUBSCRIPTION', db.id || '.' || quote_ident(s.subname), 'EXTERNAL_PUBLICATION',
       CASE WHEN s.dbname IS NOT NULL THEN quote_ident(coalesce(s.host, {0})) || '.' || quote_ident(s.dbname) || '.' ELSE '' END
           || quote_ident(pub.name),
       {0}, current_database(),
       CASE WHEN s.dbname IS NOT NULL THEN 'SUBSCRIPTION_CONNINFO' ELSE 'PG_SUBSCRIPTION' END,
       jsonb_strip_nulls(jsonb_build_object(
           'port', CASE WHEN s.dbname IS NOT NULL THEN s.port END,
           'publisher', CASE WHEN s.dbname IS NULL THEN 'not visible: the connection string is readable by superusers only' END))
FROM subscriptions s
CROSS JOIN db
CROSS JOIN LATERAL unnest(s.subpublications) pub(name)
