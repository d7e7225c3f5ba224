"""The DAG factory's module without Airflow: it imports, says what is missing, plans units and
pools, and tells the failures no retry fixes from the others."""

import importlib.util
import json
import socket
import subprocess
import sys

import pytest

from kada_collectors.extractors import airflow as factory
from collect import extractor_config
from conftest import LOW_PRIVILEGE_USER, create_low_privilege_role
from kada_collectors.extractors.postgres import Extractor
from kada_collectors.lib.errors import CollectorError, ConfigError


def write(folder, name, **config):
    base = {"host": f"{name}.example", "server": "127.0.0.1", "username": "u", "password_env": "PW",
            "databases": ["dwh", "sales data"], "output_path": str(folder / "out" / name),
            "landing": {"type": "s3", "bucket": "kada", "region": "eu-west-1", "prefix": f"pg/{name}"}}
    path = folder / f"{name}.json"
    path.write_text(json.dumps({**base, **config}))
    return path


@pytest.mark.skipif(importlib.util.find_spec("airflow") is not None, reason="Airflow is installed here")
def test_the_factory_says_airflow_is_missing():
    with pytest.raises(ImportError, match="needs Apache Airflow 3"):
        factory.collector_dag("kada", "/etc/kada")


def test_units_per_server_and_per_database(tmp_path):
    write(tmp_path, "sales")
    write(tmp_path, "hr", databases=["people"])
    assert [(u["name"], u["database"]) for u in factory.plan_units(tmp_path, "server")] == [("hr", None), ("sales", None)]
    units = factory.plan_units(tmp_path, "database")
    assert [(u["name"], u["database"], u["folder"]) for u in units] == [
        ("hr.people", "people", "people"), ("sales.dwh", "dwh", "dwh"), ("sales.sales_data", "sales data", "sales_data")]
    config = factory.unit_config(units[2])
    assert config["databases"] == ["sales data"] and config["landing"]["prefix"] == "pg/sales/sales_data"
    assert config["output_path"] == str(tmp_path / "out" / "sales" / "sales_data")
    assert config["snapshot_path"] == str(tmp_path / "out" / "sales" / "kada_postgres_snapshots.sales_data.sqlite")
    assert all(set(u) == {"name", "config", "database", "folder", "sessions", "error"} for u in units), \
        "XCom holds no config"


def test_a_broken_config_fails_only_its_own_unit(tmp_path):
    write(tmp_path, "good")
    (tmp_path / "broken.json").write_text("{")
    write(tmp_path, "nolanding", landing=None)
    units = {u["name"]: u for u in factory.plan_units(tmp_path, "server")}
    assert units["good"]["error"] is None
    assert "not valid JSON" in units["broken"]["error"] and "no 'landing' section" in units["nolanding"]["error"]
    with pytest.raises(CollectorError, match="not valid JSON"):
        factory.unit_config(units["broken"])


def test_clashing_source_names_are_refused(tmp_path):
    write(tmp_path, "a", databases=["x y", "x_y"])
    with pytest.raises(CollectorError, match="share the HWM name"):
        factory.plan_units(tmp_path, "database")


def test_one_database_task_opens_sessions_per_task_within_the_servers_max_connections(tmp_path):
    write(tmp_path, "sales", max_connections=3)
    write(tmp_path, "hr", databases=["people"])  # max_connections: the default, 2
    units = {u["name"]: u for u in factory.plan_units(tmp_path, "database", sessions_per_task=4)}
    assert factory.unit_config(units["sales.dwh"])["max_connections"] == 3
    assert factory.unit_config(units["hr.people"])["max_connections"] == 2
    units = {u["name"]: u for u in factory.plan_units(tmp_path, "database", sessions_per_task=1)}
    assert factory.unit_config(units["sales.dwh"])["max_connections"] == 1
    whole = factory.plan_units(tmp_path, "server", sessions_per_task=1)
    assert [factory.unit_config(u).get("max_connections") for u in whole] == [None, 3], "a whole server's as written"


def test_the_pools_command_prints_one_pool_per_server_sized_by_its_max_connections(tmp_path):
    write(tmp_path, "sales", max_connections=5)
    write(tmp_path, "hr.eu", databases=["*"])
    result = subprocess.run([sys.executable, "-m", "kada_collectors.extractors.airflow", "pools", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [line.split()[3:5] for line in result.stdout.splitlines()] == [["kada_postgres_hr_eu", "2"],
                                                                          ["kada_postgres_sales", "5"]]
    (tmp_path / "broken.json").write_text("{")
    result = subprocess.run([sys.executable, "-m", "kada_collectors.extractors.airflow", "pools", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "broken.json" in result.stderr and "not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr and not result.stdout


def test_a_server_with_more_databases_than_airflow_maps_is_refused_naming_the_setting(tmp_path):
    write(tmp_path, "sales", databases=["a", "b", "c"])
    write(tmp_path, "hr", databases=["a", "b"])
    servers = factory.fleet(tmp_path, "database", max_map_length=3)
    assert [(s.name, s.units) for s in servers] == [("hr", 2), ("sales", 3)]
    with pytest.raises(CollectorError, match=r"sales.json lists 3 databases.*max_map_length = 2.*"
                                             r"AIRFLOW__CORE__MAX_MAP_LENGTH=3"):
        factory.fleet(tmp_path, "database", max_map_length=2)
    assert len(factory.fleet(tmp_path, "server", max_map_length=2)) == 2, "one unit per server"


def test_a_missing_database_or_no_connect_is_not_retried_and_an_unreachable_server_is(pg18, tmp_path):
    """What the DAG's tasks do not retry: a failure that stays until someone acts."""
    pg18.execute("DROP DATABASE IF EXISTS air_locked_out")
    pg18.execute("CREATE DATABASE air_locked_out")
    pg18.execute("REVOKE CONNECT ON DATABASE air_locked_out FROM PUBLIC")
    create_low_privilege_role(pg18)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    cases = {"missing": extractor_config(pg18, ["air_no_such_db"], tmp_path),
             "no CONNECT": extractor_config(pg18, ["air_locked_out"], tmp_path, user=LOW_PRIVILEGE_USER),
             "unreachable": extractor_config(pg18, ["postgres"], tmp_path, port=free_port, connect_timeout=2)}
    retryable = {}
    for case, config in cases.items():
        with pytest.raises(CollectorError) as raised:
            Extractor(**config).test_connection()
        retryable[case] = raised.value.retryable
    assert retryable == {"missing": False, "no CONNECT": False, "unreachable": True}
    assert not ConfigError(["x"]).retryable
    (tmp_path / "broken.json").write_text("{")
    unit, = factory.plan_units(tmp_path, "database")
    with pytest.raises(CollectorError) as raised:
        factory.unit_config(unit)
    assert not raised.value.retryable, "a broken config is not retried"
