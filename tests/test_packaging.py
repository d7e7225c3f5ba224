"""The two wheels, installed alone into a fresh environment on each Python from 3.10 to 3.13,
run the customer's wrapper script unchanged."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from collect import extractor_config

ROOT = Path(__file__).parents[1]
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
SEED_IMPORTS = ("from kada_collectors.extractors.utils import load_config, get_hwm, publish_hwm, get_generic_logger; "
                "from kada_collectors.extractors.postgres import Extractor")


def find_python(version: str) -> str | None:
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "import venv"], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="session")
def wheels(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(folder),
                    str(ROOT / "packages" / "kada-collectors-lib"), str(ROOT / "packages" / "kada-collectors-extractors")],
                   check=True, capture_output=True)
    return sorted(folder.glob("*.whl"))


def test_wheel_names_and_dependency(wheels):
    names = [w.name for w in wheels]
    assert len(names) == 2
    assert names[0].startswith("kada_collectors_extractors-") and names[0].endswith("-py3-none-any.whl")
    assert names[1].startswith("kada_collectors_lib-") and names[1].endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheels[0]) as wheel:
        files = wheel.namelist()
        metadata = wheel.read(next(f for f in files if f.endswith("METADATA"))).decode()
    assert "Requires-Dist: kada-collectors-lib" in metadata
    assert "Requires-Python: <3.14,>=3.10" in metadata or "Requires-Python: >=3.10,<3.14" in metadata
    assert "kada_collectors/extractors/postgres/sql/ROLES_SQL.sql" in files
    assert "kada_collectors/extractors/demo/sample_schema.sql" in files
    assert not any(f.startswith("kada_collectors/__init__") for f in files), "a namespace shared by both wheels"


def test_the_wheels_ship_their_types(wheels):
    """Each package is marked typed (PEP 561), so a customer's type checker reads its annotations."""
    shipped = []
    for wheel_path, package in zip(wheels, ("extractors", "lib"), strict=True):
        with zipfile.ZipFile(wheel_path) as wheel:
            shipped.append(f"kada_collectors/{package}/py.typed" in wheel.namelist())
    assert shipped == [True, True]


@pytest.mark.slow  # about 15 to 25 s each on 2 cores: a fresh environment installed
@pytest.mark.parametrize("version", PYTHONS)
def test_fresh_install_runs_the_wrapper(version, wheels, pg18, tmp_path):
    python = find_python(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *map(str, wheels)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    imports = subprocess.run([str(venv / "bin" / "python"), "-c", SEED_IMPORTS], capture_output=True, text=True)
    assert imports.returncode == 0, imports.stderr

    work = tmp_path / "customer"
    work.mkdir()
    shutil.copy(ROOT / "examples" / "kada_postgres_extractor.py", work)
    (work / "kada_postgres_extractor_config.json").write_text(
        json.dumps(extractor_config(pg18, ["postgres"], work / "out")))
    result = subprocess.run([str(venv / "bin" / "python"), "kada_postgres_extractor.py"], cwd=work,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (work / "postgres_hwm.txt").exists() and len(list((work / "out").glob("postgres_*"))) == 6
