-- One or more of every governance kind of the metadata extract (POLICY, RULE, PUBLICATION,
-- SUBSCRIPTION, FOREIGN_DATA_WRAPPER, FOREIGN_SERVER, USER_MAPPING, EVENT_TRIGGER, STATISTICS, and a
-- window FUNCTION), owned by a role other than the superuser, commented, some in a schema other than
-- public, and some belonging to an extension (which must stay out of the extract, as pg_dump leaves
-- them out). Run as the superuser with psql, on PostgreSQL 13 to 18: what a major lacks is in \if.
-- The secrets below are fakes: the extract must never carry them.
SELECT current_setting('server_version_num')::int >= 140000 AS pg14,
       current_setting('server_version_num')::int >= 150000 AS pg15,
       current_setting('server_version_num')::int >= 160000 AS pg16 \gset

DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gov_owner') THEN CREATE ROLE gov_owner; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gov_reader') THEN CREATE ROLE gov_reader; END IF;
END $$;

CREATE SCHEMA gov AUTHORIZATION gov_owner;
CREATE TABLE gov.accounts (id int PRIMARY KEY, holder text, region text, balance numeric);
CREATE TABLE gov.audit_log (account_id int, at timestamptz DEFAULT now());
CREATE TABLE public.notes (id int PRIMARY KEY, author text, body text);
CREATE VIEW gov.open_accounts AS SELECT id, holder FROM gov.accounts WHERE balance > 0;
ALTER TABLE gov.accounts OWNER TO gov_owner;
ALTER TABLE gov.audit_log OWNER TO gov_owner;
ALTER TABLE public.notes OWNER TO gov_owner;
ALTER VIEW gov.open_accounts OWNER TO gov_owner;

-- Row-level security: enabled and forced on one table, enabled only on the other.
ALTER TABLE gov.accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE gov.accounts FORCE ROW LEVEL SECURITY;
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY holder_reads ON gov.accounts FOR SELECT TO gov_reader, gov_owner USING (holder = current_user);
CREATE POLICY no_overdraft ON gov.accounts AS RESTRICTIVE FOR UPDATE USING (region <> 'closed') WITH CHECK (balance >= 0);
CREATE POLICY authors_write ON public.notes FOR INSERT WITH CHECK (author = current_user);
COMMENT ON POLICY holder_reads ON gov.accounts IS 'Holders see their own accounts';

-- Rules: not the _RETURN rule of the view above.
CREATE RULE audit_delete AS ON DELETE TO gov.accounts DO ALSO INSERT INTO gov.audit_log (account_id) VALUES (old.id);
CREATE RULE notes_frozen AS ON UPDATE TO public.notes DO INSTEAD NOTHING;
CREATE RULE open_accounts_insert AS ON INSERT TO gov.open_accounts DO INSTEAD
    INSERT INTO gov.accounts (id, holder, balance) VALUES (new.id, new.holder, 0);
COMMENT ON RULE audit_delete ON gov.accounts IS 'Deletions leave a trace';

-- Extended statistics (expressions from 14).
CREATE STATISTICS gov.accounts_holder_region (ndistinct, dependencies) ON holder, region FROM gov.accounts;
ALTER STATISTICS gov.accounts_holder_region OWNER TO gov_owner;
COMMENT ON STATISTICS gov.accounts_holder_region IS 'Holders cluster by region';
\if :pg14
CREATE STATISTICS public.notes_author_length ON author, length(body) FROM public.notes;
\else
CREATE STATISTICS public.notes_author_length ON author, body FROM public.notes;
\endif

