"""The customer's faces, run as customers run them: the example wrapper script and the commands."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from collect import extractor_config, load_manifest
from conftest import LOW_PRIVILEGE_USER, SHOP
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


def test_one_bad_database_does_not_stop_the_others(shop, wrapper, tmp_path):
    """A missing database and one the user may not CONNECT to are named, with their fix; the healthy
    one is extracted; the run exits 1 without a traceback and the HWM stays where it was."""
    shop.execute("DROP DATABASE IF EXISTS wrapper_locked_out")
    shop.execute("CREATE DATABASE wrapper_locked_out")
    shop.execute("REVOKE CONNECT ON DATABASE wrapper_locked_out FROM PUBLIC")
    (tmp_path / "nightly_hwm.txt").write_text("2026-01-01 00:00:00\n")
    output = tmp_path / "out"
    config = tmp_path / "kada_postgres_extractor_config.json"
    config.write_text(json.dumps(extractor_config(shop, [SHOP, "no_such_db", "wrapper_locked_out"], output,
                                                  user=LOW_PRIVILEGE_USER)))
    result = run([sys.executable, str(wrapper), "--config", str(config), "--name", "nightly"], cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and shop.password not in result.stderr
    # test_connection() warned about each, naming the fix, before the run.
    assert "WARNING" in result.stderr and "database 'no_such_db' does not exist" in result.stderr
    assert f'GRANT CONNECT ON DATABASE "wrapper_locked_out" TO "{LOW_PRIVILEGE_USER}"' in result.stderr
    assert "2 of 3 database(s) failed" in result.stderr
    assert (tmp_path / "nightly_hwm.txt").read_text() == "2026-01-01 00:00:00\n"
    manifest = load_manifest(output)
    status = {d["name"]: d for d in manifest["databases"]}
    assert manifest["status"] == "failed"
    assert status[SHOP]["status"] == "succeeded" and status[SHOP]["rows"]["metadata"] > 0
    assert status["no_such_db"]["status"] == "failed" and "does not exist" in status["no_such_db"]["error"]
    assert status["wrapper_locked_out"]["status"] == "failed"
    assert "GRANT CONNECT" in status["wrapper_locked_out"]["error"]
    assert validate_folder(output).ok


def test_the_wrapper_ends_a_known_error_with_one_message_and_its_exit_code(shop, wrapper, tmp_path):
    """Bad input exits 2 and a server that cannot be used exits 1 (docs/operations.md), each with
    one clear message and no traceback."""
    def wrapper_run(config=None, hwm=None, **overrides):
        (tmp_path / "postgres_hwm.txt").unlink(missing_ok=True)
        if hwm is not None:
            (tmp_path / "postgres_hwm.txt").write_text(hwm)
        path = tmp_path / "case.json"
        path.write_text(json.dumps(config or {**extractor_config(shop, [SHOP], tmp_path / "out"), **overrides}))
        return run([sys.executable, str(wrapper), "--config", str(path)], cwd=tmp_path)

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    cases = {
        "bad config": (wrapper_run({"host": "h", "server": "s", "databases": [], "output_path": "rel"}), 2,
                       "missing setting 'username'"),
        "corrupt HWM": (wrapper_run(hwm="yesterday\n"), 2, "postgres_hwm.txt"),
        "unreachable": (wrapper_run(port=free_port, connect_timeout=2), 1, f"cannot reach PostgreSQL at 127.0.0.1:{free_port}"),
        "wrong password": (wrapper_run(password="Wr0ng-But-Secret"), 1, "authentication refused"),
    }
    for case, (result, code, message) in cases.items():
        assert (result.returncode, "Traceback" in result.stderr) == (code, False), f"{case}: {result.stderr}"
        assert message in result.stderr, f"{case}: {result.stderr}"
        assert result.stderr.count(" ERROR ") == 1, f"{case}: {result.stderr}"
        assert "Wr0ng-But-Secret" not in result.stderr and shop.password not in result.stderr
        assert not (tmp_path / "postgres_hwm.txt").exists() or case == "corrupt HWM"


def test_after_get_generic_logger_a_bug_still_shows_its_traceback(tmp_path):
    """Only known errors lose their traceback; a new error class brings its own exit code; a
    credential in a bug's message is still redacted."""
    script = tmp_path / "script.py"
    script.write_text(
        "import sys\n"
        "from kada_collectors.extractors.utils import get_generic_logger\n"
        "from kada_collectors.lib.errors import CollectorError\n"
        "get_generic_logger('root')\n"
        "class Busy(CollectorError):\n"
        "    exit_code = 6\n"
        "if sys.argv[1] == 'known':\n"
        "    raise Busy('another run holds the lock')\n"
        "raise RuntimeError('unexpected, with postgresql://kada:Top-Secret-1@db/dwh in it')\n")
    known = run([sys.executable, str(script), "known"], cwd=tmp_path)
    assert known.returncode == 6 and "Traceback" not in known.stderr
    assert "ERROR kada_collectors: another run holds the lock" in known.stderr
    bug = run([sys.executable, str(script), "bug"], cwd=tmp_path)
    assert bug.returncode == 1
    assert "Traceback (most recent call last)" in bug.stderr and "RuntimeError: unexpected" in bug.stderr
    assert "Top-Secret-1" not in bug.stderr


