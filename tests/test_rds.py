"""RDS and Aurora: endpoints, the TLS the collector insists on there, and IAM database authentication.

IAM tokens are made by boto3 as on AWS (a SigV4 signature computed on this machine), with
credentials from the environment or from a role assumed through moto's STS server; they are sent
to a real TLS-only PostgreSQL server. A spy on psycopg.connect (which then calls the real one)
sees what each connection sent, and makes the server accept exactly that token by setting it as
the role's password just before: so the server checks the token each connection really carried.
"""

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from psycopg import sql

from collect import extractor_config
from fix_aws import ACCESS_KEY
from kada_collectors.extractors.postgres import Extractor, iam
from kada_collectors.extractors.postgres.rds import RDS_CA_BUNDLE_URL, is_rds_endpoint
from kada_collectors.extractors.postgres.settings import validate_config
from kada_collectors.lib.errors import CollectorError, ConfigError
from tls_servers import TLS_SERVER_NAME

ENDPOINT = "prod-db.c9akciq32.eu-west-1.rds.amazonaws.com"
BASE = {"host": "prod", "server": ENDPOINT, "username": "kada", "databases": ["dwh"], "output_path": "/tmp/out"}
IAM_USER = "kada_iam"


@pytest.mark.parametrize("server, expected", [
    ("prod-db.c9akciq32.eu-west-1.rds.amazonaws.com", True),
    ("my-cluster.cluster-ro-c9akciq32.us-east-1.rds.amazonaws.com", True),
    ("proxy.proxy-c9akciq32.eu-central-1.rds.amazonaws.com", True),
    ("db.c9akciq32.cn-north-1.rds.amazonaws.com.cn", True),
    ("db.c9akciq32.us-iso-east-1.rds.c2s.ic.gov", True),
    ("PROD-DB.C9AKCIQ32.EU-WEST-1.RDS.AMAZONAWS.COM", True),
    ("rds.amazonaws.com.evil.example", False),
    ("db.example.com", False),
    ("127.0.0.1", False),
    ("/var/run/postgresql", False),
])
def test_rds_endpoints_are_recognised(server, expected):
    assert is_rds_endpoint(server) is expected


