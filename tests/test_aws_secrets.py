"""The database password where AWS keeps it (``password_secret``: Secrets Manager or SSM Parameter
Store), against moto's server with IAM enforced: a reader allowed to read secrets, a stranger who
may not, and an admin who rotates them. The password changes on the real PostgreSQL 18 between
two connections; the collector reads the secret again, once, and goes on."""

import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from psycopg import sql

from collect import extractor_config, load_manifest
from landing_servers import MotoServer
from kada_collectors.extractors.postgres.passwords import forget_secrets
from kada_collectors.extractors.postgres.session import DatabaseUnavailable, connect
from kada_collectors.extractors.postgres.settings import validate_config
from kada_collectors.lib.errors import ConfigError

BIN = Path(sys.executable).parent
REGION = "eu-west-1"
RETRY_LOG = "reading it again"
CLOSED_PORT = 9


@pytest.fixture(scope="module")
def moto_iam():
    """A moto server enforcing IAM: 'reader' may read secrets and parameters, 'stranger' may only use
    S3, 'admin' may do anything (it rotates the secrets)."""
    server = MotoServer()
    iam = server.client("iam")
    keys = {}
    for user, actions in (("reader", ["secretsmanager:GetSecretValue", "ssm:GetParameter"]),
                          ("stranger", ["s3:*"]), ("admin", ["*"])):
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
        keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
    server.enforce_auth()
    server.keys = keys
    yield server
    server.stop()


def as_user(moto_iam, monkeypatch, user):
    """The collector's process runs as ``user``, reaching AWS at moto (boto3's default chain)."""
    key = moto_iam.keys[user]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_iam.url)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    forget_secrets()


def admin(moto_iam, service):
    key = moto_iam.keys["admin"]
    return moto_iam.client(service, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


def new_secret(moto_iam, value) -> str:
    name = f"kada/{uuid.uuid4().hex[:10]}"
    admin(moto_iam, "secretsmanager").create_secret(Name=name, SecretString=value)
    return name


def new_role(pg18, password) -> str:
    user = f"kada_sec_{uuid.uuid4().hex[:8]}"
    pg18.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(password)))
    return user


def set_role_password(pg18, user, password):
    pg18.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(user), sql.Literal(password)))


def config_for(server, tmp_path, reference, user="kada", **overrides):
    config = extractor_config(server, ["postgres"], tmp_path / "out", user=user, password_secret=reference,
                              aws_region=REGION, **overrides)
    del config["password"]
    return config


def retries(caplog):
    return sum(RETRY_LOG in r.getMessage() for r in caplog.records)


# -- the secret rotated between two connections ---------------------------------------------------------

def test_a_rotated_secret_is_read_again_once_and_the_next_connection_succeeds(moto_iam, monkeypatch, pg18,
                                                                           tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="kada_collectors")
    as_user(moto_iam, monkeypatch, "reader")
    first, second, third = (f"Rotated-{n}-{uuid.uuid4().hex[:8]}" for n in "abc")
    user = new_role(pg18, first)
    name = new_secret(moto_iam, json.dumps({"username": user, "password": first}))
    settings, password = validate_config(config_for(pg18, tmp_path, {"aws_secrets_manager": name, "key": "password"},
                                                    user=user))
    assert password == first
    connect(settings, password, "postgres").close()
    assert retries(caplog) == 0

    # Rotation: the role's password and the secret change together, as Secrets Manager's rotation does.
    set_role_password(pg18, user, second)
    admin(moto_iam, "secretsmanager").put_secret_value(SecretId=name, SecretString=json.dumps(
        {"username": user, "password": second}))
    with connect(settings, password, "postgres") as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == user
    assert retries(caplog) == 1, "one refusal, one read again"
    connect(settings, password, "postgres").close()
    assert retries(caplog) == 1, "the value read again serves the next connections"

    # The role's password changes but the secret does not: exactly one more read, then a clear refusal.
    set_role_password(pg18, user, third)
    with pytest.raises(DatabaseUnavailable) as caught:
        connect(settings, password, "postgres")
    assert retries(caplog) == 2
    message = str(caught.value)
    assert f"authentication refused for user {user!r}" in message and caught.value.kind == "auth"
    assert f"check 'username' and the Secrets Manager secret {name} (key 'password'): it was read again" in message
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (first, second, third):
        assert secret not in message and secret not in logged


