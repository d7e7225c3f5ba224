"""test_connection() tells apart what can go wrong before any work, and never echoes the password."""

import contextlib
import socket
import threading

import psycopg
import pytest

from collect import extractor_config
from conftest import SHOP
from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.postgres.session import DatabaseUnavailable, connect
from kada_collectors.extractors.postgres.settings import validate_config
from kada_collectors.lib.errors import CollectorError

SECRET = "Wr0ng-But-Secret"


def failure(config):
    with pytest.raises(CollectorError) as caught:
        Extractor(**config).test_connection()
    return str(caught.value)


def test_a_working_server_passes(shop, tmp_path):
    assert Extractor(**extractor_config(shop, [SHOP, "postgres"], tmp_path)).test_connection()


def test_host_unreachable(shop, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    message = failure(extractor_config(shop, [SHOP], tmp_path, port=port, connect_timeout=2))
    assert "cannot reach PostgreSQL at 127.0.0.1:%d" % port in message
    assert "firewall" in message


def test_unknown_host_name(shop, tmp_path):
    message = failure({**extractor_config(shop, [SHOP], tmp_path), "server": "no-such-host.invalid", "connect_timeout": 2})
    assert "cannot reach PostgreSQL at no-such-host.invalid" in message


def test_authentication_refused(shop, tmp_path):
    message = failure(extractor_config(shop, [SHOP], tmp_path, password=SECRET))
    assert "authentication refused for user 'postgres'" in message
    assert SECRET not in message


def test_a_missing_database_is_a_warning_and_the_others_pass(shop, tmp_path, caplog):
    assert Extractor(**extractor_config(shop, [SHOP, "no_such_db"], tmp_path)).test_connection()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "database 'no_such_db' does not exist" in warnings[0]
    assert "Check the 'databases' list" in warnings[0] and "the run then fails" in warnings[0]


def test_no_database_that_can_be_used_fails(shop, tmp_path):
    message = failure(extractor_config(shop, ["no_such_db", "nor_this_one"], tmp_path))
    assert "no configured database can be used" in message
    assert "'no_such_db' does not exist" in message and "'nor_this_one' does not exist" in message


def test_what_stops_every_database_stops_at_the_first(shop, tmp_path):
    """A wrong password fails the first database and is not tried on the next ones."""
    message = failure(extractor_config(shop, ["no_such_db", SHOP], tmp_path, password=SECRET))
    assert message.count("authentication refused") == 1 and SECRET not in message


@pytest.mark.parametrize("case", ["unreachable", "auth", "database"])
def test_one_classification_of_connect_errors(shop, tmp_path, case):
    """What a failed connection is (its kind, whether it stops every database) and how it is worded agree."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    overrides = {"unreachable": {"port": free_port, "connect_timeout": 2}, "auth": {"password": SECRET},
                 "database": {}}[case]
    settings, password = validate_config(extractor_config(shop, [SHOP], tmp_path, **overrides))
    with pytest.raises(DatabaseUnavailable) as caught:
        connect(settings, password, "no_such_db")
    error = caught.value
    opening = {"unreachable": "cannot reach PostgreSQL", "auth": "authentication refused",
               "database": "database 'no_such_db' does not exist"}[case]
    assert (error.kind, error.server_wide, str(error).startswith(opening)) == (case, case != "database", True)


def test_connect_not_granted(shop, tmp_path):
    shop.execute("DROP DATABASE IF EXISTS locked_out")
    shop.execute("CREATE DATABASE locked_out")
    shop.execute("REVOKE CONNECT ON DATABASE locked_out FROM PUBLIC")
    from conftest import LOW_PRIVILEGE_USER
    message = failure(extractor_config(shop, ["locked_out"], tmp_path, user=LOW_PRIVILEGE_USER))
    assert f'GRANT CONNECT ON DATABASE "locked_out" TO "{LOW_PRIVILEGE_USER}"' in message
    assert shop.password not in message


@contextlib.contextmanager
def another_service(mode):
    """A port where something that is not PostgreSQL listens: it never answers ("silent"), or
    answers as a web server does ("http"). Yields the port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    done, held = threading.Event(), []

    def serve():
        while not done.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                continue
            held.append(client)
            if mode == "http":
                with contextlib.suppress(OSError):
                    client.recv(1024)
                    client.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                    client.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        done.set()
        thread.join()
        for client in held:
            client.close()
        server.close()


@pytest.mark.parametrize("mode", ["silent", "http"])
def test_another_service_on_the_port_is_told_apart(pg18, tmp_path, mode):
    with another_service(mode) as port:
        message = failure({**extractor_config(pg18, ["dwh", "adw"], tmp_path, port=port, connect_timeout=2),
                           "server": "127.0.0.1"})
    assert message.count(f"something at 127.0.0.1:{port} accepted the connection but did not answer as "
                         "PostgreSQL") == 1, message  # it stops every database: said once
    assert f"pg_isready -h 127.0.0.1 -p {port}" in message and "cannot reach" not in message


# What each kind of connect failure is worded as (explain_connect_error's openings).
OPENINGS = {"unreachable": "cannot reach PostgreSQL at", "auth": "authentication refused for user",
            "database": "database 'no_such_db' does not exist", "privilege": "user 'kada_collector_ro' may not connect",
            "not_postgres": "something at 127.0.0.1:"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("case, kind", [("closed port", "unreachable"), ("unknown host", "unreachable"),
                                        ("wrong password", "auth"), ("missing database", "database"),
                                        ("no CONNECT", "privilege"), ("silent service", "not_postgres"),
                                        ("http service", "not_postgres")])
def test_the_kind_and_the_words_of_a_connect_error_agree(shop, tmp_path, case, kind):
    """On the server's real error, connect_error_kind (what doctor and run() act on) and
    explain_connect_error (what the user reads) report the same kind, and connect() carries both."""
    from conftest import LOW_PRIVILEGE_USER
    from kada_collectors.extractors.postgres.session import connect_error_kind, explain_connect_error
    dbname, overrides, server = "no_such_db", {"connect_timeout": 2}, "127.0.0.1"
    cleanup = contextlib.ExitStack()
    if case == "no CONNECT":
        dbname, overrides["user"] = "no_connect_here", LOW_PRIVILEGE_USER
        shop.create_database(dbname)
        cleanup.callback(shop.drop_database, dbname)  # gone before the next test lists the server's databases
        shop.execute(f"REVOKE CONNECT ON DATABASE {dbname} FROM PUBLIC")
    elif case == "closed port":
        overrides["port"] = free_port()
    elif case == "unknown host":
        server = "no-such-host.invalid"
    elif case == "wrong password":
        overrides["password"] = SECRET
    service = another_service(case.split()[0]) if case.endswith("service") else contextlib.nullcontext(None)
    with cleanup, service as port:
        overrides["port"] = port or overrides.get("port", shop.port)
        settings, password = validate_config({**extractor_config(shop, [dbname], tmp_path, **overrides),
                                              "server": server})
        with pytest.raises(psycopg.Error) as raw:
            psycopg.connect(host=settings["server"], port=settings["port"], dbname=dbname, user=settings["username"],
                            password=password, sslmode=settings["sslmode"], connect_timeout=2)
        with pytest.raises(DatabaseUnavailable) as caught:
            connect(settings, password, dbname)
        classified = connect_error_kind(raw.value, settings)
        worded = explain_connect_error(raw.value, settings, dbname)
    assert (classified, caught.value.kind) == (kind, kind)
    assert worded.startswith(OPENINGS[kind]), worded
    assert str(caught.value).startswith(OPENINGS[kind]), caught.value
    assert not any(worded.startswith(o) for k, o in OPENINGS.items() if k != kind)
    assert SECRET not in worded
