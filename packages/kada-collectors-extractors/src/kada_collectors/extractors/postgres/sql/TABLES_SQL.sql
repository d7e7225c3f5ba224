-- metadata: tables, partitioned tables and foreign tables (partitions included, naming their
-- parent and bound). Sizes come from relpages, never from pg_table_size(), which locks.
-- Placeholder 3: NULL (in one piece), or a batch of table OIDs when the database is read again
-- because an object was dropped while the collector read it.
SELECT CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED_TABLE' ELSE 'FOREIGN_TABLE' END AS "OBJECT_TYPE",
       {object_id(n.nspname, c.relname)} AS "OBJECT_ID",
       {object_id(n.nspname)} AS "PARENT_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       n.nspname AS "SCHEMA_NAME",
       c.relname AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       NULL AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       pg_get_userbyid(c.relowner) AS "OWNER",
       ds.description AS "DESCRIPTION",
       NULL AS "DEFINITION",
       NULL AS "LANGUAGE",
       CASE WHEN c.reltuples >= 0 AND c.relkind <> 'p' THEN c.reltuples::bigint END AS "ROW_COUNT",
       CASE WHEN c.relkind = 'r'
            THEN (c.relpages::bigint + coalesce(toast.relpages, 0)) * current_setting('block_size')::bigint END AS "SIZE_BYTES",
       jsonb_strip_nulls(jsonb_build_object(
           'persistence', CASE c.relpersistence WHEN 'u' THEN 'unlogged' WHEN 't' THEN 'temporary' ELSE 'permanent' END,
           'partition_of', CASE WHEN c.relispartition THEN parents.ids -> 0 END,
           'partition_bound', CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
           'inherits', CASE WHEN NOT c.relispartition THEN parents.ids END,
           'partition_strategy', CASE pt.partstrat WHEN 'r' THEN 'range' WHEN 'l' THEN 'list' WHEN 'h' THEN 'hash'
                                                   ELSE pt.partstrat::text END,
           'partition_key', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
           'has_rls', c.relrowsecurity,
           'rls_forced', CASE WHEN c.relforcerowsecurity THEN true END,  -- present when forced: others unchanged
           'options', c.reloptions,
           'tablespace', ts.spcname,
           'foreign_server', fs.srvname,
           'foreign_options', ft.ftoptions
       )) AS "PROPERTIES"
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
LEFT JOIN pg_description ds ON ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = 0
LEFT JOIN LATERAL (
    SELECT jsonb_agg({object_id(pn.nspname, p.relname)}
                     ORDER BY i.inhseqno) AS ids
    FROM pg_inherits i
    JOIN pg_class p ON p.oid = i.inhparent
    JOIN pg_namespace pn ON pn.oid = p.relnamespace
    WHERE i.inhrelid = c.oid
) parents ON true
WHERE c.relkind IN ('r', 'p', 'f')
  AND ({3}::oid[] IS NULL OR c.oid = ANY ({3}::oid[]))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