@pytest.mark.parametrize("where", ["server", "username", "databases"])
def test_a_password_in_a_connection_string_is_never_shown(where, wrapper, tmp_path):
    """A connection URI with its password written into 'server', 'username' or a database name is
    refused as bad input, and no face repeats it: the wrapper, `run`'s summary, `doctor`."""
    secret = "Pa55-In-The-Uri"
    uri = f"postgresql://kada:{secret}@db.example.com:5432/dwh"
    config = {"host": "db.example.com", "server": "db.example.com", "username": "kada", "databases": ["dwh"],
              "output_path": str(tmp_path / "out"), "landing": {"type": "local", "path": str(tmp_path / "landing")}}
    config[where] = [uri] if where == "databases" else uri
    path = tmp_path / "kada_postgres_extractor_config.json"
    path.write_text(json.dumps(config))
    faces = {
        "wrapper": run([sys.executable, str(wrapper), "--config", str(path)], cwd=tmp_path),
        "run": run([str(BIN / "kada-collector"), "run", "--config", str(path)], cwd=tmp_path),
        "doctor": run([str(BIN / "kada-collector"), "doctor", "--config", str(path)], cwd=tmp_path),
    }
    for face, result in faces.items():
        shown = result.stdout + result.stderr
        assert result.returncode == 2, f"{face}: {shown}"
        assert f"'{where}'" in shown and "connection string" in shown, f"{face}: {shown}"
        assert secret not in shown and "Traceback" not in shown, f"{face}: {shown}"
    assert not list(tmp_path.glob("*_hwm.txt")) and not (tmp_path / "out").exists()


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


@pytest.mark.slow  # about 20 s on 2 cores
def test_the_safety_figures_script_measures_the_wrapper(pg18, tmp_path):
    """benchmarks/safety_wrapper.py (the figures of docs/operations.md) runs against a real server."""
    script = Path(__file__).parents[1] / "benchmarks" / "safety_wrapper.py"
    env = {**os.environ, "PGPASSWORD": pg18.password}  # not on the command line
    result = subprocess.run([sys.executable, str(script), "--dsn", pg18.dsn(user=pg18.superuser)], check=False,
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout)
    assert figures["one_bad_database.extracted"] == "1 of 3" and figures["one_bad_database.hwm_published"] == "no"
    assert figures["one_bad_database.failed_with_fix_in_manifest"] == 2
    codes = {case: figures[f"{case}.exit_code"] for case in ("bad_config", "corrupt_hwm", "unreachable", "wrong_password")}
    assert codes == {"bad_config": 2, "corrupt_hwm": 2, "unreachable": 1, "wrong_password": 1}
    assert sum(v for k, v in figures.items() if k.endswith(".tracebacks") and not k.startswith("bug.")) == 0
    assert (figures["bug.tracebacks"], figures["bug.secret_shown"]) == (1, 0)
    assert figures["password_in_uri.outputs_checked"] == 9 and figures["password_in_uri.outputs_showing_it"] == 0
