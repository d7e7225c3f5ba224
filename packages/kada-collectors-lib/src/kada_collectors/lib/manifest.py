"""The run's manifest (docs/contract.md "manifest"): written last by a run, read by the validator,
the push and the report.

``Manifest`` is what a run writes (``write(path)``); ``read(path)`` loads one from disk with every
problem the contract's checks find, as sentences; ``newest(folder, source)`` names a folder's
newest one.
"""

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator, Optional

from .config import describe
from .contract import CONTRACT_VERSION, EXTRACT_NAME, MANIFEST_NAME, RUN_STATUSES, STAMP_FORMAT
from .hwm import HWM_FORMAT
from .redact import redact_document
from .writer import write_json_atomically

# The keys a manifest must hold with their JSON types, and those of its window, databases and files.
MANIFEST_FIELDS = {
    "contract_version": int, "collector": dict, "host": str, "window": dict, "status": str,
    "databases": list, "files": list, "warnings": list, "settings": dict, "timings": dict,
}
MANIFEST_WINDOW_FIELDS = {"start_hwm": str, "end_hwm": str}  # YYYY-MM-DD HH:MM:SS, UTC
MANIFEST_DATABASE_FIELDS = {"name": str, "status": str, "error": (str, type(None))}
MANIFEST_FILE_FIELDS = {"extract": str, "name": str, "rows": int, "bytes": int, "sha256": str}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class ManifestFile:
    """One extract file a run wrote."""

    extract: str
    name: str
    rows: int
    bytes: int
    sha256: str

    def as_dict(self) -> dict:
        return {"extract": self.extract, "name": self.name, "rows": self.rows, "bytes": self.bytes,
                "sha256": self.sha256}


@dataclass
class Manifest:
    """What a run writes; its fields are in the order the JSON document has its keys."""

    collector: dict
    host: str
    window: dict  # start_hwm, end_hwm
    status: str  # one of RUN_STATUSES
    databases: list  # one dict per database: name, status, error and what was measured
    database_selection: dict
    standby: bool
    files: list  # ManifestFile
    warnings: list
    query_log: Optional[dict]  # left out of the document when there is no query log
    settings: dict
    timings: dict
    contract_version: int = CONTRACT_VERSION

    def as_document(self) -> dict:
        """The JSON document, redacted: errors and warnings quote what the server said, which may
        quote a definition."""
        document = {
            "contract_version": self.contract_version, "collector": self.collector, "host": self.host,
            "window": self.window, "status": self.status, "databases": self.databases,
            "database_selection": self.database_selection, "standby": self.standby,
            "files": [f.as_dict() for f in self.files], "warnings": self.warnings,
            **({"query_log": self.query_log} if self.query_log is not None else {}),
            "settings": self.settings, "timings": self.timings,
        }
        return redact_document(document)

    def write(self, path: str) -> dict:
        """Write the document atomically (aside, fsync, rename) to ``path``; return what was written."""
        document = self.as_document()
        write_json_atomically(path, document)
        return document


@dataclass
class ManifestOnDisk:
    """A manifest file as read: its JSON value, its well-formed file entries and its problems."""

    name: str
    document: Any = None  # the JSON value as read: a dict when the manifest is one
    error: Optional[str] = None  # why the file could not be read as JSON, if it could not
    files: list = field(default_factory=list)  # ManifestFile, the entries that pass the contract's checks
    problems: list = field(default_factory=list)  # sentences, without the file's name
    size: int = 0
    sha256: str = ""

    def failed_databases(self) -> list:
        """The names of the databases the run says failed."""
        databases = self.document.get("databases", []) if isinstance(self.document, dict) else []
        return [d.get("name") for d in databases if isinstance(d, dict) and d.get("status") == "failed"]


def newest(folder: str, source: Optional[str] = None) -> Optional[str]:
    """The file name of the newest manifest of ``folder`` by its stamp (of ``source`` when given), or
    None; raises ``OSError`` when the folder cannot be read."""
    names = [e.name for e in os.scandir(folder) if e.is_file()]
    runs = sorted((m["stamp"], n) for n in names if (m := MANIFEST_NAME.match(n)) and source in (None, m["source"]))
    return runs[-1][1] if runs else None


def read(path: str) -> ManifestOnDisk:
    """Read the manifest at ``path`` and check it, and its file name, against the contract."""
    name = os.path.basename(path)
    result = ManifestOnDisk(name)
    problems = result.problems
    document = result.document = _load_json(path, result)
    if result.error is not None:
        return result
    valid = _check_fields(document, MANIFEST_FIELDS, "the manifest", problems)
    if "contract_version" in valid and document["contract_version"] != CONTRACT_VERSION:
        problems.append(f"contract_version is {describe(document['contract_version'])}; expected {CONTRACT_VERSION}")
    if "host" in valid and not document["host"].strip():
        problems.append("host is empty; expected the name the server is onboarded under")
    if "status" in valid and document["status"] not in RUN_STATUSES:
        problems.append(f"status is {describe(document['status'])}; expected one of {', '.join(RUN_STATUSES)}")
    named = MANIFEST_NAME.match(name)
    if not named:
        problems.append("is not named <source>_manifest_<YYYYMMDDHHMMSS>.json, so its stamp cannot be checked; "
                        "pass a manifest the collector wrote")
    stamp = named["stamp"] if named else None
    if "window" in valid:
        _check_window(document["window"], stamp, problems)
    if "databases" in valid:
        _check_databases(document["databases"], document.get("status"), problems)
    if "files" in valid:
        result.files = [ManifestFile(**entry) for entry in _check_file_entries(document["files"], stamp, problems)]
    return result