def problems(**changes):
    config = {k: v for k, v in {**BASE, **changes}.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    return "\n".join(caught.value.problems)


def settings_of(**changes):
    return validate_config({k: v for k, v in {**BASE, **changes}.items() if v is not None})[0]


def test_an_rds_endpoint_without_sslmode_gets_verify_full_not_prefer():
    assert settings_of(sslrootcert="/etc/kada/global-bundle.pem")["sslmode"] == "verify-full"
    assert settings_of(sslrootcert="/etc/kada/global-bundle.pem", server="db.example.com")["sslmode"] == "prefer"


def test_an_rds_endpoint_without_a_ca_bundle_says_where_aws_publishes_it():
    text = problems()
    assert RDS_CA_BUNDLE_URL in text
    assert "\"sslrootcert\"" in text and "verify-full" in text


def test_an_explicit_sslmode_is_kept():
    assert settings_of(sslmode="require")["sslmode"] == "require"


@pytest.mark.parametrize("changes, expected", [
    ({"iam_auth": True, "sslrootcert": "/ca.pem"}, "'aws_region' is required with iam_auth"),
    ({"iam_auth": True, "aws_region": "eu-west-1", "sslmode": "require"}, "iam_auth needs sslmode verify-full"),
    ({"iam_auth": True, "aws_region": "eu-west-1", "sslmode": "verify-ca", "sslrootcert": "/ca.pem"},
     "iam_auth needs sslmode verify-full"),
    ({"iam_auth": True, "aws_region": "eu-west-1", "sslrootcert": "/ca.pem", "password": "Hunter2-secret"},
     "iam_auth logs in with an IAM token, not a password: remove password"),
    ({"iam_auth": True, "aws_region": "eu-west-1", "sslrootcert": "/ca.pem", "password_env": "PGPW"},
     "remove password_env"),
    ({"iam_auth": True, "aws_region": "eu-west-1", "server": "db.example.com"}, "iam_auth sends its token"),
    ({"aws_region": "Ireland"}, "'aws_region' must be an AWS region"),
    ({"role_arn": "kada-role"}, "'role_arn' must be an IAM role ARN"),
    ({"role_arn": "arn:aws:iam::123456789012:role/kada", "sslrootcert": "/ca.pem"},
     "'role_arn' is only used with \"iam_auth\": true"),
    ({"iam_auth": "yes"}, "'iam_auth' must be true or false"),
    ({"sslrootcert": "system", "sslmode": "verify-ca"}, "'sslrootcert' \"system\" needs sslmode verify-full"),
    ({"databases": ["*", "dwh"], "sslrootcert": "/ca.pem"}, "give either [\"*\"] alone or the names"),
])
def test_each_bad_combination_is_named(changes, expected):
    text = problems(**changes)
    assert expected in text
    assert "Hunter2-secret" not in text


def test_a_good_iam_config_is_accepted():
    settings, password = validate_config({**BASE, "iam_auth": True, "aws_region": "eu-west-1",
                                          "role_arn": "arn:aws:iam::123456789012:role/kada",
                                          "sslrootcert": "/etc/kada/global-bundle.pem"})
    assert password is None
    assert settings["sslmode"] == "verify-full" and settings["iam_auth"] is True
    settings = validate_config({**BASE, "sslrootcert": "system"})[0]
    assert settings["sslmode"] == "verify-full"


def test_without_boto3_the_error_names_the_extra(tmp_path):
    config = {**BASE, "iam_auth": True, "aws_region": "eu-west-1", "sslrootcert": "/ca.pem"}
    code = ("import sys; sys.modules['boto3'] = None\n"
            "from kada_collectors.extractors.postgres.settings import validate_config\n"
            "from kada_collectors.lib.errors import ConfigError\n"
            f"try:\n    validate_config({config!r})\nexcept ConfigError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 'iam_auth needs the Python package boto3, which is not installed: ' \
           'pip install "kada-collectors-extractors[aws]"' in out


# -- IAM tokens against a real server ---------------------------------------------------------------

@pytest.fixture
def aws_env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test credentials (fix_aws.py), one attempt per AWS call, and no credential source
    remembered from another test."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    iam.forget_sources()
    yield
    iam.forget_sources()


@pytest.fixture
def iam_role(tls_server):
    """A login role on the TLS server, with a password nobody knows (until a test sets a token)."""
    tls_server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(IAM_USER)))
    tls_server.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'not-a-token'").format(sql.Identifier(IAM_USER)))
    tls_server.execute("DROP DATABASE IF EXISTS iam_two")
    tls_server.execute("CREATE DATABASE iam_two")
    return IAM_USER


class ConnectSpy:
    """Wraps psycopg.connect: records what the collector's connections sent; with ``accept``, first
    makes the server accept that very token (as the role's password)."""

    def __init__(self, tls_server, accept):
        self.tls_server, self.accept, self.calls = tls_server, accept, []
        self.real = psycopg.connect

    def __call__(self, *args, **kwargs):
        if kwargs.get("user") == IAM_USER:
            self.calls.append((args, dict(kwargs)))
            if self.accept:
                with self.real(self.tls_server.superuser_dsn(), autocommit=True) as conn:
                    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(IAM_USER), sql.Literal(kwargs["password"])))
        return self.real(*args, **kwargs)

    @property
    def tokens(self):
        return [kwargs["password"] for _, kwargs in self.calls]


def iam_config(tls_server, tmp_path, **overrides):
    config = extractor_config(tls_server.server, ["postgres", "iam_two"], tmp_path / "out", user=IAM_USER)
    del config["password"]
    config.update(server=TLS_SERVER_NAME, sslrootcert=str(tls_server.ca), iam_auth=True, aws_region="eu-west-1")
    config.update(overrides)
    return config


