-- =============================================================================
-- KADA demo database: "Kada Outfitters", a small online retailer.
--
-- Used by the product demo (`kada-collector demo`) and by the integration tests
-- of the PostgreSQL collector. It is deliberately small but touches every kind of
-- catalog object the collector lists: schemas, tables (ordinary, unlogged,
-- inherited, partitioned on two levels, foreign), columns of many types, keys and
-- constraints, indexes, sequences, views (nested, security barrier, materialized),
-- functions, procedures, aggregates, triggers, types, roles, grants and comments.
--
-- Requirements: PostgreSQL 15 or later, run as a superuser in a FRESH database:
--     psql -v ON_ERROR_STOP=1 -d kada_demo -f sample_schema.sql
-- No psql meta-commands are used, so the file can also be sent as one
-- multi-statement string (e.g. psycopg `conn.execute(text)`).
-- Roles are cluster-wide: they are created only when missing, so the file can be
-- run again in another database of the same cluster.
--
-- staging.pull_orders_from_replica() deliberately hard-codes a connection
-- string with a password (Sup3rS3cret!): the collector must redact it.
-- =============================================================================

SET client_min_messages = warning;
SET standard_conforming_strings = on;
SET check_function_bodies = on;


-- -----------------------------------------------------------------------------
-- Roles (cluster-wide, created only when missing)
-- -----------------------------------------------------------------------------

DO $roles$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT * FROM (VALUES
            -- group roles
            ('kada_demo_readonly',   false),
            ('kada_demo_analyst',    false),
            ('kada_demo_engineer',   false),
            ('kada_demo_data_owner', false),
            -- login users
            ('kada_demo_etl',        true),
            ('kada_demo_alice',      true),
            ('kada_demo_bob',        true),
            ('kada_demo_carol',      true)
        ) AS v(rolname, can_login)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.rolname) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I %s', r.rolname,
                               CASE WHEN r.can_login THEN 'LOGIN' ELSE 'NOLOGIN' END);
            EXCEPTION WHEN duplicate_object THEN
                NULL;  -- created concurrently by another session
            END;
        END IF;
    END LOOP;
END
$roles$;

-- Memberships: users in groups, and groups in groups
-- (readonly <- analyst <- engineer).
DO $memberships$
DECLARE
    m record;
BEGIN
    FOR m IN
        SELECT * FROM (VALUES
            ('kada_demo_readonly', 'kada_demo_analyst'),
            ('kada_demo_analyst',  'kada_demo_engineer'),
            ('kada_demo_analyst',  'kada_demo_alice'),
            ('kada_demo_analyst',  'kada_demo_carol'),
            ('kada_demo_engineer', 'kada_demo_bob'),
            ('kada_demo_engineer', 'kada_demo_etl')
        ) AS v(group_role, member_role)
    LOOP
        IF NOT EXISTS (
            SELECT 1
              FROM pg_catalog.pg_auth_members am
              JOIN pg_catalog.pg_roles g ON g.oid = am.roleid
              JOIN pg_catalog.pg_roles u ON u.oid = am.member
             WHERE g.rolname = m.group_role
               AND u.rolname = m.member_role
        ) THEN
            EXECUTE format('GRANT %I TO %I', m.group_role, m.member_role);
        END IF;
    END LOOP;
END
$memberships$;

COMMENT ON ROLE kada_demo_readonly   IS 'Group: read access to curated analytics data.';
COMMENT ON ROLE kada_demo_analyst    IS 'Group: business analysts; read sales and a subset of HR columns.';
COMMENT ON ROLE kada_demo_engineer   IS 'Group: data engineers; maintain staging and refresh analytics.';
COMMENT ON ROLE kada_demo_data_owner IS 'Group: owns reference data tables.';
COMMENT ON ROLE kada_demo_etl        IS 'Service account used by the nightly load jobs.';
COMMENT ON ROLE kada_demo_alice      IS 'Alice (analyst).';
COMMENT ON ROLE kada_demo_bob        IS 'Bob (data engineer).';
COMMENT ON ROLE kada_demo_carol      IS 'Carol (analyst).';


-- -----------------------------------------------------------------------------
-- Database and schemas
-- -----------------------------------------------------------------------------

DO $db$
BEGIN
    EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(),
                   'Kada Outfitters demo database: sales, inventory, HR and analytics for a small online retailer.');
END
$db$;

CREATE SCHEMA inventory;
CREATE SCHEMA sales;
CREATE SCHEMA hr;
CREATE SCHEMA analytics;
CREATE SCHEMA staging;

COMMENT ON SCHEMA inventory IS 'Product catalogue, warehouses and stock.';
COMMENT ON SCHEMA sales     IS 'Customers, orders, payments and invoices.';
COMMENT ON SCHEMA hr        IS 'Departments, employees and contractors. Contains personal data.';
COMMENT ON SCHEMA analytics IS 'Curated reporting views, snapshots and helper functions.';
COMMENT ON SCHEMA staging   IS 'Raw landing area for loads from upstream systems.';


-- =============================================================================
-- Schema inventory
-- =============================================================================

-- Range type over numeric, used for price bands.
CREATE TYPE inventory.price_range AS RANGE (subtype = numeric);
COMMENT ON TYPE inventory.price_range IS 'A range of unit prices, e.g. [20,100).';

CREATE TABLE inventory.product_categories (
    category_id        integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name               text NOT NULL UNIQUE,
    parent_category_id integer REFERENCES inventory.product_categories (category_id),
    description        text
);
COMMENT ON TABLE inventory.product_categories IS 'Two-level product category tree.';
COMMENT ON COLUMN inventory.product_categories.parent_category_id IS 'Parent category; NULL for top-level categories.';

CREATE TABLE inventory.products (
    product_id   integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    sku          text NOT NULL,
    name         text NOT NULL,
    category_id  integer NOT NULL REFERENCES inventory.product_categories (category_id),
    unit_price   numeric(12,2) NOT NULL CHECK (unit_price > 0),
    unit_cost    numeric(12,2) NOT NULL,
    weight_kg    numeric(8,3),
    attributes   jsonb NOT NULL DEFAULT '{}'::jsonb,
    tags         text[] NOT NULL DEFAULT '{}',
    discontinued boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT products_sku_key UNIQUE (sku),
    CONSTRAINT products_margin_check CHECK (unit_price >= unit_cost)
);
COMMENT ON TABLE inventory.products IS 'Sellable products (one row per SKU).';
COMMENT ON COLUMN inventory.products.sku IS 'Stock keeping unit, unique business key.';
COMMENT ON COLUMN inventory.products.unit_price IS 'Current list price, tax exclusive, in AUD.';
COMMENT ON COLUMN inventory.products.unit_cost IS 'Landed cost per unit, in AUD.';
COMMENT ON COLUMN inventory.products.attributes IS 'Free-form attributes (colour, size, material) as JSON.';
COMMENT ON COLUMN inventory.products.tags IS 'Merchandising tags.';
COMMENT ON CONSTRAINT products_margin_check ON inventory.products IS 'Products may not be priced below cost.';

CREATE TABLE inventory.warehouses (
    warehouse_id   serial PRIMARY KEY,
    warehouse_code char(3) NOT NULL UNIQUE,
    name           text NOT NULL,
    location       text NOT NULL,
    capacity_m3    numeric(10,1) CHECK (capacity_m3 > 0),
    opened_on      date NOT NULL
);
COMMENT ON TABLE inventory.warehouses IS 'Distribution centres.';
COMMENT ON COLUMN inventory.warehouses.warehouse_code IS 'Three-letter code printed on shipping labels.';

-- Composite primary key, referenced by composite foreign keys below.
CREATE TABLE inventory.stock_levels (
    warehouse_id     integer NOT NULL REFERENCES inventory.warehouses (warehouse_id),
    product_id       integer NOT NULL REFERENCES inventory.products (product_id) ON DELETE CASCADE,
    quantity_on_hand integer NOT NULL DEFAULT 0 CHECK (quantity_on_hand >= 0),
    reorder_point    integer NOT NULL DEFAULT 10,
    bin_location     text,
    last_counted_at  timestamptz,
    PRIMARY KEY (warehouse_id, product_id)
);
COMMENT ON TABLE inventory.stock_levels IS 'Current stock per warehouse and product.';
COMMENT ON COLUMN inventory.stock_levels.reorder_point IS 'Reorder when quantity on hand falls to this level.';

