"""The customer's faces, run as customers run them: the example wrapper script and the commands."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from collect import extractor_config, load_manifest
from conftest import SHOP
from kada_collectors.lib.validate import validate_folder

EXAMPLES = Path(__file__).parents[1] / "examples"
BIN = Path(sys.executable).parent


def write_config(folder, server, databases, output):
    path = folder / "kada_postgres_extractor_config.json"
    path.write_text(json.dumps(extractor_config(server, databases, output), indent=2))
    return path


def run(command, cwd):
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def wrapper(tmp_path):
    """The example wrapper and config copied into a customer's folder, unchanged."""
    for name in ("kada_postgres_extractor.py", "kada_postgres_extractor_config.json"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path / "kada_postgres_extractor.py"


def test_example_config_is_valid():
    from kada_collectors.extractors.postgres import Extractor
    from kada_collectors.extractors.utils import load_config
    Extractor(**load_config(EXAMPLES / "kada_postgres_extractor_config.json"))


def test_wrapper_runs_unchanged_and_publishes_the_hwm(shop, wrapper, tmp_path):
    output = tmp_path / "out"
    config = write_config(tmp_path, shop, [SHOP], output)
    first = run([sys.executable, str(wrapper), "--config", str(config)], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    hwm = (tmp_path / "postgres_hwm.txt").read_text().strip()
    manifest = load_manifest(output)
    assert manifest["window"]["end_hwm"] == hwm and manifest["window"]["start_hwm"] == "1970-01-01 00:00:00"
    assert validate_folder(output).ok
    assert shop.password not in first.stderr

    # The next run starts where the last one stopped.
    shutil.rmtree(output)
    second = run([sys.executable, str(wrapper), "-c", str(config), "-n", "postgres"], cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert load_manifest(output)["window"]["start_hwm"] == hwm


def test_a_failed_run_does_not_publish_the_hwm(shop, wrapper, tmp_path):
    (tmp_path / "nightly_hwm.txt").write_text("2026-01-01 00:00:00\n")
    config = write_config(tmp_path, shop, [SHOP, "no_such_db"], tmp_path / "out")
    result = run([sys.executable, str(wrapper), "--config", str(config), "--name", "nightly"], cwd=tmp_path)
    assert result.returncode != 0
    assert "no_such_db" in result.stderr and "does not exist" in result.stderr
    assert (tmp_path / "nightly_hwm.txt").read_text() == "2026-01-01 00:00:00\n"


def test_console_command_does_the_same(shop, tmp_path):
    output = tmp_path / "out"
    config = write_config(tmp_path, shop, [SHOP], output)
    result = run([str(BIN / "kada-postgres-extractor"), "--config", str(config), "--name", "cron"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cron_hwm.txt").exists() and validate_folder(output).ok


def test_console_command_reports_a_bad_config_without_a_traceback(tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"host": "h", "server": "s", "databases": [], "output_path": "rel",
                                  "password": "Top-Secret-1"}))
    result = run([str(BIN / "kada-postgres-extractor"), "--config", str(config)], cwd=tmp_path)
    assert result.returncode == 2
    assert "missing setting 'username'" in result.stderr and "must be an absolute path" in result.stderr
    assert "Traceback" not in result.stderr and "Top-Secret-1" not in result.stderr
    assert not (tmp_path / "postgres_hwm.txt").exists()


def test_validate_command(shop_extract, tmp_path):
    good = run([str(BIN / "kada-collector"), "validate", str(shop_extract.output)], cwd=tmp_path)
    assert good.returncode == 0 and "valid" in good.stdout
    broken = tmp_path / "broken"
    shutil.copytree(shop_extract.output, broken)
    metadata = next(broken.glob("*_metadata_*.csv"))
    metadata.write_bytes(metadata.read_bytes().replace(b'"|"', b'|', 1))
    bad = run([str(BIN / "kada-collector"), "validate", str(broken)], cwd=tmp_path)
    assert bad.returncode != 0 and metadata.name in bad.stdout
