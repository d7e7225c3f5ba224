"""TLS that cannot silently fall back: verify-full against a real TLS-only server, each failure told
apart with its fix, and a warning when libpq's 'prefer' fell back to plain text."""

import logging

import pytest

from collect import extractor_config
from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.postgres.session import connect
from kada_collectors.extractors.postgres.settings import validate_config
from kada_collectors.lib.errors import CollectorError
from tls_servers import TLS_SERVER_NAME


def tls_config(tls_server, tmp_path, **overrides):
    config = extractor_config(tls_server.server, ["postgres"], tmp_path / "out")
    config.update(server=TLS_SERVER_NAME, sslmode="verify-full", sslrootcert=str(tls_server.ca))
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


def connection_failure(config):
    with pytest.raises(CollectorError) as caught:
        Extractor(**config).test_connection()
    message = str(caught.value)
    assert config.get("password", "\0") not in message
    return message


def test_verify_full_with_the_ca_extracts_over_tls(tls_server, tmp_path):
    config = tls_config(tls_server, tmp_path)
    settings, password = validate_config(config)
    with connect(settings, password, "postgres") as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0] is True
    assert Extractor(**config).test_connection()
    manifest = Extractor(**config).run()
    assert manifest["status"] == "succeeded"
    assert manifest["settings"]["sslmode"] == "verify-full"


def test_verify_full_without_a_ca_names_the_setting(tls_server, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.postgresql/root.crt to fall back on
    message = connection_failure(tls_config(tls_server, tmp_path, sslrootcert=None))
    assert "no CA was given" in message and "'sslrootcert'" in message


def test_a_missing_ca_file_is_named(tls_server, tmp_path):
    message = connection_failure(tls_config(tls_server, tmp_path, sslrootcert=str(tmp_path / "nope.pem")))
    assert f"'sslrootcert' {tmp_path / 'nope.pem'} does not exist" in message


def test_a_wrong_ca_is_refused(tls_server, tmp_path):
    message = connection_failure(tls_config(tls_server, tmp_path, sslrootcert=str(tls_server.wrong_ca)))
    assert "not signed by a CA in 'sslrootcert'" in message
    assert "may not be the one you meant" in message


def test_a_name_that_is_not_in_the_certificate_is_refused(tls_server, tmp_path):
    message = connection_failure(tls_config(tls_server, tmp_path, server="127.0.0.1"))
    assert "the server's certificate is for 'localhost', not for '127.0.0.1'" in message


def test_plain_text_against_a_tls_only_server_is_refused_clearly(tls_server, tmp_path):
    message = connection_failure(tls_config(tls_server, tmp_path, sslmode="disable", sslrootcert=None))
    assert "refuses unencrypted connections" in message
    assert 'Set "sslmode": "verify-full"' in message


def test_require_encrypts_without_verifying(tls_server, tmp_path):
    config = tls_config(tls_server, tmp_path, sslmode="require", sslrootcert=None, server="127.0.0.1")
    settings, password = validate_config(config)
    with connect(settings, password, "postgres") as conn:
        assert conn.pgconn.ssl_in_use


def test_prefer_falling_back_to_plain_text_is_said(pg18, tmp_path, caplog):
    from kada_collectors.extractors.postgres import session
    session._warned_unencrypted.discard((pg18.host, pg18.port))
    settings, password = validate_config(extractor_config(pg18, ["postgres"], tmp_path))
    assert settings["sslmode"] == "prefer"
    with caplog.at_level(logging.WARNING, logger="kada_collectors.extractors.postgres.session"):
        connect(settings, password, "postgres").close()
        connect(settings, password, "postgres").close()
    warnings = [r.getMessage() for r in caplog.records if "not encrypted" in r.getMessage()]
    assert len(warnings) == 1, "once per server, not per connection"
    assert "sslmode prefer fell back to plain text" in warnings[0]