-- Exclusion constraint on a range column (no extension needed); owned by a group role.
CREATE TABLE inventory.price_bands (
    band_code   text PRIMARY KEY,
    label       text NOT NULL,
    price_range inventory.price_range NOT NULL,
    CONSTRAINT price_bands_no_overlap EXCLUDE USING gist (price_range WITH &&)
);
COMMENT ON TABLE inventory.price_bands IS 'Non-overlapping price bands used for reporting.';
COMMENT ON CONSTRAINT price_bands_no_overlap ON inventory.price_bands IS 'Price bands must not overlap.';
ALTER TABLE inventory.price_bands OWNER TO kada_demo_data_owner;

-- List-partitioned table.
CREATE TABLE inventory.stock_movements (
    movement_id   bigserial NOT NULL,
    movement_type text NOT NULL,
    warehouse_id  integer NOT NULL,
    product_id    integer NOT NULL,
    quantity      integer NOT NULL CHECK (quantity <> 0),
    moved_at      timestamptz NOT NULL DEFAULT now(),
    reference     text,
    PRIMARY KEY (movement_id, movement_type),
    FOREIGN KEY (warehouse_id, product_id)
        REFERENCES inventory.stock_levels (warehouse_id, product_id)
) PARTITION BY LIST (movement_type);
COMMENT ON TABLE inventory.stock_movements IS 'Stock ledger, partitioned by movement type.';
COMMENT ON COLUMN inventory.stock_movements.quantity IS 'Signed quantity: positive into stock, negative out of stock.';

CREATE TABLE inventory.stock_movements_inbound PARTITION OF inventory.stock_movements
    FOR VALUES IN ('receipt', 'transfer_in', 'return');
CREATE TABLE inventory.stock_movements_outbound PARTITION OF inventory.stock_movements
    FOR VALUES IN ('shipment', 'transfer_out');
CREATE TABLE inventory.stock_movements_adjustments PARTITION OF inventory.stock_movements
    FOR VALUES IN ('adjustment', 'write_off');

-- PL/pgSQL function.
CREATE FUNCTION inventory.reorder_quantity(p_warehouse_id integer, p_product_id integer)
RETURNS integer
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    v_on_hand       integer;
    v_reorder_point integer;
BEGIN
    SELECT quantity_on_hand, reorder_point
      INTO v_on_hand, v_reorder_point
      FROM inventory.stock_levels
     WHERE warehouse_id = p_warehouse_id
       AND product_id = p_product_id;

    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    IF v_on_hand > v_reorder_point THEN
        RETURN 0;
    END IF;

    -- Order enough to reach three times the reorder point.
    RETURN greatest(v_reorder_point * 3 - v_on_hand, 0);
END;
$$;
COMMENT ON FUNCTION inventory.reorder_quantity(integer, integer) IS 'Suggested reorder quantity for a warehouse and product; 0 when stock is sufficient.';

-- SQL-standard body, RETURN form.
CREATE FUNCTION inventory.price_with_tax(p_price numeric, p_tax_rate numeric DEFAULT 0.10)
RETURNS numeric
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN round(p_price * (1 + p_tax_rate), 2);
COMMENT ON FUNCTION inventory.price_with_tax(numeric, numeric) IS 'Price including tax (GST 10% by default), rounded to cents.';

-- Set-returning PL/pgSQL function.
CREATE FUNCTION inventory.low_stock_items(p_warehouse_id integer DEFAULT NULL)
RETURNS SETOF inventory.stock_levels
LANGUAGE plpgsql
STABLE
AS $$
BEGIN
    RETURN QUERY
        SELECT s.*
          FROM inventory.stock_levels s
         WHERE s.quantity_on_hand <= s.reorder_point
           AND (p_warehouse_id IS NULL OR s.warehouse_id = p_warehouse_id)
         ORDER BY s.warehouse_id, s.product_id;
END;
$$;
COMMENT ON FUNCTION inventory.low_stock_items(integer) IS 'Stock levels at or below their reorder point, optionally for one warehouse.';

CREATE VIEW inventory.v_stock_position AS
SELECT w.warehouse_code,
       w.name                                                 AS warehouse_name,
       p.sku,
       p.name                                                 AS product_name,
       s.quantity_on_hand,
       s.reorder_point,
       s.quantity_on_hand <= s.reorder_point                  AS needs_reorder,
       inventory.reorder_quantity(s.warehouse_id, s.product_id) AS suggested_reorder_qty,
       s.quantity_on_hand * p.unit_cost                       AS stock_value
  FROM inventory.stock_levels s
  JOIN inventory.warehouses w USING (warehouse_id)
  JOIN inventory.products p USING (product_id);
COMMENT ON VIEW inventory.v_stock_position IS 'Stock on hand with reorder suggestions and stock value at cost.';
COMMENT ON COLUMN inventory.v_stock_position.stock_value IS 'Quantity on hand times unit cost.';

CREATE INDEX products_category_id_idx ON inventory.products (category_id);
CREATE INDEX products_attributes_gin_idx ON inventory.products USING gin (attributes jsonb_path_ops);
CREATE INDEX products_tags_gin_idx ON inventory.products USING gin (tags);
CREATE INDEX stock_movements_product_idx ON inventory.stock_movements (product_id, moved_at);
COMMENT ON INDEX inventory.products_attributes_gin_idx IS 'Supports @> containment searches on product attributes.';


-- =============================================================================
-- Schema sales
-- =============================================================================

CREATE TYPE sales.order_status AS ENUM
    ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded');
COMMENT ON TYPE sales.order_status IS 'Lifecycle of an order.';

CREATE TYPE sales.postal_address AS (
    street       text,
    city         text,
    postal_code  text,
    country_code char(2)
);
COMMENT ON TYPE sales.postal_address IS 'A postal address.';

CREATE DOMAIN sales.email_address AS text
    CONSTRAINT email_address_format CHECK (VALUE ~* '^[^@\s]+@[^@\s]+\.[^@\s]+$');
COMMENT ON DOMAIN sales.email_address IS 'An e-mail address (loosely validated).';

-- Standalone sequence (not owned by any column).
CREATE SEQUENCE sales.invoice_number_seq AS bigint START WITH 100001 INCREMENT BY 1 NO CYCLE;
COMMENT ON SEQUENCE sales.invoice_number_seq IS 'Invoice numbers; gap-free numbering is not guaranteed.';

