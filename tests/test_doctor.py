"""``kada-collector grants`` and ``kada-collector doctor``, run as a user would: the printed SQL is
run with psql on each server, then the doctor checks the result as the collector's user."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from collect import extractor_config
from tls_servers import TLS_SERVER_NAME

BIN = Path(sys.executable).parent
SECRET = "Doctor-Secret-7f3a9c"


def cli(*args, env=None, cwd=None):
    return subprocess.run([str(BIN / "kada-collector"), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def write_config(tmp_path, config, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


def lines_of(output):
    """{check name: (status, the rest)} of the doctor's output."""
    checks = {}
    for line in output.splitlines():
        status, _, rest = line.partition("  ")
        if status in ("PASS", "WARN", "FAIL", "SKIP"):
            name, _, detail = rest.strip().partition("  ")
            checks[name.strip()] = (status, detail.strip())
    return checks


def fresh_user(server, name):
    """No role ``name``, nor any privilege granted to it, on ``server``."""
    role = sql.Identifier(name)
    if not server.execute(sql.SQL("SELECT 1 FROM pg_roles WHERE rolname = {}").format(sql.Literal(name))):
        return
    for (dbname,) in server.execute("SELECT datname FROM pg_database WHERE datallowconn"):
        server.execute(sql.SQL("DROP OWNED BY {}").format(role), dbname)  # its privileges there, and on databases
    server.execute(sql.SQL("DROP ROLE {}").format(role))


def test_grants_then_doctor_passes_on_every_version(pg_server, tmp_path):
    """The SQL `grants` prints, run with psql as the superuser, is all the doctor (and the collector) need."""
    user = f"kada_doc_{pg_server.name}"
    fresh_user(pg_server, user)
    # Databases of its own: the script creates pg_stat_statements in the first one.
    databases = ["doctor_first", "doctor second"]
    for dbname in databases:
        pg_server.create_database(dbname)
    config = extractor_config(pg_server, databases, tmp_path / "out", user=user, password=SECRET,
                              meta_only=False)
    path = write_config(tmp_path, config)
    grants = cli("grants", "--config", str(path))
    assert grants.returncode == 0, grants.stderr
    assert SECRET not in grants.stdout
    script = tmp_path / "grants.sql"
    script.write_text(grants.stdout)
    pg_server.run_sql_file(script)
    pg_server.run_sql_file(script)  # and again: every statement may be repeated
    pg_server.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(user), sql.Literal(SECRET)))
    doctor = cli("doctor", "--config", str(path))
    out = doctor.stdout
    assert doctor.returncode == 0, out + doctor.stderr
    assert SECRET not in out + doctor.stderr
    checks = lines_of(out)
    for name in ("config", "reachable", "authenticated", "server", "connect doctor_first", "connect doctor second",
                 "catalog doctor_first", "catalog doctor second"):
        assert checks[name][0] == "PASS", (name, out)
    assert checks["tls"][0] == "WARN" and "not encrypted" in checks["tls"][1]  # the harness speaks no TLS
    assert checks["pg_stat_statements"][0] == "PASS", out
    assert checks["query text"][0] == "PASS", out
    # What the doctor says is what the server does: others' statements are readable.
    pg_server.execute("SELECT 'kada doctor probe'")
    with psycopg.connect(pg_server.dsn("doctor_first", user=user, password=SECRET)) as conn:
        hidden = conn.execute("SELECT count(*) FROM pg_stat_statements "
                              "WHERE query = '<insufficient privilege>'").fetchone()[0]
    assert hidden == 0
    assert "kada-collector doctor:" in out.splitlines()[-1] and "(exit 0)" in out.splitlines()[-1]


def test_each_missing_prerequisite_fails_with_its_fix(pg18, tmp_path):
    user = "kada_doc_missing"
    fresh_user(pg18, user)
    pg18.create_database("doctor_locked")
    pg18.create_database("doctor_hardened")
    pg18.execute("REVOKE CONNECT ON DATABASE doctor_locked FROM PUBLIC")
    pg18.execute("REVOKE SELECT ON pg_catalog.pg_proc, pg_catalog.pg_depend FROM PUBLIC", "doctor_hardened")
    pg18.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", "doctor_hardened")
    pg18.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(SECRET)))
    config = extractor_config(pg18, ["doctor_hardened", "doctor_locked"], tmp_path / "out", user=user,
                              password=SECRET, meta_only=False)
    doctor = cli("doctor", "--config", str(write_config(tmp_path, config)))
    out = doctor.stdout
    assert doctor.returncode == 1, out + doctor.stderr
    assert SECRET not in out + doctor.stderr
    checks = lines_of(out)
    assert checks["connect doctor_hardened"][0] == "PASS"
    assert checks["connect doctor_locked"][0] == "FAIL"
    assert f'GRANT CONNECT ON DATABASE "doctor_locked" TO "{user}";' in out
    assert checks["catalog doctor_hardened"] == ("FAIL", "cannot SELECT pg_depend, pg_proc")
    assert f'fix: in doctor_hardened: GRANT SELECT ON pg_catalog.pg_depend, pg_catalog.pg_proc TO "{user}";' in out
    assert checks["pg_stat_statements"][0] == "PASS"
    assert checks["query text"][0] == "FAIL"
    assert f'fix: GRANT pg_read_all_stats TO "{user}" WITH INHERIT TRUE;' in out
    assert "(exit 1)" in out.splitlines()[-1]


