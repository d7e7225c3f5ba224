"""Secrets planted wherever a user can write text in a PostgreSQL database, in many syntaxes, and
ordinary text that must come through unchanged: the corpus behind tests/test_secrets.py and
benchmarks/safety_secrets.py.

Each planted secret is a distinct value, so that finding it anywhere in what the collector wrote
is a leak. ``build(count)`` spreads ``count`` secrets over the places (views, functions, comments
on every kind of object, defaults, options...) with a different syntax for each in turn.
"""

import base64
import contextlib
import json
from dataclasses import dataclass
from typing import Callable, Optional

SCHEMA = "vault"
# A foreign-data wrapper without a validator accepts any option, as a real one's would a password.
WRAPPER = "kada_free_fdw"


def literal(text: str) -> str:
    """``text`` as an SQL string literal (standard_conforming_strings)."""
    return "'" + text.replace("'", "''") + "'"


def _b64url(document: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def _token(n: int, length: int, alphabet: str = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") -> str:
    """A distinct, random-looking string of ``length`` characters for secret number ``n``."""
    out, state = [], n * 7919 + 104729
    while len(out) < length:
        state = (state * 1103515245 + 12345) % (1 << 31)
        out.append(alphabet[state % len(alphabet)])
    return f"Zq{n:04d}" + "".join(out)[: length - 6]


# -- how a secret is written: (name, text with the secret, the secret) ------------------------------
def _keyword(name: str, template: str) -> Callable[[int], tuple]:
    def make(n: int) -> tuple:
        value = _token(n, 14)
        return name, template.format(v=value), value
    return make


def _shape(name: str, make_value: Callable[[int], str], template: str = "{v}") -> Callable[[int], tuple]:
    def make(n: int) -> tuple:
        value = make_value(n)
        return name, template.format(v=value), value
    return make


def _jwt(n: int) -> str:
    return ".".join((_b64url({"alg": "HS256", "typ": "JWT"}), _b64url({"sub": f"user{n}", "n": n}), _token(n, 43)))


def _private_key(n: int) -> str:
    return _token(n, 64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


SYNTAXES = (
    _keyword("conninfo", "host=db.internal port=5432 password={v} dbname=app"),
    _keyword("conninfo quoted", "host=db.internal password='{v}' user=app"),
    _keyword("env DB_PASSWORD", "DB_PASSWORD={v}"),
    _keyword("env AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY={v}"),
    _keyword("env PGPASSWORD", "PGPASSWORD={v} psql -h db.internal"),
    _keyword("env API key", "export APP_API_KEY={v}"),
    _keyword("yaml", "password: {v}"),
    _keyword("json", '{{"password": "{v}", "user": "app"}}'),
    _keyword("json compact", '{{"client_secret":"{v}"}}'),
    _keyword("spaced double quotes", 'api_key = "{v}"'),
    _keyword("arrow", "'db_password' => '{v}'"),
    _keyword("plpgsql assignment", "v_password := '{v}';"),
    _keyword("declaration", "db_password text := '{v}';"),
    _keyword("role password", "ALTER ROLE app PASSWORD '{v}'"),
    _keyword("dynamic SQL", "EXECUTE 'ALTER ROLE app PASSWORD ''{v}''';"),
    _keyword("options", "OPTIONS (user 'app', password '{v}')"),
    _keyword("access token", "access_token={v}"),
    _keyword("auth token colon", "AUTH_TOKEN: {v}"),
    _keyword("identified by", "CREATE USER app IDENTIFIED BY '{v}'"),
    _keyword("encrypted password", "CREATE ROLE app LOGIN ENCRYPTED PASSWORD '{v}'"),
    _keyword("ado", "Server=db;User Id=app;Password={v};"),
    _keyword("properties", "spring.datasource.password={v}"),
    _keyword("secret bare", "secret={v}"),
    _keyword("sslpassword", "sslmode=verify-full sslpassword={v}"),
    _keyword("uri", "postgresql://app_user:{v}@db.internal:5432/app"),
    _keyword("uri without user", "https://:{v}@files.example.com/export"),
    _keyword("sas sig", "https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sig={v}&se=2030-01-01"),
    _keyword("bearer", "Authorization: Bearer {v}Yz8pQ"),
    _shape("AWS access key id", lambda n: "AKIA" + _token(n, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567").upper(),
           "aws key {v} in use"),
    _shape("AWS session key id", lambda n: "ASIA" + _token(n, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567").upper()),
    _shape("GitHub token", lambda n: "ghp_" + _token(n, 36)),
    _shape("GitLab token", lambda n: "glpat-" + _token(n, 20)),
    _shape("Slack token", lambda n: f"xoxb-{100000 + n}-{200000 + n}-" + _token(n, 24).lower()),
    _shape("Stripe key", lambda n: "sk_live_" + _token(n, 24)),
    _shape("JWT", _jwt),
    _shape("Azure account key", lambda n: _token(n, 86) + "==",
           "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={v};EndpointSuffix=core.windows.net"),
    _shape("private key", _private_key,
           "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA{v}\n-----END RSA PRIVATE KEY-----"),
    _shape("Slack webhook", lambda n: f"https://hooks.slack.com/services/T{n:08d}/B{n:08d}/" + _token(n, 24)),
)


# -- where it is written ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Place:
    """A place for text: ``sql(i, text)`` creates object ``i`` holding ``text``. ``field`` is the
    column of the extract row the text lands in (None: the collector does not extract it),
    ``row(i)`` how that row's OBJECT_ID ends (before any argument list or child), ``kind`` its
    OBJECT_TYPE when the id says too little."""

    name: str
    sql: Callable[[int, str], str]
    field: Optional[str]
    row: Callable[[int], str] = lambda i: ""
    kind: Optional[str] = None


def _named(prefix: str) -> Callable[[int], str]:
    return lambda i: f".{prefix}{i}"


S = SCHEMA
PLACES = (
    Place("view", lambda i, t: f"CREATE VIEW {S}.v{i} AS SELECT {literal(t)}::text AS note", "DEFINITION", _named("v")),
    Place("materialized view", lambda i, t: f"CREATE MATERIALIZED VIEW {S}.mv{i} AS SELECT {literal(t)}::text AS note",
          "DEFINITION", _named("mv")),
    Place("SQL function", lambda i, t: f"CREATE FUNCTION {S}.fs{i}() RETURNS text LANGUAGE sql AS "
          f"$b$ SELECT {literal(t)}::text $b$", "DEFINITION", _named("fs")),
    Place("PL/pgSQL comment", lambda i, t: f"CREATE FUNCTION {S}.fp{i}() RETURNS int LANGUAGE plpgsql AS $b$\nBEGIN\n"
          + "".join(f"  -- {line}\n" for line in t.split("\n")) + "  RETURN 1;\nEND $b$", "DEFINITION", _named("fp")),
    Place("PL/pgSQL code", lambda i, t: f"CREATE FUNCTION {S}.fc{i}() RETURNS text LANGUAGE plpgsql AS $b$\nDECLARE\n"
          f"  v_note text := {literal(t)};\nBEGIN\n  RETURN v_note;\nEND $b$", "DEFINITION", _named("fc")),
    Place("procedure", lambda i, t: f"CREATE PROCEDURE {S}.pr{i}() LANGUAGE plpgsql AS $b$\nBEGIN\n  /* {t} */\n"
          "  PERFORM 1;\nEND $b$", "DEFINITION", _named("pr")),
    Place("trigger", lambda i, t: f"CREATE TRIGGER tg{i} BEFORE INSERT ON {S}.base FOR EACH ROW EXECUTE FUNCTION "
          f"{S}.noop_trigger({literal(t)})", "DEFINITION", _named("tg")),
    Place("policy", lambda i, t: f"CREATE POLICY pol{i} ON {S}.base USING (note <> {literal(t)})", None),
    Place("column default", lambda i, t: f"CREATE TABLE {S}.cd{i} (id int, note text DEFAULT {literal(t)})",
          "DEFAULT_VALUE", lambda i: f".cd{i}.note"),
    Place("generated column", lambda i, t: f"CREATE TABLE {S}.gc{i} (a text, note text GENERATED ALWAYS AS "
          f"(a || {literal(t)}) STORED)", "DEFINITION", lambda i: f".gc{i}.note"),
    Place("check constraint", lambda i, t: f"CREATE TABLE {S}.ck{i} (a text CONSTRAINT ck{i}_a CHECK (a <> {literal(t)}))",
          "DEFINITION", lambda i: f".ck{i}.ck{i}_a"),
    Place("index predicate", lambda i, t: f"CREATE INDEX ix{i} ON {S}.base (note) WHERE note <> {literal(t)}",
          "DEFINITION", _named("ix")),
    Place("partition bound", lambda i, t: f"CREATE TABLE {S}.pt{i} PARTITION OF {S}.listed FOR VALUES IN ({literal(t)})",
          "PROPERTIES", _named("pt")),
    Place("domain", lambda i, t: f"CREATE DOMAIN {S}.dm{i} AS text DEFAULT {literal(t)}", "DEFAULT_VALUE", _named("dm")),
    Place("function setting", lambda i, t: f"CREATE FUNCTION {S}.fg{i}() RETURNS int LANGUAGE sql "
          f"SET kada.note = {literal(t)} AS $b$ SELECT 1 $b$", "PROPERTIES", _named("fg")),
    Place("argument default", lambda i, t: f"CREATE FUNCTION {S}.fa{i}(p_note text DEFAULT {literal(t)}) RETURNS text "
          "LANGUAGE sql AS $b$ SELECT p_note $b$", "DEFINITION", _named("fa")),
    Place("foreign table options", lambda i, t: f"CREATE FOREIGN TABLE {S}.ft{i} (a text OPTIONS (note {literal(t)})) "
          f"SERVER kada_free_server OPTIONS (note {literal(t)})", "PROPERTIES", _named("ft")),
    Place("server options", lambda i, t: f"CREATE SERVER srv{i} FOREIGN DATA WRAPPER {WRAPPER} OPTIONS (note {literal(t)})",
          None),
    Place("user mapping", lambda i, t: f"CREATE SERVER ums{i} FOREIGN DATA WRAPPER {WRAPPER}; CREATE USER MAPPING "
          f"FOR PUBLIC SERVER ums{i} OPTIONS (note {literal(t)})", None),
    *(Place(f"comment on {kind}", sql, "DESCRIPTION", row) for kind, sql, row in (
        ("table", lambda i, t: f"CREATE TABLE {S}.ct{i} (a int); COMMENT ON TABLE {S}.ct{i} IS {literal(t)}", _named("ct")),
        ("column", lambda i, t: f"CREATE TABLE {S}.cc{i} (a int); COMMENT ON COLUMN {S}.cc{i}.a IS {literal(t)}",
         lambda i: f".cc{i}.a"),
        ("view", lambda i, t: f"CREATE VIEW {S}.cv{i} AS SELECT 1 AS a; COMMENT ON VIEW {S}.cv{i} IS {literal(t)}",
         _named("cv")),
        ("materialized view", lambda i, t: f"CREATE MATERIALIZED VIEW {S}.cm{i} AS SELECT 1 AS a; "
         f"COMMENT ON MATERIALIZED VIEW {S}.cm{i} IS {literal(t)}", _named("cm")),
        ("function", lambda i, t: f"CREATE FUNCTION {S}.cf{i}() RETURNS int LANGUAGE sql AS $b$ SELECT 1 $b$; "
         f"COMMENT ON FUNCTION {S}.cf{i}() IS {literal(t)}", _named("cf")),
        ("procedure", lambda i, t: f"CREATE PROCEDURE {S}.cp{i}() LANGUAGE sql AS $b$ SELECT 1 $b$; "
         f"COMMENT ON PROCEDURE {S}.cp{i}() IS {literal(t)}", _named("cp")),
        ("schema", lambda i, t: f"CREATE SCHEMA cs{i}; COMMENT ON SCHEMA cs{i} IS {literal(t)}", lambda i: f".cs{i}"),
        ("type", lambda i, t: f"CREATE TYPE {S}.cy{i} AS (a int); COMMENT ON TYPE {S}.cy{i} IS {literal(t)}",
         _named("cy")),
        ("domain", lambda i, t: f"CREATE DOMAIN {S}.co{i} AS int; COMMENT ON DOMAIN {S}.co{i} IS {literal(t)}",
         _named("co")),
        ("index", lambda i, t: f"CREATE INDEX ci{i} ON {S}.base (id); COMMENT ON INDEX {S}.ci{i} IS {literal(t)}",
         _named("ci")),
        ("constraint", lambda i, t: f"CREATE TABLE {S}.cn{i} (a int CONSTRAINT cn{i}_a CHECK (a > 0)); "
         f"COMMENT ON CONSTRAINT cn{i}_a ON {S}.cn{i} IS {literal(t)}", lambda i: f".cn{i}.cn{i}_a"),
        ("trigger", lambda i, t: f"CREATE TRIGGER cg{i} BEFORE UPDATE ON {S}.base FOR EACH ROW EXECUTE FUNCTION "
         f"{S}.noop_trigger(); COMMENT ON TRIGGER cg{i} ON {S}.base IS {literal(t)}", _named("cg")),
        ("sequence", lambda i, t: f"CREATE SEQUENCE {S}.cq{i}; COMMENT ON SEQUENCE {S}.cq{i} IS {literal(t)}",
         _named("cq")),
        ("foreign table", lambda i, t: f"CREATE FOREIGN TABLE {S}.cx{i} (a int) SERVER kada_free_server; "
         f"COMMENT ON FOREIGN TABLE {S}.cx{i} IS {literal(t)}", _named("cx")),
    )),
    Place("comment on policy", lambda i, t: f"CREATE POLICY cpo{i} ON {S}.base USING (true); "
          f"COMMENT ON POLICY cpo{i} ON {S}.base IS {literal(t)}", None),
    Place("comment on server", lambda i, t: f"CREATE SERVER csv{i} FOREIGN DATA WRAPPER {WRAPPER}; "
          f"COMMENT ON SERVER csv{i} IS {literal(t)}", None),
)
# Places that hold one text only, planted once: the database's comment, and a role's (roles belong
# to the server: ROLE is created and dropped by the caller).
ROLE = "kada_planted_role"
SINGLE_PLACES = (
    Place("comment on database", lambda i, t: f"COMMENT ON DATABASE {{database}} IS {literal(t)}", "DESCRIPTION",
          kind="DATABASE"),
    Place("comment on role", lambda i, t: f"COMMENT ON ROLE {ROLE} IS {literal(t)}", None),
)

PREAMBLE = f"""
CREATE SCHEMA {S};
CREATE FOREIGN DATA WRAPPER {WRAPPER};
CREATE SERVER kada_free_server FOREIGN DATA WRAPPER {WRAPPER};
CREATE TABLE {S}.base (id int PRIMARY KEY, note text);
CREATE TABLE {S}.listed (k text, note text) PARTITION BY LIST (k);
CREATE FUNCTION {S}.noop_trigger() RETURNS trigger LANGUAGE plpgsql AS $b$ BEGIN RETURN NEW; END $b$;
"""

# Ordinary text around secrets' words: (SQL, a piece of text every extract must keep as it is).
ORDINARY = (
    (f"CREATE TABLE {S}.accounts (id int PRIMARY KEY, password_hash text NOT NULL, token_count int)",
     "password_hash"),
    (f"CREATE VIEW {S}.logins AS SELECT id, password_hash FROM {S}.accounts WHERE token_count > 0",
     "SELECT id,\n    password_hash"),
    (f"CREATE FUNCTION {S}.check_login(p_id int, p_hash text) RETURNS boolean LANGUAGE sql AS $b$ "
     f"SELECT a.password_hash = md5(p_hash || a.password_hash) FROM {S}.accounts a WHERE a.id = p_id $b$",
     "a.password_hash = md5(p_hash || a.password_hash)"),
    (f"CREATE FUNCTION {S}.digests(x text) RETURNS boolean LANGUAGE sql AS $b$ SELECT md5(x) = "
     "'5f4dcc3b5aa765d61d8327deb882cf99' OR sha256(x::bytea) = "
     "'\\x5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8'::bytea $b$",
     "md5(x) = '5f4dcc3b5aa765d61d8327deb882cf99' OR sha256(x::bytea) = "
     "'\\x5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8'::bytea"),
    (f"COMMENT ON TABLE {S}.accounts IS 'Each token is checked against the session table; the primary key is id.'",
     "Each token is checked against the session table; the primary key is id."),
    (f"CREATE TABLE {S}.settings (doc jsonb DEFAULT '{{\"token_type\": \"refresh\", \"key\": \"value\"}}'::jsonb)",
     '{"key": "value", "token_type": "refresh"}'),
    (f"CREATE FUNCTION {S}.rotate(p_id int) RETURNS void LANGUAGE plpgsql AS $b$\nBEGIN\n"
     f"  UPDATE {S}.accounts SET token_count = token_count + 1 WHERE id = p_id;\nEND $b$",
     "SET token_count = token_count + 1 WHERE id = p_id"),
    (f"CREATE VIEW {S}.casts AS SELECT password_hash::text AS h, 'https://example.com/docs'::text AS link FROM {S}.accounts",
     "'https://example.com/docs'::text"),
)


@dataclass(frozen=True)
class Planted:
    value: str
    syntax: str
    place: Place
    index: int


def build(count: int) -> "tuple[list[str], list[Planted]]":
    """SQL statements planting ``count`` secrets (plus the ordinary text), and what was planted.

    The statements need a superuser, a fresh database (``{database}`` stands for its name) and
    the role ``ROLE``."""
    statements, planted = [PREAMBLE], []
    for n in range(count):
        place = SINGLE_PLACES[n] if n < len(SINGLE_PLACES) else PLACES[n % len(PLACES)]
        syntax, text, value = SYNTAXES[(n * 7 + n // len(SYNTAXES)) % len(SYNTAXES)](n)
        statements.append(place.sql(n, text))
        planted.append(Planted(value, syntax, place, n))
    statements += [sql for sql, _ in ORDINARY]
    return statements, planted


# Statements whose text pg_stat_statements keeps as written (utility statements, DO blocks,
# comments): with ``mask`` false the query log would carry these secrets verbatim.
def query_log_statements(start: int, count: int) -> "tuple[list[str], list[Planted]]":
    statements, planted = [], []
    place = Place("query log", lambda i, t: "", "QUERY_TEXT")
    for n in range(start, start + count):
        syntax, text, value = SYNTAXES[(n * 5) % len(SYNTAXES)](n)
        form = n % 3
        if form == 0:
            statements.append(f"DO $b$ BEGIN PERFORM {literal(text)}; END $b$")
        elif form == 1:
            statements.append(f"SELECT 1 AS q{n} /* {text.replace('*/', '')} */")
        else:
            statements.append(f"ALTER ROLE {ROLE} PASSWORD {literal(value)}")
        planted.append(Planted(value, syntax if form != 2 else "role password", place, n))
    return statements, planted


# -- planting into a server, and looking for what leaked -------------------------------------------
def plant(admin_dsn: str, database: str, count: int, query_log_count: int = 0) -> "list[Planted]":
    """Create ``database`` afresh on the server of ``admin_dsn`` (a superuser's) and plant
    ``count`` secrets in its objects and ``query_log_count`` in pg_stat_statements' texts (when the
    server has it preloaded)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    statements, planted = build(count)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
        conn.execute(f'CREATE DATABASE "{database}"')
        conn.execute(f"DROP ROLE IF EXISTS {ROLE}")
        conn.execute(f"CREATE ROLE {ROLE}")
    with psycopg.connect(make_conninfo(admin_dsn, dbname=database), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.replace("{database}", f'"{database}"'))
        preloaded = "pg_stat_statements" in conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        if query_log_count and preloaded:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            logged, more = query_log_statements(count, query_log_count)
            for statement in logged:
                conn.execute(statement)
            planted += more
    return planted


def drop(admin_dsn: str, database: str) -> None:
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f"DROP ROLE IF EXISTS {ROLE}")


def texts_of(folder) -> "dict[str, str]":
    """Every file of ``folder`` (gzip files decompressed) as text, by name."""
    import gzip
    from pathlib import Path

    texts = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_file():
            data = path.read_bytes()
            texts[path.name] = (gzip.decompress(data) if path.name.endswith(".gz") else data).decode("utf-8", "replace")
    return texts


def leaked(texts: "dict[str, str]", planted: "list[Planted]") -> "list[tuple[str, Planted]]":
    """(file name, secret) for each planted secret found in any of ``texts``."""
    return [(name, secret) for secret in planted for name, text in texts.items() if secret.value in text]


def detect_secrets_findings(paths) -> "list[tuple[str, str, int]]":
    """(file, secret type, line) for what detect-secrets finds in ``paths`` with its default
    plugins, but those that flag any random-looking string (the entropy ones)."""
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    with default_settings() as settings:
        settings.disable_plugins("Base64HighEntropyString", "HexHighEntropyString")
        found = SecretsCollection()
        for path in paths:
            found.scan_file(str(path))
    return [(name, secret.type, secret.line_number) for name, secret in found]


def decoded_fields(folder, dest):
    """Write every field of every extract in ``folder`` to ``dest``, one after the other as plain
    text: what a scanner reads there has no CSV quoting (doubled quotes hide a JSON key from it)."""
    import csv
    import io
    from pathlib import Path

    csv.field_size_limit(1 << 30)
    with open(dest, "w", encoding="utf-8") as out:
        for name, text in texts_of(folder).items():
            if ".csv" in name:
                for record in csv.reader(io.StringIO(text, newline=""), delimiter="|"):
                    out.write("\n".join(record) + "\n")
            else:
                out.write(text)
    return Path(dest)


@contextlib.contextmanager
def captured_log():
    """Everything logged meanwhile (at any level, through the collector's redacting filter), as text."""
    import io
    import logging

    from kada_collectors.lib.logs import RedactingFilter

    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.addFilter(RedactingFilter())
    root, level = logging.getLogger(), logging.getLogger().level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
