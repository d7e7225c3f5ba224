"""The S3 landing against moto's S3 server: push and verify, idempotence, multipart, the HWM's
conditional writes, and the faults (the endpoint dying mid-upload, refused credentials, an
assumed role, a missing bucket)."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytest.importorskip("boto3", reason="the S3 landing needs boto3: pip install 'kada-collectors-extractors[s3]'")

from collect import extractor_config, load_manifest, run_extract  # noqa: E402
from fix_landing import push_cut_in_the_metadata_file, race_for_the_hwm  # noqa: E402
from fix_runs import WINDOW, create_tables  # noqa: E402
from kada_collectors.extractors.cli import EXIT_HWM_CONFLICT, EXIT_LANDING_FAILED, JobResult, Progress, exit_code, run_job  # noqa: E402
from kada_collectors.lib.landing import (  # noqa: E402
    ALREADY_LANDED, LANDED, NOT_ATTEMPTED, HWMConflict, LandingError, LandingHWM, open_landing, push_run,
)
from kada_collectors.lib.landing.base import LocalFile  # noqa: E402
from landing_servers import FaultProxy, MotoServer  # noqa: E402
from servers import PgServer  # noqa: E402

BIN = Path(sys.executable).parent
BIG_DB = "landing_big"


pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture
def bucket(moto_s3):
    return moto_s3.make_bucket(f"kada-{uuid.uuid4().hex[:12]}")


def section(moto_s3, bucket, **extra):
    return {"type": "s3", "bucket": bucket, "region": "eu-west-1", "prefix": "postgres/prod",
            "endpoint_url": moto_s3.url, "max_attempts": 2, "timeout_seconds": 10, **extra}


@pytest.fixture(scope="module")
def a_run(pg18: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run whose metadata file is large enough (~1 MB) to be cut in the middle (run_folder: a copy)."""
    create_tables(pg18, BIG_DB, 400)
    output = tmp_path_factory.mktemp("big-run")
    run_extract(pg18, [BIG_DB], output, window=WINDOW)
    return output


def landed_names(report):
    return [(f.name, f.status) for f in report.files]


