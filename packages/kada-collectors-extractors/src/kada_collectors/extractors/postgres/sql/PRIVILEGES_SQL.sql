-- privileges: every access list of the database's objects, exploded by aclexplode() so new
-- privilege kinds (PostgreSQL 17's MAINTAIN) come through by name. A NULL access list means the
-- owner's implicit rights (and PUBLIC's defaults): acldefault() spells them out.
WITH objects(object_type, object_id, acl) AS (
    SELECT 'DATABASE', {server_object_id(d.datname)},
           coalesce(d.datacl, acldefault('d', d.datdba))
    FROM pg_database d
    WHERE d.datname = current_database()
  UNION ALL
    SELECT 'SCHEMA', {object_id(n.nspname)},
           coalesce(n.nspacl, acldefault('n', n.nspowner))
    FROM pg_namespace n
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
      AND NOT EXISTS (SELECT FROM pg_depend e
                      WHERE e.classid = 'pg_namespace'::regclass AND e.objid = n.oid AND e.deptype = 'e')
  UNION ALL
    SELECT CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED_TABLE' WHEN 'v' THEN 'VIEW'
                          WHEN 'm' THEN 'MATERIALIZED_VIEW' WHEN 'f' THEN 'FOREIGN_TABLE' WHEN 'S' THEN 'SEQUENCE' END,
           {object_id(n.nspname, c.relname)},
           coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
      AND NOT EXISTS (SELECT FROM pg_depend e
                      WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
  UNION ALL
    -- Column grants only where one was made: a column's NULL list adds nothing to its table's.
    SELECT 'COLUMN',
           {object_id(n.nspname, c.relname, a.attname)},
           a.attacl
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
  UNION ALL
    SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
           {object_id(n.nspname, p.proname)} || '(' || oidvectortypes(p.proargtypes) || ')',
           coalesce(p.proacl, acldefault('f', p.proowner))
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
      AND NOT EXISTS (SELECT FROM pg_depend e
                      WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype IN ('e', 'i'))
  UNION ALL
    SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
           {object_id(n.nspname, t.typname)},
           coalesce(t.typacl, acldefault('T', t.typowner))
    FROM pg_type t
    JOIN pg_namespace n ON n.oid = t.typnamespace
    LEFT JOIN pg_class rel ON rel.oid = t.typrelid
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
      AND (t.typrelid = 0 OR rel.relkind = 'c')
      AND NOT EXISTS (SELECT FROM pg_type elem WHERE elem.oid = t.typelem AND elem.typarray = t.oid)
      AND NOT EXISTS (SELECT FROM pg_depend e
                      WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid AND e.deptype IN ('e', 'i'))
)
SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END AS "GRANTEE",
       x.privilege_type AS "PRIVILEGE",
       o.object_type AS "OBJECT_TYPE",
       o.object_id AS "OBJECT_ID",
       pg_get_userbyid(x.grantor) AS "GRANTOR",
       x.is_grantable AS "IS_GRANTABLE",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME"
FROM objects o
CROSS JOIN LATERAL aclexplode(o.acl) x
