-- linkages: partitions to their parent (PARTITION_OF) and inheriting tables to theirs
-- (INHERITS), one direct edge per level, so multi-level partitioning is a chain.
-- Placeholder 3: NULL (in one piece), or a batch of table OIDs when the database is read again
-- because an object was dropped while the collector read it.
SELECT CASE WHEN c.relispartition THEN 'PARTITION_OF' ELSE 'INHERITS' END AS "LINK_TYPE",
       CASE c.relkind WHEN 'p' THEN 'PARTITIONED_TABLE' WHEN 'f' THEN 'FOREIGN_TABLE' ELSE 'TABLE' END AS "SOURCE_TYPE",
       {object_id(n.nspname, c.relname)} AS "SOURCE_ID",
       CASE p.relkind WHEN 'p' THEN 'PARTITIONED_TABLE' WHEN 'f' THEN 'FOREIGN_TABLE' ELSE 'TABLE' END AS "TARGET_TYPE",
       {object_id(pn.nspname, p.relname)} AS "TARGET_ID",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME",
       'CATALOG' AS "EVIDENCE",
       jsonb_strip_nulls(jsonb_build_object(
           'partition_bound', CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
           'position', CASE WHEN NOT c.relispartition THEN i.inhseqno END
       )) AS "DETAIL"
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class p ON p.oid = i.inhparent
JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE c.relkind IN ('r', 'p', 'f')
  AND ({3}::oid[] IS NULL OR i.inhrelid = ANY ({3}::oid[]))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  AND NOT EXISTS (SELECT FROM pg_depend e
                  WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
