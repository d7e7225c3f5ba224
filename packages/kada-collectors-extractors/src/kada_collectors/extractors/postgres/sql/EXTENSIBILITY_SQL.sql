-- metadata: what extends the server's types, operators, text search and languages: collations,
-- casts, operators, operator classes and families, access methods, text search configurations,
-- dictionaries, parsers and templates, conversions, transforms and languages. One small read per
-- catalog, as pg_dump lists them: not the built-in ones (OID below 16384: initdb made them;
-- tested in each read, so the system's hundreds of operators and collations cost nothing), nor
-- an extension's members (tested in each read too: an extension may bring hundreds), nor what is
-- in a system schema, nor a shell operator. The server has no deparse function for these kinds: their facts are in
-- PROPERTIES. Columns that differ by major (a collation's locale) are read through to_jsonb().
WITH objects (kind, classid, objid, schema_oid, tail, name, owner, data_type, properties) AS (
    SELECT 'COLLATION', 'pg_collation'::regclass, c.oid, c.collnamespace, quote_ident(c.collname), c.collname, c.collowner,
           NULL,
           jsonb_build_object(
               'provider', CASE c.collprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin'
                                               WHEN 'd' THEN 'default' ELSE c.collprovider::text END,
               'locale', coalesce(to_jsonb(c) ->> 'colllocale', to_jsonb(c) ->> 'colliculocale'),
               'lc_collate', c.collcollate, 'lc_ctype', c.collctype,
               'deterministic', c.collisdeterministic,
               'icu_rules', to_jsonb(c) ->> 'collicurules',
               'encoding', CASE WHEN c.collencoding >= 0 THEN pg_encoding_to_char(c.collencoding) END,
               'version', c.collversion)
    FROM pg_collation c
    WHERE c.oid >= 16384
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_collation'::regclass AND e.objid = c.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'CAST', 'pg_cast'::regclass, c.oid, NULL,
           '(' || format_type(c.castsource, NULL) || ' AS ' || format_type(c.casttarget, NULL) || ')',
           '(' || format_type(c.castsource, NULL) || ' AS ' || format_type(c.casttarget, NULL) || ')', NULL,
           format_type(c.casttarget, NULL),
           jsonb_build_object(
               'source', format_type(c.castsource, NULL), 'target', format_type(c.casttarget, NULL),
               'function', CASE WHEN c.castfunc <> 0 THEN c.castfunc::regprocedure::text END,
               'context', CASE c.castcontext WHEN 'e' THEN 'EXPLICIT' WHEN 'a' THEN 'ASSIGNMENT' WHEN 'i' THEN 'IMPLICIT'
                                             ELSE c.castcontext::text END,
               'method', CASE c.castmethod WHEN 'f' THEN 'FUNCTION' WHEN 'i' THEN 'INOUT' WHEN 'b' THEN 'BINARY'
                                           ELSE c.castmethod::text END)
    FROM pg_cast c
    WHERE c.oid >= 16384
      -- 'i': the cast PostgreSQL makes with a range type, to its multirange type (14+)
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_cast'::regclass AND e.objid = c.oid AND e.deptype IN ('e', 'i'))
    UNION ALL
    SELECT 'OPERATOR', 'pg_operator'::regclass, o.oid, o.oprnamespace,
           quote_ident(o.oprname) || '(' || CASE WHEN o.oprleft = 0 THEN 'NONE' ELSE format_type(o.oprleft, NULL) END || ', '
               || CASE WHEN o.oprright = 0 THEN 'NONE' ELSE format_type(o.oprright, NULL) END || ')',
           o.oprname, o.oprowner, format_type(o.oprresult, NULL),
           jsonb_build_object(
               'kind', CASE o.oprkind WHEN 'b' THEN 'infix' WHEN 'l' THEN 'prefix' WHEN 'r' THEN 'postfix' ELSE o.oprkind::text END,
               'left_type', CASE WHEN o.oprleft <> 0 THEN format_type(o.oprleft, NULL) END,
               'right_type', CASE WHEN o.oprright <> 0 THEN format_type(o.oprright, NULL) END,
               'result_type', format_type(o.oprresult, NULL),
               'function', o.oprcode::regprocedure::text,
               'commutator', CASE WHEN o.oprcom <> 0 THEN o.oprcom::regoperator::text END,
               'negator', CASE WHEN o.oprnegate <> 0 THEN o.oprnegate::regoperator::text END,
               'restrict', CASE WHEN o.oprrest <> 0 THEN o.oprrest::regprocedure::text END,
               'join', CASE WHEN o.oprjoin <> 0 THEN o.oprjoin::regprocedure::text END,
               'hashes', o.oprcanhash, 'merges', o.oprcanmerge)
    FROM pg_operator o
    WHERE o.oid >= 16384 AND o.oprcode <> 0
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_operator'::regclass AND e.objid = o.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'OPERATOR_CLASS', 'pg_opclass'::regclass, oc.oid, oc.opcnamespace,
           quote_ident(oc.opcname) || ' USING ' || quote_ident(am.amname), oc.opcname, oc.opcowner, format_type(oc.opcintype, NULL),
           jsonb_build_object(
               'method', am.amname, 'type', format_type(oc.opcintype, NULL), 'default', oc.opcdefault,
               'family', quote_ident(fn.nspname) || '.' || quote_ident(f.opfname) || ' USING ' || quote_ident(am.amname),
               'storage', CASE WHEN oc.opckeytype <> 0 THEN format_type(oc.opckeytype, NULL) END)
    FROM pg_opclass oc
    JOIN pg_am am ON am.oid = oc.opcmethod
    JOIN pg_opfamily f ON f.oid = oc.opcfamily
    JOIN pg_namespace fn ON fn.oid = f.opfnamespace
    WHERE oc.oid >= 16384
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_opclass'::regclass AND e.objid = oc.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'OPERATOR_FAMILY', 'pg_opfamily'::regclass, f.oid, f.opfnamespace,
           quote_ident(f.opfname) || ' USING ' || quote_ident(am.amname), f.opfname, f.opfowner, NULL,
           jsonb_build_object(
               'method', am.amname,
               'operators', (SELECT jsonb_agg(jsonb_build_object('strategy', ao.amopstrategy, 'operator', ao.amopopr::regoperator::text,
                                                                 'purpose', CASE ao.amoppurpose WHEN 's' THEN 'search' ELSE 'order' END)
                                              ORDER BY ao.amoplefttype, ao.amoprighttype, ao.amopstrategy)
                             FROM pg_amop ao WHERE ao.amopfamily = f.oid),
               'functions', (SELECT jsonb_agg(jsonb_build_object('number', ap.amprocnum, 'function', ap.amproc::regprocedure::text)
                                              ORDER BY ap.amproclefttype, ap.amprocrighttype, ap.amprocnum)
                             FROM pg_amproc ap WHERE ap.amprocfamily = f.oid))
    FROM pg_opfamily f
    JOIN pg_am am ON am.oid = f.opfmethod
    WHERE f.oid >= 16384
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_opfamily'::regclass AND e.objid = f.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'ACCESS_METHOD', 'pg_am'::regclass, am.oid, NULL, quote_ident(am.amname), am.amname, NULL, NULL,
           jsonb_build_object('type', CASE am.amtype WHEN 'i' THEN 'INDEX' WHEN 't' THEN 'TABLE' ELSE am.amtype::text END,
                              'handler', am.amhandler::regprocedure::text)
    FROM pg_am am
    WHERE am.oid >= 16384
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_am'::regclass AND e.objid = am.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'TEXT_SEARCH_CONFIGURATION', 'pg_ts_config'::regclass, cfg.oid, cfg.cfgnamespace, quote_ident(cfg.cfgname),
           cfg.cfgname, cfg.cfgowner, NULL,
           jsonb_build_object(
               'parser', quote_ident(pn.nspname) || '.' || quote_ident(p.prsname),
               'mappings', (SELECT jsonb_object_agg(t.alias, m.dictionaries)
                            FROM (SELECT mapcfg, maptokentype, jsonb_agg(mapdict::regdictionary::text ORDER BY mapseqno) AS dictionaries
                                  FROM pg_ts_config_map WHERE mapcfg = cfg.oid GROUP BY mapcfg, maptokentype) m
                            JOIN ts_token_type(cfg.cfgparser) t ON t.tokid = m.maptokentype))
    FROM pg_ts_config cfg
    JOIN pg_ts_parser p ON p.oid = cfg.cfgparser
    JOIN pg_namespace pn ON pn.oid = p.prsnamespace
    WHERE cfg.oid >= 16384
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_ts_config'::regclass AND e.objid = cfg.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'TEXT_SEARCH_DICTIONARY', 'pg_ts_dict'::regclass, d.oid, d.dictnamespace, quote_ident(d.dictname), d.dictname,
           d.dictowner, NULL,
           jsonb_build_object('template', quote_ident(tn.nspname) || '.' || quote_ident(t.tmplname), 'options', d.dictinitoption)
    FROM pg_ts_dict d
    JOIN pg_ts_template t ON t.oid = d.dicttemplate
    JOIN pg_namespace tn ON tn.oid = t.tmplnamespace
    WHERE d.oid >= 16384
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_ts_dict'::regclass AND e.objid = d.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'TEXT_SEARCH_PARSER', 'pg_ts_parser'::regclass, p.oid, p.prsnamespace, quote_ident(p.prsname), p.prsname, NULL, NULL,
           jsonb_build_object('start', p.prsstart::regprocedure::text, 'get_token', p.prstoken::regprocedure::text,
                              'end', p.prsend::regprocedure::text, 'lexical_types', p.prslextype::regprocedure::text,
                              'headline', CASE WHEN p.prsheadline <> 0 THEN p.prsheadline::regprocedure::text END)
    FROM pg_ts_parser p
    WHERE p.oid >= 16384
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_ts_parser'::regclass AND e.objid = p.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'TEXT_SEARCH_TEMPLATE', 'pg_ts_template'::regclass, t.oid, t.tmplnamespace, quote_ident(t.tmplname), t.tmplname,
           NULL, NULL,
           jsonb_build_object('init', CASE WHEN t.tmplinit <> 0 THEN t.tmplinit::regprocedure::text END,
                              'lexize', t.tmpllexize::regprocedure::text)
    FROM pg_ts_template t
    WHERE t.oid >= 16384
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_ts_template'::regclass AND e.objid = t.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'CONVERSION', 'pg_conversion'::regclass, c.oid, c.connamespace, quote_ident(c.conname), c.conname, c.conowner, NULL,
           jsonb_build_object('source_encoding', pg_encoding_to_char(c.conforencoding),
                              'target_encoding', pg_encoding_to_char(c.contoencoding),
                              'function', c.conproc::regprocedure::text, 'default', c.condefault)
    FROM pg_conversion c
    WHERE c.oid >= 16384
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_conversion'::regclass AND e.objid = c.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'TRANSFORM', 'pg_transform'::regclass, tr.oid, NULL,
           '(FOR ' || format_type(tr.trftype, NULL) || ' LANGUAGE ' || quote_ident(l.lanname) || ')',
           '(FOR ' || format_type(tr.trftype, NULL) || ' LANGUAGE ' || quote_ident(l.lanname) || ')', NULL,
           format_type(tr.trftype, NULL),
           jsonb_build_object('type', format_type(tr.trftype, NULL), 'language', l.lanname,
                              'from_sql', CASE WHEN tr.trffromsql <> 0 THEN tr.trffromsql::regprocedure::text END,
                              'to_sql', CASE WHEN tr.trftosql <> 0 THEN tr.trftosql::regprocedure::text END)
    FROM pg_transform tr
    JOIN pg_language l ON l.oid = tr.trflang
    WHERE tr.oid >= 16384
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_transform'::regclass AND e.objid = tr.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'LANGUAGE', 'pg_language'::regclass, l.oid, NULL, quote_ident(l.lanname), l.lanname, l.lanowner, NULL,
           jsonb_build_object('trusted', l.lanpltrusted, 'procedural', l.lanispl,
                              'handler', CASE WHEN l.lanplcallfoid <> 0 THEN l.lanplcallfoid::regprocedure::text END,
                              'inline', CASE WHEN l.laninline <> 0 THEN l.laninline::regprocedure::text END,
                              'validator', CASE WHEN l.lanvalidator <> 0 THEN l.lanvalidator::regprocedure::text END)
    FROM pg_language l
    WHERE l.oid >= 16384
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_language'::regclass AND e.objid = l.oid AND e.deptype = 'e')
)
SELECT o.kind AS "OBJECT_TYPE",
       {object_id()} || '.' || coalesce(quote_ident(n.nspname) || '.', '')
           || o.tail AS "OBJECT_ID",
       {object_id()} || coalesce('.' || quote_ident(n.nspname), '') AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       n.nspname AS "SCHEMA_NAME",
       o.name AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       o.data_type AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       pg_get_userbyid(o.owner) AS "OWNER",
       ds.description AS "DESCRIPTION",
       NULL AS "DEFINITION",
       NULL AS "LANGUAGE",
       NULL AS "ROW_COUNT",
       NULL AS "SIZE_BYTES",
       jsonb_strip_nulls(o.properties) AS "PROPERTIES"
FROM objects o
LEFT JOIN pg_namespace n ON n.oid = o.schema_oid
LEFT JOIN pg_description ds ON ds.objoid = o.objid AND ds.classoid = o.classid AND ds.objsubid = 0
WHERE o.schema_oid IS NULL
   OR (n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_')
