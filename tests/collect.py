"""Running the collector in tests, and reading back what it wrote."""

from __future__ import annotations

import csv
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from kada_collectors.extractors.postgres import Extractor

HOST = "test.postgres.localhost"


def extractor_config(server, databases, output, user=None, password=None, **overrides) -> dict:
    """A config as a customer writes it, pointing at a test server."""
    config = {
        "host": HOST,
        "server": server.host,
        "port": server.port,
        "username": user or server.superuser,
        "password": password if password is not None else server.password,
        "databases": list(databases),
        "output_path": str(output),
        # Each output folder has its own change-event history, beside it.
        "snapshot_path": str(Path(output).parent / f".{Path(output).name}-snapshots.sqlite"),
        "mask": True,
        "compress": False,
        "meta_only": True,
    }
    config.update(overrides)
    return config


def read_extract(path: Path) -> list[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="|"))


@dataclass
class Extract:
    """What one run wrote: the manifest and each extract's rows."""

    output: Path
    manifest: dict

    def rows(self, extract: str) -> list[dict]:
        entry = next(f for f in self.manifest["files"] if f["extract"] == extract)
        return read_extract(self.output / entry["name"])

    def metadata(self, object_type: str | None = None) -> list[dict]:
        return [r for r in self.rows("metadata") if object_type in (None, r["OBJECT_TYPE"])]

    def by_id(self, object_type: str) -> dict[str, dict]:
        return {r["OBJECT_ID"]: r for r in self.metadata(object_type)}


def run_extract(server, databases, output, *, window=(None, None), prepare=None, **config) -> Extract:
    extractor = Extractor(**extractor_config(server, databases, output, **config))
    if prepare:
        prepare(extractor)
    manifest = extractor.run(start_hwm=window[0], end_hwm=window[1])
    return Extract(Path(output), manifest)


def load_manifest(output: Path) -> dict:
    (path,) = Path(output).glob("*_manifest_*.json")
    return json.loads(path.read_text(encoding="utf-8"))