CREATE TABLE sales.customers (
    customer_id      serial PRIMARY KEY,
    customer_code    text NOT NULL,
    first_name       text NOT NULL,
    last_name        text NOT NULL,
    email            sales.email_address NOT NULL,
    phone            text,
    billing_address  sales.postal_address,
    segment          text NOT NULL DEFAULT 'retail',
    marketing_opt_in boolean NOT NULL DEFAULT false,
    external_ref     uuid,
    tags             text[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customers_customer_code_key UNIQUE (customer_code),
    CONSTRAINT customers_segment_check CHECK (segment IN ('retail', 'wholesale', 'enterprise'))
);
COMMENT ON TABLE sales.customers IS 'People and companies that buy from us. Contains personal data.';
COMMENT ON COLUMN sales.customers.customer_code IS 'Public customer number, e.g. C00042.';
COMMENT ON COLUMN sales.customers.email IS 'Primary contact e-mail (PII).';
COMMENT ON COLUMN sales.customers.phone IS 'Contact phone number (PII).';
COMMENT ON COLUMN sales.customers.billing_address IS 'Billing address (composite type sales.postal_address).';
COMMENT ON COLUMN sales.customers.segment IS 'retail, wholesale or enterprise.';
COMMENT ON COLUMN sales.customers.external_ref IS 'Identifier of the customer in the CRM.';

CREATE TABLE sales.orders (
    order_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id      integer NOT NULL REFERENCES sales.customers (customer_id),
    status           sales.order_status NOT NULL DEFAULT 'pending',
    order_date       date NOT NULL DEFAULT current_date,
    ordered_at       timestamptz NOT NULL DEFAULT now(),
    shipped_at       timestamptz,
    shipping_address sales.postal_address,
    channel          text NOT NULL DEFAULT 'web' CHECK (channel IN ('web', 'phone', 'marketplace')),
    currency         char(3) NOT NULL DEFAULT 'AUD',
    notes            text,
    metadata         jsonb,
    CONSTRAINT orders_shipped_after_ordered CHECK (shipped_at IS NULL OR shipped_at >= ordered_at)
);
COMMENT ON TABLE sales.orders IS 'Customer orders (header).';
COMMENT ON COLUMN sales.orders.order_id IS 'Surrogate key, always generated.';
COMMENT ON COLUMN sales.orders.status IS 'Current lifecycle status.';
COMMENT ON COLUMN sales.orders.order_date IS 'Order date in UTC.';
COMMENT ON COLUMN sales.orders.metadata IS 'Channel-specific data (campaign, device, marketplace ids).';

CREATE TABLE sales.order_lines (
    order_id     bigint NOT NULL REFERENCES sales.orders (order_id) ON DELETE CASCADE,
    line_no      smallint NOT NULL CHECK (line_no > 0),
    product_id   integer NOT NULL REFERENCES inventory.products (product_id),
    quantity     integer NOT NULL CHECK (quantity > 0),
    unit_price   numeric(12,2) NOT NULL,
    discount_pct numeric(5,2) NOT NULL DEFAULT 0 CHECK (discount_pct BETWEEN 0 AND 100),
    line_total   numeric(12,2) GENERATED ALWAYS AS
                     (round(quantity * unit_price * (1 - discount_pct / 100), 2)) STORED,
    PRIMARY KEY (order_id, line_no)
);
COMMENT ON TABLE sales.order_lines IS 'Order lines; deleted with their order.';
COMMENT ON COLUMN sales.order_lines.unit_price IS 'Price per unit at the time of the order.';
COMMENT ON COLUMN sales.order_lines.line_total IS 'quantity * unit_price less discount (generated).';

-- Two composite foreign keys: to order_lines and to inventory.stock_levels.
CREATE TABLE sales.order_allocations (
    order_id     bigint NOT NULL,
    line_no      smallint NOT NULL,
    warehouse_id integer NOT NULL,
    product_id   integer NOT NULL,
    quantity     integer NOT NULL CHECK (quantity > 0),
    allocated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, line_no, warehouse_id),
    CONSTRAINT order_allocations_line_fkey FOREIGN KEY (order_id, line_no)
        REFERENCES sales.order_lines (order_id, line_no) ON DELETE CASCADE,
    CONSTRAINT order_allocations_stock_fkey FOREIGN KEY (warehouse_id, product_id)
        REFERENCES inventory.stock_levels (warehouse_id, product_id)
);
COMMENT ON TABLE sales.order_allocations IS 'Which warehouse fulfils which order line.';
COMMENT ON CONSTRAINT order_allocations_stock_fkey ON sales.order_allocations IS 'Allocation must point at an existing stock level (composite key).';

CREATE TABLE sales.invoices (
    invoice_number bigint PRIMARY KEY DEFAULT nextval('sales.invoice_number_seq'),
    order_id       bigint NOT NULL UNIQUE REFERENCES sales.orders (order_id) ON DELETE RESTRICT,
    issued_at      timestamptz NOT NULL,
    due_date       date NOT NULL,
    amount_due     numeric(12,2) NOT NULL CHECK (amount_due >= 0),
    tax_amount     numeric(12,2) NOT NULL DEFAULT 0
);
COMMENT ON TABLE sales.invoices IS 'One invoice per delivered order.';
COMMENT ON COLUMN sales.invoices.invoice_number IS 'Taken from sales.invoice_number_seq.';

-- Range-partitioned table, two levels, with a DEFAULT partition.
CREATE TABLE sales.payments (
    payment_id bigserial NOT NULL,
    order_id   bigint NOT NULL REFERENCES sales.orders (order_id) ON DELETE CASCADE,
    paid_at    timestamptz NOT NULL,
    amount     numeric(12,2) NOT NULL CHECK (amount > 0),
    method     text NOT NULL CHECK (method IN ('card', 'paypal', 'bank_transfer')),
    PRIMARY KEY (payment_id, paid_at)
) PARTITION BY RANGE (paid_at);
COMMENT ON TABLE sales.payments IS 'Payments received, partitioned by payment time.';
COMMENT ON COLUMN sales.payments.paid_at IS 'When the payment cleared.';

CREATE TABLE sales.payments_2024_h1 PARTITION OF sales.payments
    FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-07-01 00:00:00+00');
CREATE TABLE sales.payments_2024_h2 PARTITION OF sales.payments
    FOR VALUES FROM ('2024-07-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')
    PARTITION BY HASH (payment_id);
CREATE TABLE sales.payments_2024_h2_p0 PARTITION OF sales.payments_2024_h2
    FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE sales.payments_2024_h2_p1 PARTITION OF sales.payments_2024_h2
    FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE sales.payments_2025 PARTITION OF sales.payments
    FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2026-01-01 00:00:00+00');
CREATE TABLE sales.payments_default PARTITION OF sales.payments DEFAULT;
COMMENT ON TABLE sales.payments_2024_h2 IS 'Second half of 2024, sub-partitioned by hash of payment_id.';
COMMENT ON TABLE sales.payments_default IS 'Payments outside the defined ranges (e.g. 2023).';

-- Audit table written by a statement-level trigger.
CREATE TABLE sales.order_change_log (
    log_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name text NOT NULL,
    operation  text NOT NULL,
    changed_by name NOT NULL DEFAULT current_user,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE sales.order_change_log IS 'One row per INSERT/UPDATE/DELETE statement on sales.orders.';

-- SQL function, string body.
CREATE FUNCTION sales.customer_full_name(p_customer_id integer)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT first_name || ' ' || last_name
      FROM sales.customers
     WHERE customer_id = p_customer_id
$$;
COMMENT ON FUNCTION sales.customer_full_name(integer) IS 'First and last name of a customer.';

-- SQL-standard body, BEGIN ATOMIC form.
CREATE FUNCTION sales.order_total(p_order_id bigint)
RETURNS numeric
LANGUAGE sql
STABLE
BEGIN ATOMIC
    SELECT coalesce(sum(ol.line_total), 0)
      FROM sales.order_lines ol
     WHERE ol.order_id = p_order_id;
END;
COMMENT ON FUNCTION sales.order_total(bigint) IS 'Sum of the line totals of an order, tax exclusive.';

-- Set-returning SQL function.
CREATE FUNCTION sales.customer_order_history(p_customer_id integer)
RETURNS TABLE (order_id bigint, order_date date, status sales.order_status, total numeric)
LANGUAGE sql
STABLE
AS $$
    SELECT o.order_id, o.order_date, o.status, sales.order_total(o.order_id)
      FROM sales.orders o
     WHERE o.customer_id = p_customer_id
     ORDER BY o.order_date DESC, o.order_id DESC
$$;
COMMENT ON FUNCTION sales.customer_order_history(integer) IS 'All orders of a customer, newest first.';

-- Trigger functions and triggers.
CREATE FUNCTION sales.set_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION sales.set_updated_at() IS 'Trigger function: stamps updated_at on every row update.';

CREATE FUNCTION sales.log_order_change()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO sales.order_change_log (table_name, operation)
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP);
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION sales.log_order_change() IS 'Trigger function: records which statements modified orders.';

CREATE TRIGGER customers_set_updated_at
    BEFORE UPDATE ON sales.customers
    FOR EACH ROW EXECUTE FUNCTION sales.set_updated_at();
CREATE TRIGGER products_set_updated_at
    BEFORE UPDATE ON inventory.products
    FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION sales.set_updated_at();
CREATE TRIGGER orders_log_change
    AFTER INSERT OR UPDATE OR DELETE ON sales.orders
    FOR EACH STATEMENT EXECUTE FUNCTION sales.log_order_change();
