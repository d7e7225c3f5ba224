"""Landing: the config section, pushing a run to a folder, the HWM kept there, and the
`kada-collector push` and `run` commands with their exit codes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from collect import extractor_config, load_manifest, run_extract
from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.postgres.settings import SETTINGS, validate_config
from kada_collectors.lib.config import settings_for_manifest
from kada_collectors.lib.errors import ConfigError, HWMError
from kada_collectors.lib.landing import (
    ALREADY_LANDED, LANDED, HWMConflict, LandingError, LandingHWM, MissingExtra, NothingToPush, open_landing, push_run,
)
from kada_collectors.lib.validate import validate_folder

BIN = Path(sys.executable).parent
GOOD = {"host": "example.postgres.localhost", "server": "127.0.0.1", "username": "collector",
        "password": "Hunter2-secret", "databases": ["dwh"], "output_path": "/tmp/out"}
SAS = "sv=2024-11-04&ss=b&srt=co&sp=rcwl&se=2030-01-01T00:00:00Z&sig=Zm9vYmFyU0VDUkVUU0lH%3D"


def problems(landing, **changes):
    with pytest.raises(ConfigError) as caught:
        Extractor(**{**GOOD, **changes, "landing": landing})
    return caught.value.problems


# -- the config section ----------------------------------------------------------------------------

@pytest.mark.parametrize("landing", [
    {"type": "local", "path": "/mnt/landing"},
    {"type": "s3", "bucket": "kada-landing", "region": "eu-west-1", "prefix": "postgres/prod"},
    {"type": "s3", "bucket": "kada.landing", "region": "us-east-1", "prefix": "", "endpoint_url": "https://s3.local:9000",
     "role_arn": "arn:aws:iam::123456789012:role/kada-landing", "hwm": True, "max_attempts": 3, "timeout_seconds": 30},
    {"type": "azure", "storage_account": "kadalanding", "container": "landing", "prefix": "postgres"},
    {"type": "azure", "account_url": "https://kadalanding.blob.core.windows.net", "container": "landing",
     "prefix": "/postgres/", "sas_token_env": "KADA_SAS", "hwm": True},
])
def test_valid_landing_sections_are_accepted(landing):
    Extractor(**{**GOOD, "landing": landing})


def test_landing_problems_are_reported_with_the_others():
    found = problems({"type": "s3", "bucket": "s3://kada/landing", "regoin": "eu-west-1", "prefix": "a/../b"},
                     port=70000, databases=[])
    text = "\n".join(found)
    assert len(found) == 6, text
    assert "'port' must be between 1 and 65535" in text and "'databases' must list" in text
    assert "unknown setting 'landing.regoin'; did you mean 'landing.region'?" in text
    assert "missing setting 'landing.region'" in text
    assert "'landing.bucket' must be a bucket name alone (put folders in 'landing.prefix')" in text
    assert "'landing.prefix' must not hold '.' or '..' folders" in text


@pytest.mark.parametrize("landing, expected", [
    ("s3://bucket", "'landing' must be an object"),
    ({"bucket": "b"}, "'landing.type' must be one of local, s3, azure, got nothing"),
    ({"type": "gcs"}, "'landing.type' must be one of local, s3, azure, got \"gcs\""),
    ({"type": "local", "path": "landing"}, "'landing.path' must be an absolute path"),
    ({"type": "s3", "bucket": "B", "region": "eu-west-1", "prefix": ""}, "'landing.bucket' must be an S3 bucket name"),
    ({"type": "s3", "bucket": "kada", "region": "eu-west-1", "prefix": "", "role_arn": "kada-role"}, "IAM role ARN"),
    ({"type": "s3", "bucket": "kada", "region": "eu-west-1", "prefix": "", "endpoint_url": "s3.local"}, "http(s) URL"),
    ({"type": "s3", "bucket": "kada", "region": "eu-west-1", "prefix": "", "max_attempts": 0}, "between 1 and 20"),
    ({"type": "s3", "bucket": "kada", "region": "eu-west-1", "prefix": "", "hwm": "yes"}, "'landing.hwm' must be true or false"),
    ({"type": "azure", "container": "landing", "prefix": ""}, "exactly one of 'landing.account_url' and 'landing.storage_account'"),
    ({"type": "azure", "storage_account": "Kada_Landing", "container": "landing", "prefix": ""}, "storage account name"),
    ({"type": "azure", "storage_account": "kada", "container": "Landing", "prefix": ""}, "container name"),
    ({"type": "azure", "storage_account": "kada", "container": "landing", "prefix": "", "sas_token_env": "1X"},
     "environment variable name"),
])
def test_each_landing_problem_is_named(landing, expected):
    found = problems(landing)
    assert any(expected in p for p in found), found


def test_no_landing_secret_in_messages_or_the_manifest():
    pasted_url = f"https://kada.blob.core.windows.net/?{SAS}"
    found = "\n".join(problems({"type": "azure", "account_url": pasted_url, "container": "landing", "prefix": "p",
                                "sas_token": 12345}))
    assert "must be the plain URL" in found and "'landing.sas_token' must be a string, got (hidden)" in found
    assert "Zm9vYmFy" not in found and "12345" not in found
    settings, _ = validate_config({**GOOD, "landing": {"type": "azure", "storage_account": "kada", "container": "landing",
                                                       "prefix": "p", "sas_token": SAS}})
    recorded = settings_for_manifest(settings, SETTINGS)
    assert recorded["landing"] == {"type": "azure", "storage_account": "kada", "container": "landing", "prefix": "p",
                                   "sas_token": "[REDACTED]"}
    assert recorded["password"] == "[REDACTED]" and "Zm9vYmFy" not in json.dumps(recorded)


def test_a_run_records_its_landing_without_the_token(pg18, tmp_path):
    extract = run_extract(pg18, ["postgres"], tmp_path, landing={
        "type": "azure", "storage_account": "kada", "container": "landing", "prefix": "p", "sas_token": SAS})
    manifest_text = next(tmp_path.glob("*_manifest_*.json")).read_text()
    assert extract.manifest["settings"]["landing"]["sas_token"] == "[REDACTED]"
    assert "Zm9vYmFy" not in manifest_text and SAS not in manifest_text


def test_a_missing_optional_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.setitem(sys.modules, "azure.storage.blob", None)
    with pytest.raises(MissingExtra, match=r'pip install "kada-collectors-extractors\[s3\]"'):
        open_landing({"type": "s3", "bucket": "kada", "region": "eu-west-1", "prefix": ""})
    with pytest.raises(MissingExtra, match=r'pip install "kada-collectors-extractors\[azure\]"'):
        open_landing({"type": "azure", "storage_account": "kada", "container": "landing", "prefix": ""})


def test_the_sas_token_comes_from_the_environment(monkeypatch):
    pytest.importorskip("azure.storage.blob")
    section = {"type": "azure", "storage_account": "kada", "container": "landing", "prefix": ""}
    monkeypatch.delenv("AZURE_STORAGE_SAS_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="no SAS token; export AZURE_STORAGE_SAS_TOKEN"):
        open_landing(section)
    monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", "?" + SAS)
    assert open_landing(section).token == SAS
    monkeypatch.setenv("KADA_SAS", "not-a-token")
    with pytest.raises(ConfigError, match="is not a SAS token") as caught:
        open_landing({**section, "sas_token_env": "KADA_SAS"})
    assert "not-a-token" not in str(caught.value)


# -- pushing a run to a folder ----------------------------------------------------------------------

# run_folder: a copy of a run of pg18's postgres database (fix_runs.py)


def local_landing(tmp_path, **extra):
    path = tmp_path / "landing"
    path.mkdir(exist_ok=True)
    return {"type": "local", "path": str(path), **extra}


def test_push_lands_every_file_then_the_manifest(run_folder, tmp_path):
    store = open_landing(local_landing(tmp_path))
    order = []
    report = push_run(run_folder, store, on_file=lambda i, n, outcome: order.append((outcome.name, outcome.status)))
    manifest = load_manifest(run_folder)
    names = [f["name"] for f in manifest["files"]]
    manifest_name = "postgres_manifest_20260102000000.json"
    assert report.ok and report.manifest == manifest_name
    assert [f.name for f in report.files] == names + [manifest_name]
    assert all(f.status == LANDED for f in report.files)
    assert [name for name, status in order if status == LANDED][-1] == manifest_name, "the manifest goes last"
    landing = tmp_path / "landing"
    assert sorted(p.name for p in landing.iterdir()) == sorted(names + [manifest_name]), "no temp file left"
    for name in names + [manifest_name]:
        assert (landing / name).read_bytes() == (run_folder / name).read_bytes()
    assert validate_folder(landing).ok


def test_a_second_push_changes_nothing(run_folder, tmp_path):
    store = open_landing(local_landing(tmp_path))
    assert push_run(run_folder, store).ok
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "landing").iterdir()}
    again = push_run(run_folder, store)
    assert again.ok and {f.status for f in again.files} == {ALREADY_LANDED}
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "landing").iterdir()} == before


def test_a_landed_file_that_differs_is_replaced(run_folder, tmp_path):
    store = open_landing(local_landing(tmp_path))
    metadata = next(run_folder.glob("*_metadata_*.csv")).name
    (tmp_path / "landing" / metadata).write_text("stale")
    report = push_run(run_folder, store)
    assert report.ok and (tmp_path / "landing" / metadata).read_bytes() == (run_folder / metadata).read_bytes()


def test_the_newest_run_is_pushed(pg18, run_folder, tmp_path):
    run_extract(pg18, ["postgres"], run_folder, window=("2026-01-02 00:00:00", "2026-01-03 00:00:00"))
    report = push_run(run_folder, open_landing(local_landing(tmp_path)))
    assert report.manifest == "postgres_manifest_20260103000000.json"
    assert not any("20260102000000" in p.name for p in (tmp_path / "landing").iterdir())


def test_a_run_that_fails_its_checks_is_not_pushed(run_folder, tmp_path):
    metadata = next(run_folder.glob("*_metadata_*.csv"))
    metadata.write_bytes(metadata.read_bytes().replace(b"pg_catalog", b"pg_katalog", 1))
    with pytest.raises(NothingToPush) as caught:
        push_run(run_folder, open_landing(local_landing(tmp_path)))
    assert metadata.name in str(caught.value) and "has SHA-256" in str(caught.value)
    assert list((tmp_path / "landing").iterdir()) == []


def test_a_missing_file_stops_the_push_before_any_upload(run_folder, tmp_path):
    next(run_folder.glob("*_roles_*.csv")).unlink()
    with pytest.raises(NothingToPush, match="missing from the folder"):
        push_run(run_folder, open_landing(local_landing(tmp_path)))
    assert list((tmp_path / "landing").iterdir()) == []


def test_a_failed_run_is_pushed_only_when_allowed(pg18, tmp_path):
    from kada_collectors.lib.errors import ExtractError
    output = tmp_path / "out"
    with pytest.raises(ExtractError):
        run_extract(pg18, ["postgres", "no_such_db"], output)
    store = open_landing(local_landing(tmp_path))
    with pytest.raises(NothingToPush, match=r"is a failed run \(database\(s\) no_such_db failed\)"):
        push_run(output, store)
    assert push_run(output, store, allow_failed=True).ok


def test_nothing_to_push(tmp_path):
    store = open_landing(local_landing(tmp_path))
    with pytest.raises(NothingToPush, match="no manifest"):
        push_run(tmp_path / "landing", store)
    with pytest.raises(NothingToPush, match="does not exist"):
        push_run(tmp_path / "absent", store)


def test_a_missing_landing_folder_is_a_landing_error(run_folder, tmp_path):
    store = open_landing({"type": "local", "path": str(tmp_path / "not-mounted")})
    with pytest.raises(LandingError, match="does not exist; create it"):
        push_run(run_folder, store)


# -- the HWM in a landing folder -------------------------------------------------------------------

def test_of_two_racing_runs_only_one_advances_the_hwm(tmp_path):
    store = open_landing(local_landing(tmp_path))
    first, second = LandingHWM(store, "postgres"), LandingHWM(store, "postgres")
    assert first.get()[0] == second.get()[0] == "1970-01-01 00:00:00"
    first.publish("2026-01-02 00:00:00")
    with pytest.raises(HWMConflict, match="another run published its HWM meanwhile"):
        second.publish("2026-01-02 00:00:05")
    assert (tmp_path / "landing" / "postgres_hwm.txt").read_text() == "2026-01-02 00:00:00\n"
    # The next read sees the winner's value, and publishing from it works.
    assert second.get()[0] == "2026-01-02 00:00:00"
    second.publish("2026-01-03 00:00:00")
    assert LandingHWM(store, "postgres").get()[0] == "2026-01-03 00:00:00"


def test_the_landing_hwm_is_seeded_once_from_a_local_file(tmp_path):
    store = open_landing(local_landing(tmp_path))
    (tmp_path / "postgres_hwm.txt").write_text("2026-05-01 00:00:00\n")
    hwm = LandingHWM(store, "postgres", seed_folder=str(tmp_path))
    assert hwm.get()[0] == "2026-05-01 00:00:00"
    hwm.publish("2026-05-02 00:00:00")
    (tmp_path / "postgres_hwm.txt").write_text("2026-01-01 00:00:00\n")
    assert LandingHWM(store, "postgres", seed_folder=str(tmp_path)).get()[0] == "2026-05-02 00:00:00"


def test_a_corrupt_landing_hwm_is_an_error_not_a_reset(tmp_path):
    store = open_landing(local_landing(tmp_path))
    (tmp_path / "landing" / "postgres_hwm.txt").write_text("last tuesday\n")
    with pytest.raises(HWMError, match="is corrupt: expected one line 'YYYY-MM-DD HH:MM:SS'"):
        LandingHWM(store, "postgres").get()


# -- the commands ---------------------------------------------------------------------------------

def write_config(folder, server, databases, landing, **overrides):
    path = folder / "config.json"
    path.write_text(json.dumps({**extractor_config(server, databases, folder / "out", **overrides), "landing": landing}))
    return path


def command(*args, cwd, env=None):
    return subprocess.run([str(BIN / "kada-collector"), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_run_extracts_pushes_and_publishes_and_a_fresh_host_continues(pg18, tmp_path):
    landing = local_landing(tmp_path, hwm=True)
    host_a, host_b = tmp_path / "host-a", tmp_path / "host-b"
    host_a.mkdir(), host_b.mkdir()
    first = command("run", "--config", write_config(host_a, pg18, ["postgres"], landing), cwd=host_a)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "kada-collector run succeeded" in first.stdout and "hwm      published" in first.stdout
    hwm = (tmp_path / "landing" / "postgres_hwm.txt").read_text().strip()
    manifest = load_manifest(host_a / "out")
    assert manifest["window"] == {"start_hwm": "1970-01-01 00:00:00", "end_hwm": hwm}
    assert validate_folder(tmp_path / "landing").ok and not (host_a / "postgres_hwm.txt").exists()
    assert pg18.password not in first.stdout + first.stderr

    second = command("run", "--config", write_config(host_b, pg18, ["postgres"], landing), cwd=host_b)
    assert second.returncode == 0, second.stdout + second.stderr
    assert load_manifest(host_b / "out")["window"]["start_hwm"] == hwm
    assert len(list((tmp_path / "landing").glob("postgres_manifest_*.json"))) in (1, 2)  # 1 if in the same second


def test_run_with_a_failing_database_pushes_nothing_and_keeps_the_hwm(pg18, tmp_path):
    (tmp_path / "postgres_hwm.txt").write_text("2026-01-01 00:00:00\n")
    config = write_config(tmp_path, pg18, ["postgres", "no_such_db"], local_landing(tmp_path))
    result = command("run", "--config", config, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failed at the extraction (exit 1)" in result.stdout and "no_such_db" in result.stderr
    assert list((tmp_path / "landing").iterdir()) == []
    assert (tmp_path / "postgres_hwm.txt").read_text() == "2026-01-01 00:00:00\n"


def test_run_and_push_exit_codes(pg18, tmp_path):
    config = write_config(tmp_path, pg18, ["postgres"], local_landing(tmp_path), port=70000)
    bad = command("run", "--config", config, cwd=tmp_path)
    assert bad.returncode == 2 and "'port' must be between" in bad.stderr
    assert "Traceback" not in bad.stderr and pg18.password not in bad.stderr + bad.stdout

    no_landing = tmp_path / "no-landing.json"
    no_landing.write_text(json.dumps(extractor_config(pg18, ["postgres"], tmp_path / "out")))
    for sub in ("push", "run"):
        result = command(sub, "--config", no_landing, cwd=tmp_path)
        assert result.returncode == 2 and "no 'landing' section" in result.stderr, result.stderr

    config = write_config(tmp_path, pg18, ["postgres"], local_landing(tmp_path))
    (tmp_path / "out").mkdir()
    nothing = command("push", "--config", config, cwd=tmp_path)
    assert nothing.returncode == 3 and "no run completed there" in nothing.stderr

    unmounted = write_config(tmp_path, pg18, ["postgres"], {"type": "local", "path": str(tmp_path / "not-mounted")})
    unreachable = command("run", "--config", unmounted, cwd=tmp_path)
    assert unreachable.returncode == 4 and "does not exist; create it" in unreachable.stderr
    assert list((tmp_path / "out").iterdir()) == [], "a landing that cannot be used is found before extracting"
    assert not (tmp_path / "postgres_hwm.txt").exists()


def test_push_command_reports_each_file(pg18, tmp_path):
    config = write_config(tmp_path, pg18, ["postgres"], local_landing(tmp_path))
    run_extract(pg18, ["postgres"], tmp_path / "out")
    count = len(load_manifest(tmp_path / "out")["files"]) + 1
    first = command("push", "--config", config, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count(" landed  postgres_") == count and "kada-collector push succeeded" in first.stdout
    second = command("push", "-c", config, cwd=tmp_path)
    assert second.returncode == 0 and second.stdout.count("already landed  postgres_") == count
    assert f"({count} already there)" in second.stdout


def test_progress_shows_on_a_terminal_only(pg18, tmp_path):
    import pty
    import select
    config = write_config(tmp_path, pg18, ["postgres"], local_landing(tmp_path))
    run_extract(pg18, ["postgres"], tmp_path / "out")
    quiet = command("push", "--config", config, cwd=tmp_path)
    assert quiet.returncode == 0 and "\r" not in quiet.stderr and "[1/" not in quiet.stderr

    shutil.rmtree(tmp_path / "landing")
    (tmp_path / "landing").mkdir()
    master, slave = pty.openpty()
    process = subprocess.Popen([str(BIN / "kada-collector"), "push", "--config", str(config)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=slave, text=False)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        try:
            chunk = os.read(master, 65536) if ready else b""
        except OSError:  # the terminal closed with the process
            chunk = b""
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert process.wait(60) == 0
    assert b"\r[1/" in seen and b"%" in seen, seen[-2000:]
    last = seen.replace(b"\r\n", b"\n").rsplit(b"\r", 1)[-1]  # the terminal turns \n into \r\n
    assert b"INFO kada_collectors.cli: landed postgres_manifest_" in last, "the status line is cleared at the end"


@pytest.mark.parametrize("key, hint", [
    ("regoin", "; known settings: landing.hwm, landing.path, landing.type"),  # no close name: all of them
    ("pth", "; did you mean 'landing.path'?"),
])
def test_only_close_names_are_suggested(key, hint):
    found = problems({"type": "local", "path": "/mnt/landing", key: "x"})
    assert f"unknown setting 'landing.{key}'{hint}" in found, found
