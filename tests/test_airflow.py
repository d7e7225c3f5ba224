"""The example Airflow DAG end to end: a real Apache Airflow 3 (its own venv, see
landing_servers.airflow_venv) runs examples/kada_postgres_dag.py with `airflow dags test` against
PostgreSQL 18 and moto's S3 server, for two servers and three databases."""

import json
import os
import shutil
import subprocess
import time
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


# -- a platform team's fleet: the factory's settings, per-server pools, retries, max_map_length ----------

FLEET_DAG = """
import os
from datetime import timedelta
from pathlib import Path

from kada_collectors.extractors.airflow import collector_dag


def alert(context):
    ti = context["ti"]
    Path(os.environ["KADA_ALERTS"], f"{ti.task_id}.{ti.map_index}").write_text(str(ti.try_number))


dag = collector_dag(
    "kada_fleet_test", configs=os.environ["KADA_FLEET_CONFIGS"], split="database",
    default_args={"owner": "platform", "retries": 5, "on_failure_callback": alert},
    retries=2, retry_delay=timedelta(minutes=2), pool="kada_tasks", queue="collectors",
    execution_timeout=timedelta(minutes=20), description="the platform team's fleet", max_active_tasks=8,
    sessions_per_task=2)
"""

# What Airflow's own parser (the DagBag the dag-processor uses) makes of a DAG file.
DESCRIBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
if bag.import_errors:
    print(json.dumps({"errors": list(bag.import_errors.values())}))
    sys.exit(0)
dag, = bag.dags.values()
print(json.dumps({"description": dag.description, "max_active_tasks": dag.max_active_tasks,
                  "max_active_runs": dag.max_active_runs, "tasks": {t.task_id: {
    "pool": t.pool, "pool_slots": t.pool_slots, "queue": t.queue, "owner": t.owner, "retries": t.retries,
    "retry_delay": t.retry_delay.total_seconds(), "timeout": t.execution_timeout.total_seconds(),
    "callbacks": len(t.on_failure_callback or [])} for t in dag.tasks}}))
