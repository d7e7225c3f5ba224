-- Loaded after every_kind_governance.sql: what the linkages of policies, rules and foreign tables
-- need beyond it. A policy calling a user function and reading another table; a rule whose action
-- reads one table and writes another; foreign tables of postgres_fdw (with and without the
-- remote schema_name / table_name) and of a wrapper that is not postgres_fdw.
CREATE TABLE gov.regions (name text PRIMARY KEY, open boolean);
CREATE TABLE gov.closures (account_id int, region text);
CREATE FUNCTION gov.is_open(region text) RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT region <> 'closed' $$;
CREATE POLICY open_regions ON gov.accounts FOR DELETE
    USING (gov.is_open(region) AND region IN (SELECT name FROM gov.regions WHERE open));
CREATE RULE record_closure AS ON UPDATE TO gov.accounts WHERE new.region = 'closed' DO ALSO
    INSERT INTO gov.closures SELECT old.id, r.name FROM gov.regions r WHERE r.name = old.region;
CREATE FOREIGN TABLE gov.ledger_entries (id int, amount numeric) SERVER ledger_db
    OPTIONS (schema_name 'books', table_name 'entries');
CREATE FOREIGN TABLE public.ledger_accounts (id int) SERVER ledger_db;
CREATE FOREIGN TABLE gov.files_index (path text) SERVER gov_files;
-- A subscription whose connection string is a URI, with the password in it.
CREATE SUBSCRIPTION from_archive CONNECTION 'postgresql://replicator:UriSecret-3e1f@192.0.2.44:6543/archive?sslmode=require'
    PUBLICATION archive_all WITH (connect = false, enabled = false, create_slot = false, slot_name = NONE);
