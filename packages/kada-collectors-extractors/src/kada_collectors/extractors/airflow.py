"""An Apache Airflow (3.x) DAG factory: one collector DAG for many servers and databases.

    from kada_collectors.extractors.airflow import collector_dag
    dag = collector_dag("kada_postgres", configs="/etc/kada/postgres", split="database")

``configs`` is a folder of collector configs (one JSON file per server, the file name without
``.json`` naming the source) or a list of such files. The DAG has a task group per config (read
when the DAG is parsed); each group's ``plan`` task lists the config's units when the DAG runs, and
a task group is mapped over them (dynamic task mapping), one instance per server
(``split="server"``) or per database (``split="database"``):
``extract`` (HWM window → extract) → ``push`` (check the run, land it) → ``save_hwm``.
A source that fails stops only its own group; each step retries alone (pushing and saving the
HWM are idempotent), unless no retry can help (a missing database, no CONNECT, a broken config).
A server's extracts share its pool (``kada_postgres_<server>``), so the sessions it receives
stay within its ``max_connections``.

The HWM lives in the landing area (``hwm="landing"``, published with a conditional write) or in
an Airflow Variable ``kada_hwm_<source>`` (``hwm="variable"``; the DAG then allows one active
run at a time). Task results (XCom) hold names, paths, windows and file counts, never a secret;
the database password and the SAS token are registered with Airflow's secrets masker.

Airflow is imported only when ``collector_dag`` is called: the package works without it.
``python -m kada_collectors.extractors.airflow pools CONFIGS`` prints the commands that create
the pools.
"""

import glob
import logging
import os
import re
from datetime import timedelta
from typing import Any, Iterable, List, NamedTuple, Optional, Tuple, Union

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


# A config file, or several: paths, or a folder of them.
ConfigFiles = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]


# -- the work of each task (plain functions: no Airflow needed to call them) ------------------------

def config_files(configs: ConfigFiles) -> list[str]:
    """The config files: every ``*.json`` of a folder, or the given list."""
    if isinstance(configs, (str, os.PathLike)) and os.path.isdir(configs):
        files = sorted(glob.glob(os.path.join(os.fspath(configs), "*.json")))
        if not files:
            raise CollectorError(f"{configs} holds no collector config (*.json)")
        return files
    return [os.fspath(configs)] if isinstance(configs, (str, os.PathLike)) else [os.fspath(c) for c in configs]


def _source(path: str) -> Tuple[str, Optional[dict], Optional[str]]:
    """A config file's source name, and its settings (defaults filled in) or why it cannot be used."""
    name = _UNSAFE.sub("_", os.path.splitext(os.path.basename(path))[0])
    try:
        config = validate_settings(load_config(path), SETTINGS, source=path)
        if not config.get("landing"):
            raise CollectorError(f"{path} has no 'landing' section; the DAG pushes every run (docs/landing.md)")
    except CollectorError as e:
        return name, None, str(e)
    return name, config, None