-- Publications: all tables, listed tables, tables in a schema with a row filter and column list (15+).
CREATE PUBLICATION everything FOR ALL TABLES;
CREATE PUBLICATION account_changes FOR TABLE gov.accounts, gov.audit_log WITH (publish = 'insert, update');
ALTER PUBLICATION account_changes OWNER TO gov_owner;
COMMENT ON PUBLICATION account_changes IS 'Accounts for the reporting replica';
\if :pg15
CREATE PUBLICATION gov_schema FOR TABLES IN SCHEMA gov;
CREATE PUBLICATION recent_notes FOR TABLE public.notes (id, body) WHERE (id > 10);
\else
CREATE PUBLICATION gov_schema FOR TABLE gov.accounts;
CREATE PUBLICATION recent_notes FOR TABLE public.notes;
\endif

-- A subscription that never connects; its connection string holds a password.
CREATE SUBSCRIPTION from_ledger
    CONNECTION 'host=198.51.100.7 port=5432 dbname=ledger user=replicator password=SubscriptionSecret-7f3a'
    PUBLICATION ledger_all, ledger_audit
    WITH (connect = false, enabled = false, create_slot = false, slot_name = NONE);
\if :pg16
ALTER SUBSCRIPTION from_ledger OWNER TO gov_owner;  -- before 16 its owner must be a superuser
\endif
COMMENT ON SUBSCRIPTION from_ledger IS 'Ledger rows from the accounting cluster';

-- Foreign data: postgres_fdw's wrapper belongs to its extension (left out); gov_fdw does not.
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE FOREIGN DATA WRAPPER gov_fdw OPTIONS (debug 'true');
COMMENT ON FOREIGN DATA WRAPPER gov_fdw IS 'Files of the governance team';
GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO gov_owner;
CREATE SERVER ledger_db TYPE 'postgresql' VERSION '16' FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host '203.0.113.9', port '5432', dbname 'ledger');
ALTER SERVER ledger_db OWNER TO gov_owner;
COMMENT ON SERVER ledger_db IS 'The accounting cluster';
CREATE SERVER gov_files FOREIGN DATA WRAPPER gov_fdw OPTIONS (root '/srv/gov', api_key 'ServerSecret-91be');
CREATE USER MAPPING FOR gov_owner SERVER ledger_db OPTIONS (user 'ledger_reader', password 'MappingSecret-c4d2');
CREATE USER MAPPING FOR PUBLIC SERVER gov_files OPTIONS (user 'anonymous', token 'MappingToken-55aa');

-- Event triggers.
CREATE FUNCTION gov.note_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
CREATE EVENT TRIGGER gov_ddl_watch ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'DROP TABLE')
    EXECUTE FUNCTION gov.note_ddl();
CREATE EVENT TRIGGER gov_drop_watch ON sql_drop EXECUTE FUNCTION gov.note_ddl();
ALTER EVENT TRIGGER gov_drop_watch DISABLE;
COMMENT ON EVENT TRIGGER gov_ddl_watch IS 'Watches tables come and go';

-- A window function (C, as window functions must be): pg_dump lists it as a FUNCTION.
CREATE FUNCTION gov.account_rank() RETURNS bigint WINDOW IMMUTABLE LANGUAGE internal AS 'window_rank';
ALTER FUNCTION gov.account_rank() OWNER TO gov_owner;
COMMENT ON FUNCTION gov.account_rank() IS 'rank(), under the house name';

-- Members of an extension stay out, as pg_dump leaves them out: a server, an event trigger, and
-- a table with a rule (a policy on such a table is dumped by pg_dump, and so extracted).
CREATE SERVER fdw_internal FOREIGN DATA WRAPPER postgres_fdw;
CREATE USER MAPPING FOR gov_owner SERVER fdw_internal;
ALTER EXTENSION postgres_fdw ADD SERVER fdw_internal;
CREATE EVENT TRIGGER fdw_watch ON ddl_command_start EXECUTE FUNCTION gov.note_ddl();
ALTER EXTENSION postgres_fdw ADD EVENT TRIGGER fdw_watch;
CREATE TABLE public.fdw_state (id int);
CREATE RULE fdw_state_frozen AS ON DELETE TO public.fdw_state DO INSTEAD NOTHING;
ALTER EXTENSION postgres_fdw ADD TABLE public.fdw_state;
