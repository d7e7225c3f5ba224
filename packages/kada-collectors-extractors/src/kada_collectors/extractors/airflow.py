"""An Apache Airflow (3.x) DAG factory: one collector DAG for many servers and databases.

    from kada_collectors.extractors.airflow import collector_dag
    dag = collector_dag("kada_postgres", configs="/etc/kada/postgres", split="database")

``configs`` is a folder of collector configs (one JSON file per server, the file name without
``.json`` naming the source) or a list of such files; it is read when the DAG runs, so adding a
server needs no DAG change. Each config needs a ``landing`` section. At run time a ``plan`` task
lists the sources, and a task group is mapped over them (dynamic task mapping), one instance
per server (``split="server"``) or per database (``split="database"``):
``extract`` (HWM window → extract) → ``push`` (check the run, land it) → ``save_hwm``.
A source that fails stops only its own group; each step retries alone (pushing and saving the
HWM are idempotent).

The HWM lives in the landing area (``hwm="landing"``, published with a conditional write) or in
an Airflow Variable ``kada_hwm_<source>`` (``hwm="variable"``; the DAG then allows one active
run at a time). Task results (XCom) hold names, paths, windows and file counts, never a secret;
the database password and the SAS token are registered with Airflow's secrets masker.

Airflow is imported only when ``collector_dag`` is called: the package works without it.
"""

import glob
import logging
import os
import re
from datetime import timedelta
from typing import Any, Iterable, Optional, Tuple, Union

from kada_collectors.lib.config import load_config, validate_settings
from kada_collectors.lib.errors import CollectorError, HWMError
from kada_collectors.lib.hwm import BEGINNING_OF_TIME, format_hwm, now_hwm
from kada_collectors.lib.hwm import HWMStore
from kada_collectors.lib.landing import HWMConflict, LandingHWM, open_landing, push_run
from kada_collectors.lib.landing.base import Store

from .job import extract, manifest_name_of, publish_window, read_window, require_landed
from .postgres import Extractor
from .postgres.settings import SETTINGS, validate_config

log = logging.getLogger(__name__)
SPLITS = ("server", "database")
HWM_MODES = ("landing", "variable")
VARIABLE_PREFIX = "kada_hwm_"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


# -- the work of each task (plain functions: no Airflow needed to call them) ------------------------

def config_files(configs: Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]) -> list[str]:
    """The config files: every ``*.json`` of a folder, or the given list."""
    if isinstance(configs, (str, os.PathLike)) and os.path.isdir(configs):
        files = sorted(glob.glob(os.path.join(os.fspath(configs), "*.json")))
        if not files:
            raise CollectorError(f"{configs} holds no collector config (*.json)")
        return files
    return [os.fspath(configs)] if isinstance(configs, (str, os.PathLike)) else [os.fspath(c) for c in configs]


def plan_units(configs: Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]],
               split: str = "server") -> list[dict]:
    """One unit of work per server or per database. A config that cannot be read still yields a
    unit, carrying its error, so that only its own tasks fail."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    units: list[dict[str, Any]] = []
    for path in config_files(configs):
        name = _UNSAFE.sub("_", os.path.splitext(os.path.basename(path))[0])
        try:
            config = load_config(path)
            validate_settings(config, SETTINGS, source=path)
            if not config.get("landing"):
                raise CollectorError(f"{path} has no 'landing' section; the DAG pushes every run (docs/landing.md)")
        except CollectorError as e:
            units.append({"name": name, "config": path, "database": None, "folder": None, "error": str(e)})
            continue
        # ["*"] is resolved when the run starts, not when the DAG is parsed: one unit for the server.
        if split == "server" or config["databases"] == ["*"]:
            units.append({"name": name, "config": path, "database": None, "folder": None, "error": None})
            continue
        for database in config["databases"]:
            folder = _UNSAFE.sub("_", database)
            units.append({"name": f"{name}.{folder}", "config": path, "database": database, "folder": folder,
                          "error": None})
    names = [u["name"] for u in units]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise CollectorError(f"two sources would share the HWM name(s) {', '.join(clashes)}; rename a config file")
    return units


SNAPSHOT_FILE = "kada_postgres_snapshots.sqlite"


def unit_config(unit: dict) -> dict:
    """The unit's config: for one database of a server, its own output folder, landing folder and
    change-event snapshots. A task's working folder means nothing on a worker: the snapshots go
    next to the extracts unless the config says where."""
    if unit.get("error"):
        raise CollectorError(unit["error"])
    config = load_config(unit["config"])
    if not config.get("snapshot_path"):
        config["snapshot_path"] = os.path.join(config["output_path"], SNAPSHOT_FILE)
    if unit.get("database") is not None:
        stem, ext = os.path.splitext(config["snapshot_path"])
        config["snapshot_path"] = f"{stem}.{unit['folder']}{ext}"
        landing = dict(config["landing"])
        if landing.get("type") == "local":
            if os.path.isdir(landing.get("path") or ""):  # never create the landing itself (an unmounted share)
                os.makedirs(os.path.join(landing["path"], unit["folder"]), exist_ok=True)
            landing["path"] = os.path.join(landing["path"], unit["folder"])
        else:
            landing["prefix"] = "/".join(p for p in (landing.get("prefix", "").strip("/"), unit["folder"]) if p)
        config = {**config, "databases": [unit["database"]], "landing": landing,
                  "output_path": os.path.join(config["output_path"], unit["folder"])}
    return config


def _mask(*secrets: Optional[str]) -> None:
    """Register secrets with Airflow's masker (when running under Airflow)."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:
        return
    for secret in secrets:
        if secret:
            mask_secret(secret)