def test_wrong_password_stops_at_authentication_without_echoing_it(pg18, tmp_path):
    config = extractor_config(pg18, ["postgres"], tmp_path / "out", password=SECRET)
    doctor = cli("doctor", "--config", str(write_config(tmp_path, config)))
    assert doctor.returncode == 1
    checks = lines_of(doctor.stdout)
    assert checks["reachable"][0] == "PASS"
    assert checks["authenticated"][0] == "FAIL" and "authentication refused" in checks["authenticated"][1]
    assert checks["the rest"][0] == "SKIP"
    assert SECRET not in doctor.stdout + doctor.stderr


def test_an_unreachable_server_fails_first(pg18, tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = extractor_config(pg18, ["postgres"], tmp_path / "out", port=port, connect_timeout=2)
    doctor = cli("doctor", "--config", str(write_config(tmp_path, config)))
    assert doctor.returncode == 1
    checks = lines_of(doctor.stdout)
    assert checks["reachable"][0] == "FAIL" and f"127.0.0.1:{port}" in checks["reachable"][1]
    assert "security groups" in doctor.stdout


def test_a_bad_config_exits_2(tmp_path):
    path = write_config(tmp_path, {"host": "h", "server": "s", "username": "u", "databases": [], "password": SECRET,
                                   "output_path": "/tmp/x"})
    for command in ("doctor", "grants"):
        result = cli(command, "--config", str(path))
        assert result.returncode == 2, result.stdout + result.stderr
        assert "'databases' must list at least one database" in result.stdout + result.stderr
        assert SECRET not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


def test_star_is_listed_with_what_it_leaves_out(pg18, tmp_path):
    config = extractor_config(pg18, ["*"], tmp_path / "out")
    doctor = cli("doctor", "--config", str(write_config(tmp_path, config)))
    checks = lines_of(doctor.stdout)
    assert checks["databases *"][0] == "PASS"
    assert "template0 (template database)" in checks["databases *"][1]
    assert checks["connect postgres"][0] == "PASS"


def test_tls_verified_and_tls_refused(tls_server, tmp_path):
    base = extractor_config(tls_server.server, ["postgres"], tmp_path / "out", password=tls_server.server.password)
    base.update(server=TLS_SERVER_NAME, sslmode="verify-full")
    good = cli("doctor", "--config", str(write_config(tmp_path, {**base, "sslrootcert": str(tls_server.ca)})))
    assert good.returncode == 0, good.stdout
    status, detail = lines_of(good.stdout)["tls"]
    assert status == "PASS" and "the server's certificate and name verified (sslmode verify-full)" in detail
    assert detail.startswith("TLSv1.")
    bad = cli("doctor", "--config", str(write_config(tmp_path, {**base, "sslrootcert": str(tls_server.wrong_ca)},
                                                     "wrong.json")))
    assert bad.returncode == 1
    checks = lines_of(bad.stdout)
    assert checks["tls"][0] == "FAIL" and "not signed by a CA in 'sslrootcert'" in checks["tls"][1]
    assert "authenticated" not in checks
    assert tls_server.server.password not in bad.stdout + good.stdout


def test_an_iam_token_is_never_printed(tls_server, tmp_path):
    config = extractor_config(tls_server.server, ["postgres"], tmp_path / "out", user="kada_doctor_iam")
    del config["password"]
    config.update(server=TLS_SERVER_NAME, sslrootcert=str(tls_server.ca), iam_auth=True, aws_region="eu-west-1")
    env = {"AWS_ACCESS_KEY_ID": "AKIAKADATESTKEY00002", "AWS_SECRET_ACCESS_KEY": "kada/doctor/secret/0000000000000",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    doctor = cli("doctor", "--config", str(write_config(tmp_path, config)), env=env)
    out = doctor.stdout + doctor.stderr
    assert doctor.returncode == 1
    checks = lines_of(doctor.stdout)
    assert checks["iam token"][0] == "PASS"
    assert checks["tls"][0] == "PASS"
    assert checks["authenticated"][0] == "FAIL" and "the server refused the IAM token" in doctor.stdout
    assert "X-Amz" not in out and "kada/doctor/secret" not in out


def test_log_sources_are_checked(pg18, moto_s3, tmp_path):
    logs = moto_s3.client("logs")
    logs.create_log_group(logGroupName="/aws/rds/instance/doctor/postgresql")
    logs.create_log_stream(logGroupName="/aws/rds/instance/doctor/postgresql", logStreamName="doctor")
    log_folder = tmp_path / "pglogs"
    log_folder.mkdir()
    (log_folder / "postgresql-2026-01-01.csv").write_text("")
    config = extractor_config(pg18, ["postgres"], tmp_path / "out", meta_only=False, query_log={
        "log_files": {"path": str(log_folder), "format": "csvlog"},
        "cloudwatch": {"log_group": "/aws/rds/instance/doctor/postgresql", "region": "eu-west-1",
                       "endpoint_url": moto_s3.url}})
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    doctor = cli("doctor", "--config", str(write_config(tmp_path, config)), env=env)
    checks = lines_of(doctor.stdout)
    assert checks["log files"] == ("PASS", f"1 file(s) readable in {log_folder}")
    assert checks["cloudwatch"][0] == "PASS", doctor.stdout
    missing = {**config, "query_log": {"log_files": {"path": str(tmp_path / "nope"), "format": "csvlog"},
                                       "cloudwatch": {"log_group": "/aws/rds/instance/none/postgresql",
                                                      "region": "eu-west-1", "endpoint_url": moto_s3.url}}}
    doctor = cli("doctor", "--config", str(write_config(tmp_path, missing, "missing.json")), env=env)
    assert doctor.returncode == 1
    checks = lines_of(doctor.stdout)
    assert checks["log files"][0] == "FAIL" and "is not a folder" in checks["log files"][1]
    assert checks["cloudwatch"][0] == "FAIL" and "does not exist" in checks["cloudwatch"][1]


# -- the script's content, per option ----------------------------------------------------------------

def grants_for(tmp_path, **config):
    base = {"host": "h", "server": "db.example.com", "username": "kada", "databases": ["dwh", "sales data"],
            "output_path": "/tmp/out"}
    result = cli("grants", "--config", str(write_config(tmp_path, {**base, **config})))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_grants_follow_the_options(tmp_path):
    plain = grants_for(tmp_path, password=SECRET)
    assert SECRET not in plain
    assert 'GRANT CONNECT ON DATABASE "dwh" TO "kada";' in plain and '\\connect "sales data"' in plain
    assert "pg_read_all_stats" not in plain and "pg_stat_statements" not in plain, "metadata only: no query log"
    assert "rds_iam" not in plain and "as a superuser" in plain and "\\password" in plain
    rds = grants_for(tmp_path, server="prod.c9akciq32.eu-west-1.rds.amazonaws.com", iam_auth=True,
                     aws_region="eu-west-1", meta_only=False)
    assert "as the master user" in rds and 'GRANT rds_iam TO "kada";' in rds and "\\password" not in rds
    assert "arn:aws:rds-db:eu-west-1:<account>:dbuser:<DbiResourceId>/kada" in rds
    assert 'GRANT pg_read_all_stats TO "kada" WITH INHERIT TRUE;' in rds
    assert rds.count("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;") == 1
    every = grants_for(tmp_path, databases=["*"])
    assert "GRANT CONNECT ON DATABASE" not in every.replace("--   GRANT CONNECT", "")
    assert "\\connect" not in every


def test_the_catalog_grants_cover_every_catalog_relation_the_collector_reads(pg18):
    """CATALOG_TABLES (the grants, the doctor, docs/grants.md) against the collector's own SQL."""
    import re

    from kada_collectors.extractors.postgres import grants
    root = Path(grants.__file__).parent
    sources = [*root.glob("sql/*.sql"), *root.glob("lineage/*.py"), root / "checks.py", root / "discovery.py"]
    # Comments aside (ROLES_SQL's says it never reads pg_authid).
    text = "\n".join(re.sub(r"(--|#).*", "", path.read_text()) for path in sources)
    words = set(re.findall(r"\bpg_[a-z_]+\b", text))
    relations = {name for (name,) in pg18.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'pg_catalog'::regnamespace AND relkind IN ('r', 'v')")}
    granted = set(grants.CATALOG_TABLES) | set(grants.NOT_GRANTED_WHOLE)
    assert words & relations <= granted, sorted(words & relations - granted)
    documented = (Path(__file__).parents[1] / "docs" / "grants.md").read_text()
    assert all(f"`{t}`" in documented for t in grants.CATALOG_TABLES + grants.NOT_GRANTED_WHOLE)