def test_push_lands_verified_files_and_repeats_without_change(moto_s3, bucket, run_folder):
    store = open_landing(section(moto_s3, bucket))
    report = push_run(run_folder, store)
    assert report.ok, report.as_dict()
    names = [f["name"] for f in load_manifest(run_folder)["files"]] + [report.manifest]
    assert [f.name for f in report.files] == names and {f.status for f in report.files} == {LANDED}
    objects = moto_s3.objects(bucket)
    assert sorted(objects) == sorted(f"postgres/prod/{n}" for n in names)
    for name in names:
        assert objects[f"postgres/prod/{name}"] == (run_folder / name).read_bytes()
    head = moto_s3.client().head_object(Bucket=bucket, Key=f"postgres/prod/{names[0]}", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == LocalFile.of(run_folder / names[0]).s3_checksum()
    assert head["ContentType"].startswith("text/csv")

    modified = {o["Key"]: o["LastModified"] for o in moto_s3.client().list_objects_v2(Bucket=bucket)["Contents"]}
    again = push_run(run_folder, store)
    assert again.ok and {f.status for f in again.files} == {ALREADY_LANDED}
    assert {o["Key"]: o["LastModified"] for o in moto_s3.client().list_objects_v2(Bucket=bucket)["Contents"]} == modified


def test_a_large_file_goes_in_parts_and_is_verified(moto_s3, bucket, tmp_path):
    store = open_landing(section(moto_s3, bucket))
    store.multipart_threshold = store.part_size = 5 << 20  # S3's smallest part
    big = tmp_path / "postgres_metadata_20260102000000.csv"
    big.write_bytes(os.urandom((11 << 20) + 17))
    local = LocalFile.of(big)
    store.upload(local, big.name)
    remote = store.stat(big.name)
    assert store.expected_checksum(local).endswith("-3") and store.matches(remote, local)
    assert moto_s3.objects(bucket)[f"postgres/prod/{big.name}"] == big.read_bytes()
    assert moto_s3.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_the_endpoint_dying_mid_upload_leaves_a_consistent_landing(moto_s3, bucket, run_folder):
    proxy = FaultProxy(moto_s3.port)
    try:
        store = open_landing(section(moto_s3, bucket, endpoint_url=proxy.url))
        error = push_cut_in_the_metadata_file(run_folder, store, proxy, 200_000, lambda: moto_s3.objects(bucket))
        assert "cannot reach S3" in error and "push again" in error
    finally:
        proxy.close()


class CutDuringMetadata(Progress):
    """Cuts the link while the metadata file uploads."""

    def __init__(self, proxy):
        super().__init__(enabled=False)
        self.proxy = proxy

    def on_file(self, index, total, outcome):
        super().on_file(index, total, outcome)
        if "_metadata_" in outcome.name and outcome.status == NOT_ATTEMPTED:
            self.proxy.cut_after(200_000)


def test_a_run_cut_mid_upload_keeps_the_hwm_and_the_next_run_repeats_the_window(moto_s3, bucket, pg18, tmp_path):
    create_tables(pg18, "landing_cut", 400)
    moto_s3.client().put_object(Bucket=bucket, Key="postgres/prod/postgres_hwm.txt", Body=b"2026-01-01 00:00:00\n")
    proxy = FaultProxy(moto_s3.port)
    try:
        landing = section(moto_s3, bucket, endpoint_url=proxy.url, hwm=True)
        config = write_config(tmp_path, pg18, ["landing_cut"], landing)
        result = JobResult()
        with pytest.raises(LandingError) as caught:
            run_job(config, "postgres", str(tmp_path), CutDuringMetadata(proxy), result)
        assert exit_code(caught.value) == EXIT_LANDING_FAILED and proxy.cut
        assert not result.push.ok and not result.hwm_published
        objects = moto_s3.objects(bucket)
        assert objects["postgres/prod/postgres_hwm.txt"] == b"2026-01-01 00:00:00\n"
        assert not any("_manifest_" in k or "_metadata_" in k for k in objects), sorted(objects)

        proxy.restore()
        again = run_job(config, "postgres", str(tmp_path))
        assert again.window[0] == "2026-01-01 00:00:00" and again.push.ok and again.hwm_published
        assert moto_s3.objects(bucket)["postgres/prod/postgres_hwm.txt"].decode().strip() == again.window[1]
    finally:
        proxy.close()


def test_no_aws_credentials_is_a_clear_error(moto_s3, bucket, run_folder, monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(LandingError, match="no AWS credentials found; set AWS_ACCESS_KEY_ID"):
        push_run(run_folder, open_landing(section(moto_s3, bucket)))


def test_a_missing_bucket_is_named_before_any_upload(moto_s3, run_folder):
    store = open_landing(section(moto_s3, "no-such-kada-bucket"))
    with pytest.raises(LandingError, match="the bucket no-such-kada-bucket does not exist .* check 'landing.bucket'"):
        push_run(run_folder, store)


def test_an_unreachable_endpoint_is_a_landing_error(run_folder):
    from landing_servers import free_port
    store = open_landing({"type": "s3", "bucket": "kada", "region": "eu-west-1", "prefix": "",
                          "endpoint_url": f"http://127.0.0.1:{free_port()}", "max_attempts": 1})
    with pytest.raises(LandingError, match="cannot reach S3 .* after retries"):
        push_run(run_folder, store)


# -- the HWM in S3 ----------------------------------------------------------------------------------

def test_of_two_racing_runs_only_one_advances_the_s3_hwm(moto_s3, bucket):
    race_for_the_hwm(open_landing(section(moto_s3, bucket)))
    body = moto_s3.objects(bucket)["postgres/prod/postgres_hwm.txt"]
    assert body == b"2026-01-03 00:00:00\n"


def write_config(folder, server, databases, landing):
    path = folder / "config.json"
    path.write_text(json.dumps({**extractor_config(server, databases, folder / "out"), "landing": landing}))
    return path


def test_run_command_with_the_hwm_in_s3_continues_on_a_fresh_host(moto_s3, bucket, pg18, tmp_path):
    landing = section(moto_s3, bucket, hwm=True)
    hosts = [tmp_path / "a", tmp_path / "b"]
    windows = []
    for host in hosts:
        host.mkdir()
        result = subprocess.run([str(BIN / "kada-collector"), "run", "--config", str(write_config(host, pg18, ["postgres"], landing))],
                                cwd=host, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "hwm      published: s3://" in result.stdout
        windows.append(load_manifest(host / "out")["window"])
    assert windows[1]["start_hwm"] == windows[0]["end_hwm"] and windows[0]["start_hwm"] == "1970-01-01 00:00:00"
    assert moto_s3.objects(bucket)["postgres/prod/postgres_hwm.txt"].decode().strip() == windows[1]["end_hwm"]


class RaceAfterExtract(Progress):
    """Another run publishes the HWM while this one pushes."""

    def __init__(self, store):
        super().__init__(enabled=False)
        self.store = store

    def step(self, text):
        if text.startswith("checking and pushing"):
            other = LandingHWM(self.store, "postgres")
            other.get()
            other.publish("2099-01-01 00:00:00")


def test_a_run_that_loses_the_race_lands_its_files_but_not_its_hwm(moto_s3, bucket, pg18, tmp_path):
    landing = section(moto_s3, bucket, hwm=True)
    config = write_config(tmp_path, pg18, ["postgres"], landing)
    result = JobResult()
    with pytest.raises(HWMConflict) as caught:
        run_job(config, "postgres", str(tmp_path), RaceAfterExtract(open_landing(landing)), result)
    assert exit_code(caught.value) == EXIT_HWM_CONFLICT == 5
    assert result.push.ok and not result.hwm_published
    assert moto_s3.objects(bucket)["postgres/prod/postgres_hwm.txt"] == b"2099-01-01 00:00:00\n"


# -- credentials: a moto server that checks them ------------------------------------------------------

@pytest.fixture(scope="module")
def moto_auth():
    """A moto server enforcing IAM: a writer, a user who may only assume the landing role, the role."""
    server = MotoServer()
    iam = server.client("iam")
    allow = lambda action: json.dumps({"Version": "2012-10-17", "Statement": [  # noqa: E731
        {"Effect": "Allow", "Action": action, "Resource": "*"}]})
    keys = {}
    for user, action in (("writer", "s3:*"), ("assumer", "sts:AssumeRole")):
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=allow(action))
        keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
    role = iam.create_role(RoleName="kada-landing", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="kada-landing", PolicyName="p", PolicyDocument=allow("s3:*"))
    server.make_bucket("kada-auth")
    server.enforce_auth()
    server.keys, server.role_arn = keys, role["Role"]["Arn"]
    yield server
    server.stop()


def use_key(monkeypatch, key, secret=None):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret or key["SecretAccessKey"])


def test_refused_credentials_are_a_clear_error_and_land_nothing(moto_auth, run_folder, monkeypatch, pg18, tmp_path):
    use_key(monkeypatch, moto_auth.keys["writer"], secret="wrong-Secret-Key-123")
    store = open_landing(section(moto_auth, "kada-auth"))
    with pytest.raises(LandingError, match=r"checking s3://kada-auth/postgres/prod: the credentials were refused") as caught:
        push_run(run_folder, store)
    assert "wrong-Secret-Key-123" not in str(caught.value)

    # The command: exit 4 before extracting anything, the HWM untouched, the secret nowhere.
    job = tmp_path / "job"
    job.mkdir()
    config = write_config(job, pg18, ["postgres"], section(moto_auth, "kada-auth", hwm=True))
    result = subprocess.run([str(BIN / "kada-collector"), "run", "--config", str(config)], cwd=job,
                            capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert result.returncode == EXIT_LANDING_FAILED, result.stdout + result.stderr
    assert "failed at the landing check (exit 4)" in result.stdout and "credentials were refused" in result.stderr
    assert "wrong-Secret-Key-123" not in result.stdout + result.stderr
    assert not (job / "out").exists() or not list((job / "out").iterdir()), "nothing extracted"

    use_key(monkeypatch, moto_auth.keys["writer"])
    assert moto_auth.client(aws_access_key_id=moto_auth.keys["writer"]["AccessKeyId"],
                            aws_secret_access_key=moto_auth.keys["writer"]["SecretAccessKey"]).list_objects_v2(
        Bucket="kada-auth").get("KeyCount") == 0


def test_an_assumed_role_writes_what_its_user_may_not(moto_auth, run_folder, monkeypatch):
    use_key(monkeypatch, moto_auth.keys["assumer"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_auth.url)
    with pytest.raises(LandingError, match="credentials were refused"):
        push_run(run_folder, open_landing(section(moto_auth, "kada-auth", prefix="direct")))
    store = open_landing(section(moto_auth, "kada-auth", prefix="via-role", role_arn=moto_auth.role_arn))
    assert push_run(run_folder, store).ok
    with pytest.raises(LandingError, match="cannot assume arn:aws:iam::123456789012:role/nobody"):
        use_key(monkeypatch, moto_auth.keys["writer"], secret="wrong-Secret-Key-123")
        open_landing(section(moto_auth, "kada-auth", role_arn="arn:aws:iam::123456789012:role/nobody"))