def token_fields(token):
    """The signed request a token is: host:port/?Action=connect&DBUser=...&X-Amz-...."""
    parts = urlsplit("https://" + token)
    return parts.netloc, {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_every_connection_gets_a_fresh_token_the_server_accepts(tls_server, iam_role, aws_env, tmp_path,
                                                               monkeypatch, caplog):
    spy = ConnectSpy(tls_server, accept=True)
    monkeypatch.setattr(psycopg, "connect", spy)
    # One database at a time: the spy sets the role's password to each token, which two
    # connections at once would race for.
    extractor = Extractor(**iam_config(tls_server, tmp_path), max_connections=1)
    created = datetime.now(timezone.utc).replace(microsecond=0)
    time.sleep(1.1)  # a token made now carries a later X-Amz-Date than one made at construction
    with caplog.at_level(logging.DEBUG):
        assert extractor.test_connection()
        time.sleep(1.1)
        manifest = extractor.run()
    assert manifest["status"] == "succeeded", manifest
    assert [d["name"] for d in manifest["databases"]] == ["postgres", "iam_two"]
    # test_connection: 2 connections; run: 2. Each carried its own token, made for it.
    assert len(spy.calls) == 4
    for args, kwargs in spy.calls:
        assert args == (), "the token goes as a connect parameter, never inside a conninfo string"
        assert kwargs["sslmode"] == "verify-full"
        netloc, fields = token_fields(kwargs["password"])
        assert netloc == f"{TLS_SERVER_NAME}:{tls_server.server.port}"
        assert fields["Action"] == "connect" and fields["DBUser"] == IAM_USER
        assert fields["X-Amz-Expires"] == "900"
        assert fields["X-Amz-Credential"].startswith(f"{ACCESS_KEY}/") and "/eu-west-1/rds-db/" in fields["X-Amz-Credential"]
        signed = datetime.strptime(fields["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        assert signed > created, "made when the connection opened, not when the Extractor was built"
    assert spy.tokens[0] != spy.tokens[2], "tokens made at other moments differ"
    # No token anywhere: not in the logs, not in the manifest.
    written = json.dumps(manifest) + "\n".join(r.getMessage() for r in caplog.records)
    for token in spy.tokens:
        assert token not in written
    assert "X-Amz-Signature" not in written
    assert manifest["settings"]["iam_auth"] is True and manifest["settings"]["aws_region"] == "eu-west-1"


def test_a_refused_token_is_explained_as_iam(tls_server, iam_role, aws_env, tmp_path, monkeypatch):
    spy = ConnectSpy(tls_server, accept=False)
    monkeypatch.setattr(psycopg, "connect", spy)
    with pytest.raises(CollectorError) as caught:
        Extractor(**iam_config(tls_server, tmp_path)).test_connection()
    message = str(caught.value)
    assert f"authentication refused for user '{IAM_USER}'" in message
    assert "the server refused the IAM token" in message and f"GRANT rds_iam TO \"{IAM_USER}\"" in message
    assert "rds-db:connect" in message
    assert spy.tokens and not any(token in message for token in spy.tokens)
    assert "X-Amz-Signature" not in message


def test_no_credentials_is_a_clear_error(tls_server, iam_role, aws_env, tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(CollectorError) as caught:
        Extractor(**iam_config(tls_server, tmp_path)).test_connection()
    assert "no AWS credentials found" in str(caught.value)


def test_a_role_is_assumed_through_sts(tls_server, iam_role, aws_env, moto_s3, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_s3.url)
    spy = ConnectSpy(tls_server, accept=True)
    monkeypatch.setattr(psycopg, "connect", spy)
    role = "arn:aws:iam::123456789012:role/kada-collector"
    assert Extractor(**iam_config(tls_server, tmp_path, role_arn=role)).test_connection()
    assert len(spy.calls) == 2
    keys = set()
    for token in spy.tokens:
        _, fields = token_fields(token)
        key = fields["X-Amz-Credential"].split("/")[0]
        assert key != ACCESS_KEY and key.startswith("ASIA"), "signed with the assumed role's credentials"
        assert fields["X-Amz-Security-Token"]
        keys.add(key)
    assert len(keys) == 1, "the role is assumed once, not per connection"
    # Credentials close to expiry are renewed: with a renewal margin longer than their life, each
    # token comes from a new assumption.
    monkeypatch.setattr(iam, "RENEW_BEFORE_SECONDS", iam.ASSUMED_ROLE_SECONDS + 60)
    iam.forget_sources()
    assert Extractor(**iam_config(tls_server, tmp_path, role_arn=role)).test_connection()
    renewed = {token_fields(t)[1]["X-Amz-Credential"].split("/")[0] for t in spy.tokens[2:]}
    assert len(renewed) == 2


def test_a_role_that_cannot_be_assumed_is_named(tls_server, iam_role, aws_env, tmp_path, monkeypatch):
    import socket
    with socket.socket() as s:  # STS at a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{port}")
    role = "arn:aws:iam::123456789012:role/kada-collector"
    with pytest.raises(CollectorError) as caught:
        Extractor(**iam_config(tls_server, tmp_path, role_arn=role, connect_timeout=2)).test_connection()
    assert f"cannot assume role_arn {role}" in str(caught.value)