def _load_json(path: str, result: ManifestOnDisk) -> Any:
    try:
        with open(path, "rb") as f:
            raw = f.read()
        result.size, result.sha256 = len(raw), hashlib.sha256(raw).hexdigest()
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        result.error = str(e)
        result.problems.append(f"is not UTF-8 ({e.reason} at byte {e.start}); expected a UTF-8 JSON document")
    except ValueError as e:
        result.error = str(e)
        result.problems.append(f"is not valid JSON ({e}); expected the JSON object docs/contract.md describes")
    except OSError as e:
        result.error = str(e)
        result.problems.append(f"cannot be read: {e.strerror}")
    return None


def _check_fields(obj: Any, fields: dict, where: str, problems: list) -> set:
    """Report missing keys and wrongly typed values of a JSON object; return the keys that are right."""
    if not isinstance(obj, dict):
        problems.append(f"{where} is {describe(obj)}; expected a JSON object")
        return set()
    valid = set()
    for key, kind in fields.items():
        if key not in obj:
            problems.append(f"{where} has no {key!r}; expected {_type_name(kind)} there")
        elif not _is_type(obj[key], kind):
            problems.append(f"{where}: {key!r} is {describe(obj[key])}; expected {_type_name(kind)}")
        else:
            valid.add(key)
    return valid


def _is_type(value: Any, kind: Any) -> bool:
    if kind is int:  # JSON true/false must not pass for a number
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _type_name(kind: Any) -> str:
    names = {int: "an integer", str: "a string", dict: "an object", list: "a list", type(None): "null"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names[k] for k in kinds)


def _check_window(window: Any, stamp: Optional[str], problems: list) -> None:
    """start_hwm <= end_hwm, both YYYY-MM-DD HH:MM:SS, and end_hwm is the file names' stamp."""
    valid = _check_fields(window, MANIFEST_WINDOW_FIELDS, "window", problems)
    moments = {}
    for key in sorted(valid):
        try:
            moments[key] = datetime.strptime(window[key], HWM_FORMAT)
            if moments[key].strftime(HWM_FORMAT) != window[key]:  # strptime takes "2026-1-2 0:0:0" too
                raise ValueError
        except ValueError:
            moments.pop(key, None)
            problems.append(f"window.{key} is {describe(window[key])}; expected UTC time formatted YYYY-MM-DD HH:MM:SS")
    if len(moments) == 2 and moments["start_hwm"] > moments["end_hwm"]:
        problems.append(f"window.start_hwm {window['start_hwm']} is after window.end_hwm {window['end_hwm']}")
    if "end_hwm" in moments and stamp is not None and moments["end_hwm"].strftime(STAMP_FORMAT) != stamp:
        problems.append(
            f"the file name's stamp {stamp} is not window.end_hwm {window['end_hwm']}; "
            f"expected {moments['end_hwm'].strftime(STAMP_FORMAT)}"
        )


def _check_databases(databases: list, run_status: Any, problems: list) -> None:
    """Each database's status and error; the run failed if any database failed."""
    for i, database in enumerate(databases):
        where = f"databases[{i}]"
        valid = _check_fields(database, MANIFEST_DATABASE_FIELDS, where, problems)
        if "status" not in valid:
            continue
        status = database["status"]
        if status not in RUN_STATUSES:
            problems.append(f"{where}: status is {describe(status)}; expected one of {', '.join(RUN_STATUSES)}")
        elif status == "failed":
            if "error" in valid and not (database["error"] or "").strip():
                problems.append(f"{where} ({describe(database.get('name'))}) failed without an error; "
                                "expected an error saying why and what to do")
            if run_status == "succeeded":
                problems.append(f"status is 'succeeded' but {where} ({describe(database.get('name'))}) failed; "
                                "expected 'failed'")


def _check_file_entries(files: list, stamp: Optional[str], problems: list) -> Iterator[dict]:
    """Yield the well-formed entries of ``files`` (name, extract and stamp agree with the contract)."""
    for i, entry in enumerate(files):
        where = f"files[{i}]"
        if len(_check_fields(entry, MANIFEST_FILE_FIELDS, where, problems)) < len(MANIFEST_FILE_FIELDS):
            continue
        name = entry["name"]
        match = EXTRACT_NAME.match(name)
        if not match:
            problems.append(f"{where}: name {name!r} is not an extract file name; "
                            "expected <source>_<extract>_<YYYYMMDDHHMMSS>.csv or .csv.gz")
            continue
        if match["extract"] != entry["extract"]:
            problems.append(f"{where}: extract is {entry['extract']!r} but the name {name} says "
                            f"{match['extract']!r}; expected the same")
        if stamp is not None and match["stamp"] != stamp:
            problems.append(f"{where}: {name} has stamp {match['stamp']}; expected the manifest's stamp {stamp}")
        for key in ("rows", "bytes"):
            if entry[key] < 0:
                problems.append(f"{where}: {key} is {entry[key]}; expected a count, 0 or more")
        if not _SHA256.match(entry["sha256"]):
            problems.append(f"{where}: sha256 is {describe(entry['sha256'])}; expected 64 lower-case hex digits")
        yield {key: entry[key] for key in MANIFEST_FILE_FIELDS}
