"""The Azure landing against Azurite: push and verify, idempotence, blocks, the HWM's conditional
writes, and the faults (the endpoint dying mid-upload, an expired, forged or read-only SAS token,
a missing container), with the token in no message, log or manifest."""

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("azure.storage.blob", reason="the Azure landing needs azure-storage-blob: "
                                                 "pip install 'kada-collectors-extractors[azure]'")

from collect import extractor_config, load_manifest, run_extract  # noqa: E402
from fix_landing import push_cut_in_the_metadata_file, race_for_the_hwm  # noqa: E402
from fix_runs import WINDOW, create_tables  # noqa: E402
from kada_collectors.extractors.cli import EXIT_BAD_INPUT, EXIT_LANDING_FAILED  # noqa: E402
from kada_collectors.lib.landing import (  # noqa: E402
    ALREADY_LANDED, LANDED, LandingError, open_landing, push_run,
)
from kada_collectors.lib.landing import azure as azure_store  # noqa: E402
from kada_collectors.lib.landing.base import LocalFile  # noqa: E402
from landing_servers import FaultProxy  # noqa: E402
from servers import PgServer  # noqa: E402

BIN = Path(sys.executable).parent


@pytest.fixture
def container(azurite):
    return azurite.make_container(f"kada-{uuid.uuid4().hex[:12]}")


def section(azurite, container, token=None, **extra):
    return {"type": "azure", "account_url": azurite.account_url, "container": container, "prefix": "postgres/prod",
            "sas_token": token or azurite.sas(container), "max_attempts": 2, "timeout_seconds": 10, **extra}


