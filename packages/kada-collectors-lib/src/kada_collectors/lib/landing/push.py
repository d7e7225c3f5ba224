"""Push one run (a manifest and the files it lists) from an output folder to a landing area.

1. The run is checked first, with the validator's own checks: the manifest, then each listed
   file's size, SHA-256, row count and CSV form. A run that fails them is not pushed.
2. The data files are uploaded, each then verified in the landing (size and checksum). A file
   already there with the same size and checksum is not uploaded again, so pushing twice
   neither duplicates nor rewrites anything.
3. The manifest goes last, only when every data file landed: a reader that waits for the
   manifest never sees a partial run.

The first file that does not land stops the push (the landing is then unreachable or refuses
us; trying the rest would only wait on more retries); the report says which files landed.
"""

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from .. import manifest
# The validator's own checks of one run (validate_folder checks every run of a folder).
from ..validate import ValidationReport, check_listed_file, check_manifest
from .base import LocalFile, Store
from .errors import LandingError, NothingToPush

LANDED, ALREADY_LANDED, FAILED, NOT_ATTEMPTED = "landed", "already landed", "failed", "not attempted"


@dataclass
class FileOutcome:
    name: str
    bytes: int
    status: str = NOT_ATTEMPTED
    error: Optional[str] = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in (LANDED, ALREADY_LANDED)


@dataclass
class PushReport:
    manifest: str
    destination: str
    files: list[FileOutcome] = field(default_factory=list)  # data files first, the manifest last
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.files) and all(f.ok for f in self.files)

    def count(self, *statuses: str) -> int:
        return sum(1 for f in self.files if f.status in statuses)

    @property
    def error(self) -> Optional[str]:
        return next((f.error for f in self.files if f.status == FAILED), None)

    def as_dict(self) -> dict[str, Any]:
        return {"manifest": self.manifest, "destination": self.destination, "ok": self.ok,
                "seconds": round(self.seconds, 3),
                "files": [{"name": f.name, "bytes": f.bytes, "status": f.status, "error": f.error} for f in self.files]}


def newest_manifest(folder: str, source: Optional[str] = None) -> str:
    """The name of the newest manifest (by its stamp) in ``folder``, or raise ``NothingToPush``."""
    try:
        name = manifest.newest(folder, source)
    except FileNotFoundError:
        raise NothingToPush(f"{folder} does not exist: no run wrote extracts there (check 'output_path')") from None
    except OSError as e:
        raise NothingToPush(f"cannot read {folder}: {e.strerror}") from None
    if name is None:
        raise NothingToPush(f"{folder} holds no manifest ({source or '<source>'}_manifest_<YYYYMMDDHHMMSS>.json): no "
                            "run completed there, so there is nothing to push")
    return name


def check_run(folder: str, manifest_name: str, allow_failed: bool = False) -> manifest.ManifestOnDisk:
    """Check a run with the validator's checks; return its manifest, or raise ``NothingToPush``."""
    run = manifest.read(os.path.join(folder, manifest_name))
    if isinstance(run.document, dict) and run.document.get("status") == "failed" and not allow_failed:
        failed = ", ".join(map(str, run.failed_databases()))
        raise NothingToPush(f"{manifest_name} is a failed run (database(s) {failed} failed), so nothing was pushed; "
                            "re-run the collector, or push it anyway with --allow-failed")
    report = ValidationReport()
    listed = check_manifest(folder, manifest_name, report, run)
    for name, (listed_by, entry) in sorted(listed.items()):
        check_listed_file(folder, name, listed_by, entry, report)
    if not report.ok:
        problems = "\n".join(f"  - {p}" for p in report.problems)
        raise NothingToPush(f"{manifest_name} in {folder} does not match its files, so nothing was pushed "
                            f"(re-run the collector to write a fresh run):\n{problems}")
    return run


def push_run(folder: Union[str, "os.PathLike[str]"], store: Store, *, manifest_name: Optional[str] = None,
             source: Optional[str] = None, allow_failed: bool = False,
             on_file: Optional[Callable[[int, int, FileOutcome], None]] = None,
             on_bytes: Optional[Callable[[int], None]] = None) -> PushReport:
    """Push the run of ``manifest_name`` (default: the newest) to ``store``; return a ``PushReport``.

    ``on_file(index, total, outcome)`` is called before each file (status "not attempted") and
    after it; ``on_bytes(n)`` as bytes go out. Raises ``NothingToPush`` when the run may not be
    pushed and ``LandingError`` when the landing cannot be used at all; a file that fails to
    land is reported in the result (``report.ok`` is then false).
    """
    started = time.monotonic()
    folder = os.fspath(folder)
    manifest_name = manifest_name or newest_manifest(folder, source)
    run = check_run(folder, manifest_name, allow_failed)
    store.check()
    locals_ = [LocalFile.of(os.path.join(folder, entry.name), entry.sha256) for entry in run.files]
    locals_.append(LocalFile.of(os.path.join(folder, manifest_name)))
    report = PushReport(manifest=manifest_name, destination=store.where(),
                        files=[FileOutcome(f.name, f.size) for f in locals_])
    for index, (local, outcome) in enumerate(zip(locals_, report.files, strict=True)):
        if on_file:
            on_file(index, len(locals_), outcome)
        began = time.monotonic()
        try:
            outcome.status = _push_file(store, local, on_bytes)
        except LandingError as e:
            outcome.status, outcome.error = FAILED, str(e)
        outcome.seconds = time.monotonic() - began
        if on_file:
            on_file(index, len(locals_), outcome)
        if outcome.status == FAILED:
            break
    report.seconds = time.monotonic() - started
    return report


def _push_file(store: Store, local: LocalFile, on_bytes: Optional[Callable[[int], None]]) -> str:
    if store.matches(store.stat(local.name), local):
        if on_bytes:
            on_bytes(local.size)
        return ALREADY_LANDED
    store.upload(local, local.name, on_bytes)
    landed = store.stat(local.name)
    if landed is None:
        raise LandingError(f"{store.where(local.name)} is missing right after its upload; push again")
    if not store.matches(landed, local):
        raise LandingError(
            f"{store.where(local.name)} does not match {local.path} after upload (landed {landed.size} bytes, "
            f"checksum {landed.checksum}; expected {local.size} bytes, checksum {store.expected_checksum(local)}); "
            "push again")
    return LANDED
