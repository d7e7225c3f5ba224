"""test_connection() tells apart what can go wrong before any work, and never echoes the password."""

import socket

import pytest

from collect import extractor_config
from conftest import SHOP
from kada_collectors.extractors.postgres import Extractor
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


def test_database_missing(shop, tmp_path):
    message = failure(extractor_config(shop, [SHOP, "no_such_db"], tmp_path))
    assert "database 'no_such_db' does not exist" in message
    assert SHOP not in message.replace("no_such_db", ""), "only the failing database is named"


def test_connect_not_granted(shop, tmp_path):
    shop.execute("DROP DATABASE IF EXISTS locked_out")
    shop.execute("CREATE DATABASE locked_out")
    shop.execute("REVOKE CONNECT ON DATABASE locked_out FROM PUBLIC")
    from conftest import LOW_PRIVILEGE_USER
    message = failure(extractor_config(shop, ["locked_out"], tmp_path, user=LOW_PRIVILEGE_USER))
    assert f'GRANT CONNECT ON DATABASE "locked_out" TO "{LOW_PRIVILEGE_USER}"' in message
    assert shop.password not in message