def plan_units(configs: ConfigFiles, split: str = "server", sessions_per_task: Optional[int] = None) -> List[dict]:
    """One unit of work per server or per database. A config that cannot be read still yields a
    unit, carrying its error, so that only its own tasks fail. ``sessions_per_task`` caps the
    sessions one database's unit opens (its ``max_connections``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    units: list[dict[str, Any]] = []
    for path in config_files(configs):
        name, config, error = _source(path)
        whole = {"name": name, "config": path, "database": None, "folder": None, "sessions": None, "error": error}
        # ["*"] is resolved when the run starts, not when the DAG is parsed: one unit for the server.
        if config is None or split == "server" or config["databases"] == ["*"]:
            units.append(whole)
            continue
        for database in config["databases"]:
            folder = _UNSAFE.sub("_", database)
            units.append({**whole, "name": f"{name}.{folder}", "database": database, "folder": folder,
                          "sessions": min(sessions_per_task or config["max_connections"], config["max_connections"])})
    _refuse_clashes([u["name"] for u in units], "two sources would share the HWM name(s)")
    return units


def _refuse_clashes(names: List[str], what: str) -> None:
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise CollectorError(f"{what} {', '.join(clashes)}; rename a config file")


SNAPSHOT_FILE = "kada_postgres_snapshots.sqlite"


def unit_config(unit: dict) -> dict:
    """The unit's config: for one database of a server, its own output folder, landing folder and
    change-event snapshots. A task's working folder means nothing on a worker: the snapshots go
    next to the extracts unless the config says where."""
    if unit.get("error"):
        error = CollectorError(unit["error"])
        error.retryable = False  # a config stays broken until someone fixes it
        raise error
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
        if unit.get("sessions"):
            config["max_connections"] = unit["sessions"]
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

# The tasks' settings unless the caller's ``default_args`` or keyword arguments say otherwise: a
# transient failure (a restart, a network blip) is retried after 1-2 then 2-4 minutes (Airflow
# adds jitter), so a run with one broken database ends within minutes; a permanent one (a missing
# database, no CONNECT, a bad config) is not retried at all (``_step``).
TASK_DEFAULTS = {"retries": 2, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": 2.0,
                 "max_retry_delay": timedelta(minutes=5)}
SERVER_POOL = "kada_postgres_{server}"
_GROUP_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class Server(NamedTuple):
    """One config of the fleet as the DAG is parsed: its task group, its pool and what one task
    of it takes from the pool (the sessions it opens)."""

    name: str
    config: str
    group: str
    pool_size: int
    pool_slots: int
    units: int
    error: Optional[str]  # why the config cannot be used: its plan task fails with it


def _mappable(path: str, units: List[dict], max_map_length: Optional[int]) -> List[dict]:
    """``units``, if Airflow maps that many; else a clear error naming the setting."""
    if max_map_length is not None and len(units) > max_map_length:
        raise CollectorError(
            f"{path} lists {len(units)} databases, more than Airflow maps in one task group ([core] "
            f"max_map_length = {max_map_length}): raise it (AIRFLOW__CORE__MAX_MAP_LENGTH={len(units)}), "
            'split the config in two, use split="server", or "databases": ["*"]')
    return units


def fleet(configs: ConfigFiles, split: str = "server", sessions_per_task: int = 1,
          max_map_length: Optional[int] = None) -> List[Server]:
    """The servers of the fleet, one task group each, when the DAG is parsed (their databases are
    listed again when it runs). Refuses names that would clash, and a server with more databases
    than Airflow maps (``max_map_length``): each server's databases are mapped on their own."""
    units = plan_units(configs, split, sessions_per_task)
    servers = []
    for path in config_files(configs):
        name, config, error = _source(path)
        size = config["max_connections"] if config else 1  # a broken config: its plan reports why
        mine = [u for u in units if u["config"] == path]
        _mappable(path, mine, max_map_length)
        slots = mine[0]["sessions"] or size  # a unit for the whole server opens up to max_connections
        servers.append(Server(name, path, _GROUP_UNSAFE.sub("_", name), size, slots, len(mine), error))
    _refuse_clashes([s.group for s in servers], "two configs would share the task group(s)")
    return servers


def pool_commands(configs: ConfigFiles, pool: str = SERVER_POOL) -> List[str]:
    """The Airflow CLI commands that create the fleet's per-server pools, each as large as its
    config's ``max_connections`` (the sessions the server may receive from the collector)."""
    servers = fleet(configs, "database")
    broken = [s.error for s in servers if s.error]
    if broken:
        raise CollectorError("fix the config(s) first:\n" + "\n".join(broken))
    return [f"airflow pools set {pool.format(server=s.group)} {s.pool_size} "
            f"'kada-collector: sessions on {s.name}, at most its max_connections'" for s in servers]


def _max_map_length() -> int:
    from airflow.sdk.configuration import conf
    return conf.getint("core", "max_map_length", fallback=1024)


def _step(function, *args):
    """Run one task's work; a failure that no retry can fix fails the task without retries."""
    try:
        return function(*args)
    except CollectorError as e:
        if e.retryable:
            raise
        from airflow.sdk.exceptions import AirflowFailException
        raise AirflowFailException(f"{e}\n(not retried: it fails the same way until it is fixed)") from None


def _split_settings(settings: dict) -> Tuple[dict, dict]:
    """The caller's keyword arguments: those ``@dag`` takes go to the DAG, those only a task takes
    (``pool``, ``queue``, ``owner``, ``execution_timeout``, ...) to every task."""
    import inspect
    from airflow.sdk import DAG, BaseOperator
    dag_names = set(inspect.signature(DAG).parameters)
    task_names = set(inspect.signature(BaseOperator.__init__).parameters) - {"self", "task_id", "kwargs"}
    unknown = sorted(set(settings) - dag_names - task_names)
    if unknown:
        raise TypeError(f"collector_dag() got unknown argument(s) {', '.join(unknown)}: neither Airflow's DAG nor "
                        "its tasks take them")
    dag_kwargs = {k: v for k, v in settings.items() if k in dag_names}
    return dag_kwargs, {k: v for k, v in settings.items() if k not in dag_names}


