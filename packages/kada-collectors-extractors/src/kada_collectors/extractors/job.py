"""The collector's job, one rule: read the HWM window, extract it, check and push the run, then
publish the HWM; each step only if the one before succeeded, so the HWM never advances after a
failure and the next run repeats the window.

``run_job`` is the whole job (``kada-collector run``), ``run_extractor`` the job without a landing
(``kada-postgres-extractor``). The steps (``read_window``, ``extract``, ``push_run`` then
``require_landed``, ``publish_window``) are what the Airflow DAG's tasks call one by one. Where the HWM is kept is an
``HWMStore`` (``lib.hwm``): this host's file, the landing area, or an Airflow Variable.
"""

from dataclasses import dataclass, field
from os import PathLike
from typing import Literal, Optional, Tuple, Union, overload

from kada_collectors.lib.config import load_config, validate_settings
from kada_collectors.lib.contract import STAMP_FORMAT, manifest_file_name
from kada_collectors.lib.errors import CollectorError, ConfigError
from kada_collectors.lib.hwm import FileHWM, HWMStore, parse_hwm
from kada_collectors.lib.landing import LandingError, LandingHWM, PushReport, open_landing, push_run
from kada_collectors.lib.landing.base import Store

from .postgres import Extractor
from .postgres.extractor import SOURCE
from .postgres.settings import SETTINGS
from .progress import Progress

ConfigPath = Union[str, PathLike]


# -- the steps ---------------------------------------------------------------------------------

def read_window(hwm: HWMStore) -> Tuple[str, str, object]:
    """``(start_hwm, end_hwm, version)``: the published HWM, now (UTC), and the version read, which
    publishing checks against."""
    start_hwm, end_hwm = hwm.get()
    return start_hwm, end_hwm, hwm.version


def extract(extractor: Extractor, start_hwm: str, end_hwm: str) -> dict:
    """Check the connection, then extract the window; raises if any database failed."""
    extractor.test_connection()
    return extractor.run(start_hwm=start_hwm, end_hwm=end_hwm)


def manifest_name_of(manifest: dict) -> str:
    """The file name of a run's manifest."""
    return manifest_file_name(SOURCE, parse_hwm(manifest["window"]["end_hwm"]).strftime(STAMP_FORMAT))


def require_landed(report: PushReport) -> PushReport:
    """A push (``push_run``: the run checked, then uploaded) counts only if every file landed."""
    if not report.ok:
        raise LandingError(report.error or "a file did not land")
    return report


def publish_window(hwm: HWMStore, end_hwm: str, version: object) -> str:
    """The last step: the next run starts at ``end_hwm``, if the HWM is still at ``version``."""
    return hwm.publish(end_hwm, version)


# -- the job's inputs ----------------------------------------------------------------------------

@overload
def load_job(config_path: ConfigPath, extractor: Literal[True] = ...) -> Tuple[dict, Extractor]: ...


@overload
def load_job(config_path: ConfigPath, extractor: Literal[False]) -> Tuple[dict, None]: ...


def load_job(config_path: ConfigPath, extractor: bool = True) -> Tuple[dict, Optional[Extractor]]:
    """The config and its ``Extractor``: the whole config (landing included) validated at once.

    ``extractor=False`` validates the same settings without resolving the database password
    (pushing needs no database), and returns None for the extractor.
    """
    config = load_config(config_path)
    if not extractor:
        validate_settings(config, SETTINGS, source="PostgreSQL collector config")
        return config, None
    return config, Extractor(**config)


def open_job_landing(config: dict, source: str = "config") -> Store:
    """The config's landing ``Store``; a clear ``ConfigError`` when there is no ``landing`` section."""
    if not config.get("landing"):
        raise ConfigError(["no 'landing' section: add one to say where to push, e.g. "
                           '"landing": {"type": "s3", "bucket": "...", "region": "...", "prefix": "..."} '
                           "(see docs/landing.md)"], source)
    return open_landing(config["landing"])


def job_hwm(config: dict, store: Store, name: str, hwm_dir: Optional[str] = None) -> HWMStore:
    """Where this job's HWM lives: the landing area when ``landing.hwm`` is true (seeded once from
    a local HWM file if the landing has none yet), else the HWM file in ``hwm_dir``."""
    if (config.get("landing") or {}).get("hwm"):
        return LandingHWM(store, name, seed_folder=hwm_dir if hwm_dir is not None else ".")
    return FileHWM(name, hwm_dir)


# -- the jobs ------------------------------------------------------------------------------------

def run_extractor(config_path: ConfigPath, name: str, hwm_dir: Optional[str] = None) -> Tuple[str, str]:
    """The job without a landing: HWM window → extract → publish the HWM only if everything succeeded."""
    hwm = FileHWM(name, hwm_dir)
    start_hwm, end_hwm, version = read_window(hwm)
    extract(Extractor(**load_config(config_path)), start_hwm, end_hwm)
    publish_window(hwm, end_hwm, version)
    return start_hwm, end_hwm


@dataclass
class JobResult:
    """What a ``run_job`` did, step by step, for its summary."""

    window: Optional[tuple] = None
    manifest: Optional[dict] = None
    manifest_name: Optional[str] = None
    push: Optional[PushReport] = None
    hwm_where: Optional[str] = None
    hwm_published: bool = False
    failed_step: Optional[str] = None
    notes: list = field(default_factory=list)


def run_job(config_path: ConfigPath, name: str, hwm_dir: Optional[str] = None, progress: Optional[Progress] = None,
            result: Optional[JobResult] = None) -> JobResult:
    """HWM → extract → validate → push → publish the HWM; each step only if the one before succeeded.

    Fills ``result`` (a ``JobResult``) as it goes; raises the first error.
    """
    progress = progress or Progress(enabled=False)
    result = result if result is not None else JobResult()
    result.failed_step = "the config"
    config, extractor = load_job(config_path)
    store = open_job_landing(config, source=str(config_path))
    result.failed_step = "the landing check"
    progress.step(f"checking the landing {store.where()}")
    store.check()  # fail before a long extraction, not after it
    result.failed_step = "the HWM"
    hwm = job_hwm(config, store, name, hwm_dir)
    result.hwm_where = hwm.where()
    start_hwm, end_hwm, version = read_window(hwm)
    result.window = (start_hwm, end_hwm)
    result.failed_step = "the extraction"
    progress.step(f"extracting {start_hwm} to {end_hwm}")
    try:
        result.manifest = extract(extractor, start_hwm, end_hwm)
    except CollectorError as e:
        result.manifest = getattr(e, "manifest", None)
        raise
    result.manifest_name = manifest_name_of(result.manifest)
    result.failed_step = "the push"
    progress.step(f"checking and pushing {result.manifest_name}")
    try:
        result.push = push_run(config["output_path"], store, manifest_name=result.manifest_name,
                               on_file=progress.on_file, on_bytes=progress.on_bytes)
    finally:
        progress.close()
    require_landed(result.push)
    result.failed_step = "publishing the HWM"
    publish_window(hwm, end_hwm, version)
    result.hwm_published = True
    result.failed_step = None
    return result


__all__ = ["read_window", "extract", "manifest_name_of", "require_landed", "publish_window", "load_job",
           "open_job_landing", "job_hwm", "run_extractor", "run_job", "JobResult"]
