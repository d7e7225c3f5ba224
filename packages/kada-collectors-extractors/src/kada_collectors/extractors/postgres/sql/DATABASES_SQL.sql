-- metadata: the current database (one row). {0} is the host as onboarded in the catalog.
-- Locale columns were renamed across versions (daticulocale 15-16, datlocale 17+): read them
-- through to_jsonb(d) so the statement runs on every version without naming a missing column.
SELECT 'DATABASE' AS "OBJECT_TYPE",
       {server_object_id(d.datname)} AS "OBJECT_ID",
       NULL AS "PARENT_ID",
       {0} AS "HOST",
       d.datname AS "DATABASE_NAME",
       NULL AS "SCHEMA_NAME",
       d.datname AS "OBJECT_NAME",
       NULL AS "COLUMN_NAME",
       NULL AS "ORDINAL_POSITION",
       NULL AS "DATA_TYPE",
       NULL AS "IS_NULLABLE",
       NULL AS "DEFAULT_VALUE",
       pg_get_userbyid(d.datdba) AS "OWNER",
       sd.description AS "DESCRIPTION",
       NULL AS "DEFINITION",
       NULL AS "LANGUAGE",
       NULL AS "ROW_COUNT",
       pg_database_size(d.oid) AS "SIZE_BYTES",
       jsonb_strip_nulls(jsonb_build_object(
           'encoding', pg_encoding_to_char(d.encoding),
           'collate', d.datcollate,
           'ctype', d.datctype,
           'locale_provider', CASE to_jsonb(d) ->> 'datlocprovider'
                                  WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin'
                                  ELSE to_jsonb(d) ->> 'datlocprovider' END,
           'locale', coalesce(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale'),
           'connection_limit', d.datconnlimit,
           'is_template', d.datistemplate,
           'tablespace', t.spcname
       )) AS "PROPERTIES"
FROM pg_database d
LEFT JOIN pg_tablespace t ON t.oid = d.dattablespace
LEFT JOIN pg_shdescription sd ON sd.objoid = d.oid AND sd.classoid = 'pg_database'::regclass
WHERE d.datname = current_database()