def collector_dag(dag_id: str, configs: ConfigFiles, *,
                  split: str = "server", hwm: str = "landing", schedule: Any = "@daily", start_date: Any = None,
                  default_args: Optional[dict] = None, server_pool: Optional[str] = SERVER_POOL,
                  sessions_per_task: int = 1, tags: Iterable[str] = ("kada",), **settings: Any) -> Any:
    """Build the collector DAG (see the module docstring): one task group per config, its
    databases mapped in it. Keyword arguments ``@dag`` takes go to the DAG; those only a task
    takes (``pool``, ``queue``, ``owner``, ``execution_timeout``, ``retries``, ...) go to every
    task, over ``default_args``, over the factory's ``TASK_DEFAULTS``. ``server_pool`` names each
    server's pool (``{server}``: the config's name; None for none): its extract tasks take
    ``sessions_per_task`` slots each and open as many sessions."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if hwm not in HWM_MODES:
        raise ValueError(f"hwm must be one of {HWM_MODES}, got {hwm!r}")
    if not isinstance(sessions_per_task, int) or sessions_per_task < 1:
        raise ValueError(f"sessions_per_task must be a whole number of at least 1, got {sessions_per_task!r}")
    try:
        from airflow.sdk import TaskGroup, dag
    except ImportError:
        raise ImportError("collector_dag needs Apache Airflow 3 (pip install 'apache-airflow>=3'); the collector "
                          "itself does not") from None
    from datetime import datetime, timezone
    dag_kwargs, task_kwargs = _split_settings(settings)
    dag_kwargs.setdefault("max_active_runs", 1)
    dag_kwargs.setdefault("catchup", False)
    servers = fleet(configs, split, sessions_per_task, _max_map_length())

    # The tasks carry no annotations: Airflow reads a dict return annotation as multiple_outputs.
    @dag(dag_id=dag_id, schedule=schedule, start_date=start_date or datetime(2026, 1, 1, tzinfo=timezone.utc),
         default_args={**TASK_DEFAULTS, **(default_args or {}), **task_kwargs}, tags=list(tags), **dag_kwargs)
    def collector():
        for server in servers:
            with TaskGroup(group_id=server.group):
                _server_tasks(server, split, hwm, sessions_per_task, server_pool)

    return collector()


def _server_tasks(server: Server, split: str, hwm: str, sessions_per_task: int, server_pool: Optional[str]) -> None:
    """A server's tasks: ``plan`` lists its units when the DAG runs, then ``source`` is mapped
    over them; its extracts share the server's pool."""
    from airflow.sdk import task, task_group
    pool = {"pool": server_pool.format(server=server.group), "pool_slots": server.pool_slots} if server_pool else {}

    @task(retries=0)
    def plan():  # checked again: the config may have grown since the DAG was parsed
        return _mappable(server.config, plan_units([server.config], split, sessions_per_task), _max_map_length())

    @task_group(group_id="source")
    def source(unit):
        @task(**pool)
        def extract(unit):
            return _step(extract_unit, unit, hwm)

        @task
        def push(result):
            return _step(push_unit, result)

        @task
        def save_hwm(result):
            return _step(save_unit_hwm, result, hwm)

        save_hwm(push(extract(unit)))

    source.expand(unit=plan())


__all__ = ["collector_dag", "fleet", "pool_commands", "plan_units", "extract_unit", "push_unit", "save_unit_hwm",
           "VariableHWM", "TASK_DEFAULTS", "SERVER_POOL"]


if __name__ == "__main__":  # python -m kada_collectors.extractors.airflow pools /etc/kada/postgres
    import sys
    if len(sys.argv) != 3 or sys.argv[1] != "pools":
        sys.exit("usage: python -m kada_collectors.extractors.airflow pools CONFIG_FOLDER_OR_FILE")
    try:
        print("\n".join(pool_commands(sys.argv[2])))
    except CollectorError as e:
        sys.exit(f"error: {e}")