COMMENT ON TRIGGER customers_set_updated_at ON sales.customers IS 'Keeps customers.updated_at current.';
COMMENT ON TRIGGER orders_log_change ON sales.orders IS 'Audit trail of statements touching orders.';

-- Views: three levels of nesting in sales (a fourth in analytics).
-- Level 1: renamed and computed columns.
CREATE VIEW sales.v_customer_base (customer_id, full_name, email_address, segment, country_code, signed_up_at) AS
SELECT c.customer_id,
       c.first_name || ' ' || c.last_name,
       c.email::text,
       c.segment,
       (c.billing_address).country_code,
       c.created_at
  FROM sales.customers c;
COMMENT ON VIEW sales.v_customer_base IS 'Customers with a display name and country (level 1 view).';
COMMENT ON COLUMN sales.v_customer_base.full_name IS 'first_name and last_name joined by a space.';

-- Level 2: join and aggregation over the level 1 view.
CREATE VIEW sales.v_customer_order_totals AS
SELECT b.customer_id,
       b.full_name,
       b.segment,
       b.country_code,
       count(DISTINCT o.order_id)         AS order_count,
       coalesce(sum(ol.line_total), 0)    AS lifetime_value,
       max(o.order_date)                  AS last_order_date
  FROM sales.v_customer_base b
  LEFT JOIN sales.orders o
         ON o.customer_id = b.customer_id
        AND o.status NOT IN ('cancelled', 'refunded')
  LEFT JOIN sales.order_lines ol ON ol.order_id = o.order_id
 GROUP BY b.customer_id, b.full_name, b.segment, b.country_code;
COMMENT ON VIEW sales.v_customer_order_totals IS 'Order count and lifetime value per customer (level 2 view).';
COMMENT ON COLUMN sales.v_customer_order_totals.lifetime_value IS 'Sum of line totals of non-cancelled, non-refunded orders.';

-- Level 3.
CREATE VIEW sales.v_active_customers AS
SELECT customer_id, full_name, segment, country_code, order_count, lifetime_value, last_order_date
  FROM sales.v_customer_order_totals
 WHERE last_order_date >= DATE '2025-01-01';
COMMENT ON VIEW sales.v_active_customers IS 'Customers who ordered in 2025 (level 3 view).';

-- Auto-updatable view with a check option.
CREATE VIEW sales.v_pending_orders AS
SELECT order_id, customer_id, status, order_date, ordered_at, channel, notes
  FROM sales.orders
 WHERE status = 'pending'
  WITH CASCADED CHECK OPTION;
COMMENT ON VIEW sales.v_pending_orders IS 'Orders awaiting payment; updatable, with check option.';

CREATE INDEX orders_customer_id_idx ON sales.orders (customer_id);
CREATE INDEX orders_open_ordered_at_idx ON sales.orders (ordered_at)
    WHERE status IN ('pending', 'paid');
CREATE INDEX customers_email_lower_idx ON sales.customers (lower(email));
CREATE INDEX order_lines_product_id_idx ON sales.order_lines (product_id) INCLUDE (quantity, unit_price);
CREATE INDEX payments_order_id_idx ON sales.payments (order_id);
CREATE INDEX orders_metadata_gin_idx ON sales.orders USING gin (metadata);
COMMENT ON INDEX sales.orders_open_ordered_at_idx IS 'Partial index: only orders not yet shipped.';
COMMENT ON INDEX sales.customers_email_lower_idx IS 'Case-insensitive e-mail lookups.';


-- =============================================================================
-- Schema hr
-- =============================================================================

CREATE DOMAIN hr.salary_amount AS numeric(12,2)
    CONSTRAINT salary_amount_positive CHECK (VALUE > 0);
COMMENT ON DOMAIN hr.salary_amount IS 'Annual salary in AUD; must be positive.';

