-- roles: one row per membership (USER is a member of ROLE); a role without any membership
-- appears once with an empty ROLE. pg_roles, not pg_authid (which RDS hides). PostgreSQL 16 may
-- record the same membership once per grantor, hence DISTINCT. Predefined roles and RDS's
-- internal role are not listed as members.
SELECT DISTINCT
       CASE WHEN r.rolcanlogin THEN 'USER' ELSE 'ROLE' END AS "OBJECT_TYPE",
       {server_object_id(r.rolname)} AS "OBJECT_ID",
       r.rolname AS "USER",
       coalesce(g.rolname, '') AS "ROLE"
FROM pg_roles r
LEFT JOIN pg_auth_members m ON m.member = r.oid
LEFT JOIN pg_roles g ON g.oid = m.roleid
WHERE r.rolname !~ '^pg_'
  AND r.rolname <> 'rdsadmin'
