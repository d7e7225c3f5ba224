"""Smoke tests of the PostgreSQL server harness (servers.py, conftest.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import psycopg
import pytest

from servers import CommandError, PgServer

DB = "harness_smoke"


def test_version_matches_name(pg_server: PgServer) -> None:
    assert pg_server.name == f"pg{pg_server.version}"


def test_tcp_login_with_password(pg_server: PgServer) -> None:
    with psycopg.connect(pg_server.dsn()) as conn:
        assert (conn.info.host, conn.info.port) == ("127.0.0.1", pg_server.port)
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)


def test_wrong_password_refused(pg_server: PgServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg_server.dsn(password="wrong"))


def test_unix_socket_needs_password(pg_server: PgServer) -> None:
    socket_dsn = f"host={pg_server.socket_dir} port={pg_server.port} user=postgres"
    with psycopg.connect(f"{socket_dsn} password={pg_server.password}") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"{socket_dsn} password=wrong")


def test_pg_stat_statements_preloaded_when_shipped(pg_server: PgServer) -> None:
    expected = "pg_stat_statements" if pg_server.has_pg_stat_statements else ""
    assert pg_server.execute("SHOW shared_preload_libraries") == [(expected,)]


def test_create_database_and_execute(pg_server: PgServer) -> None:
    pg_server.create_database(DB)
    try:
        assert pg_server.execute("CREATE TABLE t (id int, name text)", dbname=DB) is None
        pg_server.execute("INSERT INTO t VALUES (1, 'a')", dbname=DB)
        # create_database drops and recreates an existing database.
        pg_server.create_database(DB)
        assert pg_server.execute("SELECT count(*) FROM pg_class WHERE relname = 't'", dbname=DB) == [(0,)]
    finally:
        pg_server.drop_database(DB)
    assert pg_server.execute(f"SELECT 1 FROM pg_database WHERE datname = '{DB}'") == []


def test_run_sql_file(pg_server: PgServer, tmp_path: Path) -> None:
    good = tmp_path / "good.sql"
    good.write_text("CREATE TABLE t (id int);\nINSERT INTO t VALUES (1), (2);\n")
    bad = tmp_path / "bad.sql"
    bad.write_text("INSERT INTO t VALUES (3);\nSELECT no_such_column FROM t;\nINSERT INTO t VALUES (4);\n")
    pg_server.create_database(DB)
    try:
        pg_server.run_sql_file(good, DB)
        with pytest.raises(CommandError, match="no_such_column"):
            pg_server.run_sql_file(bad, DB)
        # ON_ERROR_STOP: psql stopped at the error, before inserting 4.
        assert pg_server.execute("SELECT id FROM t ORDER BY id", dbname=DB) == [(1,), (2,), (3,)]
    finally:
        pg_server.drop_database(DB)


def test_pg_dump_reads_the_server(pg_server: PgServer) -> None:
    version = subprocess.run(
        [pg_server.client("pg_dump"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    # The server's own pg_dump, or (npm packages ship none) a newer one, which reads older servers.
    major = re.match(r"pg_dump \(PostgreSQL\) (\d+)\.", version)
    assert major and int(major.group(1)) >= pg_server.version, version
    dump = subprocess.run(
        [pg_server.client("pg_dump"), "--schema-only", "postgres"],
        env=pg_server.client_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"-- Dumped from database version {pg_server.version}." in dump