"""

FLEET = {"sales": ["postgres", "air_orders"], "hr": ["air_people", "air_pay"], "ops": ["postgres", "air_missing"]}


@pytest.fixture(scope="module")
def fleet(airflow, moto_s3, pg18):
    """Three servers of two databases each (six units), one database missing; a DAG file over them."""
    home = airflow["home"]
    dags, configs, alerts = home / "fleet-dags", home / "fleet-configs", home / "alerts"
    for folder in (dags, configs, alerts):
        folder.mkdir()
    (dags / "kada_fleet_dag.py").write_text(FLEET_DAG)
    pg18.execute("DROP DATABASE IF EXISTS air_pay")
    pg18.create_database("air_pay")
    for name, databases in FLEET.items():
        (configs / f"{name}.json").write_text(json.dumps({
            "host": f"{name}.postgres.example", "server": pg18.host, "port": pg18.port, "username": pg18.superuser,
            "password_env": "KADA_PG_PASSWORD", "databases": databases, "output_path": str(home / "fleet-out" / name),
            "max_connections": 3 if name == "sales" else 2,
            "landing": {"type": "s3", "bucket": airflow["bucket"], "region": "eu-west-1", "prefix": f"fleet/{name}",
                        "endpoint_url": moto_s3.url, "max_attempts": 2}}))
    env = {"AIRFLOW__CORE__DAGS_FOLDER": str(dags), "KADA_FLEET_CONFIGS": str(configs), "KADA_ALERTS": str(alerts),
           "AIRFLOW__CORE__MAX_MAP_LENGTH": "2"}  # six units, two per server
    return {"dags": dags, "configs": configs, "alerts": alerts, "env": env}


def describe(airflow, fleet, **env):
    result = subprocess.run([str(airflow["venv"] / "bin" / "python"), "-c", DESCRIBE, str(fleet["dags"])],
                            env={**airflow["env"], **fleet["env"], **env}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-5000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_factory_passes_the_dags_and_the_tasks_settings_through(airflow, fleet):
    dag = describe(airflow, fleet)
    assert (dag["description"], dag["max_active_tasks"], dag["max_active_runs"]) == ("the platform team's fleet", 8, 1)
    assert sorted(dag["tasks"]) == sorted(f"{server}.{task}" for server in FLEET
                                          for task in ("plan", "source.extract", "source.push", "source.save_hwm"))
    for task_id, task in dag["tasks"].items():
        server, step = task_id.split(".", 1)
        # default_args merged with the factory's; a keyword argument (retries=2) wins over both.
        assert (task["owner"], task["queue"], task["timeout"], task["callbacks"]) == ("platform", "collectors", 1200, 1)
        assert (task["retries"], task["retry_delay"]) == ((0, 120) if step == "plan" else (2, 120)), task_id
        # Each server's extracts share its pool, two sessions (slots) each; the rest use the caller's pool.
        expected = (f"kada_postgres_{server}", 2) if step == "source.extract" else ("kada_tasks", 1)
        assert (task["pool"], task["pool_slots"]) == expected, task_id


def test_a_server_with_more_databases_than_airflow_maps_fails_when_the_dag_is_parsed(airflow, fleet):
    dag = describe(airflow, fleet, AIRFLOW__CORE__MAX_MAP_LENGTH="1")
    error, = dag["errors"]
    assert "lists 2 databases" in error and "max_map_length = 1" in error and "AIRFLOW__CORE__MAX_MAP_LENGTH=2" in error


def test_an_argument_neither_the_dag_nor_its_tasks_take_is_refused_naming_it(airflow, fleet, tmp_path):
    (tmp_path / "kada_typo_dag.py").write_text(FLEET_DAG.replace('queue="collectors"', 'queue="collectors", qeue="x"'))
    error, = describe(airflow, {**fleet, "dags": tmp_path})["errors"]
    assert "unknown argument(s) qeue" in error


def test_the_pools_command_creates_the_pools_in_airflow(airflow, fleet):
    printed = subprocess.run([str(airflow["venv"] / "bin" / "python"), "-m", "kada_collectors.extractors.airflow",
                              "pools", str(fleet["configs"])], capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr
    for command in printed.stdout.splitlines():
        created = subprocess.run(command, shell=True, env=airflow["env"], capture_output=True, text=True, timeout=300)
        assert created.returncode == 0, created.stderr[-3000:]
    pools = json.loads(airflow_cmd(airflow, "pools", "list", "--output", "json").stdout)
    assert {p["pool"]: int(p["slots"]) for p in pools if p["pool"].startswith("kada_postgres_")} == {
        "kada_postgres_hr": 2, "kada_postgres_ops": 2, "kada_postgres_sales": 3}


def test_a_fleet_over_max_map_length_runs_and_a_missing_database_fails_at_once(airflow, fleet, moto_s3, pg18):
    started = time.monotonic()
    result = airflow_cmd(airflow, "dags", "test", "kada_fleet_test", **fleet["env"])
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 1, "the DAG run fails: one database is missing"
    assert "'air_missing' does not exist" in output and "not retried" in output
    # Retried, the missing database would keep the run open for 2 minutes and more.
    assert seconds < 120, seconds
    alerts = {path.name: path.read_text() for path in fleet["alerts"].iterdir()}
    assert list(alerts.values()) == ["1"] and list(alerts)[0].startswith("ops.source.extract."), alerts
    objects = moto_s3.objects(airflow["bucket"], "fleet/")
    landed = {key.rsplit("/", 1)[0] for key in objects if "_manifest_" in key}
    assert landed == {f"fleet/{server}/{database}" for server, databases in FLEET.items() for database in databases
                      if database != "air_missing"}, sorted(objects)
    assert pg18.password not in output
