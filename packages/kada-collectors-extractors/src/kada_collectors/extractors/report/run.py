"""One run of an output folder: its manifest and the files it lists, read as they are on disk.

Files are streamed (gzip decompressed on the fly) and hashed while they are read, so the report
states what would actually leave, not what the manifest claims, in bounded memory.
"""

import csv
import gzip
import hashlib
import io
import os
from dataclasses import dataclass
from typing import Optional

from kada_collectors.lib import manifest
from kada_collectors.lib.contract import DELIMITER
from kada_collectors.lib.errors import CollectorError

_CHUNK = 1 << 20
csv.field_size_limit(1 << 30)  # a function body or a query text may exceed csv's 128 KB default


class ReportError(CollectorError):
    """The folder holds no run to report on, or its manifest cannot be read."""


@dataclass
class RunFile:
    """A file the manifest lists, with what was found on disk once it has been read."""

    extract: str
    name: str
    path: str
    rows: int  # as the manifest says
    bytes: int
    sha256: str
    found_rows: Optional[int] = None  # None until read
    found_bytes: Optional[int] = None
    found_sha256: Optional[str] = None
    error: Optional[str] = None  # missing, unreadable
    malformed: int = 0  # records whose field count is not the header's: left out of the report
    first_malformed: Optional[int] = None  # the first one's record number (1 after the header)

    @property
    def check(self):
        """'ok', or what differs from the manifest."""
        if self.error:
            return self.error
        if self.found_sha256 is None:
            return "not read"
        problems = []
        if self.found_bytes != self.bytes:
            problems.append(f"{self.found_bytes} bytes, the manifest says {self.bytes}")
        if self.found_sha256 != self.sha256:
            problems.append("SHA-256 differs from the manifest's: the file changed after the run")
        if self.found_rows is not None and self.found_rows != self.rows:
            problems.append(f"{self.found_rows} rows, the manifest says {self.rows}")
        if self.malformed:
            problems.append(f"{self.malformed} record(s) without the header's fields (the first: record "
                            f"{self.first_malformed}) left out of the report; `kada-collector validate` says more")
        return "; ".join(problems) or "ok"


@dataclass
class Run:
    folder: str
    manifest_name: str
    manifest: dict
    manifest_bytes: int
    manifest_sha256: str
    files: list  # RunFile, in the manifest's order

    def file(self, extract):
        return next((f for f in self.files if f.extract == extract), None)


def open_run(folder: str, manifest_name: Optional[str] = None, source: Optional[str] = None) -> Run:
    """The run of ``folder`` whose manifest is ``manifest_name``, by default the newest one."""
    folder = os.path.abspath(folder)
    if manifest_name is None:
        manifest_name = newest_manifest_name(folder, source)
    path = os.path.join(folder, manifest_name)
    if not os.path.exists(path):
        raise ReportError(f"{path}: no such manifest; pass a file name of the folder, e.g. "
                          f"{newest_manifest_name(folder, source)}")
    found = manifest.read(path)
    document = found.document
    if found.error is not None:
        raise ReportError(f"{path} cannot be read as a manifest ({found.error}); `kada-collector validate {folder}` "
                          "says what is wrong with it")
    if not isinstance(document, dict) or not isinstance(document.get("files"), list):
        raise ReportError(f"{path} is not a manifest (no 'files' list); `kada-collector validate {folder}` "
                          "says what is wrong with it")
    # Every entry that can be read is shown, even one the contract's checks reject.
    files = [RunFile(extract=str(e.get("extract")), name=str(e.get("name")),
                     path=os.path.join(folder, os.path.basename(str(e.get("name")))),
                     rows=e.get("rows"), bytes=e.get("bytes"), sha256=e.get("sha256"))
             for e in document["files"] if isinstance(e, dict)]
    return Run(folder, manifest_name, document, found.size, found.sha256, files)


def newest_manifest_name(folder: str, source: Optional[str] = None) -> str:
    """The newest manifest of ``folder`` by its stamp (of ``source`` when given)."""
    try:
        name = manifest.newest(folder, source)
    except OSError as e:
        raise ReportError(f"{folder} cannot be read: {e.strerror}; pass the collector's output folder") from None
    if name is None:
        raise ReportError(f"{folder} holds no manifest ({source or '<source>'}_manifest_<YYYYMMDDHHMMSS>.json): "
                          "no run completed there")
    return name


class _HashingReader(io.RawIOBase):
    """A binary file that hashes and counts the bytes read through it."""

    def __init__(self, raw):
        super().__init__()
        self.raw, self.sha, self.count = raw, hashlib.sha256(), 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.raw.read(len(buffer))
        self.sha.update(data)
        self.count += len(data)
        buffer[: len(data)] = data
        return len(data)


def read_records(run_file):
    """Yield ``run_file``'s records as dicts of column → value (header first consumed), then
    record on ``run_file`` the rows, bytes and SHA-256 found. Yields nothing when it is missing."""
    try:
        raw = open(run_file.path, "rb")
    except OSError as e:
        run_file.error = "missing from the folder" if isinstance(e, FileNotFoundError) else f"unreadable: {e.strerror}"
        return
    with raw:
        hashing = _HashingReader(raw)
        buffered = io.BufferedReader(hashing, _CHUNK)
        binary = gzip.GzipFile(fileobj=buffered, mode="rb") if run_file.name.endswith(".gz") else buffered
        # newline="" as csv wants it: newlines inside quoted fields stay as they are.
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="")
        rows = 0
        try:
            reader = csv.reader(text, delimiter=DELIMITER)
            header = next(reader, None) or []
            for values in reader:
                rows += 1
                if len(values) != len(header):  # a damaged file: the rest is still shown
                    run_file.malformed += 1
                    run_file.first_malformed = run_file.first_malformed or rows
                    continue
                yield dict(zip(header, values))
        except (OSError, EOFError, csv.Error) as e:
            run_file.error = f"unreadable ({e}); `kada-collector validate` says more"
            return
        while buffered.read(_CHUNK):  # the digest covers every byte, whatever the readers above left
            pass
        run_file.found_rows, run_file.found_bytes, run_file.found_sha256 = rows, hashing.count, hashing.sha.hexdigest()


def hash_file(run_file):
    """Record the size and SHA-256 of a file whose rows the report does not need."""
    for _ in read_records(run_file):
        pass
