-- Views and routines whose lineage is known by hand (truth.json), for the lineage tests and the
-- accuracy report (benchmarks/lineage_accuracy.py). Run as a superuser in a fresh database on
-- PostgreSQL 15 or later (tests/servers.py adapts it to 13 and 14). The foreign table needs
-- postgres_fdw and is skipped without it; what a major lacks (USING ... AS, JSON_TABLE) is made
-- only where it exists (truth.json's min_version).

SET client_min_messages = warning;
CREATE SCHEMA lin;

CREATE TABLE lin.customers (id int PRIMARY KEY, first_name text, last_name text, email text, country text,
                            created_at timestamptz);
CREATE TABLE lin.orders (id int PRIMARY KEY, customer_id int REFERENCES lin.customers, amount numeric,
                         status text, ordered_at timestamptz);
CREATE TABLE lin."Ünïcode Table" ("Größe" int, "weird.col" text, "Quote""d" text);
CREATE TABLE lin.order_archive (id int, amount numeric, archived_at timestamptz);
CREATE TABLE lin.staging_customers (id int, email text);
CREATE TABLE lin.employees (id int PRIMARY KEY, manager_id int, name text);
CREATE TABLE lin.documents (id int PRIMARY KEY, body xml, payload jsonb);

-- Renamed columns.
CREATE VIEW lin.v_rename AS SELECT id AS customer_id, email AS contact FROM lin.customers;
-- Computed columns, and a constant (no source).
CREATE VIEW lin.v_computed AS
SELECT id, first_name || ' ' || last_name AS full_name, upper(country) AS country_code, 42 AS answer
FROM lin.customers;
-- A join with aggregates; the WHERE and JOIN columns are reads, not column lineage.
CREATE VIEW lin.v_totals AS
SELECT c.id, c.email, count(o.id) AS orders, sum(o.amount) AS total
FROM lin.customers c LEFT JOIN lin.orders o ON o.customer_id = c.id
WHERE o.status <> 'void'
GROUP BY c.id, c.email;
-- Views over views: direct edges, one level at a time.
CREATE VIEW lin.v_chain1 AS SELECT customer_id, contact FROM lin.v_rename;
CREATE VIEW lin.v_chain2 AS SELECT customer_id AS cid, lower(contact) AS contact_lc FROM lin.v_chain1;
-- A CTE.
CREATE VIEW lin.v_cte AS
WITH big AS (SELECT customer_id, amount FROM lin.orders WHERE amount > 100)
SELECT customer_id, sum(amount) AS big_total FROM big GROUP BY customer_id;
-- A subquery in FROM and a scalar subquery.
CREATE VIEW lin.v_subquery AS
SELECT s.cid, s.n,
       (SELECT max(o2.amount) FROM lin.orders o2 WHERE o2.customer_id = s.cid) AS max_amount
FROM (SELECT customer_id AS cid, count(*) AS n FROM lin.orders GROUP BY customer_id) s;
-- UNION: each output column from both branches.
CREATE VIEW lin.v_union AS
SELECT email AS address, 'customer' AS kind FROM lin.customers
UNION ALL
SELECT status, 'order' FROM lin.orders;
-- Window functions, inline and named.
CREATE VIEW lin.v_window AS
SELECT id, amount,
       rank() OVER (PARTITION BY customer_id ORDER BY amount DESC) AS amount_rank,
       sum(amount) OVER w AS running
FROM lin.orders
WINDOW w AS (PARTITION BY customer_id ORDER BY ordered_at);
-- Quoted and non-ASCII names.
CREATE VIEW lin."Vüe ""quoted""" AS
SELECT "Größe" AS "Taille", "weird.col", "Quote""d" || '!' AS "Exclaimed"
FROM lin."Ünïcode Table";
-- A materialized view, and a view over it.
CREATE MATERIALIZED VIEW lin.mv_country AS SELECT country, count(*) AS customers FROM lin.customers GROUP BY country;
CREATE VIEW lin.v_over_mv AS SELECT country, customers * 2 AS doubled FROM lin.mv_country;
-- Overloaded functions called by a view.
CREATE FUNCTION lin.fmt(integer) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1::text';
CREATE FUNCTION lin.fmt(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT upper($1)';
CREATE VIEW lin.v_overloads AS SELECT lin.fmt(id) AS id_text, lin.fmt(email) AS email_text FROM lin.customers;
-- CASE and COALESCE.
CREATE VIEW lin.v_case AS
SELECT id, CASE WHEN status = 'paid' THEN amount ELSE 0 END AS paid_amount, coalesce(status, 'unknown') AS status
FROM lin.orders;
-- LATERAL.
CREATE VIEW lin.v_lateral AS
SELECT c.id, last.amount AS last_amount
FROM lin.customers c
CROSS JOIN LATERAL (SELECT o.amount FROM lin.orders o WHERE o.customer_id = c.id ORDER BY o.ordered_at DESC LIMIT 1) last;
-- WITH RECURSIVE: the recursive term reads the CTE's own columns (depth counts, from no column).
CREATE VIEW lin.v_recursive AS
WITH RECURSIVE chain (id, name, depth, path) AS (
    SELECT id, name, 1, name FROM lin.employees WHERE manager_id IS NULL
  UNION ALL
    SELECT e.id, e.name, c.depth + 1, c.path || '/' || e.name
    FROM lin.employees e JOIN chain c ON e.manager_id = c.id
)
SELECT id, name AS employee, depth, path FROM chain;
-- XMLTABLE: its columns come from the document (the ordinality column from none).
CREATE VIEW lin.v_xmltable AS
SELECT d.id, x.n, x.title, x.pages
FROM lin.documents d,
     XMLTABLE('/book' PASSING d.body COLUMNS n FOR ORDINALITY, title text PATH 'title',
              pages int PATH '@pages' DEFAULT d.id) x;
-- FULL JOIN ... USING: the merged column (printed unqualified) comes from both sides.
CREATE VIEW lin.v_full_join AS
SELECT id, c.email, o.amount, a.archived_at
FROM lin.customers c FULL JOIN lin.orders o USING (id) FULL JOIN lin.order_archive a USING (id);
-- USING after a join of two tables: which one holds the column is not known (the relation
-- catalog lists no columns), and need not be, as the deparse qualifies it.
CREATE VIEW lin.v_using_chain AS
SELECT email, o.amount
FROM lin.customers c JOIN lin.orders o ON o.customer_id = c.id JOIN lin.staging_customers s USING (email);
-- A whole row as a value: from the relation itself.
CREATE VIEW lin.v_whole_row AS SELECT c.id, row_to_json(c.*) AS doc FROM lin.customers c;
-- A join's alias naming columns of the tables joined under it: which table holds each is in
-- their columns, not in the definition.
CREATE VIEW lin.v_join_alias AS
SELECT j.email, j.amount, k.name
FROM (lin.customers c JOIN lin.orders o ON o.customer_id = c.id) j
     JOIN (lin.employees e CROSS JOIN lin.order_archive a) k ON k.manager_id = j.customer_id;
-- A system catalog in a subquery: its columns are not lineage (nor columns of the outer query's table).
CREATE VIEW lin.v_catalog AS
SELECT c.id, (SELECT relname FROM pg_catalog.pg_class WHERE oid = c.id::oid) AS rel FROM lin.customers c;
-- DO INSTEAD rules on a view: its lineage is its SELECT's, each edge once.
CREATE VIEW lin.v_ruled AS SELECT id, amount FROM lin.orders;
CREATE RULE v_ruled_insert AS ON INSERT TO lin.v_ruled
    DO INSTEAD INSERT INTO lin.orders (id, amount) VALUES (NEW.id, NEW.amount);
CREATE RULE v_ruled_update AS ON UPDATE TO lin.v_ruled
    DO INSTEAD UPDATE lin.orders SET amount = NEW.amount WHERE id = OLD.id;
CREATE RULE v_ruled_delete AS ON DELETE TO lin.v_ruled DO INSTEAD DELETE FROM lin.orders WHERE id = OLD.id;
-- USING (...) AS x (PostgreSQL 14+) and JSON_TABLE (17+), where the server has them.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 140000 THEN
        EXECUTE 'CREATE VIEW lin.v_using_alias AS
                 SELECT j.id FROM lin.customers c FULL JOIN lin.orders o USING (id) AS j';
    END IF;
    IF current_setting('server_version_num')::int >= 170000 THEN
        EXECUTE $v$CREATE VIEW lin.v_json_table AS
                 SELECT d.id, jt.n, jt.sku, jt.tag
                 FROM lin.documents d,
                      JSON_TABLE(d.payload, '$.items[*]' COLUMNS (
                          n FOR ORDINALITY, sku text PATH '$.sku',
                          NESTED PATH '$.tags[*]' COLUMNS (tag text PATH '$'))) jt$v$;
    END IF;
END $$;

-- A PL/pgSQL procedure that writes: INSERT ... SELECT, then DELETE.
CREATE PROCEDURE lin.archive_orders(p_before timestamptz) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lin.order_archive (id, amount, archived_at)
    SELECT id, amount, now() FROM lin.orders WHERE ordered_at < p_before;
    DELETE FROM lin.orders WHERE ordered_at < p_before;
END $$;
-- A SQL function with UPDATE ... FROM.
CREATE FUNCTION lin.touch_customers() RETURNS void LANGUAGE sql AS $$
    UPDATE lin.customers c SET country = o.status FROM lin.orders o WHERE o.customer_id = c.id
$$;
-- Unqualified names, resolved along the function's own search_path.
CREATE FUNCTION lin.count_big() RETURNS bigint LANGUAGE plpgsql SET search_path = lin AS $$
DECLARE
    n bigint;
    c lin.customers%ROWTYPE;
BEGIN
    SELECT count(*) INTO n FROM orders WHERE amount > 100;
    RETURN n;
END $$;
-- MERGE.
CREATE PROCEDURE lin.merge_customers() LANGUAGE sql AS $$
    MERGE INTO lin.customers c USING lin.staging_customers s ON s.id = c.id
    WHEN MATCHED THEN UPDATE SET email = s.email
    WHEN NOT MATCHED THEN INSERT (id, email) VALUES (s.id, s.email)
$$;
-- A SQL-standard body.
CREATE FUNCTION lin.order_count(p int) RETURNS bigint LANGUAGE sql
BEGIN ATOMIC
    SELECT count(*) FROM lin.orders WHERE customer_id = p;
END;
-- PL/pgSQL with OUT parameters: several (RETURNS record), one (its type is the result).
CREATE FUNCTION lin.customer_stats(p_id int, OUT n bigint, OUT total numeric) RETURNS record LANGUAGE plpgsql AS $$
BEGIN
    SELECT count(*), sum(amount) INTO n, total FROM lin.orders WHERE customer_id = p_id;
END $$;
CREATE FUNCTION lin.top_amount(OUT top lin.orders.amount%TYPE) LANGUAGE plpgsql AS $$
DECLARE
    seen bigint;
BEGIN
    SELECT max(amount), count(*) INTO top, seen FROM lin.orders;
END $$;
-- refcursor: a parameter opened for the caller, and a bound cursor declared with its query.
CREATE FUNCTION lin.open_customers(c refcursor) RETURNS refcursor LANGUAGE plpgsql AS $$
BEGIN
    OPEN c FOR SELECT id, email FROM lin.customers;
    RETURN c;
END $$;
CREATE FUNCTION lin.count_documents() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    employees_seen bigint := (SELECT count(*) FROM lin.employees);
    docs CURSOR (p_min int) FOR SELECT id FROM lin.documents WHERE id >= p_min;
    n bigint := 0;
BEGIN
    FOR d IN docs(employees_seen::int) LOOP
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
-- Only a table it creates at run time: no edge, and a warning saying why.
CREATE FUNCTION lin.scratch_total() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    CREATE TEMP TABLE scratch AS SELECT 1 AS v;
    SELECT count(*) INTO n FROM scratch;
    DROP TABLE scratch;
    RETURN n;
END $$;
-- Dynamic SQL: cannot be known before it runs.
CREATE FUNCTION lin.dynamic_count(p_table text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I', p_table) INTO n;
    RETURN n;
END $$;
-- A body the parser cannot read (the server accepts it with check_function_bodies off).
SET check_function_bodies = off;
CREATE FUNCTION lin.broken() RETURNS int LANGUAGE sql AS $$ SELEC 1 FROM lin.orders $$;
RESET check_function_bodies;

-- A view over a foreign table (postgres_fdw looping back to this database).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'postgres_fdw') THEN
        CREATE EXTENSION IF NOT EXISTS postgres_fdw;
        EXECUTE format('CREATE SERVER lin_loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname %L)',
                       current_database());
        CREATE FOREIGN TABLE lin.remote_orders (id int, amount numeric)
            SERVER lin_loopback OPTIONS (schema_name 'lin', table_name 'orders');
        CREATE VIEW lin.v_remote AS SELECT id AS remote_id, amount FROM lin.remote_orders;
    END IF;
END $$;