def _open(config: dict) -> Store:
    store = open_landing(config["landing"])
    _mask(*getattr(store, "secrets", ()))
    return store


class VariableHWM:
    """The HWM in an Airflow Variable ``kada_hwm_<name>`` (same format as the HWM file), an
    ``HWMStore`` whose version is the value read: publishing checks the Variable still holds it."""

    def __init__(self, name: str) -> None:
        self.name, self.key = name, VARIABLE_PREFIX + name
        self.version: object = None

    def where(self) -> str:
        return f"Airflow Variable {self.key}"

    def read(self) -> str:
        self.version = self._value()
        return self.version

    def _value(self) -> str:
        from airflow.sdk import Variable
        value = Variable.get(self.key, default=None)
        if value in (None, ""):
            return BEGINNING_OF_TIME
        try:
            return format_hwm(str(value).strip())
        except HWMError:
            raise HWMError(f"{self.where()} holds {str(value)[:40]!r}, not 'YYYY-MM-DD HH:MM:SS' (UTC); set it to the "
                           "last good value, or delete it to re-extract from the beginning of time") from None

    def get(self) -> Tuple[str, str]:
        return self.read(), now_hwm()

    def publish(self, value: str, version: object = None) -> str:
        from airflow.sdk import Variable
        current = self._value()
        if current == value:
            return self.where()
        if current != version:
            raise HWMConflict(f"{self.where()} moved from {version} to {current} during this run; this run's HWM "
                              "was not published")
        Variable.set(self.key, value, description="kada-collector: where the next run of this source starts (UTC)")
        return self.where()


def _unit_hwm(unit: dict, hwm: str, store: Any) -> HWMStore:
    """Where the unit's HWM lives: an Airflow Variable, or the unit's landing area (``store``)."""
    return VariableHWM(unit["name"]) if hwm == "variable" else LandingHWM(store, unit["name"])


def extract_unit(unit: dict, hwm: str = "landing") -> dict:
    """Read the HWM window, then extract it; return what the next tasks need (no secret)."""
    config = unit_config(unit)
    settings, password = validate_config(config)
    _mask(password)
    store = _open(config)
    store.check()
    start_hwm, end_hwm, version = read_window(_unit_hwm(unit, hwm, store))
    log.info("%s: extracting %s to %s", unit["name"], start_hwm, end_hwm)
    manifest = extract(Extractor(**config), start_hwm, end_hwm)
    return {**unit, "manifest": manifest_name_of(manifest), "start_hwm": start_hwm, "end_hwm": end_hwm,
            "hwm_version": version, "rows": sum(f["rows"] for f in manifest["files"])}


def push_unit(result: dict) -> dict:
    """Check and push the unit's run; raise (so that the task retries) unless every file landed."""
    config = unit_config(result)
    report = push_run(config["output_path"], _open(config), manifest_name=result["manifest"])
    for f in report.files:
        log.info("%s: %s %s", result["name"], f.status, f.name)
    require_landed(report)
    return {**result, "landed": len(report.files), "destination": report.destination}


def save_unit_hwm(result: dict, hwm: str = "landing") -> dict:
    """Publish the unit's HWM if nobody moved it since ``extract_unit`` read it."""
    store = _unit_hwm(result, hwm, None if hwm == "variable" else _open(unit_config(result)))
    try:
        where = publish_window(store, result["end_hwm"], result["hwm_version"])
    except HWMConflict:
        if store.read() != result["end_hwm"]:  # not an earlier try of this very task
            raise
        where = store.where()
    log.info("%s: HWM %s published to %s", result["name"], result["end_hwm"], where)
    return {"name": result["name"], "hwm": result["end_hwm"]}


# -- the DAG --------------------------------------------------------------------------------------------

def collector_dag(dag_id: str, configs: Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]], *,
                  split: str = "server", hwm: str = "landing", schedule: Any = "@daily", start_date: Any = None,
                  retries: int = 2, retry_delay: timedelta = timedelta(minutes=5), tags: Iterable[str] = ("kada",),
                  **dag_kwargs: Any) -> Any:
    """Build the collector DAG (see the module docstring). Extra keyword arguments go to ``@dag``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if hwm not in HWM_MODES:
        raise ValueError(f"hwm must be one of {HWM_MODES}, got {hwm!r}")
    try:
        from airflow.sdk import dag, task, task_group
    except ImportError:
        raise ImportError("collector_dag needs Apache Airflow 3 (pip install 'apache-airflow>=3'); the collector "
                          "itself does not") from None
    from datetime import datetime, timezone
    default_args = {"retries": retries, "retry_delay": retry_delay, "retry_exponential_backoff": True,
                    "max_retry_delay": timedelta(hours=1)}
    dag_kwargs.setdefault("max_active_runs", 1)
    dag_kwargs.setdefault("catchup", False)

    # The tasks carry no annotations: Airflow reads a dict return annotation as multiple_outputs.
    @dag(dag_id=dag_id, schedule=schedule, start_date=start_date or datetime(2026, 1, 1, tzinfo=timezone.utc),
         default_args=default_args, tags=list(tags), **dag_kwargs)
    def collector():
        @task(retries=0)
        def plan():
            return plan_units(configs, split)

        @task_group(group_id="source")
        def source(unit):
            @task
            def extract(unit):
                return extract_unit(unit, hwm)

            @task
            def push(result):
                return push_unit(result)

            @task
            def save_hwm(result):
                return save_unit_hwm(result, hwm)

            save_hwm(push(extract(unit)))

        source.expand(unit=plan())

    return collector()


__all__ = ["collector_dag", "plan_units", "extract_unit", "push_unit", "save_unit_hwm", "VariableHWM"]