CREATE TABLE hr.departments (
    department_id        serial PRIMARY KEY,
    department_code      varchar(10) NOT NULL UNIQUE,
    name                 text NOT NULL,
    parent_department_id integer REFERENCES hr.departments (department_id),
    cost_center          text,
    created_at           timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hr.departments IS 'Organisational units.';
COMMENT ON COLUMN hr.departments.cost_center IS 'Finance cost centre code.';

CREATE TABLE hr.employees (
    employee_id      serial PRIMARY KEY,
    employee_number  text NOT NULL,
    first_name       text NOT NULL,
    last_name        text NOT NULL,
    work_email       sales.email_address NOT NULL,
    department_id    integer NOT NULL REFERENCES hr.departments (department_id),
    manager_id       integer REFERENCES hr.employees (employee_id),
    job_title        text NOT NULL,
    hire_date        date NOT NULL,
    termination_date date,
    salary           hr.salary_amount NOT NULL,
    home_address     sales.postal_address,
    skills           text[] NOT NULL DEFAULT '{}',
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT employees_dates_check CHECK (termination_date IS NULL OR termination_date >= hire_date)
);
COMMENT ON TABLE hr.employees IS 'Employees. Salary and home address are confidential.';
COMMENT ON COLUMN hr.employees.employee_number IS 'Payroll number, e.g. E0007.';
COMMENT ON COLUMN hr.employees.manager_id IS 'Direct manager (self reference).';
COMMENT ON COLUMN hr.employees.salary IS 'Annual base salary (confidential).';
COMMENT ON COLUMN hr.employees.home_address IS 'Home address (PII).';

-- Classic table inheritance.
CREATE TABLE hr.contractors (
    agency_name  text NOT NULL,
    contract_end date,
    hourly_rate  numeric(8,2) CHECK (hourly_rate > 0)
) INHERITS (hr.employees);
COMMENT ON TABLE hr.contractors IS 'Contractors; inherits all columns of hr.employees.';
COMMENT ON COLUMN hr.contractors.agency_name IS 'Labour hire agency.';

CREATE TRIGGER employees_set_updated_at
    BEFORE UPDATE ON hr.employees
    FOR EACH ROW EXECUTE FUNCTION sales.set_updated_at();

-- Security barrier view.
CREATE VIEW hr.v_employee_directory WITH (security_barrier = true) AS
SELECT e.employee_id,
       e.first_name,
       e.last_name,
       e.work_email,
       e.job_title,
       d.name AS department_name
  FROM hr.employees e
  JOIN hr.departments d ON d.department_id = e.department_id
 WHERE e.termination_date IS NULL;
COMMENT ON VIEW hr.v_employee_directory IS 'Current staff directory without confidential columns (security barrier).';

CREATE UNIQUE INDEX employees_employee_number_key ON hr.employees (employee_number);
CREATE INDEX employees_department_id_idx ON hr.employees (department_id);
CREATE INDEX employees_manager_id_idx ON hr.employees (manager_id) WHERE manager_id IS NOT NULL;


-- =============================================================================
-- Schema analytics
-- =============================================================================

CREATE TABLE analytics.daily_sales_snapshots (
    snapshot_date date NOT NULL,
    product_id    integer NOT NULL REFERENCES inventory.products (product_id),
    units_sold    integer NOT NULL,
    gross_revenue numeric(12,2) NOT NULL,
    order_count   integer NOT NULL,
    refreshed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (snapshot_date, product_id)
);
COMMENT ON TABLE analytics.daily_sales_snapshots IS 'Units and revenue per product per day; filled by analytics.refresh_daily_sales_snapshot.';

-- Two overloads of the same name, different argument types.
CREATE FUNCTION analytics.fiscal_quarter(p_date date)
RETURNS text
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 'FY' || (extract(year FROM p_date)::int
                    + CASE WHEN extract(month FROM p_date) >= 7 THEN 1 ELSE 0 END)::text
        || '-Q' || (((extract(month FROM p_date)::int + 5) % 12) / 3 + 1)::text
$$;
COMMENT ON FUNCTION analytics.fiscal_quarter(date) IS 'Australian fiscal quarter (year starts 1 July), e.g. FY2025-Q1.';

CREATE FUNCTION analytics.fiscal_quarter(p_ts timestamptz)
RETURNS text
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT analytics.fiscal_quarter(p_ts::date)
$$;
COMMENT ON FUNCTION analytics.fiscal_quarter(timestamptz) IS 'Fiscal quarter of a timestamp, in the session time zone.';

-- Custom aggregate: weighted average.
CREATE FUNCTION analytics.weighted_avg_step(p_state numeric[], p_value numeric, p_weight numeric)
RETURNS numeric[]
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
               WHEN p_value IS NULL OR p_weight IS NULL THEN p_state
               ELSE ARRAY[p_state[1] + p_value * p_weight, p_state[2] + p_weight]
           END
$$;
COMMENT ON FUNCTION analytics.weighted_avg_step(numeric[], numeric, numeric) IS 'State transition function of analytics.weighted_avg.';

CREATE FUNCTION analytics.weighted_avg_final(p_state numeric[])
RETURNS numeric
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_state[2] = 0 THEN NULL ELSE round(p_state[1] / p_state[2], 4) END
$$;
COMMENT ON FUNCTION analytics.weighted_avg_final(numeric[]) IS 'Final function of analytics.weighted_avg.';

CREATE AGGREGATE analytics.weighted_avg(numeric, numeric) (
    SFUNC     = analytics.weighted_avg_step,
    STYPE     = numeric[],
    FINALFUNC = analytics.weighted_avg_final,
    INITCOND  = '{0,0}'
);
COMMENT ON AGGREGATE analytics.weighted_avg(numeric, numeric) IS 'Weighted average: weighted_avg(value, weight).';

-- Procedure: INSERT ... SELECT.
CREATE PROCEDURE analytics.refresh_daily_sales_snapshot(p_from date, p_to date)
LANGUAGE plpgsql
AS $$
BEGIN
    IF p_to < p_from THEN
        RAISE EXCEPTION 'p_to (%) is earlier than p_from (%)', p_to, p_from;
    END IF;

    DELETE FROM analytics.daily_sales_snapshots
     WHERE snapshot_date BETWEEN p_from AND p_to;

    INSERT INTO analytics.daily_sales_snapshots
           (snapshot_date, product_id, units_sold, gross_revenue, order_count)
    SELECT o.order_date,
           ol.product_id,
           sum(ol.quantity),
           sum(ol.line_total),
           count(DISTINCT o.order_id)
      FROM sales.orders o
      JOIN sales.order_lines ol ON ol.order_id = o.order_id
     WHERE o.order_date BETWEEN p_from AND p_to
       AND o.status NOT IN ('cancelled', 'refunded')
     GROUP BY o.order_date, ol.product_id;
END;
$$;
COMMENT ON PROCEDURE analytics.refresh_daily_sales_snapshot(date, date) IS 'Rebuilds daily_sales_snapshots for a date range.';

-- Level 4 of the nested views.
CREATE VIEW analytics.v_top_customers AS
SELECT customer_id, full_name, country_code, order_count, lifetime_value
  FROM sales.v_active_customers
 ORDER BY lifetime_value DESC, customer_id
 LIMIT 20;
COMMENT ON VIEW analytics.v_top_customers IS 'Top 20 active customers by lifetime value (level 4 view).';

-- Join and aggregation, using the custom aggregate.
CREATE VIEW analytics.v_product_sales AS
SELECT p.product_id,
       p.sku,
       p.name                                          AS product_name,
       c.name                                          AS category_name,
       pb.label                                        AS price_band,
       count(DISTINCT ol.order_id)                     AS order_count,
       coalesce(sum(ol.quantity), 0)                   AS units_sold,
       coalesce(sum(ol.line_total), 0)                 AS revenue,
       analytics.weighted_avg(ol.unit_price, ol.quantity::numeric) AS avg_selling_price
  FROM inventory.products p
  JOIN inventory.product_categories c ON c.category_id = p.category_id
  LEFT JOIN inventory.price_bands pb ON pb.price_range @> p.unit_price
  LEFT JOIN sales.order_lines ol ON ol.product_id = p.product_id
 GROUP BY p.product_id, p.sku, p.name, c.name, pb.label;
COMMENT ON VIEW analytics.v_product_sales IS 'Units, revenue and quantity-weighted selling price per product.';
COMMENT ON COLUMN analytics.v_product_sales.avg_selling_price IS 'Unit price weighted by quantity (analytics.weighted_avg).';

-- Window functions.
CREATE VIEW analytics.v_customer_order_sequence AS
SELECT o.customer_id,
       o.order_id,
       o.order_date,
       row_number() OVER w                                   AS order_seq,
       lag(o.order_date) OVER w                              AS previous_order_date,
       o.order_date - lag(o.order_date) OVER w               AS days_since_previous,
       sum(sales.order_total(o.order_id)) OVER (w ROWS UNBOUNDED PRECEDING) AS running_total
  FROM sales.orders o
 WHERE o.status <> 'cancelled'
WINDOW w AS (PARTITION BY o.customer_id ORDER BY o.order_date, o.order_id);
COMMENT ON VIEW analytics.v_customer_order_sequence IS 'Each order numbered within its customer, with gaps and running totals.';

-- Common table expression.
CREATE VIEW analytics.v_monthly_revenue AS
WITH monthly AS (
    SELECT date_trunc('month', o.order_date)::date AS month,
           sum(ol.line_total)                      AS revenue,
           count(DISTINCT o.order_id)              AS order_count
      FROM sales.orders o
      JOIN sales.order_lines ol ON ol.order_id = o.order_id
     WHERE o.status NOT IN ('cancelled', 'refunded')
     GROUP BY 1
)
SELECT month,
       analytics.fiscal_quarter(month)                            AS fiscal_quarter,
       order_count,
       revenue,
       revenue - lag(revenue) OVER (ORDER BY month)               AS revenue_change,
       round(100 * (revenue / nullif(lag(revenue) OVER (ORDER BY month), 0) - 1), 1) AS revenue_change_pct
  FROM monthly;
COMMENT ON VIEW analytics.v_monthly_revenue IS 'Monthly revenue with month-on-month change (CTE + window).';

-- UNION, with security_invoker (PostgreSQL 15+).
CREATE VIEW analytics.v_contact_directory WITH (security_invoker = true) AS
SELECT 'customer'::text AS contact_type, c.first_name, c.last_name, c.email::text AS email
  FROM sales.customers c
UNION
SELECT 'employee'::text, e.first_name, e.last_name, e.work_email::text
  FROM hr.employees e
 WHERE e.termination_date IS NULL;
COMMENT ON VIEW analytics.v_contact_directory IS 'Customers and current staff in one list (UNION; security invoker).';

-- Materialized view, an index on it, and a view reading it.
CREATE MATERIALIZED VIEW analytics.mv_daily_sales AS
SELECT o.order_date                       AS sales_date,
       analytics.fiscal_quarter(o.order_date) AS fiscal_quarter,
       count(DISTINCT o.order_id)         AS order_count,
       count(DISTINCT o.customer_id)      AS customer_count,
       sum(ol.quantity)                   AS units_sold,
       sum(ol.line_total)                 AS revenue
  FROM sales.orders o
  JOIN sales.order_lines ol ON ol.order_id = o.order_id
 WHERE o.status NOT IN ('cancelled', 'refunded')
 GROUP BY o.order_date
WITH NO DATA;
COMMENT ON MATERIALIZED VIEW analytics.mv_daily_sales IS 'Daily sales totals; refreshed nightly.';
COMMENT ON COLUMN analytics.mv_daily_sales.revenue IS 'Sum of line totals, tax exclusive.';

CREATE UNIQUE INDEX mv_daily_sales_sales_date_key ON analytics.mv_daily_sales (sales_date);
CREATE INDEX mv_daily_sales_fiscal_quarter_idx ON analytics.mv_daily_sales (fiscal_quarter);
COMMENT ON INDEX analytics.mv_daily_sales_sales_date_key IS 'Allows REFRESH MATERIALIZED VIEW CONCURRENTLY.';

CREATE VIEW analytics.v_sales_last_90_days AS
SELECT sales_date, order_count, units_sold, revenue,
       avg(revenue) OVER (ORDER BY sales_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS revenue_7d_avg
  FROM analytics.mv_daily_sales
 WHERE sales_date > (SELECT max(sales_date) FROM analytics.mv_daily_sales) - 90;
COMMENT ON VIEW analytics.v_sales_last_90_days IS 'Last 90 days of the materialized daily sales, with a 7-day moving average.';


-- =============================================================================
-- Schema staging
-- =============================================================================

CREATE UNLOGGED TABLE staging.raw_order_import (
    batch_id      integer,
    source_system text NOT NULL,
    source_ip     inet,
    payload       jsonb NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE staging.raw_order_import IS 'Unlogged landing table for raw order JSON; truncated after each load.';
COMMENT ON COLUMN staging.raw_order_import.payload IS 'Order document exactly as received.';

-- Owned by a non-default role (see ALTER TABLE ... OWNER TO below).
CREATE TABLE staging.load_batches (
    batch_id      integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_system text NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    row_count     integer,
    status        text NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'succeeded', 'failed'))
);
COMMENT ON TABLE staging.load_batches IS 'One row per load job run; owned by the ETL service account.';
ALTER TABLE staging.load_batches OWNER TO kada_demo_etl;

-- PL/pgSQL function with a hard-coded connection string (BAD PRACTICE, on purpose):
-- the collector must redact the password "Sup3rS3cret!" from the definition.
CREATE FUNCTION staging.pull_orders_from_replica(p_since timestamptz DEFAULT now() - interval '1 day')
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_conn text := 'host=replica.internal dbname=sales user=etl password=Sup3rS3cret!';
    v_rows integer;
BEGIN
    PERFORM dblink_connect('replica', v_conn);

    INSERT INTO staging.raw_order_import (source_system, payload)
    SELECT 'replica', r.doc::jsonb
      FROM dblink('replica',
                  format('SELECT row_to_json(o)::text FROM sales.orders o WHERE o.ordered_at >= %L', p_since))
           AS r(doc text);
    GET DIAGNOSTICS v_rows = ROW_COUNT;

    PERFORM dblink_disconnect('replica');
    RETURN v_rows;
END;
$$;
COMMENT ON FUNCTION staging.pull_orders_from_replica(timestamptz) IS 'Copies recent orders from the reporting replica via dblink.';

-- Foreign table, only where postgres_fdw is installed.
DO $fdw$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'postgres_fdw') THEN
        EXECUTE 'CREATE EXTENSION IF NOT EXISTS postgres_fdw';
        EXECUTE $ddl$
            CREATE SERVER kada_demo_replica
                FOREIGN DATA WRAPPER postgres_fdw
                OPTIONS (host 'replica.internal', port '5432', dbname 'sales')
        $ddl$;
        EXECUTE $ddl$
            COMMENT ON SERVER kada_demo_replica IS 'Read replica of the production sales database.'
        $ddl$;
        EXECUTE $ddl$
            CREATE FOREIGN TABLE staging.replica_orders (
                order_id    bigint NOT NULL,
                customer_id integer NOT NULL,
                status      text,
                ordered_at  timestamptz
            )
            SERVER kada_demo_replica
            OPTIONS (schema_name 'sales', table_name 'orders')
        $ddl$;
        EXECUTE $ddl$
            COMMENT ON FOREIGN TABLE staging.replica_orders IS 'Orders on the read replica (postgres_fdw).'
        $ddl$;
    ELSE
        RAISE NOTICE 'postgres_fdw is not available: foreign table staging.replica_orders not created';
    END IF;
