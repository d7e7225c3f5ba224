"""A synthetic catalog of a chosen scale, built server-side and cached between runs.

Scale 1 is a large warehouse: 50 schemas, each with 400 tables (4 of them partitioned, with 4
partitions each) of 20 columns, 80 views (some joins, some views over views), 16 materialized
views, 40 functions (SQL, PL/pgSQL, overloads, procedures, an aggregate, a trigger function),
foreign keys, unique and check constraints, secondary indexes, identity sequences, triggers,
enum/composite/domain types, comments and grants. That is 20,000 tables and 430,000 columns
(those of views included).
Scale 0.1 is one tenth (5 schemas); below 0.02 a single schema is made smaller still.

Each schema is one DO block: the DDL is composed on the server with format(), not sent statement
by statement, and committed every few dozen tables so the lock table never fills. Schemas are built
on several connections at once. The database is named after the scale and carries a comment
naming the generator's version and scale: a later run finds it and reuses it.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import psycopg
from psycopg import sql

# Bump when the generated catalog changes, so cached databases are rebuilt.
GENERATOR_VERSION = 1
FULL_SCHEMAS = 50
# A schema at full size; smaller scales shrink the number of schemas first.
FULL_SCHEMA = {"tables": 400, "columns": 20, "views": 80, "matviews": 16, "functions": 40,
               "partitioned": 4, "partitions": 4}
# Tables committed per transaction while building a schema: bounds the locks held at once.
TABLES_PER_COMMIT = 25


@dataclass(frozen=True)
class CatalogShape:
    scale: float
    schemas: int
    tables: int  # per schema, partitioned parents and their partitions included
    columns: int
    views: int
    matviews: int
    functions: int
    partitioned: int
    partitions: int

    @classmethod
    def for_scale(cls, scale):
        schemas = max(1, round(FULL_SCHEMAS * scale))
        # Below one full schema, shrink the schema itself (the smoke test's tiny scales).
        shrink = min(1.0, FULL_SCHEMAS * scale / schemas)
        sized = {k: max(1, round(v * shrink)) for k, v in FULL_SCHEMA.items()}
        sized["columns"] = FULL_SCHEMA["columns"]
        sized["partitions"] = FULL_SCHEMA["partitions"]
        sized["partitioned"] = min(sized["partitioned"], sized["tables"] // (2 * (1 + sized["partitions"])))
        # A float whoever calls: the marker names it, and 5 and 5.0 are one catalog.
        return cls(scale=float(scale), schemas=schemas, **sized)

    @property
    def database(self):
        return "kada_bench_" + f"{self.scale:g}".replace(".", "_").replace("-", "_")

    @property
    def marker(self):
        """The database comment that identifies a complete catalog of this shape."""
        return f"kada-collector benchmark catalog v{GENERATOR_VERSION}: " + ", ".join(
            f"{k}={v}" for k, v in asdict(self).items())

    def totals(self):
        return {"schemas": self.schemas, "tables": self.schemas * self.tables,
                "columns": self.schemas * self.tables * self.columns,
                "views": self.schemas * self.views, "materialized_views": self.schemas * self.matviews,
                "functions": self.schemas * self.functions}


def ensure_catalog(admin_dsn, dsn_for, shape, jobs, log=print):
    """Make sure database ``shape.database`` holds the catalog; return what was done and how long.

    ``admin_dsn`` connects to a maintenance database (CREATE DATABASE needs it); ``dsn_for(db)``
    gives the conninfo of another database.
    """
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        found = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (shape.database,)).fetchone()
        if found and found[0] == shape.marker:
            log(f"reusing database {shape.database} (same scale marker)")
            return {"reused": True, "seconds": 0.0, "vacuum_analyze_seconds": 0.0}
        # Absent, from another generator version, or left half-built by an interrupted run.
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(shape.database)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(shape.database)))

    log(f"generating {shape.database}: {shape.schemas} schema(s) x {shape.tables} tables x {shape.columns} columns "
        f"on {jobs} connection(s) ...")
    started = time.monotonic()
    dsn = dsn_for(shape.database)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        # list() re-raises the first failure.
        list(pool.map(lambda s: _build_schema(dsn, shape, s), range(1, shape.schemas + 1)))
    built = time.monotonic() - started

    # pg_stat_statements lets a run count the statements an extraction sends. Where the server does
    # not ship it, or the role may not create it, the benchmark counts them itself.
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except psycopg.Error:
            pass

    # Fresh statistics on the system catalogs, as autovacuum would give a settled database, and
    # nothing left for autovacuum to do while we measure. The (empty) user tables are not analysed.
    started = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute("SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = "
                              "'pg_catalog'::regnamespace AND c.relkind = 'r'").fetchall()
        for (table,) in tables:
            conn.execute(f"VACUUM (ANALYZE) {table}")
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(shape.database),
                                                                     sql.Literal(shape.marker)))
    vacuumed = time.monotonic() - started
    log(f"generated in {built:.1f}s, catalogs vacuumed and analysed in {vacuumed:.1f}s")
    return {"reused": False, "seconds": round(built, 3), "vacuum_analyze_seconds": round(vacuumed, 3)}


def catalog_counts(dsn):
    """What the database actually holds, counted from the catalogs."""
    query = """
    SELECT count(*) FILTER (WHERE c.relkind IN ('r', 'p')),
           count(*) FILTER (WHERE c.relkind = 'v'),
           count(*) FILTER (WHERE c.relkind = 'm'),
           count(*) FILTER (WHERE c.relkind IN ('i', 'I')),
           count(*) FILTER (WHERE c.relkind = 'S'),
           (SELECT count(*) FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
             JOIN pg_namespace rn ON rn.oid = r.relnamespace
             WHERE rn.nspname LIKE 's%' AND r.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0),
           (SELECT count(*) FROM pg_proc p JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE pn.nspname LIKE 's%'),
           (SELECT count(*) FROM pg_constraint WHERE contype = 'f'),
           (SELECT count(*) FROM pg_class)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 's%'
    """
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    keys = ("tables", "views", "materialized_views", "indexes", "sequences", "columns", "functions",
            "foreign_keys", "pg_class_rows")
    return dict(zip(keys, row))


def _build_schema(dsn, shape, number):
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Thousands of small commits: do not wait for each to reach the disk.
        conn.execute("SET synchronous_commit = off")
        conn.execute(_schema_ddl(shape, f"s{number:03d}", number))


def _schema_ddl(shape, schema, number):
    """One DO block building ``schema``; it commits as it goes (a top-level DO may)."""
    regular = shape.tables - shape.partitioned * (1 + shape.partitions)
    values = {"schema": schema, "regular": regular, "columns": shape.columns, "views": shape.views,
              "matviews": shape.matviews, "functions": shape.functions, "partitioned": shape.partitioned,
              "partitions": shape.partitions, "per_commit": TABLES_PER_COMMIT, "public": number % 2}
    body = _DO_BLOCK
    for key, value in values.items():
        body = body.replace("{" + key + "}", str(value))
    return "DO $build$\n" + body + "\n$build$"


# Placeholders {name} are filled in by _schema_ddl with integers and the schema name.
_DO_BLOCK = r"""
DECLARE
    s text := '{schema}';
    types text[] := ARRAY['integer', 'text', 'varchar(64)', 'numeric(12,2)', 'timestamptz', 'date', 'boolean',
                          'jsonb', 'uuid', 'double precision', 'bigint', 'smallint', '{schema}.status_t',
                          '{schema}.email_d', 'text[]', 'inet', 'bytea', 'interval', 'time', 'char(2)'];
    cols text;
    t text;
    fn text;
    n_types int := array_length(types, 1);
