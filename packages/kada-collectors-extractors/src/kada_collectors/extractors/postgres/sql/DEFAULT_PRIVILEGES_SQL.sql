-- privileges: ALTER DEFAULT PRIVILEGES, i.e. what future objects will grant. OBJECT_ID is the
-- schema (or the database for a global default) and GRANTOR the role whose objects it covers.
SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END AS "GRANTEE",
       x.privilege_type AS "PRIVILEGE",
       'DEFAULT_PRIVILEGES_' || CASE da.defaclobjtype WHEN 'r' THEN 'TABLE' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FUNCTION'
                                                      WHEN 'T' THEN 'TYPE' WHEN 'n' THEN 'SCHEMA'
                                                      ELSE da.defaclobjtype::text END AS "OBJECT_TYPE",
       {object_id()}
           || CASE WHEN da.defaclnamespace <> 0 THEN '.' || quote_ident(n.nspname) ELSE '' END AS "OBJECT_ID",
       pg_get_userbyid(da.defaclrole) AS "GRANTOR",
       x.is_grantable AS "IS_GRANTABLE",
       {0} AS "HOST",
       current_database() AS "DATABASE_NAME"
FROM pg_default_acl da
LEFT JOIN pg_namespace n ON n.oid = da.defaclnamespace
CROSS JOIN LATERAL aclexplode(da.defaclacl) x