END
$fdw$;

CREATE INDEX raw_order_import_batch_idx ON staging.raw_order_import (batch_id);


-- =============================================================================
-- Privileges
-- =============================================================================

GRANT USAGE ON SCHEMA inventory, sales, analytics TO kada_demo_readonly;
GRANT USAGE ON SCHEMA hr TO kada_demo_analyst;
GRANT USAGE, CREATE ON SCHEMA staging TO kada_demo_engineer;

GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO kada_demo_readonly;
GRANT SELECT ON inventory.products, inventory.product_categories, inventory.v_stock_position
    TO kada_demo_readonly;
GRANT SELECT ON sales.customers, sales.orders, sales.order_lines, sales.v_customer_base,
                sales.v_customer_order_totals, sales.v_active_customers
    TO kada_demo_analyst;
GRANT SELECT ON hr.v_employee_directory, hr.departments TO kada_demo_analyst;

-- Column-level grants.
GRANT SELECT (employee_id, first_name, last_name, department_id, job_title, hire_date)
    ON hr.employees TO kada_demo_analyst;
GRANT UPDATE (phone, marketing_opt_in) ON sales.customers TO kada_demo_alice;

-- Engineers maintain staging and may pass on read access to sales and inventory.
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA staging TO kada_demo_engineer;
GRANT SELECT ON ALL TABLES IN SCHEMA inventory TO kada_demo_engineer WITH GRANT OPTION;
GRANT SELECT, INSERT, UPDATE ON sales.orders TO kada_demo_engineer WITH GRANT OPTION;
GRANT INSERT ON analytics.daily_sales_snapshots TO kada_demo_engineer;

-- A grant made by a non-superuser (grantor kada_demo_engineer).
SET ROLE kada_demo_engineer;
GRANT SELECT ON sales.orders TO kada_demo_bob;
RESET ROLE;

-- Sequences.
GRANT USAGE, SELECT ON SEQUENCE sales.invoice_number_seq TO kada_demo_engineer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA staging TO kada_demo_etl;