def test_a_run_reads_the_password_from_ssm_and_never_records_it(moto_iam, monkeypatch, pg18, tmp_path):
    as_user(moto_iam, monkeypatch, "reader")
    password = f"Ssm-{uuid.uuid4().hex[:12]}"
    user = new_role(pg18, password)
    parameter = f"/kada/{uuid.uuid4().hex[:8]}/password"
    admin(moto_iam, "ssm").put_parameter(Name=parameter, Value=password, Type="SecureString")
    config = config_for(pg18, tmp_path, {"aws_ssm_parameter": parameter}, user=user)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = subprocess.run([str(BIN / "kada-postgres-extractor"), "--config", str(path)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    files = [p for p in (tmp_path / "out").iterdir()]
    assert any(p.name.startswith("postgres_metadata_") for p in files)
    written = result.stdout + result.stderr + "".join(p.read_text(errors="replace") for p in files if p.is_file())
    assert password not in written
    assert load_manifest(tmp_path / "out")["databases"][0]["status"] == "succeeded"


# -- a secret that cannot be read: a clear message, no traceback ------------------------------------------

def run_extractor(config, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run([str(BIN / "kada-postgres-extractor"), "--config", str(path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))


class Closed:  # a server that is never reached: the secret is read before any connection
    host, port, superuser, password = "127.0.0.1", CLOSED_PORT, "kada", "unused"


def test_a_missing_secret_is_a_clear_error(moto_iam, monkeypatch, tmp_path):
    as_user(moto_iam, monkeypatch, "reader")
    result = run_extractor(config_for(Closed, tmp_path, {"aws_secrets_manager": "kada/absent", "key": "password"}),
                           tmp_path)
    assert result.returncode == 2, result.stderr
    assert ("the Secrets Manager secret kada/absent (key 'password'), named by 'password_secret', does not exist in "
            "region eu-west-1: check the name or ARN and 'aws_region'") in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "postgres_hwm.txt").exists()
    with pytest.raises(ConfigError, match=r"the SSM parameter /kada/absent, named by 'password_secret', does not "
                                          r"exist in region eu-west-1: check the parameter name and 'aws_region'"):
        validate_config(config_for(Closed, tmp_path, {"aws_ssm_parameter": "/kada/absent"}))


def test_a_denied_read_is_a_clear_error(moto_iam, monkeypatch, tmp_path):
    as_user(moto_iam, monkeypatch, "reader")
    name = new_secret(moto_iam, json.dumps({"password": "Denied-Secret-1"}))
    as_user(moto_iam, monkeypatch, "stranger")  # may use S3 only: moto's IAM refuses GetSecretValue
    result = run_extractor(config_for(Closed, tmp_path, {"aws_secrets_manager": name, "key": "password"}), tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"the Secrets Manager secret {name} (key 'password'), named by 'password_secret', cannot be read: AWS " \
           "refused the request (AccessDenied" in result.stderr, result.stderr
    assert ("Allow the action GetSecretValue (service secretsmanager) on it to the identity the collector runs as"
            in result.stderr)
    assert "Traceback" not in result.stderr and "Denied-Secret-1" not in result.stderr


@pytest.mark.parametrize("stored, key, message", [
    ({"username": "kada", "password": "Key-Secret-1"}, "pasword",
     "has no key 'pasword'; its keys are: password, username"),
    ({"username": "kada", "password": "Key-Secret-1"}, None,
     "holds a JSON object (keys: password, username): set \"key\" to the one holding the value"),
    ("Key-Secret-1", "password", "is not a JSON object, so it has no key 'password'"),
])
def test_a_secret_without_the_key_names_the_keys_it_has(moto_iam, monkeypatch, tmp_path, stored, key, message):
    as_user(moto_iam, monkeypatch, "reader")
    name = new_secret(moto_iam, stored if isinstance(stored, str) else json.dumps(stored))
    reference = {"aws_secrets_manager": name, **({"key": key} if key else {})}
    with pytest.raises(ConfigError) as caught:
        validate_config(config_for(Closed, tmp_path, reference))
    assert message in str(caught.value) and "Key-Secret-1" not in str(caught.value)


def test_a_plain_secret_needs_no_key(moto_iam, monkeypatch, tmp_path):
    as_user(moto_iam, monkeypatch, "reader")
    name = new_secret(moto_iam, "Plain-Secret-1")
    assert validate_config(config_for(Closed, tmp_path, {"aws_secrets_manager": name}))[1] == "Plain-Secret-1"


# -- the reference itself, checked like any other setting (no AWS needed) ------------------------------------

@pytest.mark.parametrize("reference, message", [
    ({"aws_secrets_manager": "a", "kye": "password"}, "unknown setting 'password_secret.kye'; did you mean "
                                                      "'password_secret.key'?"),
    ({"aws_secrets_manager": "a", "aws_ssm_parameter": "b"},
     "'password_secret' names both 'aws_secrets_manager' and 'aws_ssm_parameter': keep the one that holds it"),
    ({}, "'password_secret' must name where the secret is kept: {\"aws_secrets_manager\": \"prod/kada/postgres\", "
         "\"key\": \"password\"} or {\"aws_ssm_parameter\": \"/kada/postgres/password\"}"),
    ({"aws_ssm_parameter": "/p", "key": "password"}, "'password_secret.key' applies to 'aws_secrets_manager' only"),
    ({"aws_secrets_manager": 5}, "'password_secret.aws_secrets_manager' must be a string, got 5"),
    ({"aws_secrets_manager": "a", "key": ""}, "'password_secret.key' must not be empty"),
    ("prod/kada", "'password_secret' must be an object, got \"prod/kada\""),
])
def test_a_bad_reference_names_the_fix(tmp_path, reference, message):
    with pytest.raises(ConfigError) as caught:
        validate_config(config_for(Closed, tmp_path, reference))
    assert message in str(caught.value)


def test_the_password_comes_one_way_only(tmp_path):
    config = {**config_for(Closed, tmp_path, {"aws_ssm_parameter": "/p"}), "password_env": "PGPASSWORD"}
    with pytest.raises(ConfigError, match="give the password one way only, found password_env, password_secret"):
        validate_config(config)
    iam = {**config_for(Closed, tmp_path, {"aws_ssm_parameter": "/p"}), "iam_auth": True, "sslmode": "verify-full",
           "sslrootcert": "/etc/kada/global-bundle.pem"}
    with pytest.raises(ConfigError, match="iam_auth logs in with an IAM token, not a password: remove password_secret"):
        validate_config(iam)


# -- the Azure landing's SAS token, kept by AWS ---------------------------------------------------------------

def azure_section(azurite, container, **extra):
    return {"type": "azure", "account_url": azurite.account_url, "container": container, "prefix": "postgres/prod",
            "max_attempts": 2, "timeout_seconds": 10, **extra}


def test_the_azure_sas_token_can_come_from_secrets_manager(moto_iam, monkeypatch, azurite, pg18, tmp_path):
    pytest.importorskip("azure.storage.blob")
    from kada_collectors.lib.landing import open_landing, push_run
    from collect import run_extract
    as_user(moto_iam, monkeypatch, "reader")
    monkeypatch.delenv("AZURE_STORAGE_SAS_TOKEN", raising=False)
    container = azurite.make_container(f"kada-{uuid.uuid4().hex[:12]}")
    token = azurite.sas(container)
    name = new_secret(moto_iam, json.dumps({"sas_token": token}))
    arn = admin(moto_iam, "secretsmanager").describe_secret(SecretId=name)["ARN"]  # the ARN names the region
    run_extract(pg18, ["postgres"], tmp_path / "out")
    store = open_landing(azure_section(azurite, container,
                                       sas_token_secret={"aws_secrets_manager": arn, "key": "sas_token"}))
    report = push_run(tmp_path / "out", store)
    assert report.ok, report.as_dict()
    assert sorted(azurite.blobs(container)) == sorted(f"postgres/prod/{f.name}" for f in report.files)
    assert token not in json.dumps(report.as_dict())


def test_the_sas_token_is_given_one_way_only(azurite):
    from kada_collectors.lib.landing.config import landing_problems
    both = azure_section(azurite, "kada-box", sas_token="sv=1&sig=x", sas_token_secret={"aws_ssm_parameter": "/t"})
    assert landing_problems(both) == [
        "give the SAS token one way only: 'landing.sas_token' or 'landing.sas_token_secret'"]
    bad = azure_section(azurite, "kada-box", sas_token_secret={"aws_ssm_parameter": "/t", "key": "k"})
    assert landing_problems(bad) == [
        "'landing.sas_token_secret.key' applies to 'aws_secrets_manager' only (a parameter holds one value): remove it"]


def test_the_doctor_says_where_the_password_comes_from(moto_iam, monkeypatch, pg18, tmp_path):
    as_user(moto_iam, monkeypatch, "reader")
    password = f"Doctor-{uuid.uuid4().hex[:10]}"
    user = new_role(pg18, password)
    name = new_secret(moto_iam, json.dumps({"password": password}))
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config_for(pg18, tmp_path, {"aws_secrets_manager": name, "key": "password"}, user=user)))
    doctor = subprocess.run([str(BIN / "kada-collector"), "doctor", "--config", str(path)], capture_output=True,
                            text=True, timeout=120, env=dict(os.environ))
    assert f"with the password in the Secrets Manager secret {name} (key 'password')" in doctor.stdout, doctor.stdout
    assert "PASS  authenticated" in doctor.stdout and password not in doctor.stdout + doctor.stderr
