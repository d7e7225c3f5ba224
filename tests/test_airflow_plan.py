"""The DAG factory's module without Airflow: it imports, says what is missing, and plans units."""

import importlib.util
import json

import pytest

from kada_collectors.extractors import airflow as factory
from kada_collectors.lib.errors import CollectorError


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
    assert all(set(u) == {"name", "config", "database", "folder", "error"} for u in units), "XCom holds no config"


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