-- Routines.
GRANT EXECUTE ON FUNCTION sales.order_total(bigint) TO kada_demo_analyst;
REVOKE EXECUTE ON FUNCTION staging.pull_orders_from_replica(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION staging.pull_orders_from_replica(timestamptz) TO kada_demo_etl;
GRANT EXECUTE ON PROCEDURE analytics.refresh_daily_sales_snapshot(date, date) TO kada_demo_engineer;

-- Default privileges for objects created later.
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics
    GRANT SELECT ON TABLES TO kada_demo_readonly;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics
    GRANT EXECUTE ON FUNCTIONS TO kada_demo_analyst;
ALTER DEFAULT PRIVILEGES FOR ROLE kada_demo_etl IN SCHEMA staging
    GRANT SELECT ON TABLES TO kada_demo_analyst;


-- =============================================================================
-- Data (deterministic: no random())
-- =============================================================================

INSERT INTO inventory.product_categories (name, description)
VALUES ('Apparel',   'Clothing for the outdoors'),
       ('Footwear',  'Boots, shoes and sandals'),
       ('Equipment', 'Camping and climbing gear');

INSERT INTO inventory.product_categories (name, parent_category_id, description)
SELECT v.name, parent.category_id, v.description
  FROM (VALUES (1, 'Jackets',      'Apparel',   'Insulated and waterproof jackets'),
               (2, 'Base layers',  'Apparel',   'Merino and synthetic base layers'),
               (3, 'Hiking boots', 'Footwear',  'Mid and high cut hiking boots'),
               (4, 'Tents',        'Equipment', 'Tents and shelters'),
               (5, 'Backpacks',    'Equipment', 'Day packs and multi-day packs')
       ) AS v(ord, name, parent_name, description)
  JOIN inventory.product_categories parent ON parent.name = v.parent_name
 ORDER BY v.ord;

INSERT INTO inventory.products (sku, name, category_id, unit_price, unit_cost, weight_kg, attributes, tags, discontinued)
SELECT 'SKU-' || lpad(i::text, 5, '0'),
       (ARRAY['Alpine', 'Summit', 'Trail', 'Ridge', 'Canyon', 'Glacier'])[1 + i % 6] || ' '
           || (ARRAY['Shell Jacket', 'Merino Tee', 'Hiking Boot', 'Dome Tent', 'Day Pack',
                     'Down Jacket', 'Thermal Leggings', 'Approach Shoe', 'Tarp', 'Trek Pack'])[1 + i % 10],
       (SELECT category_id FROM inventory.product_categories
         WHERE name = (ARRAY['Jackets', 'Base layers', 'Hiking boots', 'Tents', 'Backpacks'])[1 + i % 5]),
       round(19.95 + (i * 37 % 480) + 0.5, 2),
       round((19.95 + (i * 37 % 480) + 0.5) * 0.55, 2),
       round(0.2 + (i % 25) * 0.15, 3),
       jsonb_build_object(
           'colour',   (ARRAY['red', 'blue', 'green', 'black', 'orange'])[1 + i % 5],
           'size',     (ARRAY['S', 'M', 'L', 'XL'])[1 + i % 4],
           'material', (ARRAY['nylon', 'merino', 'leather', 'polyester'])[1 + i % 4],
           'waterproof', i % 3 = 0),
       CASE WHEN i % 7 = 0 THEN ARRAY['bestseller', 'gift'] WHEN i % 5 = 0 THEN ARRAY['new'] ELSE '{}' END,
       i % 23 = 0
  FROM generate_series(1, 60) AS i;

INSERT INTO inventory.warehouses (warehouse_code, name, location, capacity_m3, opened_on)
VALUES ('SYD', 'Sydney DC',    'Wetherill Park NSW', 12000.0, DATE '2016-03-01'),
       ('MEL', 'Melbourne DC', 'Truganina VIC',       9500.0, DATE '2018-08-15'),
       ('BNE', 'Brisbane DC',  'Crestmead QLD',       6000.0, DATE '2020-02-10'),
       ('AKL', 'Auckland DC',  'East Tamaki AKL',     4000.0, DATE '2022-11-01');

INSERT INTO inventory.stock_levels (warehouse_id, product_id, quantity_on_hand, reorder_point, bin_location, last_counted_at)
SELECT w.warehouse_id,
       p.product_id,
       (p.product_id * 17 + w.warehouse_id * 29) % 120,
       10 + (p.product_id % 4) * 5,
       w.warehouse_code || '-' || chr(65 + p.product_id % 6) || lpad((p.product_id % 40)::text, 2, '0'),
       TIMESTAMPTZ '2025-06-01 08:00:00+00' - (p.product_id % 30) * interval '1 day'
  FROM inventory.warehouses w
 CROSS JOIN inventory.products p;

INSERT INTO inventory.price_bands (band_code, label, price_range)
VALUES ('BUDGET',  'Under $50',     '[0,50)'),
       ('MID',     '$50 to $200',   '[50,200)'),
       ('PREMIUM', '$200 to $400',  '[200,400)'),
       ('LUXURY',  '$400 and over', '[400,)');

WITH places (idx, city, postal_code, country_code) AS (
    VALUES (0, 'Sydney', '2000', 'AU'), (1, 'Melbourne', '3000', 'AU'),
           (2, 'Brisbane', '4000', 'AU'), (3, 'Perth', '6000', 'AU'),
           (4, 'Auckland', '1010', 'NZ'), (5, 'Wellington', '6011', 'NZ'),
           (6, 'Singapore', '018956', 'SG'), (7, 'London', 'EC1A 1BB', 'GB')
), names AS (
    SELECT ARRAY['Olivia', 'Noah', 'Charlotte', 'Jack', 'Amelia', 'William', 'Isla', 'Oliver',
                 'Mia', 'Leo', 'Ava', 'Henry', 'Grace', 'Lucas', 'Chloe', 'Thomas'] AS first_names,
           ARRAY['Smith', 'Jones', 'Williams', 'Brown', 'Wilson', 'Taylor', 'Nguyen', 'Johnson',
                 'Martin', 'White', 'Anderson', 'Walker', 'Thompson', 'Harris', 'Lee', 'Ryan',
                 'Kelly', 'King', 'Chen', 'Patel'] AS last_names
)
INSERT INTO sales.customers (customer_code, first_name, last_name, email, phone, billing_address,
                             segment, marketing_opt_in, external_ref, tags, created_at)
SELECT 'C' || lpad(i::text, 5, '0'),
       n.first_names[1 + i % 16],
       n.last_names[1 + (i * 7) % 20],
       lower(n.first_names[1 + i % 16] || '.' || n.last_names[1 + (i * 7) % 20] || i || '@example.com'),
       CASE WHEN i % 9 = 0 THEN NULL ELSE '+61 4' || lpad(((i * 7919) % 100000000)::text, 8, '0') END,
       ROW(i || ' ' || (ARRAY['George St', 'Collins St', 'Queen St', 'High St'])[1 + i % 4],
           pl.city, pl.postal_code, pl.country_code)::sales.postal_address,
       CASE WHEN i % 10 = 0 THEN 'enterprise' WHEN i % 4 = 0 THEN 'wholesale' ELSE 'retail' END,
       i % 3 <> 0,
       md5('customer-' || i)::uuid,
       CASE WHEN i % 11 = 0 THEN ARRAY['vip'] ELSE '{}' END,
       TIMESTAMPTZ '2022-01-01 00:00:00+00' + (i * 4) * interval '1 day'
  FROM generate_series(1, 150) AS i
 CROSS JOIN names n
  JOIN places pl ON pl.idx = i % 8;

INSERT INTO sales.orders (customer_id, status, order_date, ordered_at, shipped_at, shipping_address,
                          channel, currency, notes, metadata)
SELECT g.customer_id,
       g.status,
       (g.ordered_at AT TIME ZONE 'UTC')::date,
       g.ordered_at,
       CASE WHEN g.status IN ('shipped', 'delivered', 'refunded') THEN g.ordered_at + interval '2 days' END,
       c.billing_address,
       (ARRAY['web', 'web', 'phone', 'marketplace'])[1 + g.i % 4],
       CASE WHEN (c.billing_address).country_code = 'NZ' THEN 'NZD' ELSE 'AUD' END,
       CASE WHEN g.i % 13 = 0 THEN 'Leave at the front door' END,
       jsonb_build_object('campaign', (ARRAY['spring', 'eofy', 'black_friday', 'none'])[1 + g.i % 4],
                          'device', (ARRAY['mobile', 'desktop', 'tablet'])[1 + g.i % 3])
  FROM (
        SELECT s.i,
               s.customer_id,
               s.ordered_at,
               (CASE
                    WHEN s.i % 19 = 0 THEN 'cancelled'
                    WHEN s.i % 29 = 0 AND s.ordered_at < TIMESTAMPTZ '2025-05-01 00:00:00+00' THEN 'refunded'
                    WHEN s.ordered_at < TIMESTAMPTZ '2025-05-01 00:00:00+00' THEN 'delivered'
                    WHEN s.ordered_at < TIMESTAMPTZ '2025-06-01 00:00:00+00' THEN 'shipped'
                    WHEN s.ordered_at < TIMESTAMPTZ '2025-06-20 00:00:00+00' THEN 'paid'
                    ELSE 'pending'
                END)::sales.order_status AS status
          FROM (
                SELECT i,
                       1 + (i * 37) % 150 AS customer_id,
                       TIMESTAMPTZ '2023-10-01 00:00:00+00'
                           + ((i * 7919) % 640) * interval '1 day'
                           + (8 + i % 12) * interval '1 hour' AS ordered_at
                  FROM generate_series(1, 400) AS i
               ) s
       ) g
  JOIN sales.customers c ON c.customer_id = g.customer_id
 ORDER BY g.ordered_at;

INSERT INTO sales.order_lines (order_id, line_no, product_id, quantity, unit_price, discount_pct)
SELECT o.order_id,
       l.line_no,
       p.product_id,
       1 + ((o.order_id + l.line_no) % 5)::int,
       p.unit_price,
       CASE WHEN (o.order_id + l.line_no) % 7 = 0 THEN 10
            WHEN (o.order_id + l.line_no) % 5 = 0 THEN 5
            ELSE 0 END
  FROM sales.orders o
 CROSS JOIN LATERAL generate_series(1, 1 + (o.order_id % 4)::int) AS l(line_no)
  JOIN inventory.products p ON p.product_id = 1 + ((o.order_id * 13 + l.line_no * 7) % 60)::int;

INSERT INTO sales.order_allocations (order_id, line_no, warehouse_id, product_id, quantity, allocated_at)
SELECT ol.order_id, ol.line_no, 1 + (ol.order_id % 4)::int, ol.product_id, ol.quantity,
       o.ordered_at + interval '4 hours'
  FROM sales.order_lines ol
  JOIN sales.orders o ON o.order_id = ol.order_id
 WHERE o.status IN ('shipped', 'delivered', 'refunded');

INSERT INTO sales.payments (order_id, paid_at, amount, method)
SELECT o.order_id,
       o.ordered_at + interval '3 hours',
       sales.order_total(o.order_id),
       (ARRAY['card', 'card', 'paypal', 'bank_transfer'])[1 + (o.order_id % 4)::int]
  FROM sales.orders o
 WHERE o.status NOT IN ('pending', 'cancelled')
 ORDER BY o.order_id;

INSERT INTO sales.invoices (order_id, issued_at, due_date, amount_due, tax_amount)
SELECT o.order_id,
       o.shipped_at,
       (o.shipped_at AT TIME ZONE 'UTC')::date + 30,
       inventory.price_with_tax(sales.order_total(o.order_id)),
       inventory.price_with_tax(sales.order_total(o.order_id)) - sales.order_total(o.order_id)
  FROM sales.orders o
 WHERE o.status IN ('delivered', 'refunded')
 ORDER BY o.order_id;

-- Exercises the BEFORE ROW and AFTER STATEMENT triggers.
UPDATE sales.customers SET marketing_opt_in = NOT marketing_opt_in WHERE customer_id % 25 = 0;
UPDATE sales.orders SET notes = 'Customer asked for gift wrapping' WHERE order_id % 50 = 0;

INSERT INTO inventory.stock_movements (movement_type, warehouse_id, product_id, quantity, moved_at, reference)
SELECT 'receipt', s.warehouse_id, s.product_id, s.quantity_on_hand + 50,
       TIMESTAMPTZ '2023-09-15 06:00:00+00', 'PO-' || (1000 + s.product_id)
  FROM inventory.stock_levels s
UNION ALL
SELECT 'shipment', a.warehouse_id, a.product_id, -a.quantity, a.allocated_at, 'ORD-' || a.order_id
  FROM sales.order_allocations a
UNION ALL
SELECT CASE WHEN s.product_id % 2 = 0 THEN 'adjustment' ELSE 'write_off' END,
       s.warehouse_id, s.product_id, CASE WHEN s.product_id % 2 = 0 THEN 2 ELSE -1 END,
       s.last_counted_at, 'Stocktake'
  FROM inventory.stock_levels s
 WHERE (s.warehouse_id + s.product_id) % 17 = 0;

UPDATE inventory.products SET discontinued = true, tags = tags || ARRAY['clearance'] WHERE product_id = 60;

INSERT INTO hr.departments (department_code, name, parent_department_id, cost_center)
VALUES ('EXEC',  'Executive',          NULL, 'CC-100'),
       ('SALES', 'Sales',              1,    'CC-200'),
       ('CX',    'Customer Service',   2,    'CC-210'),
       ('OPS',   'Operations',         1,    'CC-300'),
       ('WHS',   'Warehousing',        4,    'CC-310'),
       ('FIN',   'Finance',            1,    'CC-400'),
       ('PEOPLE','People and Culture', 1,    'CC-500'),
       ('DATA',  'Data and Analytics', 1,    'CC-600');

WITH names AS (
    SELECT ARRAY['Sophie', 'James', 'Emily', 'Daniel', 'Hannah', 'Samuel', 'Zoe', 'Ethan',
                 'Ruby', 'Max', 'Ella', 'Harry', 'Lily', 'Oscar'] AS first_names,
           ARRAY['Campbell', 'Stewart', 'Murray', 'Robinson', 'Clarke', 'Wright', 'Mitchell',
                 'Young', 'Hall', 'Allen', 'Scott', 'Green', 'Baker'] AS last_names,
           ARRAY['Chief Executive Officer', 'Account Manager', 'Support Specialist',
                 'Operations Manager', 'Warehouse Lead', 'Financial Analyst', 'HR Advisor',
                 'Data Engineer'] AS titles
)
INSERT INTO hr.employees (employee_number, first_name, last_name, work_email, department_id, job_title,
                          hire_date, termination_date, salary, home_address, skills)
SELECT 'E' || lpad(i::text, 4, '0'),
       n.first_names[1 + i % 14],
       n.last_names[1 + (i * 5) % 13],
       lower(n.first_names[1 + i % 14] || '.' || n.last_names[1 + (i * 5) % 13] || i || '@kada-outfitters.example'),
       d.dept,
       n.titles[d.dept],
       DATE '2015-02-01' + (i * 97) % 3500,
       CASE WHEN i % 12 = 0 THEN DATE '2015-02-01' + (i * 97) % 3500 + 400 END,
       CASE WHEN i = 1 THEN 320000 ELSE 62000 + (i * 1373) % 70000 END,
       ROW(i || ' Example Rd', 'Sydney', '2000', 'AU')::sales.postal_address,
       CASE d.dept WHEN 8 THEN ARRAY['sql', 'python', 'dbt'] WHEN 6 THEN ARRAY['excel', 'sql'] ELSE '{}' END
  FROM generate_series(1, 40) AS i
 CROSS JOIN names n
 CROSS JOIN LATERAL (SELECT CASE WHEN i = 1 THEN 1 ELSE 2 + i % 7 END AS dept) d
 ORDER BY i;

UPDATE hr.employees
   SET manager_id = CASE WHEN employee_id BETWEEN 2 AND 8 THEN 1 ELSE 2 + employee_id % 7 END
 WHERE employee_id > 1;

INSERT INTO hr.contractors (employee_number, first_name, last_name, work_email, department_id, manager_id,
                            job_title, hire_date, salary, agency_name, contract_end, hourly_rate)
SELECT 'K' || lpad(i::text, 4, '0'),
       (ARRAY['Aria', 'Kai', 'Nina', 'Theo', 'Maya', 'Eli'])[i],
       (ARRAY['Fraser', 'Ngata', 'Rossi', 'Dubois', 'Singh', 'Kowalski'])[i],
       'contractor' || i || '@kada-outfitters.example',
       CASE WHEN i % 2 = 0 THEN 8 ELSE 5 END,
       CASE WHEN i % 2 = 0 THEN 8 ELSE 5 END,
       CASE WHEN i % 2 = 0 THEN 'Contract Data Engineer' ELSE 'Casual Picker' END,
       DATE '2024-07-01' + i * 14,
       CASE WHEN i % 2 = 0 THEN 150000 ELSE 55000 END,
       (ARRAY['Hays', 'Randstad', 'Adecco'])[1 + i % 3],
       DATE '2025-12-31',
       CASE WHEN i % 2 = 0 THEN 95.00 ELSE 34.50 END
  FROM generate_series(1, 6) AS i;

INSERT INTO staging.load_batches (source_system, started_at, finished_at, row_count, status)
SELECT (ARRAY['shopify', 'marketplace'])[1 + i % 2],
       TIMESTAMPTZ '2025-06-01 01:00:00+00' + i * interval '1 day',
       CASE WHEN i < 12 THEN TIMESTAMPTZ '2025-06-01 01:07:00+00' + i * interval '1 day' END,
       CASE WHEN i < 12 THEN 5 * i END,
       CASE WHEN i = 12 THEN 'running' WHEN i % 5 = 0 THEN 'failed' ELSE 'succeeded' END
  FROM generate_series(1, 12) AS i;

INSERT INTO staging.raw_order_import (batch_id, source_system, source_ip, payload, received_at)
SELECT 1 + i % 11,
       (ARRAY['shopify', 'marketplace'])[1 + i % 2],
       ('10.20.' || (i % 4) || '.' || (10 + i))::inet,
       jsonb_build_object('external_order_id', 'EXT-' || (90000 + i),
                          'customer_email', 'guest' || i || '@example.com',
                          'lines', jsonb_build_array(jsonb_build_object('sku', 'SKU-' || lpad((1 + i % 60)::text, 5, '0'),
                                                                        'qty', 1 + i % 3))),
       TIMESTAMPTZ '2025-06-10 02:00:00+00' + i * interval '5 minutes'
  FROM generate_series(1, 60) AS i;

CALL analytics.refresh_daily_sales_snapshot(DATE '2023-10-01', DATE '2025-07-31');

REFRESH MATERIALIZED VIEW analytics.mv_daily_sales;

-- Planner statistics, so that row estimates (reltuples) exist.
ANALYZE;
