"""The example Airflow DAG end to end: a real Apache Airflow 3 (its own venv, see
landing_servers.airflow_venv) runs examples/kada_postgres_dag.py with `airflow dags test` against
PostgreSQL 18 and moto's S3 server, for two servers and three databases."""

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

pytest.importorskip("boto3")

from landing_servers import AWS_ENV, airflow_venv  # noqa: E402

# Installs Apache Airflow on first use (about a minute); each test runs the DAG (about 15 s).
pytestmark = pytest.mark.slow

EXAMPLE_DAG = Path(__file__).parents[1] / "examples" / "kada_postgres_dag.py"
DAG_ID = "kada_postgres_collector"
DATABASES = {"sales": ["postgres", "air_orders"], "hr": ["air_people"]}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, pg18, moto_s3):
    """Airflow's home with the example DAG, configs for two 'servers', and a bucket."""
    venv = airflow_venv()
    home = tmp_path_factory.mktemp("airflow")
    (home / "dags").mkdir()
    shutil.copy(EXAMPLE_DAG, home / "dags")
    configs = home / "configs"
    configs.mkdir()
    bucket = moto_s3.make_bucket(f"kada-airflow-{uuid.uuid4().hex[:8]}")
    for database in ("air_orders", "air_people"):
        pg18.create_database(database)
        pg18.execute("CREATE TABLE things (id int PRIMARY KEY, name text); COMMENT ON TABLE things IS 'a table'", database)
    for name, databases in DATABASES.items():
        (configs / f"{name}.json").write_text(json.dumps({
            "host": f"{name}.postgres.example", "server": pg18.host, "port": pg18.port, "username": pg18.superuser,
            "password_env": "KADA_PG_PASSWORD", "databases": databases, "output_path": str(home / "out" / name),
            "landing": {"type": "s3", "bucket": bucket, "region": "eu-west-1", "prefix": f"catalog/{name}",
                        "endpoint_url": moto_s3.url, "max_attempts": 2},
        }))
    env = {**os.environ, **AWS_ENV, "AIRFLOW_HOME": str(home / "home"), "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "KADA_POSTGRES_CONFIGS": str(configs),
           "KADA_PG_PASSWORD": pg18.password, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    for key in ("VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(key, None)
    subprocess.run([str(venv / "bin" / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return {"venv": venv, "home": home, "env": env, "bucket": bucket}


def airflow_cmd(airflow, *args, **env):
    return subprocess.run([str(airflow["venv"] / "bin" / "airflow"), *args], env={**airflow["env"], **env},
                          capture_output=True, text=True, timeout=600, cwd=airflow["home"])


def manifests(moto_s3, bucket):
    objects = moto_s3.objects(bucket)
    return {key: json.loads(body) for key, body in objects.items() if "_manifest_" in key}, objects


def test_the_example_dag_collects_every_database_and_continues_where_it_stopped(airflow, moto_s3, pg18):
    first = airflow_cmd(airflow, "dags", "test", DAG_ID)
    assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-5000:]
    found, objects = manifests(moto_s3, airflow["bucket"])
    folders = {"catalog/sales/postgres", "catalog/sales/air_orders", "catalog/hr/air_people"}
    assert {key.rsplit("/", 1)[0] for key in found} == folders, sorted(objects)
    hwms = {}
    for folder in folders:
        server, database = folder.split("/")[1:]
        (key, manifest), = [(k, m) for k, m in found.items() if k.startswith(folder + "/")]
        assert manifest["status"] == "succeeded" and [d["name"] for d in manifest["databases"]] == [database]
        assert manifest["host"] == f"{server}.postgres.example"
        for entry in manifest["files"]:
            assert len(objects[f"{folder}/{entry['name']}"]) == entry["bytes"]
        hwms[folder] = objects[f"{folder}/{server}.{database}_hwm.txt"].decode().strip()
        assert hwms[folder] == manifest["window"]["end_hwm"]
    orders = next(m for k, m in found.items() if k.startswith("catalog/sales/air_orders/"))
    assert orders["files"] and any(f["rows"] for f in orders["files"])

    # No secret in the task logs, XCom or anything else Airflow keeps.
    for path in airflow["home"].joinpath("home").rglob("*"):
        if path.is_file():
            assert pg18.password.encode() not in path.read_bytes(), path
    assert pg18.password not in first.stdout + first.stderr

    second = airflow_cmd(airflow, "dags", "test", DAG_ID, "2026-11-26T00:00:00+00:00")
    assert second.returncode == 0, second.stdout[-5000:] + second.stderr[-5000:]
    found, objects = manifests(moto_s3, airflow["bucket"])
    for folder, hwm in hwms.items():
        windows = sorted(m["window"]["start_hwm"] for k, m in found.items() if k.startswith(folder + "/"))
        assert hwm in windows, (folder, windows)  # the second run started where the first stopped


def test_the_hwm_can_live_in_an_airflow_variable(airflow, moto_s3):
    result = airflow_cmd(airflow, "dags", "test", DAG_ID, "2026-11-27T00:00:00+00:00",
                         KADA_POSTGRES_HWM="variable", KADA_POSTGRES_SPLIT="server")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    for name in DATABASES:
        value = airflow_cmd(airflow, "variables", "get", f"kada_hwm_{name}")
        assert value.returncode == 0, value.stderr
        hwm = value.stdout.strip().splitlines()[-1]
        found, _ = manifests(moto_s3, airflow["bucket"])
        server_runs = [m for k, m in found.items() if k.startswith(f"catalog/{name}/postgres_manifest_")]
        assert hwm in [m["window"]["end_hwm"] for m in server_runs]


FAULT_DAG = """
import os
from kada_collectors.extractors.airflow import collector_dag

dag = collector_dag("kada_fault_test", configs=os.environ["KADA_FAULT_CONFIGS"], split="server", retries=0)
"""


def test_a_failing_source_stops_only_itself(airflow, moto_s3, pg18):
    home = airflow["home"]
    (home / "dags" / "kada_fault_dag.py").write_text(FAULT_DAG)
    configs = home / "fault-configs"
    configs.mkdir()
    landing = {"type": "s3", "bucket": airflow["bucket"], "region": "eu-west-1", "endpoint_url": moto_s3.url,
               "max_attempts": 1}
    for name, port in (("good", pg18.port), ("down", 1)):
        (configs / f"{name}.json").write_text(json.dumps({
            "host": f"{name}.postgres.example", "server": pg18.host, "port": port, "username": pg18.superuser,
            "password_env": "KADA_PG_PASSWORD", "databases": ["postgres"], "output_path": str(home / "out" / name),
            "connect_timeout": 2, "landing": {**landing, "prefix": f"fault/{name}"}}))
    (configs / "broken.json").write_text('{"host": "broken", ')
    result = airflow_cmd(airflow, "dags", "test", "kada_fault_test", KADA_FAULT_CONFIGS=str(configs))
    output = result.stdout + result.stderr
    assert result.returncode == 1, "the DAG run fails"
    assert "cannot reach PostgreSQL at 127.0.0.1:1" in output and "not valid JSON" in output
    objects = moto_s3.objects(airflow["bucket"], "fault/")
    assert any(k.startswith("fault/good/postgres_manifest_") for k in objects) and "fault/good/good_hwm.txt" in objects
    assert not any(k.startswith(("fault/down/", "fault/broken/")) for k in objects), sorted(objects)
    assert pg18.password not in output
