"""``"databases": ["*"]``: every database the user may CONNECT to, and the manifest says what was
left out and why. On a server of its own, so that the set of databases is known."""

import pytest
from psycopg import sql

from collect import extractor_config
from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.postgres.discovery import NoDatabase, select_databases
from kada_collectors.extractors.postgres.settings import validate_config
from kada_collectors.lib.errors import CollectorError
from servers import PgServer

USER = "kada_star"
NOBODY = "kada_nowhere"


@pytest.fixture(scope="module")
def star_server(own_pg18: PgServer) -> PgServer:
    server = own_pg18
    for name in ("app_a", "App B", "closed", "locked", "rdsadmin", "broken"):
        server.create_database(name)
    server.execute("CREATE TABLE t (id int)", "app_a")
    server.execute('ALTER DATABASE closed WITH ALLOW_CONNECTIONS false')
    for role in (USER, NOBODY):
        server.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role),
                                                                         sql.Literal(server.password)))
    server.execute("REVOKE CONNECT ON DATABASE locked FROM PUBLIC")
    # As an interrupted DROP DATABASE leaves it (PostgreSQL 15.4+ and 16+ mark it so).
    server.execute("UPDATE pg_database SET datconnlimit = -2 WHERE datname = 'broken'")
    # NOBODY may connect to template1 only: "*" finds nothing for it.
    for name in ("postgres", "app_a", "App B", "rdsadmin", "broken"):
        server.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
        server.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(name),
                                                                           sql.Identifier(USER)))
    return server


def config(server, tmp_path, user=USER, databases=("*",)):
    return extractor_config(server, databases, tmp_path / "out", user=user, password=server.password)


EXPECTED = ["App B", "app_a", "postgres"]
EXCLUDED = [
    {"name": "broken", "reason": "invalid database (an interrupted DROP DATABASE)"},
    {"name": "closed", "reason": "does not allow connections (datallowconn is false)"},
    {"name": "locked", "reason": f"user '{USER}' has no CONNECT privilege on it"},
    {"name": "rdsadmin", "reason": "RDS internal database"},
    {"name": "template0", "reason": "template database"},
    {"name": "template1", "reason": "template database"},
]


def test_star_is_every_database_the_user_may_extract(star_server, tmp_path):
    selection = select_databases(*validate_config(config(star_server, tmp_path)))
    assert selection.names == EXPECTED
    assert selection.excluded == EXCLUDED
    assert selection.maintenance_database == "postgres"


def test_a_run_over_star_extracts_them_and_says_what_was_left_out(star_server, tmp_path):
    extractor = Extractor(**config(star_server, tmp_path))
    assert extractor.test_connection()
    manifest = extractor.run()
    assert manifest["status"] == "succeeded", manifest
    assert [d["name"] for d in manifest["databases"]] == EXPECTED
    assert manifest["database_selection"] == {"requested": ["*"], "resolved_to": EXPECTED, "excluded": EXCLUDED,
                                              "read_from": "postgres"}
    assert manifest["settings"]["databases"] == ["*"]


def test_star_matching_nothing_is_an_error_naming_what_was_left_out(star_server, tmp_path):
    with pytest.raises(NoDatabase) as caught:
        select_databases(*validate_config(config(star_server, tmp_path, user=NOBODY)))
    message = str(caught.value)
    assert f"matched no database that user '{NOBODY}' may extract" in message
    assert "postgres: user 'kada_nowhere' has no CONNECT privilege on it" in message
    assert "template1: template database" in message
    with pytest.raises(CollectorError, match="matched no database"):
        Extractor(**config(star_server, tmp_path, user=NOBODY)).test_connection()


def test_an_explicit_list_is_kept_as_it_is(star_server, tmp_path):
    # NOBODY may not connect to postgres: an explicit list never needs it.
    star_server.execute(sql.SQL("GRANT CONNECT ON DATABASE app_a TO {}").format(sql.Identifier(NOBODY)))
    try:
        manifest = Extractor(**config(star_server, tmp_path, user=NOBODY, databases=["app_a"])).run()
    finally:
        star_server.execute(sql.SQL("REVOKE CONNECT ON DATABASE app_a FROM {}").format(sql.Identifier(NOBODY)))
    assert [d["name"] for d in manifest["databases"]] == ["app_a"]
    assert manifest["database_selection"] == {"requested": ["app_a"]}
    assert manifest["standby"] is False and manifest["databases"][0]["standby"] is False


def test_the_airflow_factory_keeps_star_as_one_unit(tmp_path):
    """"*" is resolved when the run starts: the DAG (parsed without a database) plans one unit."""
    import json

    from kada_collectors.extractors import airflow as factory
    config = {"host": "all.example", "server": "127.0.0.1", "username": "u", "password_env": "PW",
              "databases": ["*"], "output_path": str(tmp_path / "out"),
              "landing": {"type": "s3", "bucket": "kada", "region": "eu-west-1", "prefix": "pg/all"}}
    (tmp_path / "all.json").write_text(json.dumps(config))
    units = factory.plan_units(tmp_path, "database")
    assert [(u["name"], u["database"]) for u in units] == [("all", None)]
    assert factory.unit_config(units[0])["databases"] == ["*"]


def test_a_maintenance_database_whose_list_cannot_be_read_is_passed_over(star_server, tmp_path):
    """Connected, but reading pg_database there fails: the next maintenance database serves."""
    star_server.execute("REVOKE SELECT ON pg_catalog.pg_database FROM PUBLIC", "postgres")
    try:
        selection = select_databases(*validate_config(config(star_server, tmp_path)))
    finally:
        star_server.execute("GRANT SELECT ON pg_catalog.pg_database TO PUBLIC", "postgres")
    assert selection.names == EXPECTED and selection.maintenance_database == "template1"
