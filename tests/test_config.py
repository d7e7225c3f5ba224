"""Extractor(**config) validates the whole config before connecting, and never echoes a secret."""

import json
import re
from pathlib import Path

import pytest

from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.utils import load_config
from kada_collectors.lib.errors import ConfigError, ExtractError

GOOD = {
    "host": "example.postgres.localhost", "server": "127.0.0.1", "username": "collector",
    "password": "Hunter2-secret", "databases": ["dwh"], "port": 5432, "output_path": "/tmp/out",
    "mask": True, "compress": True, "meta_only": True,
}


def problems(**changes):
    config = {**GOOD, **changes}
    for key in [k for k, v in changes.items() if v is ...]:
        del config[key]
    with pytest.raises(ConfigError) as caught:
        Extractor(**config)
    return caught.value.problems


def test_the_documented_config_is_accepted():
    Extractor(**GOOD)


def test_every_problem_is_reported_at_once():
    found = problems(username=..., databases=[], port=70000, output_path="out", mask="yes", colour="blue")
    text = "\n".join(found)
    assert len(found) == 6, text
    assert "missing setting 'username'" in text
    assert "'databases' must list at least one database" in text
    assert "'port' must be between 1 and 65535" in text
    assert "'output_path' must be an absolute path" in text
    assert "'mask' must be true or false" in text
    assert "unknown setting 'colour'" in text


@pytest.mark.parametrize("changes, expected", [
    ({"databses": ["x"]}, "did you mean 'databases'"),
    ({"port": "5432"}, "'port' must be an integer"),
    ({"port": True}, "'port' must be an integer"),
    ({"databases": "dwh"}, "'databases' must be a list"),
    ({"databases": ["dwh", ""]}, "non-empty strings"),
    ({"databases": ["dwh", "dwh"]}, "more than once"),
    ({"server": ""}, "'server' must not be empty"),
    ({"sslmode": "always"}, "'sslmode' must be one of"),
    ({"connect_timeout": 0}, "'connect_timeout' must be between"),
    ({"password": 1234}, "'password' must be a string, got (hidden)"),
])
def test_each_bad_input_is_named(changes, expected):
    assert any(expected in p for p in problems(**changes)), problems(**changes)


def test_no_secret_in_any_message():
    found = problems(password=["Hunter2-secret"], port="x")
    assert "Hunter2-secret" not in "\n".join(found)


def test_password_from_environment_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KADA_TEST_PASSWORD", "from-env")
    assert Extractor(**{**GOOD, "password": None, "password_env": "KADA_TEST_PASSWORD"})._password == "from-env"
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    assert Extractor(**{**GOOD, "password": "", "password_file": str(secret)})._password == "from-file"
    with pytest.raises(ConfigError, match="KADA_TEST_MISSING, which is not set"):
        Extractor(**{**GOOD, "password": "", "password_env": "KADA_TEST_MISSING"})
    with pytest.raises(ConfigError, match="one way only"):
        Extractor(**{**GOOD, "password_env": "KADA_TEST_PASSWORD"})
    with pytest.raises(ConfigError, match="cannot be read"):
        Extractor(**{**GOOD, "password": "", "password_file": str(tmp_path / "absent")})


def test_repr_hides_the_password():
    assert "Hunter2" not in repr(Extractor(**GOOD))


def test_load_config_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"host": "x",\n "port": }')
    with pytest.raises(ConfigError, match="line 2"):
        load_config(broken)
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    with pytest.raises(ConfigError, match="JSON object"):
        load_config(listed)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD))
    assert load_config(good) == GOOD


def test_named_sql_is_listed_read_and_replaced():
    extractor = Extractor(**GOOD)
    names = extractor.list_sql()
    assert "ROLES_SQL" in names and "COLUMNS_SQL" in names and len(names) == len(set(names))
    assert "pg_roles" in extractor.get_sql("ROLES_SQL")
    extractor.overwrite_sql("ROLES_SQL", "SELECT 1")
    assert extractor.get_sql("ROLES_SQL") == "SELECT 1"
    with pytest.raises(ExtractError, match="no SQL statement named 'NOPE_SQL'"):
        extractor.get_sql("NOPE_SQL")
    with pytest.raises(ExtractError, match="needs the SQL text"):
        extractor.overwrite_sql("ROLES_SQL", "  ")


@pytest.mark.parametrize("setting, example", [
    ("output_path", "/var/lib/kada/output"),
    ("password_file", "/etc/kada/postgres_password"),
    ("snapshot_path", "/var/lib/kada/kada_postgres_snapshots.sqlite"),
])
def test_a_relative_path_gets_an_example_that_fits_the_setting(setting, example):
    changes = {setting: "relative/path"} if setting != "password_file" else {"password": None, setting: "pw"}
    assert f"'{setting}' must be an absolute path, got \"" in "\n".join(problems(**changes))
    assert any(p.startswith(f"'{setting}'") and p.endswith(f'e.g. "{example}"') for p in problems(**changes))


def test_the_documented_example_is_what_the_collector_prints():
    """docs/configuration.md's bad config and its problems, as the collector words them."""
    text = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    config, printed = re.search(r"```json\n(.*?)\n```.*?```\n(.*?)\n```", text, re.DOTALL).groups()
    with pytest.raises(ConfigError) as caught:
        Extractor(**json.loads(config))
    assert str(caught.value) == printed