@pytest.fixture(scope="module")
def a_run(pg18: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of 200 tables, whose metadata file is cut in the middle by one test (run_folder: a copy)."""
    output = tmp_path_factory.mktemp("azure-run")
    create_tables(pg18, "landing_azure", 200)
    run_extract(pg18, ["landing_azure"], output, window=WINDOW)
    return output


def test_push_lands_verified_blobs_and_repeats_without_change(azurite, container, run_folder):
    store = open_landing(section(azurite, container))
    report = push_run(run_folder, store)
    assert report.ok, report.as_dict()
    names = [f["name"] for f in load_manifest(run_folder)["files"]] + [report.manifest]
    assert [f.name for f in report.files] == names and {f.status for f in report.files} == {LANDED}
    blobs = azurite.blobs(container)
    assert sorted(blobs) == sorted(f"postgres/prod/{n}" for n in names)
    for name in names:
        assert blobs[f"postgres/prod/{name}"] == (run_folder / name).read_bytes()
    properties = azurite.service().get_blob_client(container, f"postgres/prod/{names[0]}").get_blob_properties()
    assert bytes(properties.content_settings.content_md5).hex() == LocalFile.of(run_folder / names[0]).md5
    etags = {n: azurite.service().get_blob_client(container, n).get_blob_properties().etag for n in blobs}

    again = push_run(run_folder, store)
    assert again.ok and {f.status for f in again.files} == {ALREADY_LANDED}
    assert {n: azurite.service().get_blob_client(container, n).get_blob_properties().etag for n in blobs} == etags


def test_a_large_file_goes_in_blocks_and_is_verified(azurite, container, tmp_path, monkeypatch):
    monkeypatch.setattr(azure_store, "MAX_SINGLE_PUT", 1 << 20)
    monkeypatch.setattr(azure_store, "BLOCK_SIZE", 1 << 20)
    store = open_landing(section(azurite, container))
    big = tmp_path / "postgres_metadata_20260102000000.csv"
    big.write_bytes(os.urandom((3 << 20) + 5))
    local = LocalFile.of(big)
    store.upload(local, big.name)
    assert store.matches(store.stat(big.name), local)
    assert azurite.blobs(container)[f"postgres/prod/{big.name}"] == big.read_bytes()


def test_the_endpoint_dying_mid_upload_leaves_a_consistent_landing(azurite, container, run_folder):
    proxy = FaultProxy(azurite.port)
    try:
        store = open_landing(section(azurite, container, account_url=f"{proxy.url}/devstoreaccount1"))
        assert "cannot reach" in push_cut_in_the_metadata_file(run_folder, store, proxy, 100_000,
                                                               lambda: azurite.blobs(container))
    finally:
        proxy.close()


@pytest.mark.parametrize("fault, expected", [
    ("expired", "the SAS token expired at"),
    ("read-only", "the SAS token lacks the write permission"),
    ("forged", r"the SAS token was refused \(AuthorizationFailure\)"),
    ("missing container", "the container kada-absent does not exist"),
])
def test_each_fault_is_named_before_any_upload(azurite, container, run_folder, fault, expected):
    token = {"expired": azurite.sas(container, expires_in=timedelta(hours=-1)),
             "read-only": azurite.sas(container, permission="rl"),
             "forged": azurite.sas(container).replace("sig=", "sig=AAAA"),
             "missing container": azurite.sas("kada-absent")}[fault]
    name = "kada-absent" if fault == "missing container" else container
    with pytest.raises(LandingError, match=expected) as caught:
        push_run(run_folder, open_landing(section(azurite, name, token=token)))
    assert token not in str(caught.value) and token.split("sig=")[1] not in str(caught.value)
    assert azurite.blobs(container) == {}


def test_an_expired_token_found_by_the_service_says_so(azurite, container, run_folder):
    """A token that expires between the check and the upload: the refusal names the expiry."""
    store = open_landing(section(azurite, container, token=azurite.sas(container, expires_in=timedelta(hours=-1))))
    local = LocalFile.of(next(run_folder.glob("*_roles_*.csv")))
    with pytest.raises(LandingError, match=r"refused \(AuthorizationFailure\); the SAS token expired at .* issue a new one"):
        store.upload(local, local.name)


# -- the HWM in Azure ---------------------------------------------------------------------------------

def test_of_two_racing_runs_only_one_advances_the_azure_hwm(azurite, container):
    race_for_the_hwm(open_landing(section(azurite, container)))
    assert azurite.blobs(container)["postgres/prod/postgres_hwm.txt"] == b"2026-01-03 00:00:00\n"


# -- the commands, with the token from the environment -------------------------------------------------

def run_command(folder, server, landing, env):
    config = folder / "config.json"
    config.write_text(json.dumps({**extractor_config(server, ["postgres"], folder / "out"), "landing": landing}))
    return subprocess.run([str(BIN / "kada-collector"), "run", "--config", str(config)], cwd=folder,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **env})


def test_run_command_with_the_token_from_the_environment(azurite, container, pg18, tmp_path):
    landing = section(azurite, container, hwm=True)
    token = landing.pop("sas_token")
    env = {"AZURE_STORAGE_SAS_TOKEN": token}
    first = run_command(tmp_path, pg18, landing, env)
    assert first.returncode == 0, first.stdout + first.stderr
    manifest_text = next((tmp_path / "out").glob("*_manifest_*.json")).read_text()
    blobs = azurite.blobs(container)
    assert blobs["postgres/prod/postgres_hwm.txt"].decode().strip() == json.loads(manifest_text)["window"]["end_hwm"]
    secret = token.split("sig=")[1].split("&")[0]
    for text in (first.stdout, first.stderr, manifest_text, *(b.decode(errors="replace") for b in blobs.values())):
        assert secret not in text and token not in text

    missing = run_command(tmp_path, pg18, landing, {"AZURE_STORAGE_SAS_TOKEN": ""})
    assert missing.returncode == EXIT_BAD_INPUT and "no SAS token; export AZURE_STORAGE_SAS_TOKEN" in missing.stderr

    expired = azurite.sas(container, expires_in=timedelta(minutes=-5))
    hwm_before = azurite.blobs(container)["postgres/prod/postgres_hwm.txt"]
    refused = run_command(tmp_path, pg18, {**landing, "sas_token_env": "KADA_LANDING_SAS"}, {"KADA_LANDING_SAS": expired})
    assert refused.returncode == EXIT_LANDING_FAILED and "the SAS token expired at" in refused.stderr
    assert azurite.blobs(container)["postgres/prod/postgres_hwm.txt"] == hwm_before
    assert expired.split("sig=")[1].split("&")[0] not in refused.stdout + refused.stderr