BEGIN
    EXECUTE format('CREATE SCHEMA %I', s);
    EXECUTE format('COMMENT ON SCHEMA %I IS %L', s, 'Synthetic subject area ' || s);
    EXECUTE format($$CREATE TYPE %I.status_t AS ENUM ('new', 'active', 'closed')$$, s);
    EXECUTE format('CREATE TYPE %I.address_t AS (street text, city text, postcode varchar(10))', s);
    EXECUTE format($$CREATE DOMAIN %I.email_d AS text CHECK (VALUE ~ '@')$$, s);
    EXECUTE format('CREATE SEQUENCE %I.ticket_seq START 1000', s);
    EXECUTE format($$CREATE FUNCTION %I.touch() RETURNS trigger LANGUAGE plpgsql AS
                     'BEGIN NEW.c06 := now(); RETURN NEW; END'$$, s);

    -- Tables: an id, a foreign key to the previous table on every 4th, then typed columns.
    FOR i IN 0 .. {regular} - 1 LOOP
        t := format('t%s', lpad(i::text, 4, '0'));
        cols := CASE WHEN i % 4 = 1 THEN 'id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY'
                     ELSE 'id bigint PRIMARY KEY' END;
        IF i % 4 = 0 AND i > 0 THEN
            cols := cols || format(', parent_id bigint REFERENCES %I.%I (id)', s, format('t%s', lpad((i - 1)::text, 4, '0')));
        END IF;
        FOR j IN 2 .. {columns} - (CASE WHEN i % 4 = 0 AND i > 0 THEN 1 ELSE 0 END) LOOP
            cols := cols || format(', c%s %s', lpad(j::text, 2, '0'), types[1 + (i + j) % n_types])
                         || CASE WHEN j = 2 THEN ' NOT NULL' ELSE '' END
                         || CASE WHEN j = 6 AND types[1 + (i + j) % n_types] = 'timestamptz' THEN ' DEFAULT now()'
                                 WHEN j = 5 AND types[1 + (i + j) % n_types] = 'integer' THEN ' DEFAULT 0'
                                 ELSE '' END;
        END LOOP;
        EXECUTE format('CREATE TABLE %I.%I (%s)', s, t, cols);
        EXECUTE format('COMMENT ON TABLE %I.%I IS %L', s, t, 'Synthetic table ' || t || ' of ' || s);
        EXECUTE format('COMMENT ON COLUMN %I.%I.c03 IS %L', s, t, 'Business meaning of c03 in ' || t);
        IF i % 3 = 0 THEN EXECUTE format('CREATE INDEX ON %I.%I (c03)', s, t); END IF;
        IF i % 5 = 0 THEN EXECUTE format('ALTER TABLE %I.%I ADD UNIQUE (c04)', s, t); END IF;
        IF i % 7 = 0 THEN EXECUTE format('ALTER TABLE %I.%I ADD CHECK (c02 IS NOT NULL)', s, t); END IF;
        IF i % 40 = 7 THEN
            EXECUTE format('CREATE TRIGGER touch BEFORE UPDATE ON %I.%I FOR EACH ROW EXECUTE FUNCTION %I.touch()', s, t, s);
        END IF;
        IF i % {per_commit} = {per_commit} - 1 THEN COMMIT; END IF;
    END LOOP;
    COMMIT;

    -- Partitioned tables, by year, with their partitions (which count as tables).
    FOR i IN 0 .. {partitioned} - 1 LOOP
        t := format('p%s', lpad(i::text, 2, '0'));
        cols := 'id bigint NOT NULL, created date NOT NULL';
        FOR j IN 3 .. {columns} LOOP
            cols := cols || format(', c%s %s', lpad(j::text, 2, '0'), types[1 + (i + j) % n_types]);
        END LOOP;
        EXECUTE format('CREATE TABLE %I.%I (%s, PRIMARY KEY (id, created)) PARTITION BY RANGE (created)', s, t, cols);
        EXECUTE format('COMMENT ON TABLE %I.%I IS %L', s, t, 'Synthetic partitioned table ' || t);
        FOR k IN 0 .. {partitions} - 1 LOOP
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                           s, t || '_y' || (2020 + k), s, t, make_date(2020 + k, 1, 1), make_date(2021 + k, 1, 1));
        END LOOP;
        COMMIT;
    END LOOP;

    -- Views: simple projections, joins of two tables, and every 10th a view over the previous view.
    FOR i IN 0 .. {views} - 1 LOOP
        t := format('v%s', lpad(i::text, 3, '0'));
        IF i % 10 = 9 THEN
            EXECUTE format('CREATE VIEW %I.%I AS SELECT * FROM %I.%I WHERE id > 10', s, t, s, format('v%s', lpad((i - 1)::text, 3, '0')));
        ELSIF i % 3 = 0 THEN
            EXECUTE format('CREATE VIEW %I.%I WITH (security_barrier) AS SELECT a.id, a.c02, a.c03, b.c04 AS other_c04, b.c05 AS other_c05 '
                           'FROM %I.%I a JOIN %I.%I b ON b.id = a.id WHERE a.id > 0',
                           s, t, s, format('t%s', lpad(((i * 4) % {regular})::text, 4, '0')),
                           s, format('t%s', lpad(((i * 4 + 1) % {regular})::text, 4, '0')));
        ELSE
            EXECUTE format('CREATE VIEW %I.%I AS SELECT id, c02, c03, c04, c05, c06, c07, c08 FROM %I.%I WHERE id > 0',
                           s, t, s, format('t%s', lpad(((i * 4 + 2) % {regular})::text, 4, '0')));
        END IF;
        EXECUTE format('COMMENT ON VIEW %I.%I IS %L', s, t, 'Synthetic view ' || t);
    END LOOP;
    FOR i IN 0 .. {matviews} - 1 LOOP
        EXECUTE format('CREATE MATERIALIZED VIEW %I.%I AS SELECT c02, count(*) AS n, max(id) AS max_id FROM %I.%I GROUP BY c02',
                       s, format('m%s', lpad(i::text, 2, '0')), s, format('t%s', lpad(((i * 7 + 3) % {regular})::text, 4, '0')));
    END LOOP;
    COMMIT;

    -- Functions: SQL, PL/pgSQL (one holding a connection string), overloads, procedures, one aggregate.
    FOR i IN 0 .. {functions} - 3 LOOP
        fn := format('f%s', lpad((CASE WHEN i % 4 = 2 THEN i - 1 ELSE i END)::text, 2, '0'));
        t := format('t%s', lpad((i % {regular})::text, 4, '0'));
        CASE i % 4
        WHEN 0 THEN
            EXECUTE format('CREATE FUNCTION %I.%I(p bigint) RETURNS bigint LANGUAGE sql STABLE AS '
                           '$f$ SELECT count(*) FROM %I.%I WHERE id > p $f$', s, fn, s, t);
        WHEN 1 THEN
            EXECUTE format('CREATE FUNCTION %I.%I(p bigint) RETURNS SETOF %I.%I LANGUAGE plpgsql STABLE AS '
                           '$f$ BEGIN RETURN QUERY SELECT * FROM %I.%I WHERE id = p; END $f$', s, fn, s, t, s, t);
        WHEN 2 THEN  -- an overload of the previous function
            EXECUTE format('CREATE FUNCTION %I.%I(p bigint, q bigint) RETURNS SETOF %I.%I LANGUAGE plpgsql STABLE AS '
                           '$f$ BEGIN RETURN QUERY SELECT * FROM %I.%I WHERE id BETWEEN p AND q; END $f$', s, fn, s, t, s, t);
        ELSE
            EXECUTE format('CREATE PROCEDURE %I.%I(p bigint) LANGUAGE plpgsql AS '
                           '$f$ DECLARE conn text := %L; BEGIN RAISE NOTICE %L, p; END $f$',
                           s, fn, 'host=replica dbname=dwh user=etl password=not-a-real-secret', 'refresh %');
        END CASE;
    END LOOP;
    EXECUTE format('CREATE AGGREGATE %I.total(bigint) (SFUNC = int8pl, STYPE = bigint, INITCOND = %L)', s, '0');

    IF {public} = 1 THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO PUBLIC', s);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO PUBLIC', s);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO PUBLIC', s);
    END IF;
END
"""


class CommentChange:
    """What a user does between two scheduled runs: new comments on ``count`` tables (the first by
    OID), each unique to this change, so the next run has exactly ``count`` objects ALTERED.
    As a context manager it puts the old comments back when it ends, whether applied or not."""

    def __init__(self, dsn, count):
        self.dsn, self.count, self._old = dsn, count, []
        self.applied = 0  # the tables whose comment changed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._old:
            self._comment(self._old)
            self._old = []

    def apply(self):
        with psycopg.connect(self.dsn) as conn:
            self._old = conn.execute(
                "SELECT c.oid::regclass::text, obj_description(c.oid, 'pg_class') FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 's%%' AND c.relkind = 'r' "
                "ORDER BY c.oid LIMIT %s", (self.count,)).fetchall()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._comment([(table, f"{comment or ''} (changed {stamp})") for table, comment in self._old])
        self.applied = len(self._old)

    def _comment(self, comments):
        with psycopg.connect(self.dsn) as conn, conn.transaction():
            for table, comment in comments:
                conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(sql.SQL(table), sql.Literal(comment)))
