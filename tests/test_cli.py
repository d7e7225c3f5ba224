"""The command lines as a newcomer meets them: ``--version``, each subcommand's ``--help``, the
numbering of ``grants``' steps and ``grants`` without a config file, an error printed once, and log
lines that name the collector's logger. None of these needs a server: each runs the installed
commands in a subprocess, as a user would."""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kada_collectors.extractors.cli import _collector_parser

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
# A port where nothing listens: the commands below must fail before they would connect.
CLOSED_PORT = 9


def run(command, *args, cwd=None):
    return subprocess.run([str(BIN / command), *map(str, args)], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**os.environ, "COLUMNS": "100"})


def write_config(folder, **overrides):
    config = {"host": "h", "server": "127.0.0.1", "port": CLOSED_PORT, "username": "kada", "password": "x",
              "databases": ["dwh", "sales data"], "output_path": str(folder / "out"),
              "snapshot_path": str(folder / "snapshots.sqlite"), **overrides}
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    return path


def package_version(package):
    with open(ROOT / "packages" / package / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


@pytest.mark.parametrize("command", ["kada-collector", "kada-postgres-extractor"])
def test_version_names_the_command_and_both_packages(command):
    result = run(command, "--version")
    assert result.returncode == 0, result.stderr
    expected = (f"{command} {package_version('kada-collectors-extractors')} "
                f"(kada-collectors-lib {package_version('kada-collectors-lib')}, Python {sys.version.split()[0]})")
    assert result.stdout.strip() == expected


def test_every_subcommand_has_a_description():
    commands = _collector_parser()._subparsers._group_actions[0].choices
    assert set(commands) == {"demo", "validate", "push", "run", "grants", "doctor", "report"}
    for name, parser in commands.items():
        assert parser.description and len(parser.description) > 40, f"{name} has no description"
        shown = run("kada-collector", name, "--help")
        assert shown.returncode == 0, shown.stderr
        first_words = " ".join(parser.description.split()[:4])
        assert first_words in " ".join(shown.stdout.split()), f"{name} --help shows no description"


def step_numbers(script):
    return [int(n) for n in re.findall(r"^-- (\d+)\. ", script, re.MULTILINE)]


@pytest.mark.parametrize("options", [
    {},  # no query log: the query log's step is left out
    {"meta_only": False},
    {"meta_only": False, "query_log": {"log_files": {"path": "/var/log/postgresql", "format": "csvlog"}}},
    {"databases": ["*"], "server": "prod.c9akciq32.eu-west-1.rds.amazonaws.com", "iam_auth": True,
     "aws_region": "eu-west-1", "password": None, "sslrootcert": "/etc/kada/global-bundle.pem"},
])
def test_grants_numbers_its_steps_consecutively(tmp_path, options):
    result = run("kada-collector", "grants", "--config", write_config(tmp_path, **options))
    assert result.returncode == 0, result.stderr
    numbers = step_numbers(result.stdout)
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 3, numbers


def test_grants_from_flags_prints_what_the_same_config_would(tmp_path):
    config = write_config(tmp_path, server="db.example.com", port=5433, meta_only=False)
    from_file = run("kada-collector", "grants", "--config", config)
    from_flags = run("kada-collector", "grants", "--username", "kada", "--database", "dwh", "--database",
                     "sales data", "--server", "db.example.com", "--port", "5433", "--query-log", cwd=tmp_path)
    assert from_file.returncode == 0 and from_flags.returncode == 0, from_file.stderr + from_flags.stderr
    assert 'GRANT CONNECT ON DATABASE "sales data" TO "kada";' in from_flags.stdout
    assert "-- For the options given: metadata and the query log" in from_flags.stdout

    def body(script):  # all but the line naming where the options came from
        return [line for line in script.splitlines() if not line.startswith("-- For ")]
    assert body(from_flags.stdout) == body(from_file.stdout)


def test_grants_from_flags_needs_no_server_name(tmp_path):
    result = run("kada-collector", "grants", "--username", "kada", "--database", "dwh", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "host=<server> port=5432" in result.stdout and step_numbers(result.stdout) == [1, 2, 3]


@pytest.mark.parametrize("args, message", [
    (["--database", "dwh"], "--username missing: without --config, give at least the collector's user and its "
                            "databases, e.g. --username kada_collector --database dwh"),
    (["--username", "kada"], "--database missing"),
    (["--username", "kada", "--database", "dwh", "--config", "c.json"], "give either --config or the flags"),
    (["--username", "postgresql://kada:pw@db/dwh", "--database", "dwh"], "'username' holds a connection string"),
])
def test_grants_flags_errors_name_the_fix(tmp_path, args, message):
    result = run("kada-collector", "grants", *args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == "" and "pw@" not in result.stderr


def test_grants_without_config_or_flags_names_the_default_file(tmp_path):
    result = run("kada-collector", "grants", cwd=tmp_path)
    assert result.returncode == 2 and "kada_postgres_extractor_config.json" in result.stderr, result.stderr


def test_push_prints_its_error_once(tmp_path):
    (tmp_path / "out").mkdir()
    config = write_config(tmp_path, landing={"type": "local", "path": str(tmp_path)})
    result = run("kada-collector", "push", "--config", config, cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.count("no run completed there") == 1 and "no run completed there" not in result.stdout
    assert result.stdout.strip() == "kada-collector push failed (exit 3): the error is logged above (stderr)"


def test_run_prints_its_error_once_in_a_line_naming_the_collector(tmp_path):
    config = write_config(tmp_path, landing={"type": "local", "path": str(tmp_path / "not-mounted")})
    result = run("kada-collector", "run", "--config", config, cwd=tmp_path)
    assert result.returncode == 4, result.stdout + result.stderr
    assert result.stderr.count("does not exist; create it") == 1 and "does not exist" not in result.stdout
    assert "failed at the landing check (exit 4)" in result.stdout and "error    logged above (stderr)" in result.stdout
    assert re.search(r"^\S+ \S+Z ERROR kada_collectors\.cli: ", result.stderr, re.MULTILINE), result.stderr
    assert " root:" not in result.stderr


def test_extractor_command_log_lines_name_the_collector(tmp_path):
    result = run("kada-postgres-extractor", "--config", tmp_path / "missing.json", cwd=tmp_path)
    assert result.returncode == 2 and "file not found" in result.stderr, result.stderr
    assert "ERROR kada_collectors.cli: " in result.stderr and " root:" not in result.stderr


def test_the_wrapper_scripts_error_names_the_collector(tmp_path):
    """The vendor's wrapper sets up the root logger; a known error that ends it still says whose it is."""
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "kada_postgres_extractor.py"),
                             "--config", str(tmp_path / "missing.json")], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 2 and "file not found" in result.stderr, result.stderr
    assert "ERROR kada_collectors: " in result.stderr and " root:" not in result.stderr
    assert "Traceback" not in result.stderr
